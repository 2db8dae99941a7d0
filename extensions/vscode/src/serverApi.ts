// ServerApi: the mirrord/* requests of mirrord-ls, typed, over any JSON-RPC
// channel (vscode-languageclient in the extension, vscode-jsonrpc in the
// integration tests). Responses are checked here so a server that answers
// with an unexpected shape gives a clear error instead of undefined fields
// further down.

import { type Cancel, CancelledError, type Disposable } from "./cancel";
import {
  type ConfigProblem,
  type Discovery,
  type DiscoverConfigParams,
  ErrorCode,
  type ListTargetsParams,
  Method,
  type Range,
  type SessionInfo,
  type SessionStart,
  type StartSessionParams,
  type Target,
  type TargetList,
  type VerifyConfigParams,
  type VerifyResult,
} from "./protocol";

/** The minimum a JSON-RPC connection must offer. */
export interface RpcChannel {
  request(method: string, params: unknown, token?: Cancel): Promise<unknown>;
  /** Subscribes to $/progress reports (LSP work-done progress) for a token. */
  onWorkDone(token: string, report: (message: string) => void): Disposable;
}

export interface ServerApi {
  discoverConfig(params: DiscoverConfigParams, token?: Cancel): Promise<Discovery>;
  verifyConfig(params: VerifyConfigParams, token?: Cancel): Promise<VerifyResult>;
  listTargets(params: ListTargetsParams, token?: Cancel): Promise<TargetList>;
  startSession(
    params: Omit<StartSessionParams, "workDoneToken">,
    token?: Cancel,
    progress?: (message: string) => void,
  ): Promise<SessionStart>;
  listSessions(token?: Cancel): Promise<SessionInfo[]>;
  stopSession(id: string, token?: Cancel): Promise<void>;
}

/** An error answered by the server (or a response that makes no sense). */
export class ServerError extends Error {
  constructor(
    readonly method: string,
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = "ServerError";
  }
}

export function isMethodNotFound(err: unknown): boolean {
  return err instanceof ServerError && err.code === ErrorCode.methodNotFound;
}

let progressCounter = 0;

export function createServerApi(channel: RpcChannel): ServerApi {
  const call = async (method: string, params: unknown, token?: Cancel): Promise<unknown> => {
    if (token?.isCancellationRequested) throw new CancelledError(method);
    let onCancel: Disposable | undefined;
    // The channel sends $/cancelRequest; the race makes the UI give up at
    // once even if the server is slow to answer the cancellation.
    const cancelled = new Promise<never>((_, reject) => {
      onCancel = token?.onCancellationRequested(() => reject(new CancelledError(method)));
    });
    try {
      return await Promise.race([channel.request(method, params, token), cancelled]);
    } catch (err) {
      throw toServerError(method, err);
    } finally {
      onCancel?.dispose();
    }
  };

  return {
    async discoverConfig(params, token) {
      return parseDiscovery(await call(Method.discoverConfig, params, token));
    },
    async verifyConfig(params, token) {
      return parseVerify(await call(Method.verifyConfig, params, token));
    },
    async listTargets(params, token) {
      return parseTargetList(await call(Method.listTargets, params, token));
    },
    async startSession(params, token, progress) {
      progressCounter += 1;
      const workDoneToken = `mirrord-start-${process.pid}-${progressCounter}`;
      const sub = progress ? channel.onWorkDone(workDoneToken, progress) : undefined;
      try {
        return parseSessionStart(await call(Method.startSession, { ...params, workDoneToken }, token));
      } finally {
        sub?.dispose();
      }
    },
    async listSessions(token) {
      return parseSessions(await call(Method.listSessions, {}, token));
    },
    async stopSession(id, token) {
      await call(Method.stopSession, { session_id: id }, token);
    },
  };
}

function toServerError(method: string, err: unknown): Error {
  if (err instanceof CancelledError || err instanceof ServerError) return err;
  if (typeof err === "object" && err !== null) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === "number" ? e.code : undefined;
    if (code === ErrorCode.requestCancelled) return new CancelledError(method);
    if (code === ErrorCode.methodNotFound) {
      return new ServerError(method, `this mirrord-ls does not support ${method}; update it (or point mirrord.serverPath at a newer one)`, code);
    }
    const message = typeof e.message === "string" ? e.message : JSON.stringify(err);
    return new ServerError(method, message, code);
  }
  return new ServerError(method, String(err));
}

// ---- response checking -------------------------------------------------

type Obj = Record<string, unknown>;

function obj(method: string, v: unknown, what = "result"): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ServerError(method, `${method}: ${what} is not an object`);
  }
  return v as Obj;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** Field by its camelCase name, or its snake_case spelling. */
function field(o: Obj, name: string): unknown {
  if (name in o) return o[name];
  const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return o[snake];
}

function strings(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => (typeof x === "string" ? x : str((x as Obj | null)?.message) ?? JSON.stringify(x)));
}

function stringMap(method: string, v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  const o = obj(method, v, what);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (typeof val !== "string") throw new ServerError(method, `${method}: ${what}.${k} is not a string`);
    out[k] = val;
  }
  return out;
}

function parseDiscovery(v: unknown): Discovery {
  const o = obj(Method.discoverConfig, v);
  const source = str(o.source);
  if (source !== "active" && source !== "env" && source !== "default" && source !== "none") {
    throw new ServerError(Method.discoverConfig, `${Method.discoverConfig}: unknown source ${JSON.stringify(o.source)}`);
  }
  const path = str(o.path);
  return { ...(path ? { path } : {}), source, reason: str(o.reason) ?? "" };
}

function parseRange(v: unknown): Range | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as { start?: { line?: unknown; character?: unknown }; end?: { line?: unknown; character?: unknown } };
  const num = (x: unknown): number => (typeof x === "number" && x >= 0 ? x : 0);
  if (!r.start || !r.end) return undefined;
  return {
    start: { line: num(r.start.line), character: num(r.start.character) },
    end: { line: num(r.end.line), character: num(r.end.character) },
  };
}

function parseProblems(v: unknown, severity: ConfigProblem["severity"]): ConfigProblem[] {
  if (!Array.isArray(v)) return [];
  return v.map((p): ConfigProblem => {
    if (typeof p === "string") return { message: p, severity };
    const o = (p ?? {}) as Obj;
    const range = parseRange(o.range);
    const code = str(o.code);
    return {
      message: str(o.message) ?? JSON.stringify(p),
      severity,
      ...(range ? { range } : {}),
      ...(code ? { code } : {}),
    };
  });
}

/**
 * A target as the CLI grammar spells it. Accepts a path string, {path}, a
 * {kind, name, container} object, or verify-config's untagged form
 * {"deployment": "api", "container": null}.
 */
export function targetString(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v === "" ? null : v;
  if (typeof v !== "object" || Array.isArray(v)) return null;
  const o: Obj = {};
  for (const [k, val] of Object.entries(v as Obj)) o[k.toLowerCase()] = val;
  const path = str(o.path);
  if (path) return path;
  const container = str(o.container);
  const withContainer = (base: string): string => (container ? `${base}/container/${container}` : base);
  const kind = str(o.kind);
  const name = str(o.name);
  if (kind === "targetless") return "targetless";
  if (kind === "label" && Array.isArray(o.labels)) {
    const pairs = o.labels.map((l) => {
      const lo = (l ?? {}) as Obj;
      return `${str(lo.Key ?? lo.key) ?? ""}=${str(lo.Value ?? lo.value) ?? ""}`;
    });
    return withContainer(`label/${pairs.join(",")}`);
  }
  if (kind && name) return withContainer(`${kind.toLowerCase()}/${name}`);
  for (const [k, val] of Object.entries(o)) {
    if (k !== "container" && typeof val === "string" && val !== "") return withContainer(`${k}/${val}`);
  }
  return null;
}

function parseVerify(v: unknown): VerifyResult {
  const o = obj(Method.verifyConfig, v);
  // diagnostics carry ranges; errors/warnings are verify-config's plain strings.
  const diagnostics = Array.isArray(o.diagnostics) ? o.diagnostics : undefined;
  const bySeverity = (sev: ConfigProblem["severity"]): ConfigProblem[] =>
    parseProblems((diagnostics ?? []).filter((d) => (d as Obj | null)?.severity === sev), sev);
  const errors = diagnostics ? bySeverity("error") : parseProblems(o.errors, "error");
  const warnings = diagnostics ? bySeverity("warning") : parseProblems(o.warnings, "warning");
  if (diagnostics && errors.length === 0 && Array.isArray(o.errors)) errors.push(...parseProblems(o.errors, "error"));
  const type = str(o.type);
  const ok = type ? type === "Success" && errors.length === 0 : errors.length === 0;
  const config = typeof o.config === "object" && o.config !== null ? (o.config as Obj) : {};
  return {
    ok,
    // config.target is the path string; config.path verify-config's object form.
    target: targetString(config.target ?? config.path),
    namespace: str(config.namespace) ?? null,
    errors,
    warnings,
  };
}

function kindOf(path: string): string {
  const slash = path.indexOf("/");
  return slash < 0 ? path : path.slice(0, slash);
}

function parseTarget(v: unknown, fallbackNamespace: string): Target {
  const o = obj(Method.listTargets, v, "target");
  const path = str(o.path);
  if (!path) throw new ServerError(Method.listTargets, `${Method.listTargets}: a target has no path`);
  const containers = Array.isArray(o.containers) ? o.containers.filter((c): c is string => typeof c === "string") : undefined;
  return {
    path,
    kind: str(o.kind) ?? kindOf(path),
    namespace: str(o.namespace) ?? fallbackNamespace,
    available: typeof o.available === "boolean" ? o.available : true,
    ...(containers ? { containers } : {}),
  };
}

function parseTargetList(v: unknown): TargetList {
  const o = obj(Method.listTargets, v);
  const currentNamespace = str(field(o, "currentNamespace")) ?? "";
  const raw = o.targets;
  if (!Array.isArray(raw)) throw new ServerError(Method.listTargets, `${Method.listTargets}: targets is not a list`);
  return {
    targets: raw.map((t) => parseTarget(t, currentNamespace)),
    currentNamespace,
    namespaces: strings(o.namespaces),
  };
}

function parseSessionStart(v: unknown): SessionStart {
  const o = obj(Method.startSession, v);
  const patched = str(field(o, "patchedPath"));
  return {
    sessionId: str(field(o, "sessionId")) ?? "",
    environment: stringMap(Method.startSession, o.environment, "environment"),
    envToUnset: strings(field(o, "envToUnset")),
    warnings: strings(o.warnings),
    ...(patched ? { patchedPath: patched } : {}),
  };
}

function parseSessions(v: unknown): SessionInfo[] {
  const list = Array.isArray(v) ? v : field(obj(Method.listSessions, v), "sessions");
  if (!Array.isArray(list)) throw new ServerError(Method.listSessions, `${Method.listSessions}: sessions is not a list`);
  return list.map((s): SessionInfo => {
    const o = obj(Method.listSessions, s, "session");
    const id = str(field(o, "sessionId")) ?? str(o.id);
    if (!id) throw new ServerError(Method.listSessions, `${Method.listSessions}: a session has no session_id`);
    const info: SessionInfo = { id };
    const key = str(o.key);
    if (key) info.key = key;
    const target = targetString(o.target);
    if (target) info.target = target;
    const ns = str(o.namespace);
    if (ns) info.namespace = ns;
    const started = str(field(o, "startedAt"));
    if (started) info.startedAt = started;
    if (typeof o.pid === "number" && o.pid > 0) info.pid = o.pid;
    return info;
  });
}
