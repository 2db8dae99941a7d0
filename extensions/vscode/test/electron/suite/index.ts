// Runs inside the VS Code extension host: activation, commands, the toggle,
// and diagnostics from mirrord-ls for a broken config.

import assert from "node:assert/strict";
import * as path from "node:path";
import * as vscode from "vscode";

const EXTENSION_ID = "mirrord-ls.mirrord-ls-vscode";

async function until<T>(what: string, f: () => T | undefined, deadlineMs = 20_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const checks: [string, () => Promise<void>][] = [
  [
    "activates and registers its commands",
    async () => {
      const ext = vscode.extensions.getExtension(EXTENSION_ID);
      assert.ok(ext, `${EXTENSION_ID} is installed`);
      await ext.activate();
      const commands = await vscode.commands.getCommands(true);
      for (const c of ["mirrord.toggleMirroring", "mirrord.selectActiveConfig", "mirrord.openConfig", "mirrord.showSessions", "mirrord.stopAllSessions", "mirrord.restartServer"]) {
        assert.ok(commands.includes(c), c);
      }
    },
  ],
  [
    "toggles without errors",
    async () => {
      await vscode.commands.executeCommand("mirrord.toggleMirroring");
      await vscode.commands.executeCommand("mirrord.toggleMirroring");
    },
  ],
  [
    "shows diagnostics from mirrord-ls for a broken config",
    async () => {
      const workspace = process.env.MIRRORD_TEST_WORKSPACE ?? "";
      const uri = vscode.Uri.file(path.join(workspace, ".mirrord", "mirrord.json"));
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
      const diags = await until("diagnostics", () => {
        const d = vscode.languages.getDiagnostics(uri).filter((x) => x.source !== "json");
        return d.length > 0 ? d : undefined;
      });
      assert.ok(diags.some((d) => d.message.includes("fetaure") && d.range.start.line === 2), diags.map((d) => d.message).join("; "));
    },
  ],
];

export async function run(): Promise<void> {
  const failures: string[] = [];
  for (const [name, check] of checks) {
    try {
      await check();
      console.log(`ok - ${name}`);
    } catch (err) {
      console.log(`not ok - ${name}: ${err instanceof Error ? err.message : String(err)}`);
      failures.push(name);
    }
  }
  if (failures.length > 0) throw new Error(`${failures.length} smoke check(s) failed: ${failures.join(", ")}`);
}
