// Smoke test in a real VS Code (not run by `make test`: VS Code cannot be
// downloaded on the CI machines). Run with `npm run test:electron`; set
// VSCODE_EXECUTABLE to use an installed VS Code instead of downloading one.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { runTests } from "@vscode/test-electron";

async function main(): Promise<void> {
  const extensionDevelopmentPath = path.resolve(__dirname, "../../../..");
  const repo = path.resolve(extensionDevelopmentPath, "../..");
  const workspace = mkdtempSync(path.join(tmpdir(), "mirrord-vscode-electron-"));
  mkdirSync(path.join(workspace, ".mirrord"));
  writeFileSync(path.join(workspace, ".mirrord", "mirrord.json"), '{\n  "feature": {\n    "fetaure": true\n  }\n}\n');
  try {
    await runTests({
      extensionDevelopmentPath,
      extensionTestsPath: path.resolve(__dirname, "suite/index"),
      launchArgs: [workspace, "--disable-extensions", "--disable-workspace-trust"],
      // mirrord-ls comes from the repository's bin/ through PATH.
      extensionTestsEnv: { PATH: `${path.join(repo, "bin")}${path.delimiter}${process.env.PATH ?? ""}`, MIRRORD_TEST_WORKSPACE: workspace },
      ...(process.env.VSCODE_EXECUTABLE ? { vscodeExecutablePath: process.env.VSCODE_EXECUTABLE } : {}),
    });
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
