import assert from "node:assert/strict";
import * as path from "node:path";
import { describe, it } from "node:test";
import { ActiveConfig } from "../../src/activeConfig";
import { anyOf, CancelSource } from "../../src/cancel";
import { DEFAULT_CONFIG, defaultConfigPath, defaultConfigText, isConfigCandidate } from "../../src/configFiles";
import { RestartPolicy } from "../../src/restartPolicy";
import { expandHome, resolveServerCommand } from "../../src/serverPath";
import { MemoryStore } from "./fakes";

describe("resolveServerCommand", () => {
  const ext = "/ext";
  const bundled = path.join(ext, "bin", "mirrord-ls");
  it("prefers the setting", () => {
    assert.deepEqual(resolveServerCommand("~/bin/mirrord-ls", ext, "linux", () => true), {
      command: expandHome("~/bin/mirrord-ls"),
      source: "setting",
    });
  });
  it("then the bundled binary", () => {
    assert.deepEqual(resolveServerCommand("  ", ext, "linux", (p) => p === bundled), { command: bundled, source: "bundled" });
  });
  it("then PATH", () => {
    assert.deepEqual(resolveServerCommand(null, ext, "linux", () => false), { command: "mirrord-ls", source: "path" });
    assert.deepEqual(resolveServerCommand(undefined, ext, "win32", () => false), { command: "mirrord-ls.exe", source: "path" });
  });
  it("expands ~", () => {
    assert.equal(expandHome("~", "/home/u"), "/home/u");
    assert.equal(expandHome("~/x", "/home/u"), path.join("/home/u", "x"));
    assert.equal(expandHome("/a/~", "/home/u"), "/a/~");
  });
});

describe("RestartPolicy", () => {
  it("restarts until too many exits fall in the window", () => {
    let now = 0;
    const p = new RestartPolicy(3, 1000, () => now);
    assert.deepEqual([p.shouldRestart(), p.shouldRestart(), p.shouldRestart(), p.shouldRestart()], [true, true, true, false]);
    now = 5000;
    assert.equal(p.shouldRestart(), true, "old exits age out");
    p.reset();
    assert.equal(p.shouldRestart(), true);
  });
});

describe("config files", () => {
  it("creates the default config of ide-contract §1.3", () => {
    assert.deepEqual(JSON.parse(defaultConfigText()), { feature: { network: { incoming: "mirror", outgoing: true }, fs: "read", env: true } });
    assert.deepEqual(DEFAULT_CONFIG.feature.network, { incoming: "mirror", outgoing: true });
    assert.equal(defaultConfigPath("/w"), path.join("/w", ".mirrord", "mirrord.json"));
  });
  it("recognises active-config candidates", () => {
    const cases: [string, boolean][] = [
      ["/w/mirrord.json", true],
      ["/w/dev.mirrord.yaml", true],
      ["/w/x-mirrord.toml", true],
      ["/w/.mirrord/anything.yml", true],
      ["/w/.mirrord/notes.txt", false],
      ["/w/mirrord-demo/config.json", false],
      ["/w/mirrord.json.bak", false],
    ];
    for (const [p, want] of cases) assert.equal(isConfigCandidate(p), want, p);
  });
});

describe("ActiveConfig and tokens", () => {
  it("persists and clears the active config", async () => {
    const store = new MemoryStore();
    const a = new ActiveConfig(store);
    const seen: (string | undefined)[] = [];
    a.onDidChange((p) => seen.push(p));
    await a.set("/w/a.mirrord.json");
    assert.equal(new ActiveConfig(store).path, "/w/a.mirrord.json");
    await a.set(undefined);
    assert.equal(a.path, undefined);
    assert.deepEqual(seen, ["/w/a.mirrord.json", undefined]);
  });
  it("anyOf cancels when any token does", () => {
    const a = new CancelSource();
    const b = new CancelSource();
    const both = anyOf(a.token, undefined, b.token);
    let fired = 0;
    both.token.onCancellationRequested(() => fired++);
    b.cancel();
    a.cancel();
    assert.equal(both.token.isCancellationRequested, true);
    assert.equal(fired, 1);
    const late = new CancelSource();
    late.cancel();
    assert.equal(anyOf(late.token).token.isCancellationRequested, true);
  });
});
