// Runs the real mirrord-ls over stdio with vscode-jsonrpc (no VS Code) and
// exposes it as the extension's ServerApi, so the integration tests drive the
// same client code the extension runs.

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import {
  type CancellationToken,
  CancellationTokenSource,
  createMessageConnection,
  type MessageConnection,
  ProgressType,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-jsonrpc/node";
import type { Cancel } from "../../src/cancel";
import { createServerApi, type RpcChannel, type ServerApi } from "../../src/serverApi";

/** The repository root, from dist/tsc/test/integration. */
const REPO = path.resolve(__dirname, "../../../../../..");

export function serverBinary(): string {
  const bin = process.env.MIRRORD_LS_BIN ?? path.join(REPO, "bin", "mirrord-ls");
  if (!existsSync(bin)) {
    throw new Error(`${bin} does not exist: build it with \`go build -o bin/mirrord-ls ./cmd/mirrord-ls\` (or set MIRRORD_LS_BIN)`);
  }
  return bin;
}

type WorkDone = { kind: "begin" | "report" | "end"; message?: string };

export interface InitializeResult {
  capabilities: {
    textDocumentSync?: unknown;
    completionProvider?: unknown;
    hoverProvider?: unknown;
    codeActionProvider?: unknown;
    executeCommandProvider?: { commands: string[] };
    experimental?: { mirrord?: { methods?: string[] } };
  };
  serverInfo?: { name: string; version?: string };
}

export class RealServer {
  readonly api: ServerApi;
  readonly stderr: string[] = [];
  private exited: Promise<number | null>;

  private constructor(
    readonly proc: ChildProcessWithoutNullStreams,
    readonly connection: MessageConnection,
    readonly initialize: InitializeResult,
    /** Every notification the server sent (window/logMessage, mirrord/sessionsChanged, ...). */
    readonly notifications: { method: string; params: unknown }[],
    private readonly waiters: Set<() => void>,
  ) {
    this.exited = new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
    proc.stderr.on("data", (b: Buffer) => this.stderr.push(b.toString()));
    const channel: RpcChannel = {
      // vscode-jsonrpc reads a trailing undefined as a second positional
      // parameter (and sends an array), so the token is passed only when set.
      request: (method, params, token) => {
        const jsonrpcToken = toJsonRpcToken(token);
        return jsonrpcToken ? connection.sendRequest(method, params, jsonrpcToken) : connection.sendRequest(method, params);
      },
      onWorkDone: (token, report) =>
        connection.onProgress(new ProgressType<WorkDone>(), token, (v) => {
          if (v.kind !== "end" && v.message) report(v.message);
        }),
    };
    this.api = createServerApi(channel);
  }

  /** Starts mirrord-ls --stdio with workspace as its only folder, and initializes it. */
  static async start(workspace: string, env: NodeJS.ProcessEnv = {}): Promise<RealServer> {
    const proc = spawn(serverBinary(), ["--stdio"], { env: { ...process.env, ...env }, stdio: "pipe" });
    const connection = createMessageConnection(new StreamMessageReader(proc.stdout), new StreamMessageWriter(proc.stdin));
    const notifications: { method: string; params: unknown }[] = [];
    const waiters = new Set<() => void>();
    connection.onNotification((method, params) => {
      notifications.push({ method, params });
      for (const w of waiters) w();
    });
    connection.listen();
    const uri = pathToFileURL(workspace).toString();
    const failed = new Promise<never>((_, reject) => {
      proc.once("error", reject);
      proc.once("exit", (code) => reject(new Error(`mirrord-ls exited with ${String(code)} before answering initialize`)));
    });
    const init = (await Promise.race([
      connection.sendRequest("initialize", {
        processId: process.pid,
        clientInfo: { name: "mirrord-vscode-integration-test" },
        rootUri: uri,
        capabilities: { window: { workDoneProgress: true } },
        workspaceFolders: [{ uri, name: path.basename(workspace) }],
      }),
      failed,
    ])) as InitializeResult;
    failed.catch(() => undefined);
    await connection.sendNotification("initialized", {});
    return new RealServer(proc, connection, init, notifications, waiters);
  }

  /** Resolves with the first notification (past or future) that matches, or rejects at the deadline. */
  waitForNotification<P>(method: string, match: (params: P) => boolean, deadlineMs = 10_000): Promise<P> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.notifications.find((n) => n.method === method && match(n.params as P));
        if (!found) return false;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(found.params as P);
        return true;
      };
      const waiter = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no ${method} notification matched within ${deadlineMs} ms`));
      }, deadlineMs);
      if (!check()) this.waiters.add(waiter);
    });
  }

  /** Whether initialize advertised a mirrord/* method. */
  advertises(method: string): boolean {
    return this.initialize.capabilities.experimental?.mirrord?.methods?.includes(method) ?? false;
  }

  /** shutdown + exit, then waits for the process (killed after a deadline). */
  async stop(deadlineMs = 5000): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), deadlineMs);
    try {
      await Promise.race([
        (async () => {
          await this.connection.sendRequest("shutdown");
          await this.connection.sendNotification("exit");
        })(),
        this.exited,
      ]).catch(() => undefined);
      return await this.exited;
    } finally {
      clearTimeout(timer);
      this.connection.dispose();
    }
  }
}

function toJsonRpcToken(token: Cancel | undefined): CancellationToken | undefined {
  if (!token) return undefined;
  const source = new CancellationTokenSource();
  if (token.isCancellationRequested) source.cancel();
  else token.onCancellationRequested(() => source.cancel());
  return source.token;
}

