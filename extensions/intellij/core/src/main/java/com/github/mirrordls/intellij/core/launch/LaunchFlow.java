package com.github.mirrordls.intellij.core.launch;

import com.github.mirrordls.intellij.core.config.ConfigDiscovery;
import com.github.mirrordls.intellij.core.ls.MirrordLsClient;
import com.github.mirrordls.intellij.core.ls.Model.DiscoveredConfig;
import com.github.mirrordls.intellij.core.ls.Model.ListTargetsParams;
import com.github.mirrordls.intellij.core.ls.Model.Progress;
import com.github.mirrordls.intellij.core.ls.Model.StartResult;
import com.github.mirrordls.intellij.core.ls.Model.StartSessionParams;
import com.github.mirrordls.intellij.core.ls.Model.TargetList;
import com.github.mirrordls.intellij.core.ls.Model.VerifyResult;
import com.github.mirrordls.intellij.core.picker.TargetPicker;
import com.github.mirrordls.intellij.core.rpc.RpcException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * One launch, start to end, as the official plugin's exec manager does it (reference ide-contract
 * §2): gate, discover the config, verify it, ask for a target when it names none, start the
 * session, merge its environment. The platform glue supplies a {@link Ui} and applies the outcome;
 * every decision is here.
 */
public final class LaunchFlow {
  private LaunchFlow() {}

  /** What the flow needs from the IDE. Called on the thread that runs the flow (not the EDT). */
  public interface Ui {
    /**
     * Shows the target dialog. {@code relist} lists the targets of another namespace. Returns the
     * choice, or null for Cancel (which aborts the run).
     */
    TargetPicker.Choice pickTarget(TargetPicker picker, Function<String, TargetList> relist);

    void warn(String message);

    void info(String message);

    default void progress(Progress p) {}
  }

  /** One launch. */
  public static final class Request {
    public boolean enabled;
    public RunKind kind = RunKind.PLAIN;
    /** The run configuration's own environment. */
    public Map<String, String> runEnv = new LinkedHashMap<>();

    public String configName = "";
    public List<String> gradleTasks = List.of();
    public Path projectDir;
    public Path activeConfig;
    /** The target chosen last time (settings), first in the picker. */
    public String lastTarget;
    /** The program the run configuration starts, for {@code -e}; may be null. */
    public String executable;
  }

  /** How a launch goes on. */
  public enum Kind {
    /** Launch as usual. */
    WITHOUT_MIRRORD,
    /** Do not launch; {@link Outcome#message} says why. */
    ABORT,
    /** Launch with {@link Outcome#env}. */
    WITH_MIRRORD
  }

  public static final class Outcome {
    public final Kind kind;
    public final String message;
    public final EnvMerge.Merged env;
    public final String sessionId;
    /** The target the user picked (to remember as the last one), or null. */
    public final String pickedTarget;

    Outcome(Kind kind, String message, EnvMerge.Merged env, String sessionId, String pickedTarget) {
      this.kind = kind;
      this.message = message;
      this.env = env;
      this.sessionId = sessionId;
      this.pickedTarget = pickedTarget;
    }

    @Override
    public String toString() {
      return kind + ": " + message;
    }
  }

  private static Outcome abort(String message) {
    return new Outcome(Kind.ABORT, message, null, null, null);
  }

  /** Runs the flow; blocks (startSession may take minutes: run it in a background task). */
  public static Outcome run(MirrordLsClient client, Request r, Ui ui) {
    LaunchGate.Decision gate =
        LaunchGate.decide(r.enabled, r.runEnv, r.kind, r.configName, r.gradleTasks);
    if (gate.verdict == LaunchGate.Verdict.SKIP) {
      return new Outcome(Kind.WITHOUT_MIRRORD, gate.reason, null, null, null);
    }
    if (gate.verdict == LaunchGate.Verdict.REFUSE) {
      return abort(gate.reason);
    }
    Map<String, String> env = ConfigDiscovery.discoveryEnv(r.runEnv, r.projectDir);
    DiscoveredConfig found;
    try {
      found = client.discoverConfig(r.projectDir, r.activeConfig, env);
    } catch (RpcException e) {
      return abort("mirrord config: " + e.getMessage());
    }
    boolean targetSet = false;
    List<String> compatible = null;
    if (found.path != null) {
      ui.info("mirrord config: " + found.path + " (" + found.reason + ")");
      VerifyResult v;
      try {
        v = client.verifyConfig(found.path, env);
      } catch (RpcException e) {
        return abort("verifying " + found.path + ": " + e.getMessage());
      }
      if (!v.ok()) {
        return abort("mirrord config " + found.path + " is invalid: " + String.join("; ", v.errors));
      }
      for (String w : v.warnings) {
        ui.warn(w);
      }
      targetSet = v.targetSet();
      compatible = v.compatibleTargetTypes;
    }
    TargetPicker.Choice choice = null;
    if (!targetSet) {
      TargetPicker picker = new TargetPicker(r.lastTarget, compatible);
      Function<String, TargetList> list =
          ns -> {
            ListTargetsParams p = new ListTargetsParams();
            p.configPath = found.path;
            p.namespace = ns;
            p.kinds = picker.kindsToRequest();
            try {
              return client.listTargets(p);
            } catch (RpcException e) {
              ui.warn("listing targets failed: " + e.getMessage());
              TargetList empty = new TargetList();
              empty.currentNamespace = ns;
              return empty;
            }
          };
      picker.setTargets(list.apply(null));
      choice = ui.pickTarget(picker, list);
      if (choice == null) {
        return abort("cancelled in the target dialog");
      }
      if (choice.targetless()) {
        ui.info("running targetless: no incoming traffic is mirrored or stolen");
      }
    }
    StartSessionParams sp = new StartSessionParams();
    sp.configPath = found.path;
    sp.target = choice == null ? null : choice.target;
    sp.executable = r.executable;
    sp.workspaceFolder = r.projectDir == null ? null : r.projectDir.toString();
    sp.env = EnvMerge.sessionEnv(r.kind, env, choice == null ? null : choice.namespace);
    StartResult started;
    try {
      started = MirrordLsClient.await(client.startSession(sp, ui::progress));
    } catch (RpcException e) {
      return abort("mirrord: " + e.getMessage());
    }
    for (String w : started.warnings) {
      ui.warn(w);
    }
    return new Outcome(
        Kind.WITH_MIRRORD,
        "session " + started.sessionId,
        EnvMerge.merge(r.kind, r.runEnv, started),
        started.sessionId,
        choice == null ? null : choice.target);
  }
}
