// Packages the .vsix: a production bundle, the schema, the binaries under
// bin/ (mirrord-ls, and next to it the mirrord CLI and libmirrord_layer.so
// that mirrord-ls runs for cluster features and sessions) and the
// repository's LICENSE, staged only for the packaging and
// removed afterwards so the source tree stays clean.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const ext = resolve(here, "..");
const repo = resolve(ext, "../..");
const server = process.env.MIRRORD_LS_BIN ?? resolve(repo, "bin/mirrord-ls");
const binDir = dirname(server);
const binaries = [["mirrord-ls", server], ["mirrord", resolve(binDir, "mirrord")], ["libmirrord_layer.so", resolve(binDir, "libmirrord_layer.so")]];
const outDir = process.env.VSIX_OUT ?? resolve(repo, "bin");
const { version } = JSON.parse(readFileSync(resolve(ext, "package.json"), "utf8"));
const vsix = resolve(outDir, `mirrord-ls-vscode-${version}.vsix`);

for (const [, file] of binaries) {
  if (!existsSync(file)) {
    console.error(`package: ${file} does not exist; build the binaries with \`make build\``);
    process.exit(1);
  }
}
const run = (cmd, args) => execFileSync(cmd, args, { cwd: ext, stdio: "inherit" });
const staged = [resolve(ext, "bin"), resolve(ext, "LICENSE")];
try {
  run("node", ["scripts/schema.mjs"]);
  run("node", ["scripts/build.mjs", "--production"]);
  mkdirSync(resolve(ext, "bin"), { recursive: true });
  for (const [name, file] of binaries) {
    copyFileSync(file, resolve(ext, "bin", name));
    chmodSync(resolve(ext, "bin", name), 0o755);
  }
  copyFileSync(resolve(repo, "LICENSE"), resolve(ext, "LICENSE"));
  mkdirSync(outDir, { recursive: true });
  run(resolve(ext, "node_modules/.bin/vsce"), ["package", "--no-dependencies", "--out", vsix]);
  console.log(`package: ${vsix}`);
} finally {
  for (const p of staged) rmSync(p, { recursive: true, force: true });
}
