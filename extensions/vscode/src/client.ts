// The language client: starts `mirrord-ls --stdio`, serves the config files,
// restarts the server when it dies, and exposes the connection as an
// RpcChannel for ServerApi.

import * as fs from "node:fs";
import * as vscode from "vscode";
import {
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
      return client.sendRequest(method, params, token);
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
