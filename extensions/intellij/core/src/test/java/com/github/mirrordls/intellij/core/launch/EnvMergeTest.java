package com.github.mirrordls.intellij.core.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.github.mirrordls.intellij.core.ls.Model.StartResult;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class EnvMergeTest {
  private static final String IGNORE = "MIRRORD_IGNORE_DEBUGGER_PORTS";
  private static final String DETECT = "MIRRORD_DETECT_DEBUGGER_PORT";
  private static final String SKIP = "MIRRORD_SKIP_PROCESSES";

  private static Map<String, String> map(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }

  private static StartResult session(Map<String, String> env, List<String> unset) {
    StartResult r = new StartResult();
    r.sessionId = "s1";
    r.environment = env;
    r.envToUnset = unset;
    return r;
  }

  static Stream<Arguments> cases() {
    StartResult layer =
        session(map("LD_PRELOAD", "/lib/libmirrord_layer.so", "REMOTE", "pod"), List.of("AWS_PROFILE"));
    return Stream.of(
        Arguments.of(
            "java",
            RunKind.JAVA,
            map("A", "1"),
            layer,
            map(
                "A", "1",
                IGNORE, "35000-65535",
                DETECT, "javaagent",
                "LD_PRELOAD", "/lib/libmirrord_layer.so",
                "REMOTE", "pod"),
            List.of("AWS_PROFILE")),
        Arguments.of(
            "python gets the pydevd hint",
            RunKind.PYTHON,
            map(),
            layer,
            map(IGNORE, "35000-65535", DETECT, "pydevd", "LD_PRELOAD", "/lib/libmirrord_layer.so", "REMOTE", "pod"),
            List.of("AWS_PROFILE")),
        Arguments.of(
            "go skips dlv and the go tool",
            RunKind.GO,
            map(),
            layer,
            map(IGNORE, "35000-65535", SKIP, "dlv;debugserver;go", "LD_PRELOAD", "/lib/libmirrord_layer.so", "REMOTE", "pod"),
            List.of("AWS_PROFILE")),
        Arguments.of(
            "node",
            RunKind.NODE,
            map(),
            session(map("X", "1"), List.of()),
            map(IGNORE, "35000-65535", DETECT, "nodeinspector", "X", "1"),
            List.of()),
        Arguments.of(
            "npm",
            RunKind.NPM,
            map(),
            session(map("X", "1"), List.of()),
            map(IGNORE, "35000-65535", DETECT, "nodeinspector", "X", "1"),
            List.of()),
        Arguments.of(
            "gradle has no debugger hint",
            RunKind.GRADLE,
            map("G", "g"),
            session(map("X", "1"), List.of()),
            map("G", "g", IGNORE, "35000-65535", "X", "1"),
            List.of()),
        Arguments.of(
            "plain",
            RunKind.PLAIN,
            map(),
            session(map(), List.of()),
            map(IGNORE, "35000-65535"),
            List.of()),
        Arguments.of(
            "the user's own hint wins",
            RunKind.GO,
            map(SKIP, "mytool", IGNORE, "1-2"),
            session(map(), List.of()),
            map(SKIP, "mytool", IGNORE, "1-2"),
            List.of()),
        Arguments.of(
            "the session wins over the run configuration",
            RunKind.PLAIN,
            map("REMOTE", "local", "KEEP", "k"),
            session(map("REMOTE", "pod"), List.of()),
            map("REMOTE", "pod", "KEEP", "k", IGNORE, "35000-65535"),
            List.of()),
        Arguments.of(
            "env_to_unset removes run-configuration and session variables",
            RunKind.PLAIN,
            map("SECRET", "x", "KEEP", "k"),
            session(map("SECRET", "remote"), List.of("SECRET", "OTHER", "SECRET")),
            map("KEEP", "k", IGNORE, "35000-65535"),
            List.of("SECRET", "OTHER")),
        Arguments.of(
            "null lists from the server",
            RunKind.PLAIN,
            map(),
            session(null, null),
            map(IGNORE, "35000-65535"),
            List.of()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void merge(
      String name,
      RunKind kind,
      Map<String, String> runEnv,
      StartResult session,
      Map<String, String> wantSet,
      List<String> wantUnset) {
    EnvMerge.Merged m = EnvMerge.merge(kind, runEnv, session);
    assertEquals(new TreeMap<>(wantSet), new TreeMap<>(m.set), name);
    assertEquals(wantUnset, m.unset, name);
  }

  @org.junit.jupiter.api.Test
  void applyToRemovesInheritedVariables() {
    EnvMerge.Merged m =
        EnvMerge.merge(RunKind.PLAIN, map(), session(map("A", "remote"), List.of("AWS_PROFILE")));
    Map<String, String> full = m.applyTo(map("PATH", "/bin", "AWS_PROFILE", "dev", "A", "local"));
    assertEquals(
        new TreeMap<>(map("PATH", "/bin", "A", "remote", IGNORE, "35000-65535")), new TreeMap<>(full));
  }

  @org.junit.jupiter.api.Test
  void sessionEnvCarriesHintsAndNamespace() {
    Map<String, String> env = EnvMerge.sessionEnv(RunKind.JAVA, map("A", "1"), "staging");
    assertEquals(
        new TreeMap<>(
            map(
                "A", "1",
                IGNORE, "35000-65535",
                DETECT, "javaagent",
                "MIRRORD_TARGET_NAMESPACE", "staging")),
        new TreeMap<>(env));
    assertEquals(
        new TreeMap<>(map(IGNORE, "35000-65535")),
        new TreeMap<>(EnvMerge.sessionEnv(RunKind.PLAIN, map(), null)));
  }
}
