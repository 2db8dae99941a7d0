import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INJECTED_MARKER } from "../../src/gating";
import { debuggerHints, hintsFor, mergeLaunchEnv, stringEnv } from "../../src/launchEnv";
import type { SessionStart } from "../../src/protocol";

describe("debuggerHints", () => {
  const cases: { type: string; detect?: string; skip?: boolean; loadFromProcess?: boolean }[] = [
    { type: "go", skip: true },
    { type: "python", detect: "debugpy" },
    { type: "debugpy", detect: "debugpy" },
    { type: "java", detect: "javaagent" },
    // The official extension never applies these (ide-contract §6, Node bug).
    { type: "node", detect: "nodeinspector", loadFromProcess: true },
    { type: "pwa-node", detect: "nodeinspector", loadFromProcess: true },
    { type: "node-terminal", detect: "nodeinspector", loadFromProcess: true },
    { type: "cppdbg" },
    // Array-index confusion of the official bug: "0" must not match.
    { type: "0" },
  ];
  for (const c of cases) {
    it(c.type, () => {
      const h = debuggerHints(c.type);
      assert.equal(h.MIRRORD_IGNORE_DEBUGGER_PORTS, "45000-65535");
      assert.equal(h.MIRRORD_DETECT_DEBUGGER_PORT, c.detect);
      assert.equal(h.MIRRORD_SKIP_PROCESSES !== undefined, c.skip === true);
      if (c.skip) assert.match(h.MIRRORD_SKIP_PROCESSES ?? "", /^dlv;debugserver;compile;go;/);
      assert.equal(h.MIRRORD_ENV_LOAD_FROM_PROCESS, c.loadFromProcess ? "true" : undefined);
    });
  }
  it("keeps a value the launch configuration already sets", () => {
    const h = hintsFor("python", { MIRRORD_DETECT_DEBUGGER_PORT: "pydevd" });
    assert.equal(h.MIRRORD_DETECT_DEBUGGER_PORT, undefined);
    assert.equal(h.MIRRORD_IGNORE_DEBUGGER_PORTS, "45000-65535");
  });
});

describe("mergeLaunchEnv", () => {
  const start = (extra: Partial<SessionStart> = {}): SessionStart => ({
    sessionId: "s1",
    environment: { LD_PRELOAD: "/tmp/libmirrord.so", REMOTE: "r", SHARED: "remote" },
    envToUnset: [],
    warnings: [],
    ...extra,
  });

  it("layers launch env, hints, then the session's environment", () => {
    const got = mergeLaunchEnv("go", { SHARED: "local", OWN: "mine" }, start());
    assert.deepEqual(got, {
      SHARED: "remote",
      OWN: "mine",
      MIRRORD_IGNORE_DEBUGGER_PORTS: "45000-65535",
      MIRRORD_SKIP_PROCESSES: "dlv;debugserver;compile;go;asm;cgo;link;git;gcc;as;ld;collect2;cc1",
      LD_PRELOAD: "/tmp/libmirrord.so",
      REMOTE: "r",
      [INJECTED_MARKER]: "true",
    });
  });

  it("removes env_to_unset, from the launch env and the session's", () => {
    const got = mergeLaunchEnv("python", { SECRET: "x", KEEP: "k" }, start({ envToUnset: ["SECRET", "REMOTE", "ABSENT"] }));
    assert.equal("SECRET" in got, false);
    assert.equal("REMOTE" in got, false);
    assert.equal("ABSENT" in got, false);
    assert.equal(got.KEEP, "k");
  });

  it("unsets with null for js-debug, which then drops inherited variables too", () => {
    const got = mergeLaunchEnv("pwa-node", { SECRET: "x" }, start({ envToUnset: ["SECRET", "HOME"] }));
    assert.equal(got.SECRET, null);
    assert.equal(got.HOME, null);
    assert.equal(got.MIRRORD_DETECT_DEBUGGER_PORT, "nodeinspector");
  });

  it("works without a launch env and does not touch the input", () => {
    const env = { A: "1" };
    const got = mergeLaunchEnv("java", undefined, start());
    assert.equal(got.MIRRORD_DETECT_DEBUGGER_PORT, "javaagent");
    mergeLaunchEnv("java", env, start({ envToUnset: ["A"] }));
    assert.deepEqual(env, { A: "1" });
  });

  it("stringEnv drops null and undefined values", () => {
    assert.deepEqual(stringEnv({ A: "1", B: null, C: undefined }), { A: "1" });
    assert.deepEqual(stringEnv(undefined), {});
  });
});
