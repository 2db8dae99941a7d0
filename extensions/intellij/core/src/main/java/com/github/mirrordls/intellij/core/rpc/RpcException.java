package com.github.mirrordls.intellij.core.rpc;

import com.google.gson.JsonElement;

/** A JSON-RPC error response, or a failure of the connection that carried the request. */
public class RpcException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public static final int PARSE_ERROR = -32700;
  public static final int INVALID_REQUEST = -32600;
  public static final int METHOD_NOT_FOUND = -32601;
  public static final int INVALID_PARAMS = -32602;
  public static final int INTERNAL_ERROR = -32603;
  public static final int SERVER_NOT_INITIALIZED = -32002;
  public static final int REQUEST_FAILED = -32803;
  public static final int REQUEST_CANCELLED = -32800;
  /** Not a JSON-RPC code: the connection closed (the server exited) before the answer. */
  public static final int CONNECTION_CLOSED = -1;
  /** Not a JSON-RPC code: no answer within the request's timeout (it was cancelled). */
  public static final int TIMEOUT = -2;

  private final int code;
  private final transient JsonElement data;

  public RpcException(int code, String message, JsonElement data) {
    super(message);
    this.code = code;
    this.data = data;
  }

  public int code() {
    return code;
  }

  /** The error's {@code data}, or null. */
  public JsonElement data() {
    return data;
  }

  @Override
  public String toString() {
    return "RpcException(" + code + "): " + getMessage();
  }
}
