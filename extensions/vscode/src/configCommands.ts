// Commands about config files: select the active config, open (or create)
// the config a launch would use.

import * as path from "node:path";
import * as vscode from "vscode";
import type { ActiveConfig } from "./activeConfig";
import { CANDIDATE_EXCLUDE, CANDIDATE_GLOBS, defaultConfigPath, defaultConfigText, isConfigCandidate } from "./configFiles";
import type { ServerApi } from "./serverApi";
import { item, type Ui } from "./ui";

const UNSET = Symbol("unset");

export async function selectActiveConfig(active: ActiveConfig, ui: Ui): Promise<void> {
  const found = await Promise.all(CANDIDATE_GLOBS.map((glob) => vscode.workspace.findFiles(glob, CANDIDATE_EXCLUDE)));
  const files = [...new Set(found.flat().map((u) => u.fsPath))].filter(isConfigCandidate).sort();
  const items = files.map((f) =>
    item<string | typeof UNSET>(vscode.workspace.asRelativePath(f), f, f === active.path ? { description: "active" } : {}),
  );
  if (active.path) items.unshift(item<string | typeof UNSET>("$(close) Unset active config", UNSET, { description: vscode.workspace.asRelativePath(active.path) }));
  if (items.length === 0) {
    void ui.info("mirrord: no config files in the workspace (*mirrord.json/yaml/yml/toml or .mirrord/*)", "Create default config").then((a) => {
      if (a) void vscode.commands.executeCommand("mirrord.openConfig");
    });
    return;
  }
  const chosen = await ui.pick(items, { title: "mirrord: select the active config", placeholder: "Every launch of this workspace uses the active config" });
  if (chosen === undefined) return;
  await active.set(chosen === UNSET ? undefined : chosen);
}

/**
 * Opens the config a launch in the chosen folder would use, as the server
 * discovers it; with none, creates .mirrord/mirrord.json with the default
 * content and opens it.
 */
export async function openConfig(api: ServerApi, active: ActiveConfig, ui: Ui): Promise<void> {
  const folder = await chooseFolder(ui);
  const activePath = active.path;
  const discovery = await api.discoverConfig({
    ...(folder ? { workspaceFolder: folder } : {}),
    ...(activePath ? { active: activePath } : {}),
  });
  if (discovery.path) {
    await ui.openFile(discovery.path);
    return;
  }
  if (!folder) {
    void ui.warn("mirrord: open a folder to create a config in it");
    return;
  }
  const target = defaultConfigPath(folder);
  const uri = vscode.Uri.file(target);
  await vscode.workspace.fs.createDirectory(vscode.Uri.file(path.dirname(target)));
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(defaultConfigText()));
  await ui.openFile(target);
}

async function chooseFolder(ui: Ui): Promise<string | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length <= 1) return folders[0]?.uri.fsPath;
  const editorFolder = vscode.window.activeTextEditor
    ? vscode.workspace.getWorkspaceFolder(vscode.window.activeTextEditor.document.uri)
    : undefined;
  const items = folders.map((f) => item(f.name, f.uri.fsPath, f === editorFolder ? { description: "current" } : {}));
  return ui.pick(items, { title: "mirrord: which folder's config?" });
}
