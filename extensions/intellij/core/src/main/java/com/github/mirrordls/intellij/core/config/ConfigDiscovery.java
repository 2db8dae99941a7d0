package com.github.mirrordls.intellij.core.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Config discovery with IntelliJ's rules (reference ide-contract §1.3), minus the official
 * plugin's known bugs (§6, "Discovery").
 *
 * <ul>
 *   <li>The project directory is the parent of {@code .idea/}, or of the {@code .ipr}/{@code
 *       .iws} file.
 *   <li>{@code MIRRORD_CONFIG_FILE} in the run configuration has {@code $ProjectPath$} replaced by
 *       the project directory; a relative path is relative to the project directory.
 *   <li>The order (active, {@code MIRRORD_CONFIG_FILE}, default, none) and the default rule are the
 *       server's ({@code mirrord/discoverConfig}): the first {@code .mirrord/*mirrord.{json,toml,
 *       yaml,yml}} by byte order, so IntelliJ and VS Code pick the same default. The official
 *       plugin takes any {@code .json/.yaml/.toml} there and no {@code .yml} (§6).
 *   <li>Active-config candidates are the files the server treats as configs: {@code
 *       *mirrord.{json,toml,yaml,yml}} anywhere and {@code .mirrord/*.{json,toml,yaml,yml}}, not
 *       every file whose path contains "mirrord" (§6).
 * </ul>
 */
public final class ConfigDiscovery {
  private ConfigDiscovery() {}

  public static final String PROJECT_PATH_MACRO = "$ProjectPath$";

  /** What "create default" writes (same as both official plugins). */
  public static final String DEFAULT_CONFIG =
      "{\n"
          + "  \"feature\": {\n"
          + "    \"network\": {\n"
          + "      \"incoming\": \"mirror\",\n"
          + "      \"outgoing\": true\n"
          + "    },\n"
          + "    \"fs\": \"read\",\n"
          + "    \"env\": true\n"
          + "  }\n"
          + "}\n";

  private static final Set<String> EXTENSIONS = Set.of("json", "toml", "yaml", "yml");
  private static final Set<String> SKIPPED_DIRS =
      Set.of(".git", ".idea", "node_modules", ".gradle", ".venv", "venv", "__pycache__");
  private static final int MAX_DEPTH = 16;

  /**
   * The project directory for the platform's project file path: {@code …/.idea} or a file in it,
   * an {@code .ipr}/{@code .iws} file, or the directory itself.
   */
  public static Path projectDir(Path projectFile) {
    Path p = projectFile.toAbsolutePath().normalize();
    for (Path cur = p; cur != null; cur = cur.getParent()) {
      Path name = cur.getFileName();
      if (name != null && name.toString().equals(".idea")) {
        return cur.getParent();
      }
    }
    String name = p.getFileName() == null ? "" : p.getFileName().toString();
    if (name.endsWith(".ipr") || name.endsWith(".iws")) {
      return p.getParent();
    }
    return p;
  }

  /**
   * The environment to send to {@code mirrord/discoverConfig}: the run configuration's, with
   * {@code MIRRORD_CONFIG_FILE} made absolute ({@code $ProjectPath$} replaced, relative paths
   * resolved against the project directory).
   */
  public static Map<String, String> discoveryEnv(Map<String, String> runEnv, Path projectDir) {
    Map<String, String> env = new LinkedHashMap<>(runEnv);
    String v = env.get("MIRRORD_CONFIG_FILE");
    if (v != null && !v.isBlank()) {
      env.put("MIRRORD_CONFIG_FILE", resolveConfigPath(v, projectDir).toString());
    }
    return env;
  }

  /** {@code $ProjectPath$} replaced, and a relative result resolved against the project. */
  public static Path resolveConfigPath(String value, Path projectDir) {
    String s = value.trim().replace(PROJECT_PATH_MACRO, projectDir.toString());
    Path p = Path.of(s);
    return p.isAbsolute() ? p.normalize() : projectDir.resolve(p).normalize();
  }

  /** Whether {@code file} is a mirrord config by name (the server's rule for documents). */
  public static boolean isConfigFile(Path file) {
    Path fn = file.getFileName();
    if (fn == null) {
      return false;
    }
    String name = fn.toString();
    int dot = name.lastIndexOf('.');
    if (dot <= 0) {
      return false;
    }
    String ext = name.substring(dot + 1).toLowerCase(Locale.ROOT);
    if (!EXTENSIONS.contains(ext)) {
      return false;
    }
    Path parent = file.getParent();
    if (parent != null && parent.getFileName() != null
        && parent.getFileName().toString().equals(".mirrord")) {
      return true;
    }
    return name.substring(0, dot).endsWith("mirrord");
  }

  /**
   * Candidates for "Select Active Config": config files under the project, sorted by their path
   * relative to it (plain string order). Version-control, IDE and dependency folders are skipped.
   */
  public static List<Path> candidates(Path projectDir) throws IOException {
    List<Path> found = new ArrayList<>();
    if (!Files.isDirectory(projectDir)) {
      return found;
    }
    Files.walkFileTree(
        projectDir,
        Set.of(),
        MAX_DEPTH,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
            Path n = dir.getFileName();
            if (!dir.equals(projectDir) && n != null && SKIPPED_DIRS.contains(n.toString())) {
              return FileVisitResult.SKIP_SUBTREE;
            }
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
            if (attrs.isRegularFile() && isConfigFile(file)) {
              found.add(file);
            }
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFileFailed(Path file, IOException exc) {
            return FileVisitResult.CONTINUE;
          }
        });
    found.sort(
        (a, b) -> projectDir.relativize(a).toString().compareTo(projectDir.relativize(b).toString()));
    return found;
  }

  /** Where "create default" puts the config. */
  public static Path defaultConfigPath(Path projectDir) {
    return projectDir.resolve(".mirrord").resolve("mirrord.json");
  }

  /** Creates the default config unless it exists; returns its path. */
  public static Path createDefault(Path projectDir) throws IOException {
    Path p = defaultConfigPath(projectDir);
    if (!Files.exists(p)) {
      Files.createDirectories(p.getParent());
      Files.writeString(p, DEFAULT_CONFIG, StandardCharsets.UTF_8);
    }
    return p;
  }
}
