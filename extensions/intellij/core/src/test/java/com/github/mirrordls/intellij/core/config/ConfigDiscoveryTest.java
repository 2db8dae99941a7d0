package com.github.mirrordls.intellij.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigDiscoveryTest {
  @TempDir Path dir;

  @Test
  void projectDirFromIdeaFolderOrProjectFile() {
    Path p = Path.of("/home/u/proj");
    assertEquals(p, ConfigDiscovery.projectDir(p.resolve(".idea")));
    assertEquals(p, ConfigDiscovery.projectDir(p.resolve(".idea/misc.xml")));
    assertEquals(p, ConfigDiscovery.projectDir(p.resolve("proj.ipr")));
    assertEquals(p, ConfigDiscovery.projectDir(p.resolve("proj.iws")));
    assertEquals(p, ConfigDiscovery.projectDir(p));
  }

  @Test
  void configFileFromEnvGetsProjectPathAndIsMadeAbsolute() {
    Path p = Path.of("/home/u/proj");
    Map<String, String> env =
        ConfigDiscovery.discoveryEnv(
            Map.of("MIRRORD_CONFIG_FILE", "$ProjectPath$/cfg/a.mirrord.json", "X", "1"), p);
    assertEquals("/home/u/proj/cfg/a.mirrord.json", env.get("MIRRORD_CONFIG_FILE"));
    assertEquals("1", env.get("X"));
    assertEquals(
        "/home/u/proj/x/mirrord.json",
        ConfigDiscovery.discoveryEnv(Map.of("MIRRORD_CONFIG_FILE", "x/../x/mirrord.json"), p)
            .get("MIRRORD_CONFIG_FILE"));
    assertEquals(
        "/etc/m.json",
        ConfigDiscovery.discoveryEnv(Map.of("MIRRORD_CONFIG_FILE", "/etc/m.json"), p)
            .get("MIRRORD_CONFIG_FILE"));
    assertNull(ConfigDiscovery.discoveryEnv(Map.of(), p).get("MIRRORD_CONFIG_FILE"));
  }

  @Test
  void configFileNames() {
    assertTrue(ConfigDiscovery.isConfigFile(Path.of("/p/mirrord.json")));
    assertTrue(ConfigDiscovery.isConfigFile(Path.of("/p/x/staging.mirrord.yml")));
    assertTrue(ConfigDiscovery.isConfigFile(Path.of("/p/.mirrord/anything.toml")));
    assertTrue(ConfigDiscovery.isConfigFile(Path.of("/p/.mirrord/Upper.JSON")));
    assertFalse(ConfigDiscovery.isConfigFile(Path.of("/p/package.json")));
    // the official plugin offers every json under a path containing "mirrord" (§6)
    assertFalse(ConfigDiscovery.isConfigFile(Path.of("/src/mirrord-demo/package.json")));
    assertFalse(ConfigDiscovery.isConfigFile(Path.of("/p/mirrord.txt")));
    assertFalse(ConfigDiscovery.isConfigFile(Path.of("/p/.mirrord/sub/x.json")));
  }

  @Test
  void candidatesAreSortedAndSkipIgnoredFolders() throws IOException {
    for (String f :
        List.of(
            ".mirrord/mirrord.json",
            ".mirrord/b.yaml",
            "svc/z.mirrord.toml",
            "svc/package.json",
            "node_modules/dep/mirrord.json",
            ".git/mirrord.json",
            "a-mirrord.json")) {
      Path p = dir.resolve(f);
      Files.createDirectories(p.getParent());
      Files.writeString(p, "{}");
    }
    List<String> rel = new ArrayList<>();
    for (Path p : ConfigDiscovery.candidates(dir)) {
      rel.add(dir.relativize(p).toString());
    }
    assertEquals(
        List.of(".mirrord/b.yaml", ".mirrord/mirrord.json", "a-mirrord.json", "svc/z.mirrord.toml"),
        rel);
  }

  @Test
  void createDefaultWritesOnce() throws IOException {
    Path p = ConfigDiscovery.createDefault(dir);
    assertEquals(dir.resolve(".mirrord/mirrord.json"), p);
    assertEquals(ConfigDiscovery.DEFAULT_CONFIG, Files.readString(p));
    Files.writeString(p, "{\"mine\": true}");
    ConfigDiscovery.createDefault(dir);
    assertEquals("{\"mine\": true}", Files.readString(p));
  }

  @Test
  void activeConfigFollowsMovesAndClearsOnDelete() {
    ActiveConfig a = new ActiveConfig();
    a.set(Path.of("/p/a.mirrord.json"));
    assertNull(a.onMoved(Path.of("/p/other.json"), Path.of("/p/x.json")));
    assertTrue(a.onMoved(Path.of("/p/a.mirrord.json"), Path.of("/p/b.mirrord.json")) != null);
    assertEquals(Path.of("/p/b.mirrord.json"), a.get());
    assertNull(a.onDeleted(Path.of("/p/a.mirrord.json")));
    assertTrue(a.onDeleted(Path.of("/p/b.mirrord.json")) != null);
    assertNull(a.get());
  }
}
