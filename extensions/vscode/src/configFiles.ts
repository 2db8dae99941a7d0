// Which files are mirrord configs, and the default config the extension
// creates (reference ide-contract §1.3).

import * as path from "node:path";

/** Content of a freshly created .mirrord/mirrord.json. */
export const DEFAULT_CONFIG = {
  feature: {
    network: { incoming: "mirror", outgoing: true },
    fs: "read",
    env: true,
  },
};

export function defaultConfigText(): string {
  return `${JSON.stringify(DEFAULT_CONFIG, null, 2)}\n`;
}

/** Where "create default config" writes, in a workspace folder. */
export function defaultConfigPath(folder: string): string {
  return path.join(folder, ".mirrord", "mirrord.json");
}

/** findFiles globs of active-config candidates (VS Code globs do not nest braces). */
export const CANDIDATE_GLOBS = ["**/*mirrord.{json,yaml,yml,toml}", "**/.mirrord/*.{json,yaml,yml,toml}"];
/** Folders never searched for candidates. */
export const CANDIDATE_EXCLUDE = "**/{node_modules,.git,vendor,target}/**";

/** Document filters the language client serves (config editing). */
export const CONFIG_DOCUMENT_PATTERNS = ["**/*mirrord.{json,yaml,yml,toml}", "**/.mirrord/*.{json,yaml,yml,toml}"];

const CONFIG_EXTS = new Set([".json", ".yaml", ".yml", ".toml"]);

/** Whether a path is an active-config candidate (the same rule as CANDIDATE_GLOBS). */
export function isConfigCandidate(p: string): boolean {
  const ext = path.extname(p);
  if (!CONFIG_EXTS.has(ext)) return false;
  const base = path.basename(p, ext);
  return base.endsWith("mirrord") || path.basename(path.dirname(p)) === ".mirrord";
}
