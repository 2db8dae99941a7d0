package com.github.mirrordls.intellij.core.ls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.mirrordls.intellij.core.config.ConfigDiscovery;
import com.github.mirrordls.intellij.core.ls.Model.ConfigDiagnostic;
import com.github.mirrordls.intellij.core.ls.Model.DiscoveredConfig;
import com.github.mirrordls.intellij.core.ls.Model.ListTargetsParams;
import com.github.mirrordls.intellij.core.ls.Model.Progress;
import com.github.mirrordls.intellij.core.ls.Model.StartResult;
import com.github.mirrordls.intellij.core.ls.Model.StartSessionParams;
import com.github.mirrordls.intellij.core.ls.Model.TargetList;
import com.github.mirrordls.intellij.core.ls.Model.VerifyResult;
import com.github.mirrordls.intellij.core.rpc.RpcException;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client against the real {@code mirrord-ls} ({@code MIRRORD_LS_BIN}, set by {@code make
 * intellij-test}). Nothing here needs a cluster: the cancellation test points the server at a
 * local socket that accepts connections and never answers, so listing targets hangs.
 */
class MirrordLsServerTest {
  /** A value with characters of 2 (ñ), 3 (€) and 4 (😀, two UTF-16 units) UTF-8 bytes. */
  private static final String WIDE = "ñ€😀-key";

  /** A mistake on a line that has non-ASCII text before it. */
  private static final String BAD_CONFIG =
      "{\n  \"key\": \"" + WIDE + "\", \"feature\": {\"fs\": \"reed\"}\n}\n";

  @TempDir Path tmp;
  private Path project;
  private Path config;
  private MirrordLsClient client;
  private ServerSocket blackhole;
  private final List<Socket> held = new CopyOnWriteArrayList<>();

  private static Path binary() {
    String bin = System.getenv("MIRRORD_LS_BIN");
    assertNotNull(bin, "MIRRORD_LS_BIN must name bin/mirrord-ls (make intellij-test sets it)");
    Path p = Path.of(bin);
    assertTrue(Files.isExecutable(p), bin + " is not an executable (run make build)");
    return p;
  }

  @BeforeEach
  void setUp() throws IOException {
    project = tmp.resolve("prøject ✓"); // non-ASCII in every path the two sides exchange
    config = project.resolve(".mirrord").resolve("mirrord.json");
    Files.createDirectories(config.getParent());
    Files.writeString(config, BAD_CONFIG, StandardCharsets.UTF_8);
    Files.createDirectories(tmp.resolve("sessions"));
    Files.createDirectories(tmp.resolve("home"));
  }

  private MirrordLsClient newClient(Map<String, String> extraEnv) {
    MirrordLsClient.Options o = new MirrordLsClient.Options();
    o.binary = binary();
    o.workspaceFolder = project;
    o.env.put("MIRRORD_SESSIONS_DIR", tmp.resolve("sessions").toString());
    o.env.put("KUBECONFIG", tmp.resolve("no-kubeconfig").toString());
    o.env.remove("MIRRORD_CONFIG_FILE");
    o.env.putAll(extraEnv);
    o.extraArgs = List.of("--log-file", tmp.resolve("mirrord-ls.log").toString());
    o.requestTimeout = Duration.ofSeconds(30);
    client = new MirrordLsClient(o);
    return client;
  }

  @AfterEach
  void tearDown() throws IOException {
    if (client != null) {
      client.close();
    }
    if (blackhole != null) {
      blackhole.close();
    }
    for (Socket s : held) {
      s.close();
    }
  }

  @Test
  void initializeAdvertisesTheMirrordMethods() {
    MirrordLsClient c = newClient(Map.of());
    JsonObject init = c.initializeResult();
    assertEquals("mirrord-ls", init.getAsJsonObject("serverInfo").get("name").getAsString());
    assertEquals(
        "utf-16", init.getAsJsonObject("capabilities").get("positionEncoding").getAsString());
    for (String m :
        List.of(
            "mirrord/discoverConfig",
            "mirrord/verifyConfig",
            "mirrord/listTargets",
            "mirrord/startSession",
            "mirrord/listSessions",
            "mirrord/stopSession")) {
      assertTrue(c.supports(m), m);
    }
    assertFalse(c.supports("mirrord/noSuchThing"));
  }

  @Test
  void verifyReportsTheMistakeWithItsUtf16Range() {
    long t0 = System.nanoTime();
    MirrordLsClient c = newClient(Map.of());
    VerifyResult r = c.verifyConfig(config.toString(), Map.of());
    long verified = System.nanoTime();
    System.out.printf(
        "timing: mirrord-ls start -> initialized %.1f ms, -> verified config %.1f ms%n",
        c.lastStartDuration().toNanos() / 1e6, (verified - t0) / 1e6);

    assertEquals("Fail", r.type);
    assertFalse(r.ok());
    assertEquals(config.toString(), r.path, "non-ASCII path through both directions");
    assertFalse(r.errors.isEmpty());
    ConfigDiagnostic d =
        r.diagnostics.stream()
            .filter(x -> "/feature/fs".equals(x.pointer))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no /feature/fs finding in " + r.errors));
    assertEquals("error", d.severity);
    assertEquals("read", d.suggestion);
    assertTrue(d.message.contains("reed"), d.message);
    String line = BAD_CONFIG.split("\n")[1];
    int start = line.indexOf("\"reed\""); // String indices are UTF-16 units
    assertEquals(1, d.range.start.line);
    assertEquals(start, d.range.start.character, "start column in UTF-16 units: " + d.range);
    assertEquals(1, d.range.end.line);
    assertEquals(start + "\"reed\"".length(), d.range.end.character, "end: " + d.range);
  }

  @Test
  void verifyAValidConfigWithoutTargetNeedsThePicker() throws IOException {
    Path ok = project.resolve("ok.mirrord.json");
    Files.writeString(ok, ConfigDiscovery.DEFAULT_CONFIG);
    VerifyResult r = newClient(Map.of()).verifyConfig(ok.toString(), Map.of());
    assertTrue(r.ok(), String.valueOf(r.errors));
    assertFalse(r.targetSet());
    assertTrue(r.compatibleTargetTypes.contains("deployment"), r.compatibleTargetTypes.toString());

    Files.writeString(ok, "{\"target\": \"deployment/api\"}");
    VerifyResult t = client.verifyConfig(ok.toString(), Map.of());
    assertTrue(t.ok(), String.valueOf(t.errors));
    assertTrue(t.targetSet());
    assertEquals("deployment/api", t.config.target);
  }

  @Test
  void discoverConfigDefaultEnvAndActive() throws IOException {
    MirrordLsClient c = newClient(Map.of());
    DiscoveredConfig d = c.discoverConfig(project, null, Map.of());
    assertEquals("default", d.source);
    assertEquals(config.toString(), d.path);

    Path other = project.resolve("cfg").resolve("other.mirrord.json");
    Files.createDirectories(other.getParent());
    Files.writeString(other, "{}");
    Map<String, String> env =
        ConfigDiscovery.discoveryEnv(
            Map.of("MIRRORD_CONFIG_FILE", "$ProjectPath$/cfg/other.mirrord.json"), project);
    DiscoveredConfig e = c.discoverConfig(project, null, env);
    assertEquals("env", e.source);
    assertEquals(other.toString(), e.path);

    DiscoveredConfig a = c.discoverConfig(project, other, env);
    assertEquals("active", a.source);

    Files.delete(config);
    assertEquals("none", c.discoverConfig(project, null, Map.of()).source);

    RpcException missing =
        assertThrows(
            RpcException.class,
            () ->
                c.discoverConfig(
                    project, null, Map.of("MIRRORD_CONFIG_FILE", project.resolve("x.json").toString())));
    assertEquals(RpcException.REQUEST_FAILED, missing.code());
  }

  @Test
  void listSessionsIsEmpty() {
    assertEquals(List.of(), newClient(Map.of()).listSessions());
  }

  @Test
  void stopUnknownSessionFails() {
    RpcException e =
        assertThrows(RpcException.class, () -> newClient(Map.of()).stopSession("no-such-session"));
    assertEquals(RpcException.REQUEST_FAILED, e.code());
  }

  @Test
  void aDeadServerIsRestartedOnTheNextCall() throws Exception {
    MirrordLsClient c = newClient(Map.of());
    LinkedBlockingQueue<String> gone = new LinkedBlockingQueue<>();
    c.addListener(
        new MirrordLsClient.Listener() {
          @Override
          public void onServerGone(String why) {
            gone.add(why);
          }
        });
    assertEquals(List.of(), c.listSessions());
    long pid = c.serverPid().orElseThrow();
    ProcessHandle h = ProcessHandle.of(pid).orElseThrow();
    h.destroyForcibly();
    h.onExit().get(10, TimeUnit.SECONDS);
    assertNotNull(gone.poll(10, TimeUnit.SECONDS), "onServerGone");

    assertEquals(List.of(), c.listSessions());
    assertEquals(2, c.startCount());
    assertNotEquals(pid, c.serverPid().orElseThrow());
    assertEquals("default", c.discoverConfig(project, null, Map.of()).source);
  }

  /** A kubeconfig whose API server accepts connections and never answers. */
  private Map<String, String> hangingCluster() throws IOException {
    blackhole = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor =
        new Thread(
            () -> {
              try {
                while (true) {
                  Socket s = blackhole.accept();
                  held.add(s);
                  InputStream in = s.getInputStream();
                  Thread drain =
                      new Thread(
                          () -> {
                            try {
                              in.transferTo(java.io.OutputStream.nullOutputStream());
                            } catch (IOException ignored) {
                              // closed
                            }
                          });
                  drain.setDaemon(true);
                  drain.start();
                }
              } catch (IOException ignored) {
                // closed by tearDown
              }
            },
            "blackhole");
    acceptor.setDaemon(true);
    acceptor.start();
    Path kube = tmp.resolve("kubeconfig");
    Files.writeString(
        kube,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
            + "    server: https://127.0.0.1:"
            + blackhole.getLocalPort()
            + "\n    insecure-skip-tls-verify: true\n"
            + "contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: default\n"
            + "current-context: c\nusers:\n- name: u\n  user:\n    token: t\n");
    return Map.of("KUBECONFIG", kube.toString());
  }

  @Test
  void cancellingAListingIsHonouredByTheServer() throws Exception {
    MirrordLsClient c = newClient(hangingCluster());
    LinkedBlockingQueue<JsonObject> late = new LinkedBlockingQueue<>();
    c.onLateResponse((id, msg) -> late.add(msg));
    CompletableFuture<TargetList> f = c.listTargetsAsync(new ListTargetsParams());
    Thread.sleep(700);
    assertFalse(f.isDone(), "the listing should hang on the silent API server");
    // the server keeps answering while the listing runs
    assertEquals(List.of(), c.listSessions());
    assertTrue(f.cancel(true));
    JsonObject answer = late.poll(15, TimeUnit.SECONDS);
    assertNotNull(answer, "no answer to the cancelled request");
    assertEquals(
        RpcException.REQUEST_CANCELLED,
        answer.getAsJsonObject("error").get("code").getAsInt(),
        answer.toString());
    assertEquals(List.of(), c.listSessions());
  }

  @Test
  void aRequestInFlightFailsWhenTheServerDies() throws Exception {
    MirrordLsClient c = newClient(hangingCluster());
    CompletableFuture<TargetList> f = c.listTargetsAsync(new ListTargetsParams());
    Thread.sleep(300);
    assertFalse(f.isDone());
    ProcessHandle.of(c.serverPid().orElseThrow()).orElseThrow().destroyForcibly();
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
    RpcException re = assertInstanceOf(RpcException.class, e.getCause());
    assertEquals(RpcException.CONNECTION_CLOSED, re.code());
    assertEquals(List.of(), c.listSessions());
    assertEquals(2, c.startCount());
  }

  @Test
  void startSessionWithABadConfigReportsProgressAndTheError() throws Exception {
    MirrordLsClient c = newClient(Map.of());
    List<Progress> progress = new CopyOnWriteArrayList<>();
    StartSessionParams p = new StartSessionParams();
    p.configPath = config.toString();
    p.workspaceFolder = project.toString();
    CompletableFuture<StartResult> f = c.startSession(p, progress::add);
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(60, TimeUnit.SECONDS));
    RpcException re = assertInstanceOf(RpcException.class, e.getCause());
    assertEquals(RpcException.REQUEST_FAILED, re.code());
    assertTrue(re.getMessage().contains("reed"), re.getMessage());
    // $/progress for this token: begin first, end last (it may trail the answer by a moment)
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (System.nanoTime() < deadline
        && (progress.isEmpty() || !"end".equals(progress.get(progress.size() - 1).kind))) {
      Thread.sleep(20);
    }
    assertFalse(progress.isEmpty(), "no $/progress");
    assertEquals("begin", progress.get(0).kind);
    assertEquals("end", progress.get(progress.size() - 1).kind);
  }
}
