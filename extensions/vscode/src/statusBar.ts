// The status bar item: a click toggles mirrord; the tooltip shows the active
// config, running sessions and quick links. It follows
// mirrord.showStatusBarButton while the editor runs.

import * as vscode from "vscode";
import type { ActiveConfig } from "./activeConfig";
import type { MirrordToggle } from "./toggle";

export const Commands = {
  toggle: "mirrord.toggleMirroring",
  selectActiveConfig: "mirrord.selectActiveConfig",
  openConfig: "mirrord.openConfig",
  showSessions: "mirrord.showSessions",
  stopAllSessions: "mirrord.stopAllSessions",
  restartServer: "mirrord.restartServer",
  showLog: "mirrord.showLog",
} as const;

const DOCS_URL = "https://github.com/mirrord-ls/mirrord-ls/blob/main/docs/vscode.md";

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly subscriptions: vscode.Disposable[] = [];
  private sessions = 0;

  constructor(
    private readonly toggle: MirrordToggle,
    private readonly active: ActiveConfig,
  ) {
    this.item = vscode.window.createStatusBarItem("mirrord.status", vscode.StatusBarAlignment.Left, 0);
    this.item.name = "mirrord";
    this.item.command = Commands.toggle;
    this.subscriptions.push(
      this.item,
      toggle.onDidChange(() => this.render()),
      active.onDidChange(() => this.render()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("mirrord")) this.render();
      }),
    );
    this.render();
  }

  setSessionCount(n: number): void {
    this.sessions = n;
    this.render();
  }

  render(): void {
    const enabled = this.toggle.enabled;
    this.item.text = `mirrord $(circle-large-${enabled ? "filled" : "outline"})${this.sessions > 0 ? ` ${this.sessions}` : ""}`;
    this.item.tooltip = this.tooltip(enabled);
    // Without it the accessible label is the text plus the whole markdown
    // tooltip, links and all.
    this.item.accessibilityInformation = { label: this.accessibleLabel(enabled), role: "button" };
    const show = vscode.workspace.getConfiguration("mirrord").get<boolean>("showStatusBarButton", true);
    if (show) this.item.show();
    else this.item.hide();
  }

  private accessibleLabel(enabled: boolean): string {
    const active = this.active.path;
    return [
      `mirrord, ${enabled ? "enabled" : "disabled"}`,
      active ? `, active config ${vscode.workspace.asRelativePath(active)}` : "",
      this.sessions > 0 ? `, ${this.sessions} running session${this.sessions === 1 ? "" : "s"}` : "",
    ].join("");
  }

  private tooltip(enabled: boolean): vscode.MarkdownString {
    const cmd = (id: string): string => `command:${id}`;
    const md = new vscode.MarkdownString("", true);
    md.isTrusted = { enabledCommands: [...Object.values(Commands), "workbench.action.openSettings"] };
    md.appendMarkdown(`**mirrord** is [${enabled ? "enabled" : "disabled"}](${cmd(Commands.toggle)} "Click to toggle")\n\n`);
    const active = this.active.path;
    md.appendMarkdown(`Active config: ${active ? `[${escapeMd(vscode.workspace.asRelativePath(active))}](${cmd(Commands.openConfig)})` : "none (the launch's config is discovered)"}\n\n`);
    if (this.sessions > 0) md.appendMarkdown(`[${this.sessions} running session${this.sessions === 1 ? "" : "s"}](${cmd(Commands.showSessions)})\n\n`);
    const links = [
      `[Select active config](${cmd(Commands.selectActiveConfig)})`,
      `[Open config](${cmd(Commands.openConfig)})`,
      `[Sessions](${cmd(Commands.showSessions)})`,
      `[Settings](command:workbench.action.openSettings?${encodeURIComponent(JSON.stringify("mirrord"))})`,
      `[Log](${cmd(Commands.showLog)})`,
      `[Documentation](${DOCS_URL})`,
    ];
    md.appendMarkdown(links.join(" · "));
    return md;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|]/g, (c) => `\\${c}`);
}
