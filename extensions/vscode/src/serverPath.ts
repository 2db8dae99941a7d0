// Which mirrord-ls binary the extension runs: mirrord.serverPath, else the
// binary bundled under the extension's bin/, else mirrord-ls from PATH.

import * as os from "node:os";
import * as path from "node:path";

export interface ServerCommand {
  command: string;
  source: "setting" | "bundled" | "path";
}

export function binaryName(platform: NodeJS.Platform): string {
  return platform === "win32" ? "mirrord-ls.exe" : "mirrord-ls";
}

export function expandHome(p: string, home: string = os.homedir()): string {
  if (p === "~") return home;
  if (p.startsWith("~/") || p.startsWith("~\\")) return path.join(home, p.slice(2));
  return p;
}

export function resolveServerCommand(
  setting: string | undefined | null,
  extensionPath: string,
  platform: NodeJS.Platform,
  isFile: (p: string) => boolean,
): ServerCommand {
  const configured = setting?.trim();
  if (configured) return { command: expandHome(configured), source: "setting" };
  const bundled = path.join(extensionPath, "bin", binaryName(platform));
  if (isFile(bundled)) return { command: bundled, source: "bundled" };
  return { command: binaryName(platform), source: "path" };
}
