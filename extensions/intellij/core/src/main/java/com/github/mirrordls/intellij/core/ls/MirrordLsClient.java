package com.github.mirrordls.intellij.core.ls;

import com.github.mirrordls.intellij.core.ls.Model.ConfigDiagnostic;
import com.github.mirrordls.intellij.core.ls.Model.DiscoveredConfig;
import com.github.mirrordls.intellij.core.ls.Model.ListTargetsParams;
import com.github.mirrordls.intellij.core.ls.Model.Progress;
import com.github.mirrordls.intellij.core.ls.Model.SessionInfo;
import com.github.mirrordls.intellij.core.ls.Model.StartResult;
import com.github.mirrordls.intellij.core.ls.Model.StartSessionParams;
import com.github.mirrordls.intellij.core.ls.Model.TargetList;
import com.github.mirrordls.intellij.core.ls.Model.VerifyResult;
import com.github.mirrordls.intellij.core.rpc.JsonRpcConnection;
import com.github.mirrordls.intellij.core.rpc.RpcException;
import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.reflect.TypeToken;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The client of one {@code mirrord-ls --stdio} process: it starts the server on the first call
 * (initialize, initialized), answers the server's requests, routes {@code $/progress},
 * {@code mirrord/sessionsChanged} and {@code window/logMessage}, and starts a new server on the
 * next call when the old one has died. A call that is in flight when the server dies fails with
 * {@link RpcException#CONNECTION_CLOSED}; it is not retried (startSession is not idempotent).
 */
public final class MirrordLsClient implements AutoCloseable {
  /** How to run the server. */
  public static final class Options {
    /** The mirrord-ls executable. */
    public Path binary;

    /** Extra arguments after {@code --stdio} (e.g. {@code --log-file}, {@code --mirrord}). */
    public List<String> extraArgs = new ArrayList<>();

    /** The project directory: the workspace folder and the server's working directory. */
    public Path workspaceFolder;

    /** Added to the environment the server inherits. */
    public Map<String, String> env = new LinkedHashMap<>();

    /** {@code clientInfo.name}; the server passes it on as {@code MIRRORD_IDE_NAME}. */
    public String clientName = "intellij";

    public String clientVersion = "0.1.0";

    /**
     * Whether the user trusts the project (the platform asks {@code TrustedProjects.isTrusted}).
     * Read at every server start ({@code initializationOptions.workspaceTrusted}); change it at run
     * time with {@link MirrordLsClient#setWorkspaceTrusted}. Untrusted by default: mirrord-ls then
     * never uses a kubeconfig a project file names (docs/security.md).
     */
    public java.util.function.BooleanSupplier workspaceTrusted = () -> false;
    /** Start plus initialize. */
    public Duration startTimeout = Duration.ofSeconds(20);
    /** Every call but startSession. */
    public Duration requestTimeout = Duration.ofSeconds(30);
    /** startSession (the server gives up on {@code mirrord ext} after 5 minutes). */
    public Duration sessionTimeout = Duration.ofMinutes(6);
  }

  /** Receives what the server sends on its own. Called on the connection's dispatch thread. */
  public interface Listener {
    default void onProgress(String token, Progress progress) {}

    default void onSessionsChanged(List<SessionInfo> sessions) {}

    /** {@code window/logMessage} and {@code window/showMessage}: type 1 error … 4 log. */
    default void onLog(int type, String message) {}

    /** The server process ended or its connection closed. */
    default void onServerGone(String why) {}
  }

  private static final Gson GSON = JsonRpcConnection.PARAMS;
  private static final Type SESSIONS = new TypeToken<List<SessionInfo>>() {}.getType();

  private final Options options;
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final Map<String, Consumer<Progress>> progressByToken = new ConcurrentHashMap<>();
  private final AtomicInteger tokens = new AtomicInteger();
  private final Object lock = new Object();
  private Process process;
  private JsonRpcConnection connection;
  private JsonObject initializeResult;
  private volatile String lastStderrLine = "";
  private volatile java.util.function.BiConsumer<Integer, JsonObject> lateResponses;
  private int starts;
  private long lastStartNanos;
  private long lastInitializedNanos;
  private boolean closed;

  public MirrordLsClient(Options options) {
    if (options.binary == null) {
      throw new IllegalArgumentException("Options.binary is required");
    }
    this.options = options;
  }

  public void addListener(Listener l) {
    listeners.add(l);
  }

  public void removeListener(Listener l) {
    listeners.remove(l);
  }

  /**
   * Receives answers to requests that were cancelled or timed out (diagnostics: the server answers
   * a cancelled request with {@code -32800}).
   */
  public void onLateResponse(java.util.function.BiConsumer<Integer, JsonObject> listener) {
    lateResponses = listener;
    synchronized (lock) {
      if (connection != null) {
        connection.onLateResponse(listener);
      }
    }
  }

  /** How many server processes this client has started. */
  public int startCount() {
    synchronized (lock) {
      return starts;
    }
  }

  /** The running server's pid. */
  public OptionalLong serverPid() {
    synchronized (lock) {
      return process != null && process.isAlive() ? OptionalLong.of(process.pid()) : OptionalLong.empty();
    }
  }

  /** Time from starting the last server process to the end of its initialize exchange. */
  public Duration lastStartDuration() {
    synchronized (lock) {
      return Duration.ofNanos(lastInitializedNanos - lastStartNanos);
    }
  }

  /** {@link System#nanoTime()} when the last server process was started. */
  public long lastStartNanos() {
    synchronized (lock) {
      return lastStartNanos;
    }
  }

  /** The {@code initialize} result of the running server (starting it if needed). */
  public JsonObject initializeResult() {
    synchronized (lock) {
      ensureStarted();
      return initializeResult;
    }
  }

  /** Whether the server lists {@code method} in {@code capabilities.experimental.mirrord.methods}. */
  public boolean supports(String method) {
    JsonObject caps = initializeResult().getAsJsonObject("capabilities");
    try {
      JsonArray methods =
          caps.getAsJsonObject("experimental").getAsJsonObject("mirrord").getAsJsonArray("methods");
      for (JsonElement m : methods) {
        if (method.equals(m.getAsString())) {
          return true;
        }
      }
    } catch (RuntimeException e) {
      return false;
    }
    return false;
  }

  /** Starts the server unless one is running; restarts one that died. */
  public void ensureStarted() {
    synchronized (lock) {
      if (closed) {
        throw new RpcException(RpcException.CONNECTION_CLOSED, "the client is closed", null);
      }
      if (connection != null && connection.isOpen() && process.isAlive()) {
        return;
      }
      discard();
      start();
    }
  }

  private void start() {
    List<String> cmd = new ArrayList<>();
    cmd.add(options.binary.toString());
    cmd.add("--stdio");
    cmd.addAll(options.extraArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(options.env);
    if (options.workspaceFolder != null && Files.isDirectory(options.workspaceFolder)) {
      pb.directory(options.workspaceFolder.toFile());
    }
    lastStartNanos = System.nanoTime();
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new RpcException(
          RpcException.CONNECTION_CLOSED, "cannot start " + options.binary + ": " + e.getMessage(), null);
    }
    starts++;
    process = p;
    lastStderrLine = "";
    Thread err = new Thread(() -> drainStderr(p), "mirrord-ls-stderr");
    err.setDaemon(true);
    err.start();
    JsonRpcConnection c =
        new JsonRpcConnection(
            p.getInputStream(),
            p.getOutputStream(),
            this::onNotification,
            this::onServerRequest,
            msg -> emitLog(4, "mirrord-ls client: " + msg));
    connection = c;
    c.onLateResponse(lateResponses);
    c.closedFuture()
        .thenRun(
            () -> {
              String why = "mirrord-ls exited";
              String last = lastStderrLine;
              if (!last.isEmpty()) {
                why += ": " + last;
              }
              for (Listener l : listeners) {
                l.onServerGone(why);
              }
            });
    c.start();
    try {
      JsonElement result =
          await(c.request("initialize", initializeParams(p), options.startTimeout));
      initializeResult = result.getAsJsonObject();
      c.notify("initialized", new JsonObject());
    } catch (RuntimeException | IOException e) {
      discard();
      String detail = lastStderrLine.isEmpty() ? "" : " (stderr: " + lastStderrLine + ")";
      throw new RpcException(
          RpcException.CONNECTION_CLOSED,
          "starting " + options.binary + " failed: " + e.getMessage() + detail,
          null);
    }
    lastInitializedNanos = System.nanoTime();
  }

  private JsonObject initializeParams(Process p) {
    JsonObject params = new JsonObject();
    params.addProperty("processId", ProcessHandle.current().pid());
    JsonObject info = new JsonObject();
    info.addProperty("name", options.clientName);
    info.addProperty("version", options.clientVersion);
    params.add("clientInfo", info);
    if (options.workspaceFolder != null) {
      String uri = options.workspaceFolder.toAbsolutePath().toUri().toString();
      if (uri.endsWith("/")) {
        uri = uri.substring(0, uri.length() - 1);
      }
      params.addProperty("rootUri", uri);
      JsonArray folders = new JsonArray();
      JsonObject folder = new JsonObject();
      folder.addProperty("uri", uri);
      Path name = options.workspaceFolder.getFileName();
      folder.addProperty("name", name == null ? "/" : name.toString());
      folders.add(folder);
      params.add("workspaceFolders", folders);
    } else {
      params.add("rootUri", JsonNull.INSTANCE);
    }
    JsonObject caps = new JsonObject();
    JsonObject window = new JsonObject();
    window.addProperty("workDoneProgress", true);
    caps.add("window", window);
    JsonObject general = new JsonObject();
    JsonArray encodings = new JsonArray();
    encodings.add("utf-16");
    general.add("positionEncodings", encodings);
    caps.add("general", general);
    JsonObject workspace = new JsonObject();
    workspace.addProperty("workspaceFolders", true);
    caps.add("workspace", workspace);
    params.add("capabilities", caps);
    JsonObject init = new JsonObject();
    init.addProperty("workspaceTrusted", options.workspaceTrusted.getAsBoolean());
    params.add("initializationOptions", init);
    return params;
  }

  /**
   * Tells the running server that the user granted (or withdrew) trust in the project ({@code
   * mirrord/didChangeWorkspaceTrust}); a server started later reads {@link
   * Options#workspaceTrusted}.
   */
  public void setWorkspaceTrusted(boolean trusted) {
    JsonRpcConnection c;
    synchronized (lock) {
      ensureStarted();
      c = connection;
    }
    JsonObject p = new JsonObject();
    p.addProperty("trusted", trusted);
    try {
      c.notify("mirrord/didChangeWorkspaceTrust", p);
    } catch (IOException e) {
      // the server died: the next start reads Options.workspaceTrusted
      throw new RpcException(
          RpcException.CONNECTION_CLOSED, "mirrord-ls is gone: " + e.getMessage(), null);
    }
  }

  private void drainStderr(Process p) {
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (!line.isBlank()) {
          lastStderrLine = line;
          emitLog(4, "mirrord-ls stderr: " + line);
        }
      }
    } catch (IOException ignored) {
      // process gone
    }
  }

  /** Forgets the current server, killing it if it still runs. Caller holds the lock. */
  private void discard() {
    if (connection != null) {
      connection.close();
      connection = null;
    }
    if (process != null) {
      if (process.isAlive()) {
        process.destroyForcibly();
      }
      process = null;
    }
    initializeResult = null;
  }

  private void onNotification(String method, JsonElement params) {
    switch (method) {
      case "$/progress":
        {
          JsonObject o = params.getAsJsonObject();
          String token = o.get("token").getAsString();
          Progress value = GSON.fromJson(o.get("value"), Progress.class);
          Consumer<Progress> c = progressByToken.get(token);
          if (c != null) {
            c.accept(value);
          }
          for (Listener l : listeners) {
            l.onProgress(token, value);
          }
          break;
        }
      case "mirrord/sessionsChanged":
        {
          List<SessionInfo> sessions =
              GSON.fromJson(params.getAsJsonObject().get("sessions"), SESSIONS);
          List<SessionInfo> list = sessions == null ? List.of() : sessions;
          for (Listener l : listeners) {
            l.onSessionsChanged(list);
          }
          break;
        }
      case "window/logMessage":
      case "window/showMessage":
        {
          JsonObject o = params.getAsJsonObject();
          emitLog(o.get("type").getAsInt(), o.get("message").getAsString());
          break;
        }
      default:
        // diagnostics and the rest belong to the platform's LSP support
    }
  }

  private void emitLog(int type, String message) {
    for (Listener l : listeners) {
      l.onLog(type, message);
    }
  }

  private JsonElement onServerRequest(String method, JsonElement params) {
    switch (method) {
      case "window/workDoneProgress/create":
      case "client/registerCapability":
      case "client/unregisterCapability":
      case "window/showMessageRequest":
        return JsonNull.INSTANCE;
      case "workspace/configuration":
        {
          JsonArray out = new JsonArray();
          JsonArray items = params.getAsJsonObject().getAsJsonArray("items");
          for (int i = 0; items != null && i < items.size(); i++) {
            out.add(JsonNull.INSTANCE);
          }
          return out;
        }
      case "workspace/workspaceFolders":
        {
          JsonElement folders =
              options.workspaceFolder == null
                  ? JsonNull.INSTANCE
                  : initializeParams(null).get("workspaceFolders");
          return folders;
        }
      default:
        throw new RpcException(RpcException.METHOD_NOT_FOUND, "unhandled method " + method, null);
    }
  }

  // ---- calls ----

  /**
   * Sends a request to the server (started or restarted as needed) and maps its result. Cancelling
   * the returned future sends {@code $/cancelRequest}.
   */
  public <T> CompletableFuture<T> callAsync(
      String method, Object params, Duration timeout, Function<JsonElement, T> map) {
    JsonRpcConnection c;
    synchronized (lock) {
      ensureStarted();
      c = connection;
    }
    JsonElement json = params == null ? new JsonObject() : GSON.toJsonTree(params);
    CompletableFuture<JsonElement> raw = c.request(method, json, timeout);
    CompletableFuture<T> out = new CompletableFuture<>();
    raw.whenComplete(
        (r, e) -> {
          if (e != null) {
            out.completeExceptionally(e);
            return;
          }
          try {
            out.complete(map.apply(r));
          } catch (RuntimeException ex) {
            out.completeExceptionally(
                new RpcException(RpcException.INTERNAL_ERROR, method + ": bad result: " + ex, null));
          }
        });
    out.whenComplete(
        (r, e) -> {
          if (out.isCancelled()) {
            raw.cancel(true);
          }
        });
    return out;
  }

  /** Waits for a call's result; failures come out as {@link RpcException}. */
  public static <T> T await(CompletableFuture<T> future) {
    try {
      return future.get();
    } catch (InterruptedException e) {
      future.cancel(true);
      Thread.currentThread().interrupt();
      throw new RpcException(RpcException.REQUEST_CANCELLED, "interrupted", null);
    } catch (CancellationException e) {
      throw new RpcException(RpcException.REQUEST_CANCELLED, "cancelled", null);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RpcException) {
        throw (RpcException) cause;
      }
      throw new RpcException(RpcException.INTERNAL_ERROR, String.valueOf(cause), null);
    }
  }

  private <T> T call(String method, Object params, Class<T> type) {
    return await(callAsync(method, params, options.requestTimeout, r -> GSON.fromJson(r, type)));
  }

  /**
   * {@code mirrord/discoverConfig}: which config a launch uses and why.
   *
   * @param workspaceFolder null: the client's workspace folder
   * @param active the user's active config, or null
   * @param env the run configuration's environment ({@code MIRRORD_CONFIG_FILE})
   */
  public DiscoveredConfig discoverConfig(Path workspaceFolder, Path active, Map<String, String> env) {
    JsonObject p = new JsonObject();
    if (workspaceFolder != null) {
      p.addProperty("workspaceFolder", workspaceFolder.toString());
    }
    if (active != null) {
      p.addProperty("active", active.toString());
    }
    if (env != null) {
      p.add("env", GSON.toJsonTree(env));
    }
    return call("mirrord/discoverConfig", p, DiscoveredConfig.class);
  }

  /** {@code mirrord/verifyConfig} of a file on disk (absolute, or relative to the project). */
  public VerifyResult verifyConfig(String path, Map<String, String> env) {
    JsonObject p = new JsonObject();
    p.addProperty("path", path);
    if (env != null) {
      p.add("env", GSON.toJsonTree(env));
    }
    VerifyResult r = call("mirrord/verifyConfig", p, VerifyResult.class);
    for (ConfigDiagnostic d : r.diagnostics) {
      if (d.severity == null) {
        d.severity = "error";
      }
    }
    return r;
  }

  public TargetList listTargets(ListTargetsParams params) {
    return call("mirrord/listTargets", params, TargetList.class);
  }

  /** {@code mirrord/listTargets}, cancellable. */
  public CompletableFuture<TargetList> listTargetsAsync(ListTargetsParams params) {
    return callAsync(
        "mirrord/listTargets",
        params,
        options.requestTimeout,
        r -> GSON.fromJson(r, TargetList.class));
  }

  /**
   * {@code mirrord/startSession}. {@code onProgress} receives the {@code $/progress} values of this
   * start (begin, reports, end). Cancelling the future cancels the start (the server stops
   * {@code mirrord ext} and what it started).
   */
  public CompletableFuture<StartResult> startSession(
      StartSessionParams params, Consumer<Progress> onProgress) {
    if (params.workDoneToken == null) {
      params.workDoneToken = "intellij-start-" + tokens.incrementAndGet();
    }
    String token = params.workDoneToken;
    if (onProgress != null) {
      progressByToken.put(token, onProgress);
    }
    CompletableFuture<StartResult> f;
    JsonRpcConnection c;
    try {
      f =
          callAsync(
              "mirrord/startSession",
              params,
              options.sessionTimeout,
              r -> GSON.fromJson(r, StartResult.class));
      synchronized (lock) {
        c = connection;
      }
    } catch (RuntimeException e) {
      progressByToken.remove(token);
      throw e;
    }
    // the progress that preceded the answer is still queued for delivery: stop listening after it
    CompletableFuture<StartResult> out = new CompletableFuture<>();
    f.whenComplete(
        (r, e) ->
            c.afterQueuedNotifications(
                () -> {
                  progressByToken.remove(token);
                  if (e != null) {
                    out.completeExceptionally(e);
                  } else {
                    out.complete(r);
                  }
                }));
    out.whenComplete(
        (r, e) -> {
          if (out.isCancelled()) {
            f.cancel(true);
            progressByToken.remove(token);
          }
        });
    return out;
  }

  public List<SessionInfo> listSessions() {
    List<SessionInfo> list =
        await(
            callAsync(
                "mirrord/listSessions",
                new JsonObject(),
                options.requestTimeout,
                r -> GSON.<List<SessionInfo>>fromJson(r, SESSIONS)));
    return list == null ? List.of() : list;
  }

  public void stopSession(String sessionId) {
    JsonObject p = new JsonObject();
    p.addProperty("session_id", sessionId);
    await(callAsync("mirrord/stopSession", p, options.requestTimeout, r -> null));
  }

  /**
   * Ends the server politely (shutdown, exit), killing it if it has not exited within two seconds.
   * The client can start a new one afterwards; {@link #close} cannot be undone.
   */
  public void shutdown() {
    synchronized (lock) {
      if (connection != null && connection.isOpen() && process != null && process.isAlive()) {
        try {
          await(connection.request("shutdown", null, Duration.ofSeconds(3)));
          connection.notify("exit", null);
          process.waitFor(2, TimeUnit.SECONDS);
        } catch (RuntimeException | IOException e) {
          // killed below
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      discard();
    }
  }

  @Override
  public void close() {
    shutdown();
    synchronized (lock) {
      closed = true;
    }
  }
}
