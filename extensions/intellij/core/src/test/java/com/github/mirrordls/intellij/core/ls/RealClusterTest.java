package com.github.mirrordls.intellij.core.ls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.mirrordls.intellij.core.launch.EnvMerge;
import com.github.mirrordls.intellij.core.launch.RunKind;
import com.github.mirrordls.intellij.core.ls.Model.ListTargetsParams;
import com.github.mirrordls.intellij.core.ls.Model.StartResult;
import com.github.mirrordls.intellij.core.ls.Model.StartSessionParams;
import com.github.mirrordls.intellij.core.ls.Model.TargetList;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Java client against the real mirrord-ls and the local cluster's real node: a Deployment of
 * the project's busybox image runs there; listTargets shows it, startSession creates the agent in
 * the cluster, and a real python3 started with the merged environment sees the pod's environment
 * and a file only the pod has. {@code make intellij-test} starts the cluster and passes its files
 * (MIRRORD_TEST_KUBECONFIG, MIRRORD_TEST_KUBECTL, MIRRORD_TEST_CLUSTER_ENV and the image
 * references).
 */
class RealClusterTest {
  private static final String APP = "ijapp";
  private static Path dir;
  private static String ns;
  private static String kubectl;
  private static String kubeconfig;

  private static String env(String name) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) {
      throw new IllegalStateException(name + " is not set: run the tests through make intellij-test");
    }
    return v;
  }

  private static String read(String path) throws IOException {
    return Files.readString(Path.of(path), StandardCharsets.UTF_8).trim();
  }

  /** Runs kubectl with stdin; fails on a non-zero exit. */
  private static String kubectl(String stdin, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of(kubectl, "--kubeconfig", kubeconfig));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Process p = pb.start();
    if (stdin != null) {
      p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(3, TimeUnit.MINUTES), "kubectl " + String.join(" ", args) + " did not end");
    assertEquals(0, p.exitValue(), "kubectl " + String.join(" ", args) + ": " + out);
    return out;
  }

  @BeforeAll
  static void deploy() throws Exception {
    kubeconfig = env("MIRRORD_TEST_KUBECONFIG");
    kubectl = env("MIRRORD_TEST_KUBECTL");
    String node = null;
    String taint = null;
    for (String line : Files.readAllLines(Path.of(env("MIRRORD_TEST_CLUSTER_ENV")))) {
      if (line.startsWith("NODE=")) {
        node = line.substring(5);
      } else if (line.startsWith("NODE_TAINT=")) {
        taint = line.substring(11);
      }
    }
    assertNotNull(node, "the cluster has no real node (run as root)");
    dir = Files.createTempDirectory(Path.of("/tmp"), "mijc");
    ns = "ij-" + UUID.randomUUID().toString().substring(0, 8);
    String busybox = read(env("MIRRORD_TEST_BUSYBOX_REF"));
    String manifest =
        String.join(
            "\n",
            "apiVersion: v1",
            "kind: Namespace",
            "metadata: {name: " + ns + "}",
            "---",
            "apiVersion: apps/v1",
            "kind: Deployment",
            "metadata: {name: " + APP + ", namespace: " + ns + "}",
            "spec:",
            "  replicas: 1",
            "  selector: {matchLabels: {app: " + APP + "}}",
            "  template:",
            "    metadata: {labels: {app: " + APP + "}}",
            "    spec:",
            "      nodeSelector: {kubernetes.io/hostname: " + node + "}",
            "      tolerations: [{key: " + taint + ", operator: Equal, value: \"true\", effect: NoSchedule}]",
            "      terminationGracePeriodSeconds: 1",
            "      containers:",
            "      - name: app",
            "        image: " + busybox,
            "        imagePullPolicy: Never",
            "        env: [{name: IJ_MARK, value: from-the-pod}]",
            "        command: [sh, -c, 'mkdir -p /app && echo pod-only > /app/ij-file && exec sleep 86400']",
            "");
    kubectl(manifest, "apply", "-f", "-");
    kubectl(null, "-n", ns, "rollout", "status", "deployment/" + APP, "--timeout=180s");
  }

  @AfterAll
  static void remove() throws Exception {
    if (ns != null) {
      kubectl(null, "delete", "namespace", ns, "--wait=false", "--ignore-not-found");
    }
    if (dir != null) {
      try (Stream<Path> walk = Files.walk(dir)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  @Test
  void listsTheTargetAndRunsPython3InItsContext() throws Exception {
    Path project = dir.resolve("project");
    Path cfg = project.resolve(".mirrord").resolve("mirrord.json");
    Files.createDirectories(cfg.getParent());
    Files.writeString(
        cfg,
        "{\"target\": {\"namespace\": \""
            + ns
            + "\"}, \"agent\": {\"image\": \""
            + read(env("MIRRORD_TEST_AGENT_REF"))
            + "\", \"startup_timeout\": 90}}");
    MirrordLsClient.Options o = new MirrordLsClient.Options();
    o.binary = Path.of(env("MIRRORD_LS_BIN"));
    o.workspaceFolder = project;
    // the cluster's kubeconfig is the user's own here
    o.env.put("KUBECONFIG", kubeconfig);
    o.env.put("MIRRORD_SESSIONS_DIR", dir.resolve("s").toString());
    o.sessionTimeout = Duration.ofMinutes(3);
    try (MirrordLsClient client = new MirrordLsClient(o)) {
      long t0 = System.nanoTime();
      ListTargetsParams lp = new ListTargetsParams();
      lp.configPath = cfg.toString();
      TargetList list = client.listTargets(lp);
      long t1 = System.nanoTime();
      assertTrue(
          list.targets.stream().anyMatch(t -> ("deployment/" + APP).equals(t.path) && t.available),
          "listTargets: " + list.targets.size() + " targets, warnings " + list.warnings);
      assertEquals(ns, list.currentNamespace);

      StartSessionParams p = new StartSessionParams();
      p.configPath = cfg.toString();
      p.target = "deployment/" + APP;
      p.workspaceFolder = project.toString();
      p.executable = "python3";
      p.env = EnvMerge.sessionEnv(RunKind.PYTHON, Map.of(), null);
      StartResult started = MirrordLsClient.await(client.startSession(p, null));
      long t2 = System.nanoTime();
      System.out.printf(
          "timing: mirrord-ls start -> listTargets %.1f ms; -> session in the real pod %.1f ms%n",
          (t1 - t0) / 1e6, (t2 - t0) / 1e6);
      assertEquals("from-the-pod", started.environment.get("IJ_MARK"), "the pod's environment");

      Map<String, String> launchEnv =
          EnvMerge.merge(RunKind.PYTHON, Map.of(), started)
              .applyTo(Map.of("PATH", System.getenv("PATH")));
      ProcessBuilder pb =
          // Debian's python3 (a pyenv shim elsewhere on PATH is a script under
          // $HOME, which read mode would look for in the pod)
          new ProcessBuilder(
                  "/usr/bin/python3",
                  "-c",
                  "import os; print(os.environ.get('IJ_MARK'), open('/app/ij-file').read().strip())")
              .redirectErrorStream(true);
      pb.environment().clear();
      pb.environment().putAll(launchEnv);
      Process proc = pb.start();
      String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      assertTrue(proc.waitFor(90, TimeUnit.SECONDS), "python3 did not exit");
      String[] lines = out.split("\n");
      assertEquals("from-the-pod pod-only", lines[lines.length - 1].trim(), "python3: " + out);

      client.stopSession(started.sessionId);
      assertTrue(
          client.listSessions().stream().noneMatch(s -> started.sessionId.equals(s.sessionId)),
          "gone after stop");
    }
  }
}
