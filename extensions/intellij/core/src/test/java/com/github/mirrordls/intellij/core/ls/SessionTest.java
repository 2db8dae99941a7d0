package com.github.mirrordls.intellij.core.ls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.mirrordls.intellij.core.launch.EnvMerge;
import com.github.mirrordls.intellij.core.launch.LaunchFlow;
import com.github.mirrordls.intellij.core.launch.RunKind;
import com.github.mirrordls.intellij.core.ls.Model.Progress;
import com.github.mirrordls.intellij.core.ls.Model.SessionInfo;
import com.github.mirrordls.intellij.core.ls.Model.StartResult;
import com.github.mirrordls.intellij.core.ls.Model.StartSessionParams;
import com.github.mirrordls.intellij.core.picker.TargetPicker;
import com.github.mirrordls.intellij.core.rpc.RpcException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A real session through the Java client: mirrord-ls runs {@code mirrord ext}, which connects to a
 * pre-started targetless {@code bin/mirrord-agent} on loopback (no cluster), as the VS Code
 * integration tests do.
 */
class SessionTest {
  private Path dir;
  private Process agent;
  private MirrordLsClient client;
  private Map<String, String> agentEnv;

  @BeforeEach
  void setUp() throws Exception {
    // short: the session sockets live in here
    dir = Files.createTempDirectory(Path.of("/tmp"), "mij");
    Path bin = Path.of(System.getenv("MIRRORD_LS_BIN")).getParent();
    String token = UUID.randomUUID().toString().replace("-", "");
    ProcessBuilder pb =
        new ProcessBuilder(
            bin.resolve("mirrord-agent").toString(),
            "targetless",
            "--listen",
            "127.0.0.1:0",
            "--linger",
            "300s",
            "--communication-timeout",
            "300s");
    // the token goes through the environment, never the command line
    pb.environment().put("MIRRORD_AGENT_TOKEN", token);
    // a targetless agent's "remote" environment is its own
    pb.environment().put("REMOTE_MARK", "from-the-agent ✓");
    pb.redirectError(dir.resolve("agent.log").toFile());
    agent = pb.start();
    String addr = null;
    BufferedReader out =
        new BufferedReader(new InputStreamReader(agent.getInputStream(), StandardCharsets.UTF_8));
    CompletableFuture<String> ready =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                String listening = null;
                String line;
                while ((line = out.readLine()) != null) {
                  if (line.startsWith("listening on ")) {
                    listening = line.substring("listening on ".length()).trim();
                  }
                  if (line.startsWith("agent ready") && listening != null) {
                    return listening;
                  }
                }
                return null;
              } catch (IOException e) {
                return null;
              }
            });
    addr = ready.get(30, TimeUnit.SECONDS);
    assertNotNull(addr, "mirrord-agent did not become ready");
    // keep draining its stdout
    Thread drain =
        new Thread(
            () -> {
              try {
                while (out.readLine() != null) {
                  // discard
                }
              } catch (IOException ignored) {
                // gone
              }
            });
    drain.setDaemon(true);
    drain.start();

    Path project = dir.resolve("project");
    Files.createDirectories(project.resolve(".mirrord"));
    Files.writeString(
        project.resolve(".mirrord").resolve("mirrord.json"),
        "{\"target\": \"targetless\", \"feature\": {\"env\": true, \"fs\": \"local\"}}");
    agentEnv =
        Map.of(
            "MIRRORD_AGENT_ADDRESS", addr,
            "MIRRORD_AGENT_TOKEN", token,
            "MIRRORD_SESSIONS_DIR", dir.resolve("s").toString());
    MirrordLsClient.Options o = new MirrordLsClient.Options();
    o.binary = Path.of(System.getenv("MIRRORD_LS_BIN"));
    o.workspaceFolder = project;
    o.env.putAll(agentEnv);
    o.env.put("KUBECONFIG", dir.resolve("no-kubeconfig").toString());
    o.sessionTimeout = Duration.ofSeconds(120);
    client = new MirrordLsClient(o);
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      if (client != null) {
        try {
          for (SessionInfo s : client.listSessions()) {
            client.stopSession(s.sessionId);
          }
        } catch (RuntimeException ignored) {
          // best effort
        }
        client.close();
      }
    } finally {
      if (agent != null) {
        agent.destroy();
        if (!agent.waitFor(10, TimeUnit.SECONDS)) {
          agent.destroyForcibly();
        }
      }
      try (Stream<Path> walk = Files.walk(dir)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /** Runs a program with exactly {@code env}; returns its last output line. */
  private static String run(Map<String, String> env, String... cmd) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().clear();
    pb.environment().putAll(env);
    pb.environment().put("LANG", "C.UTF-8");
    pb.environment().put("PYTHONIOENCODING", "utf-8");
    pb.redirectErrorStream(true);
    Process proc = pb.start();
    String output = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertTrue(proc.waitFor(90, TimeUnit.SECONDS), cmd[0] + " did not exit");
    assertEquals(0, proc.exitValue(), cmd[0] + ": " + output);
    String[] lines = output.split("\n");
    return lines[lines.length - 1].trim();
  }

  /**
   * A project config that names its own kubeconfig starts a session only once the project is
   * trusted: untrusted (the default) the real mirrord-ls refuses before running anything; after
   * {@code setWorkspaceTrusted(true)} the same start goes through (the pre-started agent serves it).
   */
  @Test
  void aProjectKubeconfigNeedsTrust() throws Exception {
    Path project = dir.resolve("project");
    Path cfg = project.resolve(".mirrord").resolve("own-cluster.json");
    Files.writeString(
        cfg, "{\"kubeconfig\": \"../repo.kubeconfig\", \"target\": \"targetless\"}");
    StartSessionParams p = new StartSessionParams();
    p.workspaceFolder = project.toString();
    p.configPath = cfg.toString();
    p.executable = "python3";
    RpcException refused =
        assertThrows(RpcException.class, () -> MirrordLsClient.await(client.startSession(p, null)));
    assertTrue(refused.getMessage().contains("not trusted"), refused.getMessage());
    assertTrue(client.listSessions().isEmpty(), "a session started anyway");

    client.setWorkspaceTrusted(true);
    p.workDoneToken = null;
    StartResult started = MirrordLsClient.await(client.startSession(p, null));
    assertNotNull(started.sessionId, "the trusted start");
  }

  @Test
  void startListStopAndRunAProcessWithTheMergedEnvironment() throws Exception {
    LinkedBlockingQueue<List<SessionInfo>> changes = new LinkedBlockingQueue<>();
    client.addListener(
        new MirrordLsClient.Listener() {
          @Override
          public void onSessionsChanged(List<SessionInfo> sessions) {
            changes.add(sessions);
          }
        });
    long t0 = System.nanoTime();
    client.ensureStarted();
    List<Progress> progress = new CopyOnWriteArrayList<>();
    StartSessionParams p = new StartSessionParams();
    p.workspaceFolder = dir.resolve("project").toString();
    p.executable = "python3";
    p.env = EnvMerge.sessionEnv(RunKind.PYTHON, Map.of(), null);
    StartResult started = MirrordLsClient.await(client.startSession(p, progress::add));
    long t1 = System.nanoTime();
    System.out.printf("timing: mirrord-ls start -> started session %.1f ms%n", (t1 - t0) / 1e6);

    assertNotNull(started.sessionId, "a session id");
    assertEquals("from-the-agent ✓", started.environment.get("REMOTE_MARK"), "the remote environment");
    assertNotNull(started.environment.get("LD_PRELOAD"), "the layer");
    // $/progress of this start: begin first, end last (the end may trail the answer a moment)
    long progressDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (System.nanoTime() < progressDeadline
        && (progress.isEmpty() || !"end".equals(progress.get(progress.size() - 1).kind))) {
      Thread.sleep(20);
    }
    assertFalse(progress.isEmpty(), "no $/progress");
    assertEquals("begin", progress.get(0).kind);
    assertEquals("end", progress.get(progress.size() - 1).kind);

    List<SessionInfo> listed = client.listSessions();
    assertTrue(
        listed.stream().anyMatch(s -> started.sessionId.equals(s.sessionId)),
        "listed: " + listed.size());
    // mirrord/sessionsChanged announces it (bursts are coalesced; wait for a list that has it)
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    boolean announced = false;
    while (!announced && System.nanoTime() < deadline) {
      List<SessionInfo> l = changes.poll(200, TimeUnit.MILLISECONDS);
      announced = l != null && l.stream().anyMatch(s -> started.sessionId.equals(s.sessionId));
    }
    assertTrue(announced, "mirrord/sessionsChanged with the new session");

    EnvMerge.Merged merged = EnvMerge.merge(RunKind.PYTHON, Map.of("LOCAL_ONLY", "yes"), started);
    assertEquals("pydevd", merged.set.get("MIRRORD_DETECT_DEBUGGER_PORT"));
    Map<String, String> launchEnv = merged.applyTo(Map.of("PATH", System.getenv("PATH")));
    String printer =
        "import os; print(os.environ.get('REMOTE_MARK'), os.environ.get('LOCAL_ONLY'),"
            + " os.environ.get('MIRRORD_DETECT_DEBUGGER_PORT'))";
    assertEquals(
        "from-the-agent ✓ yes pydevd", run(launchEnv, "python3", "-c", printer), "python3");
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Path src = dir.resolve("PrintEnv.java");
    Files.writeString(
        src,
        "public class PrintEnv { public static void main(String[] a) {"
            + " System.out.println(System.getenv(\"REMOTE_MARK\") + \" \" + System.getenv(\"LOCAL_ONLY\")); } }");
    Map<String, String> javaEnv =
        EnvMerge.merge(RunKind.JAVA, Map.of("LOCAL_ONLY", "yes"), started)
            .applyTo(Map.of("PATH", System.getenv("PATH")));
    assertEquals("from-the-agent ✓ yes", run(javaEnv, java.toString(), src.toString()), "java");

    client.stopSession(started.sessionId);
    assertFalse(
        client.listSessions().stream().anyMatch(s -> started.sessionId.equals(s.sessionId)),
        "gone after stop");
  }

  @Test
  void theLaunchFlowRunsAJavaLaunchWithMirrord() {
    LaunchFlow.Request r =
        new LaunchFlow.Request();
    r.enabled = true;
    r.kind = RunKind.JAVA;
    r.runEnv = Map.of("LOCAL_ONLY", "yes");
    r.projectDir = dir.resolve("project");
    List<String> warnings = new CopyOnWriteArrayList<>();
    LaunchFlow.Outcome o =
        LaunchFlow.run(
            client,
            r,
            new LaunchFlow.Ui() {
              @Override
              public TargetPicker.Choice pickTarget(
                  TargetPicker picker,
                  Function<String, Model.TargetList> relist) {
                throw new AssertionError("the config names a target: no picker");
              }

              @Override
              public void warn(String message) {
                warnings.add(message);
              }

              @Override
              public void info(String message) {}
            });
    assertEquals(
        LaunchFlow.Kind.WITH_MIRRORD, o.kind, o.message);
    assertNotNull(o.sessionId);
    assertEquals("javaagent", o.env.set.get("MIRRORD_DETECT_DEBUGGER_PORT"));
    assertEquals("yes", o.env.set.get("LOCAL_ONLY"));
    assertEquals("from-the-agent ✓", o.env.set.get("REMOTE_MARK"));
    assertNotNull(o.env.set.get("LD_PRELOAD"));
  }
}
