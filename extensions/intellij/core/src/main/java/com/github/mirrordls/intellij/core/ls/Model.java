package com.github.mirrordls.intellij.core.ls;

import com.google.gson.JsonElement;
import com.google.gson.annotations.SerializedName;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The shapes of the mirrord/* methods (docs/protocol.md), as gson maps them. */
public final class Model {
  private Model() {}

  /** A zero-based position; {@code character} counts UTF-16 code units. */
  public static final class Position {
    public int line;
    public int character;

    @Override
    public String toString() {
      return line + ":" + character;
    }
  }

  public static final class Range {
    public Position start;
    public Position end;

    @Override
    public String toString() {
      return start + "-" + end;
    }
  }

  /** The result of {@code mirrord/discoverConfig}. */
  public static final class DiscoveredConfig {
    /** Absolute path, or null when {@code source} is {@code none}. */
    public String path;

    public String uri;
    /** {@code active}, {@code env}, {@code default} or {@code none}. */
    public String source;

    public String reason;
  }

  /** One finding of {@code mirrord/verifyConfig}. */
  public static final class ConfigDiagnostic {
    /** {@code error} or {@code warning}. */
    public String severity;

    public String pointer;
    public String code;
    public String stage;
    public String suggestion;
    public String message;
    public Range range;
  }

  /** {@code config} of a verify result. */
  public static final class VerifiedTarget {
    /** null (no target), the string {@code targetless}, or an object like {@code {"pod": …}}. */
    public JsonElement path;

    public String namespace;
    /** The target as a path string ({@code deployment/api}), or null. */
    public String target;
  }

  /** The result of {@code mirrord/verifyConfig}. */
  public static final class VerifyResult {
    /** {@code Success} or {@code Fail}. */
    public String type;

    public String path;
    public String format;
    public VerifiedTarget config;
    public List<String> warnings = new ArrayList<>();
    public List<String> errors = new ArrayList<>();

    @SerializedName("compatible_target_types")
    public List<String> compatibleTargetTypes = new ArrayList<>();

    public List<ConfigDiagnostic> diagnostics = new ArrayList<>();

    public boolean ok() {
      return "Success".equals(type);
    }

    /**
     * Whether the config names a target (or targetless): if not, the launch asks for one with the
     * picker. Like the official plugin, "set" means {@code config.path} is not null.
     */
    public boolean targetSet() {
      return config != null && config.path != null && !config.path.isJsonNull();
    }
  }

  public static final class Target {
    public String path;
    public String kind;
    public String name;
    public String namespace;
    public boolean available;
    public List<String> containers = new ArrayList<>();
  }

  /** The result of {@code mirrord/listTargets}. */
  public static final class TargetList {
    public List<Target> targets = new ArrayList<>();

    @SerializedName("current_namespace")
    public String currentNamespace;

    public List<String> namespaces = new ArrayList<>();
    public List<String> warnings = new ArrayList<>();
  }

  /** Params of {@code mirrord/listTargets}; null fields are left out. */
  public static final class ListTargetsParams {
    public String configUri;
    public String configPath;
    public String namespace;
    public List<String> kinds;
    public Boolean includeUnavailable;
  }

  /** Params of {@code mirrord/startSession}; null fields are left out. */
  public static final class StartSessionParams {
    public String configPath;
    /** null: the config's target; {@code targetless} is sent as no target by the picker. */
    public String target;

    public String executable;
    public String workspaceFolder;
    public Map<String, String> env = new LinkedHashMap<>();
    public String workDoneToken;
  }

  /** The result of {@code mirrord/startSession}: the launch environment. */
  public static final class StartResult {
    @SerializedName("session_id")
    public String sessionId;

    public Map<String, String> environment = new LinkedHashMap<>();

    @SerializedName("env_to_unset")
    public List<String> envToUnset = new ArrayList<>();

    public List<String> warnings = new ArrayList<>();
  }

  /** One local session ({@code mirrord/listSessions}, {@code mirrord/sessionsChanged}). */
  public static final class SessionInfo {
    @SerializedName("session_id")
    public String sessionId;

    public String key;
    public String target;
    public String namespace;

    @SerializedName("started_at")
    public String startedAt;

    public int pid;
  }

  /** A {@code $/progress} value. */
  public static final class Progress {
    /** {@code begin}, {@code report} or {@code end}. */
    public String kind;

    public String title;
    public String message;
    public Boolean cancellable;
    public Integer percentage;
  }
}
