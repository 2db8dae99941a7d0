package com.github.mirrordls.intellij.core.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The connection against a scripted peer over in-memory pipes. */
class JsonRpcConnectionTest {
  private InputStream peerIn; // what the client wrote
  private OutputStream peerOut; // what the client reads
  private JsonRpcConnection conn;
  private final List<String> notes = new CopyOnWriteArrayList<>();
  private final List<String> logs = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    Pipe toClient = Pipe.open();
    Pipe toPeer = Pipe.open();
    peerIn = Channels.newInputStream(toPeer.source());
    peerOut = Channels.newOutputStream(toClient.sink());
    conn =
        new JsonRpcConnection(
            Channels.newInputStream(toClient.source()),
            Channels.newOutputStream(toPeer.sink()),
            (m, p) -> notes.add(m + " " + p),
            (m, p) -> {
              if (m.equals("window/workDoneProgress/create")) {
                return JsonNull.INSTANCE;
              }
              throw new RpcException(RpcException.METHOD_NOT_FOUND, "no " + m, null);
            },
            logs::add);
    conn.start();
  }

  @AfterEach
  void tearDown() {
    conn.close();
  }

  private JsonObject peerRead() throws Exception {
    return JsonParser.parseString(Framing.read(peerIn)).getAsJsonObject();
  }

  private void peerWrite(String json) throws Exception {
    Framing.write(peerOut, json);
  }

  @Test
  void answersMatchRequestsById() throws Exception {
    CompletableFuture<JsonElement> a = conn.request("a", null, Duration.ofSeconds(5));
    CompletableFuture<JsonElement> b = conn.request("b", new JsonObject(), Duration.ofSeconds(5));
    JsonObject ra = peerRead();
    JsonObject rb = peerRead();
    assertEquals("a", ra.get("method").getAsString());
    assertTrue(rb.has("params"));
    peerWrite("{\"jsonrpc\":\"2.0\",\"id\":" + rb.get("id") + ",\"result\":\"B✓\"}");
    peerWrite(
        "{\"jsonrpc\":\"2.0\",\"id\":"
            + ra.get("id")
            + ",\"error\":{\"code\":-32803,\"message\":\"nope\",\"data\":{\"x\":1}}}");
    assertEquals("B✓", b.get(5, TimeUnit.SECONDS).getAsString());
    ExecutionException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            ExecutionException.class, () -> a.get(5, TimeUnit.SECONDS));
    RpcException re = assertInstanceOf(RpcException.class, e.getCause());
    assertEquals(-32803, re.code());
    assertEquals(1, re.data().getAsJsonObject().get("x").getAsInt());
  }

  @Test
  void cancellingSendsCancelRequest() throws Exception {
    CompletableFuture<JsonElement> f = conn.request("slow", null, Duration.ofSeconds(30));
    JsonObject req = peerRead();
    f.cancel(true);
    JsonObject cancel = peerRead();
    assertEquals("$/cancelRequest", cancel.get("method").getAsString());
    assertEquals(req.get("id").getAsInt(), cancel.getAsJsonObject("params").get("id").getAsInt());
    assertEquals(0, conn.pendingCount());
  }

  @Test
  void timeoutCancelsAndFails() throws Exception {
    CompletableFuture<JsonElement> f = conn.request("slow", null, Duration.ofMillis(100));
    JsonObject req = peerRead();
    JsonObject cancel = peerRead();
    assertEquals("$/cancelRequest", cancel.get("method").getAsString());
    assertEquals(req.get("id").getAsInt(), cancel.getAsJsonObject("params").get("id").getAsInt());
    ExecutionException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
    assertEquals(RpcException.TIMEOUT, ((RpcException) e.getCause()).code());
    // a late answer is dropped quietly
    peerWrite("{\"jsonrpc\":\"2.0\",\"id\":" + req.get("id") + ",\"result\":1}");
  }

  @Test
  void serverRequestsAreAnsweredAndNotificationsDelivered() throws Exception {
    peerWrite(
        "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"window/workDoneProgress/create\",\"params\":{\"token\":\"t\"}}");
    JsonObject reply = peerRead();
    assertEquals("s1", reply.get("id").getAsString());
    assertTrue(reply.has("result") && reply.get("result").isJsonNull(), reply.toString());
    peerWrite("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"workspace/unknown\"}");
    JsonObject err = peerRead();
    assertEquals(7, err.get("id").getAsInt());
    assertEquals(-32601, err.getAsJsonObject("error").get("code").getAsInt());
    peerWrite(
        "{\"jsonrpc\":\"2.0\",\"method\":\"$/progress\",\"params\":{\"token\":\"t\",\"value\":{\"kind\":\"begin\"}}}");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (notes.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(1, notes.size());
    assertTrue(notes.get(0).startsWith("$/progress "));
  }

  @Test
  void endOfStreamFailsPendingRequests() throws Exception {
    CompletableFuture<JsonElement> f = conn.request("x", null, Duration.ofSeconds(30));
    peerRead();
    peerOut.close();
    ExecutionException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
    assertEquals(RpcException.CONNECTION_CLOSED, ((RpcException) e.getCause()).code());
    conn.closedFuture().get(5, TimeUnit.SECONDS);
    CompletableFuture<JsonElement> after = conn.request("y", null, null);
    assertTrue(after.isCompletedExceptionally());
  }
}
