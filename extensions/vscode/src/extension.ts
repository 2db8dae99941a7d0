// Wiring: the language client, the status bar, the commands and the debug
// configuration provider. The logic lives in the plain modules.

import * as vscode from "vscode";
import { ActiveConfig } from "./activeConfig";
import type { Cancel } from "./cancel";
import { startServer, type ServerHandle } from "./client";
import { openConfig, selectActiveConfig } from "./configCommands";
import type { LaunchConfig } from "./gating";
import { resolveLaunch } from "./launch";
import { Method } from "./protocol";
import { createServerApi, type RpcChannel } from "./serverApi";
import { showSessions, stopAllSessions } from "./sessions";
import { Commands, StatusBar } from "./statusBar";
import { MirrordToggle } from "./toggle";
import type { Ui } from "./ui";
import { channelLog, createVscodeUi } from "./vscodeUi";

let server: ServerHandle | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel("mirrord", { log: true });
  const log = channelLog(output);
  const ui: Ui = createVscodeUi();
  const settings = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration("mirrord");
  const toggle = new MirrordToggle(context.workspaceState, () => settings().get<boolean>("enabledByDefault", false));
  const active = new ActiveConfig(context.workspaceState);
  const statusBar = new StatusBar(toggle, active);

  // The ServerApi talks to whichever server is current, across restarts and
  // serverPath changes.
  const channel: RpcChannel = {
    request: (method, params, token) => current().channel.request(method, params, token),
    onWorkDone: (token, report) => current().channel.onWorkDone(token, report),
  };
  const api = createServerApi(channel);
  const refreshSessions = (): void => {
    if (!server?.supports(Method.listSessions)) return;
    api.listSessions().then(
      (s) => statusBar.setSessionCount(s.length),
      () => statusBar.setSessionCount(0),
    );
  };
  // mirrord/sessionsChanged carries the session list.
  const sessionsChanged = (sessions: unknown): void => {
    if (Array.isArray(sessions)) statusBar.setSessionCount(sessions.length);
    else refreshSessions();
  };
  const current = (): ServerHandle => {
    server ??= startServer(context, output, { sessionsChanged, running: refreshSessions });
    return server;
  };
  current();

  const run = (what: string, f: () => Promise<unknown>) => async (): Promise<void> => {
    try {
      await f();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.error(`${what}: ${message}`);
      void ui.error(`mirrord: ${what}: ${message}`);
    }
  };

  context.subscriptions.push(
    output,
    statusBar,
    vscode.commands.registerCommand(
      Commands.toggle,
      run("toggle", async () => log.info(`mirrord ${(await toggle.toggle()) ? "enabled" : "disabled"}`)),
    ),
    vscode.commands.registerCommand(Commands.selectActiveConfig, run("select active config", () => selectActiveConfig(active, ui))),
    vscode.commands.registerCommand(Commands.openConfig, run("open config", () => openConfig(api, active, ui))),
    vscode.commands.registerCommand(
      Commands.showSessions,
      run("sessions", async () => {
        await showSessions(api, ui);
        refreshSessions();
      }),
    ),
    vscode.commands.registerCommand(
      Commands.stopAllSessions,
      run("stop sessions", async () => {
        await stopAllSessions(api, ui);
        refreshSessions();
      }),
    ),
    vscode.commands.registerCommand(Commands.restartServer, run("restart server", () => current().restart())),
    vscode.commands.registerCommand(Commands.showLog, () => output.show()),
    vscode.debug.registerDebugConfigurationProvider("*", {
      resolveDebugConfigurationWithSubstitutedVariables(folder, config, token) {
        return resolveLaunch(
          config as LaunchConfig,
          (folder ?? vscode.workspace.workspaceFolders?.[0])?.uri.fsPath,
          {
            api,
            ui,
            store: context.workspaceState,
            log,
            enabled: () => toggle.enabled,
            activeConfig: () => active.path,
            trusted: () => vscode.workspace.isTrusted,
          },
          token as Cancel | undefined,
        ).then((resolved) => resolved as vscode.DebugConfiguration | undefined);
      },
    }),
    watchActiveConfig(active, ui),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration("mirrord.serverPath")) return;
      const old = server;
      server = undefined;
      void (old ? old.dispose() : Promise.resolve()).finally(() => current());
    }),
  );
}

/** Clears the active config when its file is deleted, and says so. */
function watchActiveConfig(active: ActiveConfig, ui: Ui): vscode.Disposable {
  let watcher: vscode.FileSystemWatcher | undefined;
  const watch = (path: string | undefined): void => {
    watcher?.dispose();
    watcher = undefined;
    if (!path) return;
    const uri = vscode.Uri.file(path);
    watcher = vscode.workspace.createFileSystemWatcher(
      new vscode.RelativePattern(vscode.Uri.joinPath(uri, ".."), uri.path.slice(uri.path.lastIndexOf("/") + 1)),
      true,
      true,
      false,
    );
    watcher.onDidDelete(() => {
      void active.set(undefined);
      void ui.warn(`mirrord: the active config ${vscode.workspace.asRelativePath(uri)} was deleted; launches discover their config again`);
    });
  };
  watch(active.path);
  const sub = active.onDidChange(watch);
  return {
    dispose: () => {
      sub.dispose();
      watcher?.dispose();
    },
  };
}

export async function deactivate(): Promise<void> {
  const s = server;
  server = undefined;
  await s?.dispose();
}
