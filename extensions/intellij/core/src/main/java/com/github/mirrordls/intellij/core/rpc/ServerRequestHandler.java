package com.github.mirrordls.intellij.core.rpc;

import com.google.gson.JsonElement;

/** Answers a request the server sends to the client. */
@FunctionalInterface
public interface ServerRequestHandler {
  /**
   * Returns the result (null for JSON null). Throw {@link RpcException} to answer with an error;
   * any other exception is answered as an internal error.
   */
  JsonElement handle(String method, JsonElement params) throws Exception;
}
