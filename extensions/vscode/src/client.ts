// The language client: starts `mirrord-ls --stdio`, serves the config files,
// restarts the server when it dies, and exposes the connection as an
// RpcChannel for ServerApi.

import * as fs from "node:fs";
import * as vscode from "vscode";
import {
  CancellationTokenSource,
  type CancellationToken,
  CloseAction,
  ErrorAction,
  LanguageClient,
  State,
  WorkDoneProgress,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import { CONFIG_DOCUMENT_PATTERNS } from "./configFiles";
import { Method } from "./protocol";
import type { Cancel } from "./cancel";
import { RestartPolicy } from "./restartPolicy";
import type { RpcChannel } from "./serverApi";
import { resolveServerCommand, type ServerCommand } from "./serverPath";
import { grantTrust, initializationOptions } from "./trust";

export interface ServerHandle {
  readonly client: LanguageClient;
  readonly command: ServerCommand;
  readonly channel: RpcChannel;
  /** Whether the running server advertised a mirrord/* method (experimental.mirrord.methods). */
  supports(method: string): boolean;
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

export function serverCommand(context: vscode.ExtensionContext): ServerCommand {
  const setting = vscode.workspace.getConfiguration("mirrord").get<string | null>("serverPath");
  return resolveServerCommand(setting, context.extensionPath, process.platform, (p) => {
    try {
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  });
}

export interface ServerEvents {
  /** mirrord/sessionsChanged, with its params (the session list). */
  sessionsChanged(sessions: unknown): void;
  /** The server answered initialize (also after every restart). */
  running(): void;
}

export function startServer(context: vscode.ExtensionContext, output: vscode.LogOutputChannel, events: ServerEvents): ServerHandle {
  const command = serverCommand(context);
  output.info(`starting ${command.command} --stdio (${command.source})`);
  const serverOptions: ServerOptions = { command: command.command, args: ["--stdio"] };
  const policy = new RestartPolicy();
  const clientOptions: LanguageClientOptions = {
    documentSelector: CONFIG_DOCUMENT_PATTERNS.flatMap((pattern) => [
      { scheme: "file", pattern },
      { scheme: "untitled", pattern },
    ]),
    outputChannel: output,
    // The server registers its own file watchers (client/registerCapability).
    // Read at every (re)start: the trust may have been granted meanwhile.
    initializationOptions: () => initializationOptions(vscode.workspace.isTrusted),
    errorHandler: {
      error: () => ({ action: ErrorAction.Continue }),
      closed: () => {
        if (policy.shouldRestart()) {
          output.warn("mirrord-ls exited; restarting it");
          return { action: CloseAction.Restart, handled: true };
        }
        return {
          action: CloseAction.DoNotRestart,
          message: "mirrord-ls keeps exiting; it is not restarted. See the mirrord output, then run “mirrord: Restart server”.",
        };
      },
    },
  };
  const trace = traceChannel(output);
  clientOptions.traceOutputChannel = trace.channel;
  context.subscriptions.push(trace);
  const client = new LanguageClient("mirrord", "mirrord", serverOptions, clientOptions);
  client.onNotification(Method.sessionsChanged, (params: unknown) => events.sessionsChanged(params));
  client.onDidChangeState((e) => {
    if (e.newState !== State.Running) return;
    const info = client.initializeResult?.serverInfo;
    output.info(`${info?.name ?? "mirrord-ls"} ${info?.version ?? ""} is running; methods: ${advertised().join(", ") || "none"}`);
    events.running();
  });
  const trustListener = vscode.workspace.onDidGrantWorkspaceTrust(() => {
    if (client.state !== State.Running) return; // the next start reads isTrusted
    grantTrust(client).catch((err: unknown) => {
      output.warn(`could not tell mirrord-ls that the workspace is trusted: ${err instanceof Error ? err.message : String(err)}`);
    });
  });
  context.subscriptions.push(trustListener);
  void client.start().catch((err: unknown) => {
    output.error(`could not start ${command.command}: ${err instanceof Error ? err.message : String(err)}`);
  });

  const advertised = (): string[] => {
    const experimental = client.initializeResult?.capabilities.experimental as { mirrord?: { methods?: unknown } } | undefined;
    const methods = experimental?.mirrord?.methods;
    return Array.isArray(methods) ? methods.filter((m): m is string => typeof m === "string") : [];
  };

  const channel: RpcChannel = {
    async request(method, params, token) {
      if (client.state === State.Stopped) {
        // A server that gave up (or failed to start) is started again on demand.
        policy.reset();
        await client.start();
      }
      // An absent token must not be passed at all: vscode-jsonrpc takes a
      // trailing undefined for a second parameter and sends
      // "params": [params, null], which the server rejects.
      return token ? client.sendRequest(method, params, asToken(token)) : client.sendRequest(method, params);
    },
    onWorkDone(token, report) {
      return client.onProgress(WorkDoneProgress.type, token, (value) => {
        if ((value.kind === "begin" || value.kind === "report") && value.message) report(value.message);
      });
    },
  };

  return {
    client,
    command,
    channel,
    supports: (method) => advertised().includes(method),
    async restart() {
      policy.reset();
      output.info("restarting mirrord-ls");
      if (client.state === State.Stopped) await client.start();
      else await client.restart();
    },
    async dispose() {
      if (client.state !== State.Stopped) await client.stop();
    },
  };
}

/**
 * A real vscode-jsonrpc token for a Cancel: the connection recognises a
 * token by its shape, and one it does not recognise is sent as a parameter.
 */
function asToken(token: Cancel): CancellationToken {
  const source = new CancellationTokenSource();
  if (token.isCancellationRequested) source.cancel();
  else token.onCancellationRequested(() => source.cancel());
  return source.token;
}


/** The LogLevel the language client needs to trace at a mirrord.trace.server value. */
export function traceLevel(setting: string | undefined): vscode.LogLevel {
  return setting === "messages" || setting === "verbose" ? vscode.LogLevel.Trace : vscode.LogLevel.Off;
}

/**
 * The trace channel of the language client. vscode-languageclient 11 traces
 * only when its trace channel's log level is Trace, and then writes with
 * channel.trace(), which the mirrord channel (at Info by default) drops: so
 * mirrord.trace.server alone logged nothing. This channel reports the level
 * mirrord.trace.server asks for and writes the trace into the mirrord
 * channel at Info, where it is seen.
 */
function traceChannel(output: vscode.LogOutputChannel): vscode.Disposable & { channel: vscode.LogOutputChannel } {
  const setting = (): vscode.LogLevel => traceLevel(vscode.workspace.getConfiguration("mirrord").get<string>("trace.server"));
  let level = setting();
  const changed = new vscode.EventEmitter<vscode.LogLevel>();
  const sub = vscode.workspace.onDidChangeConfiguration((e) => {
    if (!e.affectsConfiguration("mirrord.trace.server")) return;
    level = setting();
    changed.fire(level);
  });
  const channel: vscode.LogOutputChannel = {
    name: output.name,
    get logLevel() {
      return level;
    },
    onDidChangeLogLevel: changed.event,
    trace: (message: string) => output.info(`[trace] ${message}`),
    debug: (message: string, ...args: unknown[]) => output.debug(message, ...args),
    info: (message: string, ...args: unknown[]) => output.info(message, ...args),
    warn: (message: string, ...args: unknown[]) => output.warn(message, ...args),
    error: (error: string | Error, ...args: unknown[]) => output.error(error, ...args),
    append: (value: string) => output.append(value),
    appendLine: (value: string) => output.appendLine(value),
    replace: (value: string) => output.replace(value),
    clear: () => output.clear(),
    show: (a?: unknown, b?: boolean) => (typeof a === "boolean" ? output.show(a) : output.show(b)),
    hide: () => output.hide(),
    dispose: () => undefined,
  };
  return {
    channel,
    dispose: () => {
      sub.dispose();
      changed.dispose();
    },
  };
}
