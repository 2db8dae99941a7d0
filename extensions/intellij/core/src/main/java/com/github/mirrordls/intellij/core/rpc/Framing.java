package com.github.mirrordls.intellij.core.rpc;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The LSP base protocol framing: {@code Content-Length: N\r\n\r\n} followed by N bytes of UTF-8
 * JSON. The length counts bytes, never characters.
 */
public final class Framing {
  /** Bodies above this are refused (the server's own limit is 64 MiB). */
  public static final int MAX_BODY = 64 << 20;

  private static final int MAX_HEADER_LINE = 8192;

  private Framing() {}

  /** Encodes one message: header plus the UTF-8 bytes of {@code json}. */
  public static byte[] encode(String json) {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    byte[] header =
        ("Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[header.length + body.length];
    System.arraycopy(header, 0, out, 0, header.length);
    System.arraycopy(body, 0, out, header.length, body.length);
    return out;
  }

  /** Writes one message in a single write and flushes. */
  public static void write(OutputStream out, String json) throws IOException {
    out.write(encode(json));
    out.flush();
  }

  /**
   * Reads one message body. Returns null on a clean end of stream before any header byte; throws
   * {@link EOFException} when the stream ends inside a message and {@link IOException} on a
   * header without a usable {@code Content-Length}.
   */
  public static String read(InputStream in) throws IOException {
    int length = -1;
    boolean first = true;
    while (true) {
      String line = readLine(in, first);
      if (line == null) {
        return null;
      }
      first = false;
      if (line.isEmpty()) {
        if (length < 0) {
          throw new IOException("message header without Content-Length");
        }
        break;
      }
      int colon = line.indexOf(':');
      if (colon > 0
          && line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals("content-length")) {
        try {
          length = Integer.parseInt(line.substring(colon + 1).trim());
        } catch (NumberFormatException e) {
          throw new IOException("bad Content-Length: " + line);
        }
        if (length < 0 || length > MAX_BODY) {
          throw new IOException("Content-Length out of range: " + length);
        }
      }
    }
    byte[] body = in.readNBytes(length);
    if (body.length != length) {
      throw new EOFException("stream ended after " + body.length + " of " + length + " bytes");
    }
    return new String(body, StandardCharsets.UTF_8);
  }

  /** A header line without its CRLF; null on end of stream at the start of a message. */
  private static String readLine(InputStream in, boolean startOfMessage) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream(64);
    while (true) {
      int b = in.read();
      if (b < 0) {
        if (startOfMessage && buf.size() == 0) {
          return null;
        }
        throw new EOFException("stream ended inside a message header");
      }
      if (b == '\n') {
        byte[] bytes = buf.toByteArray();
        int n = bytes.length;
        if (n > 0 && bytes[n - 1] == '\r') {
          n--;
        }
        return new String(bytes, 0, n, StandardCharsets.US_ASCII);
      }
      buf.write(b);
      if (buf.size() > MAX_HEADER_LINE) {
        throw new IOException("message header line longer than " + MAX_HEADER_LINE + " bytes");
      }
    }
  }
}
