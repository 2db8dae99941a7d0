package com.github.mirrordls.intellij.core.launch;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Whether mirrord takes part in a launch: the toggle, {@code MIRRORD_ACTIVE}, the left-behind guard
 * and the Gradle build-only skip list (reference ide-contract §2).
 */
public final class LaunchGate {
  private LaunchGate() {}

  /** What to do with a launch. */
  public enum Verdict {
    /** Start a session and inject its environment. */
    RUN,
    /** Launch as usual, without mirrord. */
    SKIP,
    /** Do not launch: the environment already carries a mirrord session's variables. */
    REFUSE
  }

  /** A verdict and why (for the log and notifications). */
  public static final class Decision {
    public final Verdict verdict;
    public final String reason;

    Decision(Verdict verdict, String reason) {
      this.verdict = verdict;
      this.reason = reason;
    }

    @Override
    public String toString() {
      return verdict + ": " + reason;
    }
  }

  /** Gradle tasks that only build: a run of nothing but these skips mirrord. */
  public static final Set<String> GRADLE_BUILD_ONLY_TASKS =
      Set.of(
          "clean",
          "jar",
          "war",
          "bootJar",
          "bootWar",
          "shadowJar",
          "distTar",
          "distZip",
          "javadoc",
          "wrapper",
          "init",
          "classes",
          "testClasses");

  /**
   * Decides a launch.
   *
   * @param enabled the project's mirrord toggle
   * @param runEnv the run configuration's own environment
   * @param kind the run configuration's kind
   * @param configName the run configuration's name
   * @param gradleTasks for {@link RunKind#GRADLE}: the task list (options are skipped)
   */
  public static Decision decide(
      boolean enabled,
      Map<String, String> runEnv,
      RunKind kind,
      String configName,
      List<String> gradleTasks) {
    String active = runEnv.get("MIRRORD_ACTIVE");
    if ("0".equals(active)) {
      return new Decision(Verdict.SKIP, "MIRRORD_ACTIVE=0 in the run configuration");
    }
    if (!enabled && !"1".equals(active)) {
      return new Decision(Verdict.SKIP, "mirrord is disabled");
    }
    String leftBehind = leftBehind(runEnv);
    if (leftBehind != null) {
      return new Decision(
          Verdict.REFUSE,
          "the run configuration's environment contains "
              + leftBehind
              + " from an earlier mirrord session; remove it and run again");
    }
    if (kind == RunKind.GRADLE && !"true".equalsIgnoreCase(runEnv.get("MIRRORD_FORCE_RUN"))) {
      String name = configName == null ? "" : configName;
      if (name.startsWith("Build ") || name.startsWith("Tomcat")) {
        return new Decision(
            Verdict.SKIP, "Gradle configuration \"" + name + "\" builds (MIRRORD_FORCE_RUN=true runs it)");
      }
      if (gradleBuildOnly(gradleTasks)) {
        return new Decision(
            Verdict.SKIP,
            "every Gradle task only builds: " + gradleTasks + " (MIRRORD_FORCE_RUN=true runs it)");
      }
    }
    return new Decision(Verdict.RUN, "mirrord is enabled");
  }

  /**
   * The variable that shows a mirrord session's environment was left in a run configuration (a
   * crash while it was patched), or null.
   */
  public static String leftBehind(Map<String, String> env) {
    if (env.containsKey("MIRRORD_RESOLVED_CONFIG")) {
      return "MIRRORD_RESOLVED_CONFIG";
    }
    for (String name : List.of("LD_PRELOAD", "DYLD_INSERT_LIBRARIES")) {
      String v = env.get(name);
      if (v != null && v.toLowerCase(Locale.ROOT).contains("libmirrord")) {
        return name;
      }
    }
    return null;
  }

  /**
   * Whether a Gradle task list only builds. Options ({@code -…}) and the task after
   * {@code -x}/{@code --exclude-task} are not tasks; {@code :app:jar} is {@code jar}. An empty
   * list runs the project's default tasks, which may run anything: not build-only.
   */
  public static boolean gradleBuildOnly(List<String> tasks) {
    if (tasks == null) {
      return false;
    }
    int seen = 0;
    boolean skipNext = false;
    for (String raw : tasks) {
      String t = raw == null ? "" : raw.trim();
      if (t.isEmpty()) {
        continue;
      }
      if (skipNext) {
        skipNext = false;
        continue;
      }
      if (t.startsWith("-")) {
        skipNext = t.equals("-x") || t.equals("--exclude-task");
        continue;
      }
      String name = t.substring(t.lastIndexOf(':') + 1);
      seen++;
      boolean buildOnly =
          GRADLE_BUILD_ONLY_TASKS.contains(name)
              || name.startsWith("compile")
              || name.startsWith("process");
      if (!buildOnly) {
        return false;
      }
    }
    return seen > 0;
  }
}
