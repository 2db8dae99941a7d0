package com.github.mirrordls.intellij.core.launch;

import com.github.mirrordls.intellij.core.ls.Model.StartResult;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The environment a launch runs with, per run-configuration kind (reference ide-contract §2).
 *
 * <p>Order: the run configuration's own variables, then the debugger hints of its kind (a hint the
 * user set already keeps the user's value), then the session's {@code environment} (which wins: it
 * carries the layer and the target's variables); {@code env_to_unset} is removed last, also from
 * the inherited environment (see {@link Merged#applyTo}). Nothing here writes to a stored run
 * configuration: the platform glue applies the result to the one launch.
 */
public final class EnvMerge {
  private EnvMerge() {}

  /** Ports debuggers pick for themselves; mirrord leaves them local (the IntelliJ plugin's range). */
  public static final String DEBUGGER_PORT_RANGE = "35000-65535";

  /** Processes GoLand runs around the program (build, debugger) that mirrord must not hook. */
  public static final String GO_SKIP_PROCESSES = "dlv;debugserver;go";

  /** The result: variables to set, and variables to remove from whatever the launch inherits. */
  public static final class Merged {
    public final Map<String, String> set;
    public final List<String> unset;

    Merged(Map<String, String> set, List<String> unset) {
      this.set = Collections.unmodifiableMap(set);
      this.unset = Collections.unmodifiableList(unset);
    }

    /** The full environment of a process that would otherwise inherit {@code inherited}. */
    public Map<String, String> applyTo(Map<String, String> inherited) {
      Map<String, String> out = new LinkedHashMap<>(inherited);
      out.putAll(set);
      for (String name : unset) {
        out.remove(name);
      }
      return out;
    }
  }

  /** The hints for a kind (before the user's own values are considered). */
  public static Map<String, String> hints(RunKind kind) {
    Map<String, String> h = new LinkedHashMap<>();
    h.put("MIRRORD_IGNORE_DEBUGGER_PORTS", DEBUGGER_PORT_RANGE);
    switch (kind) {
      case JAVA:
        h.put("MIRRORD_DETECT_DEBUGGER_PORT", "javaagent");
        break;
      case PYTHON:
        h.put("MIRRORD_DETECT_DEBUGGER_PORT", "pydevd");
        break;
      case GO:
        h.put("MIRRORD_SKIP_PROCESSES", GO_SKIP_PROCESSES);
        break;
      case NODE:
      case NPM:
        h.put("MIRRORD_DETECT_DEBUGGER_PORT", "nodeinspector");
        break;
      case GRADLE:
      case PLAIN:
      default:
        break;
    }
    return h;
  }

  /**
   * Merges a session into a launch.
   *
   * @param kind the run configuration's kind
   * @param runEnv the run configuration's own environment (not the inherited one)
   * @param session the {@code mirrord/startSession} result
   */
  public static Merged merge(RunKind kind, Map<String, String> runEnv, StartResult session) {
    Map<String, String> set = new LinkedHashMap<>(runEnv);
    for (Map.Entry<String, String> h : hints(kind).entrySet()) {
      set.putIfAbsent(h.getKey(), h.getValue());
    }
    if (session.environment != null) {
      set.putAll(session.environment);
    }
    List<String> unset = new ArrayList<>();
    if (session.envToUnset != null) {
      for (String name : session.envToUnset) {
        set.remove(name);
        if (!unset.contains(name)) {
          unset.add(name);
        }
      }
    }
    return new Merged(set, unset);
  }

  /**
   * The {@code env} to pass to {@code mirrord/startSession}: the run configuration's variables plus
   * its kind's hints, so {@code mirrord ext} resolves the config (and its {@code MIRRORD_*}
   * overrides) as the launch will, plus {@code MIRRORD_TARGET_NAMESPACE} from the picker.
   */
  public static Map<String, String> sessionEnv(
      RunKind kind, Map<String, String> runEnv, String pickedNamespace) {
    Map<String, String> env = new LinkedHashMap<>(runEnv);
    for (Map.Entry<String, String> h : hints(kind).entrySet()) {
      env.putIfAbsent(h.getKey(), h.getValue());
    }
    if (pickedNamespace != null && !pickedNamespace.isEmpty()) {
      env.put("MIRRORD_TARGET_NAMESPACE", pickedNamespace);
    }
    return env;
  }
}
