// Writes dist/mirrord-schema.json from `mirrord schema` (the Go CLI), packed
// with the extension as a reference for users and other tools (VS Code's own
// JSON validation does not use it: docs/vscode.md, "Editing configs"). Fails
// loudly instead of shipping an empty or stale schema.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const mirrord = process.env.MIRRORD_BIN ?? resolve(here, "../../../bin/mirrord");
const out = resolve(here, "../dist/mirrord-schema.json");

function fail(message) {
  console.error(`schema: ${message}`);
  process.exit(1);
}

let text;
try {
  text = execFileSync(mirrord, ["schema"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
} catch (err) {
  const stderr = err.stderr ? String(err.stderr).trim() : "";
  if (err.code === "ENOENT") fail(`${mirrord} does not exist; build it first: go build -o bin/mirrord ./cmd/mirrord`);
  fail(`\`${mirrord} schema\` failed (is the schema command implemented yet?): ${stderr || err.message}`);
}
let schema;
try {
  schema = JSON.parse(text);
} catch (err) {
  fail(`\`${mirrord} schema\` did not print JSON: ${err.message}`);
}
if (typeof schema !== "object" || schema === null || Array.isArray(schema) || Object.keys(schema.properties ?? {}).length === 0) {
  fail(`\`${mirrord} schema\` printed a schema without properties; refusing to ship it`);
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(schema, null, 2)}\n`);
console.log(`schema: wrote ${out} (${Object.keys(schema.properties).length} top-level properties)`);
