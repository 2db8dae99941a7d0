package com.github.mirrordls.intellij.core.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.github.mirrordls.intellij.core.launch.LaunchGate.Verdict;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class LaunchGateTest {
  private static Map<String, String> map(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of("enabled java", true, map(), RunKind.JAVA, "Main", List.of(), Verdict.RUN),
        Arguments.of("disabled", false, map(), RunKind.JAVA, "Main", List.of(), Verdict.SKIP),
        Arguments.of("MIRRORD_ACTIVE=1 while disabled", false, map("MIRRORD_ACTIVE", "1"), RunKind.PLAIN, "x", List.of(), Verdict.RUN),
        Arguments.of("MIRRORD_ACTIVE=0 while enabled", true, map("MIRRORD_ACTIVE", "0"), RunKind.PLAIN, "x", List.of(), Verdict.SKIP),
        Arguments.of("left-behind resolved config", true, map("MIRRORD_RESOLVED_CONFIG", "e30="), RunKind.JAVA, "x", List.of(), Verdict.REFUSE),
        Arguments.of("left-behind LD_PRELOAD", true, map("LD_PRELOAD", "/tmp/x/libmirrord_layer.so"), RunKind.PYTHON, "x", List.of(), Verdict.REFUSE),
        Arguments.of("left-behind DYLD", true, map("DYLD_INSERT_LIBRARIES", "/a/libmirrord_layer.dylib"), RunKind.GO, "x", List.of(), Verdict.REFUSE),
        Arguments.of("another LD_PRELOAD is fine", true, map("LD_PRELOAD", "/usr/lib/libjemalloc.so"), RunKind.JAVA, "x", List.of(), Verdict.RUN),
        Arguments.of("left-behind while disabled is not checked", false, map("MIRRORD_RESOLVED_CONFIG", "e30="), RunKind.JAVA, "x", List.of(), Verdict.SKIP),
        Arguments.of("gradle run", true, map(), RunKind.GRADLE, "app [run]", List.of("run"), Verdict.RUN),
        Arguments.of("gradle test", true, map(), RunKind.GRADLE, "app [test]", List.of(":app:test"), Verdict.RUN),
        Arguments.of("gradle clean build-only", true, map(), RunKind.GRADLE, "app [clean]", List.of("clean"), Verdict.SKIP),
        Arguments.of("gradle qualified build-only tasks", true, map(), RunKind.GRADLE, "x", List.of(":app:clean", ":lib:jar", "compileJava", "processResources", "bootJar"), Verdict.SKIP),
        Arguments.of("gradle mixed", true, map(), RunKind.GRADLE, "x", List.of("clean", "bootRun"), Verdict.RUN),
        Arguments.of("gradle options are not tasks", true, map(), RunKind.GRADLE, "x", List.of("--info", "classes", "-x", "test", "testClasses"), Verdict.SKIP),
        Arguments.of("gradle default tasks", true, map(), RunKind.GRADLE, "x", List.of(), Verdict.RUN),
        Arguments.of("gradle name Build", true, map(), RunKind.GRADLE, "Build app", List.of("run"), Verdict.SKIP),
        Arguments.of("gradle name Tomcat", true, map(), RunKind.GRADLE, "Tomcat 10", List.of("run"), Verdict.SKIP),
        Arguments.of("gradle forced", true, map("MIRRORD_FORCE_RUN", "true"), RunKind.GRADLE, "Build app", List.of("clean"), Verdict.RUN),
        Arguments.of("gradle forced, any case", true, map("MIRRORD_FORCE_RUN", "TRUE"), RunKind.GRADLE, "x", List.of("jar"), Verdict.RUN),
        Arguments.of("gradle not forced by false", true, map("MIRRORD_FORCE_RUN", "false"), RunKind.GRADLE, "x", List.of("jar"), Verdict.SKIP),
        Arguments.of("skip list is only for gradle", true, map(), RunKind.JAVA, "Build app", List.of("clean"), Verdict.RUN));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void decide(
      String name,
      boolean enabled,
      Map<String, String> env,
      RunKind kind,
      String configName,
      List<String> tasks,
      Verdict want) {
    assertEquals(want, LaunchGate.decide(enabled, env, kind, configName, tasks).verdict, name);
  }
}
