package com.github.mirrordls.intellij.core.rpc;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * One JSON-RPC 2.0 connection over a pair of byte streams with LSP framing.
 *
 * <p>Requests get increasing integer ids and a future. A request that is not answered within its
 * timeout, or whose future is cancelled, is withdrawn with {@code $/cancelRequest}; its future
 * fails with {@link RpcException#TIMEOUT} (or is cancelled). When the stream ends, every pending
 * request fails with {@link RpcException#CONNECTION_CLOSED}.
 *
 * <p>Responses complete futures on the reader thread: dependent stages must not block.
 * Notifications and requests from the server are handled in arrival order on one dispatch thread,
 * so a handler may itself call {@link #request} and wait.
 */
public final class JsonRpcConnection implements AutoCloseable {
  /** Writes messages: JSON null members (e.g. {@code "result": null}) are kept. */
  private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();

  /** Turns params objects into JSON: null fields are left out. */
  public static final Gson PARAMS = new GsonBuilder().disableHtmlEscaping().create();

  private static final ScheduledExecutorService TIMERS =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "mirrord-rpc-timeouts");
            t.setDaemon(true);
            return t;
          });

  private final InputStream in;
  private final OutputStream out;
  private final BiConsumer<String, JsonElement> notifications;
  private final ServerRequestHandler serverRequests;
  private final Consumer<String> log;
  private final ExecutorService dispatch;
  private final AtomicInteger nextId = new AtomicInteger(1);
  private final Map<Integer, Pending> pending = new ConcurrentHashMap<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final CompletableFuture<Void> closedFuture = new CompletableFuture<>();
  private final Object writeLock = new Object();
  private Thread reader;
  private volatile BiConsumer<Integer, JsonObject> lateResponses = (id, msg) -> {};

  private static final class Pending {
    final String method;
    final CompletableFuture<JsonElement> future;
    volatile ScheduledFuture<?> timer;

    Pending(String method, CompletableFuture<JsonElement> future) {
      this.method = method;
      this.future = future;
    }
  }

  /**
   * @param notifications called with (method, params) for every notification from the server
   * @param serverRequests answers requests from the server
   * @param log receives protocol problems (never null)
   */
  public JsonRpcConnection(
      InputStream in,
      OutputStream out,
      BiConsumer<String, JsonElement> notifications,
      ServerRequestHandler serverRequests,
      Consumer<String> log) {
    this.in = in instanceof BufferedInputStream ? in : new BufferedInputStream(in, 1 << 16);
    this.out = out;
    this.notifications = notifications;
    this.serverRequests = serverRequests;
    this.log = log;
    this.dispatch =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "mirrord-rpc-dispatch");
              t.setDaemon(true);
              return t;
            });
  }

  /** Starts reading. */
  public synchronized void start() {
    if (reader != null) {
      return;
    }
    reader = new Thread(this::readLoop, "mirrord-rpc-reader");
    reader.setDaemon(true);
    reader.start();
  }

  public boolean isOpen() {
    return !closed.get();
  }

  /** Completes when the connection has closed (stream end, write failure or {@link #close}). */
  public CompletableFuture<Void> closedFuture() {
    return closedFuture;
  }

  /**
   * Receives answers that arrive after their request timed out or was cancelled (e.g. the
   * server's {@code -32800} RequestCancelled); by default they are dropped.
   */
  public void onLateResponse(BiConsumer<Integer, JsonObject> listener) {
    lateResponses = listener == null ? (id, msg) -> {} : listener;
  }

  /**
   * Runs {@code task} on the dispatch thread after every notification read so far has been
   * delivered (e.g. to stop listening for a token's {@code $/progress} only after the progress that
   * preceded the answer).
   */
  public void afterQueuedNotifications(Runnable task) {
    try {
      dispatch.execute(task);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      task.run(); // closed: nothing more will be delivered
    }
  }

  /** How many requests await an answer. */
  public int pendingCount() {
    return pending.size();
  }

  /**
   * Sends a request. {@code params} is serialized with gson (a {@link JsonElement} as is; null
   * leaves params out). A null or non-positive timeout waits forever.
   */
  public CompletableFuture<JsonElement> request(String method, Object params, Duration timeout) {
    CompletableFuture<JsonElement> future = new CompletableFuture<>();
    if (closed.get()) {
      future.completeExceptionally(
          new RpcException(RpcException.CONNECTION_CLOSED, "connection closed", null));
      return future;
    }
    int id = nextId.getAndIncrement();
    Pending p = new Pending(method, future);
    pending.put(id, p);
    future.whenComplete(
        (r, e) -> {
          Pending gone = pending.remove(id);
          if (gone != null && gone.timer != null) {
            gone.timer.cancel(false);
          }
          if (gone != null && future.isCancelled()) {
            sendCancel(id);
          }
        });
    if (timeout != null && !timeout.isZero() && !timeout.isNegative()) {
      p.timer =
          TIMERS.schedule(
              () -> {
                if (pending.remove(id) != null) {
                  sendCancel(id);
                  future.completeExceptionally(
                      new RpcException(
                          RpcException.TIMEOUT,
                          method + ": no answer within " + timeout.toMillis() + " ms",
                          null));
                }
              },
              timeout.toMillis(),
              TimeUnit.MILLISECONDS);
    }
    JsonObject msg = new JsonObject();
    msg.addProperty("jsonrpc", "2.0");
    msg.addProperty("id", id);
    msg.addProperty("method", method);
    if (params != null) {
      msg.add("params", toJson(params));
    }
    try {
      send(msg);
    } catch (IOException e) {
      pending.remove(id);
      future.completeExceptionally(
          new RpcException(RpcException.CONNECTION_CLOSED, "writing " + method + ": " + e, null));
    }
    return future;
  }

  /** Sends a notification. */
  public void notify(String method, Object params) throws IOException {
    JsonObject msg = new JsonObject();
    msg.addProperty("jsonrpc", "2.0");
    msg.addProperty("method", method);
    if (params != null) {
      msg.add("params", toJson(params));
    }
    send(msg);
  }

  private void sendCancel(int id) {
    if (closed.get()) {
      return;
    }
    JsonObject params = new JsonObject();
    params.addProperty("id", id);
    try {
      notify("$/cancelRequest", params);
    } catch (IOException e) {
      log.accept("sending $/cancelRequest for " + id + ": " + e);
    }
  }

  private static JsonElement toJson(Object o) {
    if (o instanceof JsonElement) {
      return (JsonElement) o;
    }
    return PARAMS.toJsonTree(o);
  }

  private void send(JsonObject msg) throws IOException {
    if (closed.get()) {
      throw new IOException("connection closed");
    }
    String text = GSON.toJson(msg);
    synchronized (writeLock) {
      try {
        Framing.write(out, text);
      } catch (IOException e) {
        shutdown("write failed: " + e.getMessage());
        throw e;
      }
    }
  }

  private void readLoop() {
    String why = "the server closed its output";
    try {
      while (!closed.get()) {
        String body = Framing.read(in);
        if (body == null) {
          break;
        }
        handle(body);
      }
    } catch (IOException e) {
      why = "reading from the server: " + e.getMessage();
    } catch (RuntimeException e) {
      why = "reader failed: " + e;
    }
    shutdown(why);
  }

  private void handle(String body) {
    JsonElement parsed;
    try {
      parsed = JsonParser.parseString(body);
    } catch (RuntimeException e) {
      log.accept("dropping a message that is not JSON: " + e.getMessage());
      return;
    }
    if (!parsed.isJsonObject()) {
      log.accept("dropping a message that is not a JSON object");
      return;
    }
    JsonObject msg = parsed.getAsJsonObject();
    JsonElement idEl = msg.get("id");
    JsonElement methodEl = msg.get("method");
    if (methodEl != null && methodEl.isJsonPrimitive()) {
      String method = methodEl.getAsString();
      JsonElement params = msg.has("params") ? msg.get("params") : JsonNull.INSTANCE;
      if (idEl == null || idEl.isJsonNull()) {
        dispatch.execute(() -> deliverNotification(method, params));
      } else {
        dispatch.execute(() -> answerServerRequest(idEl, method, params));
      }
      return;
    }
    Integer id = intId(idEl);
    if (id == null) {
      if (msg.has("error")) {
        log.accept("server error without a request id: " + msg.get("error"));
      } else {
        log.accept("dropping a response with an unknown id: " + idEl);
      }
      return;
    }
    Pending p = pending.remove(id);
    if (p == null) {
      lateResponses.accept(id, msg); // answered after a timeout or cancellation
      return;
    }
    if (p.timer != null) {
      p.timer.cancel(false);
    }
    if (msg.has("error") && msg.get("error").isJsonObject()) {
      JsonObject err = msg.getAsJsonObject("error");
      int code = err.has("code") ? err.get("code").getAsInt() : RpcException.INTERNAL_ERROR;
      String message = err.has("message") ? err.get("message").getAsString() : "error " + code;
      p.future.completeExceptionally(new RpcException(code, message, err.get("data")));
    } else {
      JsonElement result = msg.get("result");
      p.future.complete(result == null ? JsonNull.INSTANCE : result);
    }
  }

  private static Integer intId(JsonElement idEl) {
    if (idEl == null || !idEl.isJsonPrimitive()) {
      return null;
    }
    JsonPrimitive prim = idEl.getAsJsonPrimitive();
    try {
      return prim.isNumber() ? prim.getAsInt() : Integer.valueOf(prim.getAsString());
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private void deliverNotification(String method, JsonElement params) {
    try {
      notifications.accept(method, params);
    } catch (RuntimeException e) {
      log.accept("notification handler for " + method + " failed: " + e);
    }
  }

  private void answerServerRequest(JsonElement id, String method, JsonElement params) {
    JsonObject reply = new JsonObject();
    reply.addProperty("jsonrpc", "2.0");
    reply.add("id", id);
    try {
      JsonElement result = serverRequests.handle(method, params);
      reply.add("result", result == null ? JsonNull.INSTANCE : result);
    } catch (RpcException e) {
      reply.add("error", error(e.code(), e.getMessage(), e.data()));
    } catch (Exception e) {
      reply.add("error", error(RpcException.INTERNAL_ERROR, String.valueOf(e), null));
    }
    try {
      send(reply);
    } catch (IOException e) {
      log.accept("answering " + method + ": " + e);
    }
  }

  private static JsonObject error(int code, String message, JsonElement data) {
    JsonObject err = new JsonObject();
    err.addProperty("code", code);
    err.addProperty("message", message);
    if (data != null) {
      err.add("data", data);
    }
    return err;
  }

  private void shutdown(String why) {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    List<Pending> left = new ArrayList<>(pending.values());
    pending.clear();
    for (Pending p : left) {
      if (p.timer != null) {
        p.timer.cancel(false);
      }
      p.future.completeExceptionally(
          new RpcException(
              RpcException.CONNECTION_CLOSED, p.method + ": connection closed (" + why + ")", null));
    }
    try {
      out.close();
    } catch (IOException ignored) {
      // already gone
    }
    dispatch.shutdown();
    closedFuture.complete(null);
  }

  /** Closes the connection: pending requests fail, the output stream is closed. */
  @Override
  public void close() {
    shutdown("closed by the client");
    try {
      in.close();
    } catch (IOException ignored) {
      // already gone
    }
  }
}
