package com.github.mirrordls.intellij.core.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FramingTest {
  @Test
  void lengthCountsUtf8Bytes() {
    String json = "{\"x\":\"ü😀\"}"; // 8 ASCII bytes + 2 (ü) + 4 (😀)
    byte[] framed = Framing.encode(json);
    String text = new String(framed, StandardCharsets.UTF_8);
    assertEquals("Content-Length: 14\r\n\r\n" + json, text);
  }

  @Test
  void readsBackToBackMessagesWithNonAscii() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Framing.write(out, "{\"a\":\"ñ\"}");
    Framing.write(out, "{\"b\":\"日本\"}");
    ByteArrayInputStream in = new ByteArrayInputStream(out.toByteArray());
    assertEquals("{\"a\":\"ñ\"}", Framing.read(in));
    assertEquals("{\"b\":\"日本\"}", Framing.read(in));
    assertNull(Framing.read(in));
  }

  @Test
  void headerNameIsCaseInsensitiveAndOtherHeadersAreIgnored() throws IOException {
    String msg =
        "content-length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}";
    assertEquals(
        "{}", Framing.read(new ByteArrayInputStream(msg.getBytes(StandardCharsets.US_ASCII))));
  }

  @Test
  void truncatedBodyIsAnError() {
    byte[] msg = "Content-Length: 10\r\n\r\n{}".getBytes(StandardCharsets.US_ASCII);
    assertThrows(EOFException.class, () -> Framing.read(new ByteArrayInputStream(msg)));
  }

  @Test
  void headerWithoutLengthIsAnError() {
    byte[] msg = "X: 1\r\n\r\n{}".getBytes(StandardCharsets.US_ASCII);
    assertThrows(IOException.class, () -> Framing.read(new ByteArrayInputStream(msg)));
  }
}
