package com.github.mirrordls.intellij.core.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.mirrordls.intellij.core.config.ConfigDiscovery;
import com.github.mirrordls.intellij.core.ls.MirrordLsClient;
import com.github.mirrordls.intellij.core.ls.Model.TargetList;
import com.github.mirrordls.intellij.core.picker.TargetPicker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launch flow against the real mirrord-ls, up to where a cluster would be needed. */
class LaunchFlowTest {
  @TempDir Path tmp;
  private Path project;
  private MirrordLsClient client;
  private final List<String> warnings = new CopyOnWriteArrayList<>();
  private final List<TargetPicker> pickerShown = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() throws IOException {
    project = tmp.resolve("project");
    Files.createDirectories(project.resolve(".mirrord"));
    Files.createDirectories(tmp.resolve("sessions"));
    MirrordLsClient.Options o = new MirrordLsClient.Options();
    String bin = System.getenv("MIRRORD_LS_BIN");
    assertNotNull(bin, "MIRRORD_LS_BIN must name bin/mirrord-ls (make intellij-test sets it)");
    o.binary = Path.of(bin);
    o.workspaceFolder = project;
    o.env.put("MIRRORD_SESSIONS_DIR", tmp.resolve("sessions").toString());
    o.env.put("KUBECONFIG", tmp.resolve("no-kubeconfig").toString());
    o.requestTimeout = Duration.ofSeconds(30);
    client = new MirrordLsClient(o);
  }

  @AfterEach
  void tearDown() {
    client.close();
  }

  private LaunchFlow.Ui ui(TargetPicker.Choice answer) {
    return new LaunchFlow.Ui() {
      @Override
      public TargetPicker.Choice pickTarget(
          TargetPicker picker, Function<String, TargetList> relist) {
        pickerShown.add(picker);
        return answer;
      }

      @Override
      public void warn(String message) {
        warnings.add(message);
      }

      @Override
      public void info(String message) {}
    };
  }

  private LaunchFlow.Request request(RunKind kind, Map<String, String> env) {
    LaunchFlow.Request r = new LaunchFlow.Request();
    r.enabled = true;
    r.kind = kind;
    r.runEnv = env;
    r.projectDir = project;
    return r;
  }

  @Test
  void disabledRunsWithoutMirrord() {
    LaunchFlow.Request r = request(RunKind.JAVA, Map.of());
    r.enabled = false;
    assertEquals(LaunchFlow.Kind.WITHOUT_MIRRORD, LaunchFlow.run(client, r, ui(null)).kind);
    assertEquals(0, client.startCount(), "no server needed");
  }

  @Test
  void leftBehindEnvironmentAborts() {
    LaunchFlow.Outcome o =
        LaunchFlow.run(
            client, request(RunKind.JAVA, Map.of("MIRRORD_RESOLVED_CONFIG", "e30=")), ui(null));
    assertEquals(LaunchFlow.Kind.ABORT, o.kind);
    assertTrue(o.message.contains("MIRRORD_RESOLVED_CONFIG"), o.message);
  }

  @Test
  void anInvalidConfigAbortsBeforeThePicker() throws IOException {
    Files.writeString(project.resolve(".mirrord/mirrord.json"), "{\"feature\": {\"fs\": \"reed\"}}");
    LaunchFlow.Outcome o = LaunchFlow.run(client, request(RunKind.PYTHON, Map.of()), ui(null));
    assertEquals(LaunchFlow.Kind.ABORT, o.kind);
    assertTrue(o.message.contains("reed"), o.message);
    assertTrue(pickerShown.isEmpty());
  }

  @Test
  void aMissingConfigFileFromTheEnvironmentAborts() {
    LaunchFlow.Outcome o =
        LaunchFlow.run(
            client,
            request(RunKind.GO, Map.of("MIRRORD_CONFIG_FILE", "$ProjectPath$/nope.mirrord.json")),
            ui(null));
    assertEquals(LaunchFlow.Kind.ABORT, o.kind);
    assertTrue(o.message.contains("nope.mirrord.json"), o.message);
  }

  @Test
  void noTargetShowsThePickerAndCancelAborts() throws IOException {
    Files.writeString(project.resolve(".mirrord/mirrord.json"), ConfigDiscovery.DEFAULT_CONFIG);
    LaunchFlow.Outcome o = LaunchFlow.run(client, request(RunKind.JAVA, Map.of()), ui(null));
    assertEquals(LaunchFlow.Kind.ABORT, o.kind);
    assertEquals(1, pickerShown.size());
    TargetPicker p = pickerShown.get(0);
    // no cluster: the listing fails, the dialog still offers targetless
    assertTrue(warnings.stream().anyMatch(w -> w.startsWith("listing targets failed")), warnings.toString());
    assertNotNull(p.emptyMessage());
    assertEquals(List.of(TargetPicker.TARGETLESS_LABEL), p.items().stream().map(i -> i.label).toList());
    assertEquals(0, client.listSessions().size());
  }
}
