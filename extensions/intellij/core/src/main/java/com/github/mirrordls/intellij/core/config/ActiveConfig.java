package com.github.mirrordls.intellij.core.config;

import java.nio.file.Path;

/**
 * The project's active config: chosen by the user, kept in memory (not persisted, as in the
 * official plugin), following a rename and cleared on delete.
 */
public final class ActiveConfig {
  private volatile Path path;

  public Path get() {
    return path;
  }

  public void set(Path p) {
    path = p == null ? null : p.toAbsolutePath().normalize();
  }

  /**
   * A file moved: returns the warning to show when it was the active config (which now follows
   * it), else null.
   */
  public String onMoved(Path from, Path to) {
    Path cur = path;
    if (cur != null && cur.equals(from.toAbsolutePath().normalize())) {
      set(to);
      return "The active mirrord config moved to " + path;
    }
    return null;
  }

  /** A file was deleted: returns the warning to show when it was the active config, else null. */
  public String onDeleted(Path deleted) {
    Path cur = path;
    if (cur != null && cur.equals(deleted.toAbsolutePath().normalize())) {
      path = null;
      return "The active mirrord config " + cur + " was removed; no active config is set";
    }
    return null;
  }
}
