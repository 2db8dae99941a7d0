import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CancelledError, CancelSource } from "../../src/cancel";
import { INJECTED_MARKER, type LaunchConfig } from "../../src/gating";
import { OPEN_CONFIG, resolveLaunch, type LaunchDeps } from "../../src/launch";
import type { Discovery, SessionStart, VerifyResult } from "../../src/protocol";
import type { ServerApi } from "../../src/serverApi";
import { UNTRUSTED_LAUNCH } from "../../src/trust";
import { fakeApi, labelled, esc, MemoryStore, NullLog, ScriptedUi } from "./fakes";

const CONFIG = "/w/.mirrord/mirrord.json";
const found: Discovery = { path: CONFIG, source: "default", reason: "first .mirrord/*mirrord.json" };
const withTarget: VerifyResult = { ok: true, target: "deployment/api", namespace: null, errors: [], warnings: [] };
const noTarget: VerifyResult = { ok: true, target: null, namespace: "staging", errors: [], warnings: [] };
const started: SessionStart = {
  sessionId: "abc",
  environment: { LD_PRELOAD: "/lib/libmirrord.so", MIRRORD_LAYER_INTPROXY_ADDR: "127.0.0.1:4000" },
  envToUnset: ["AWS_PROFILE"],
  warnings: ["agent is old"],
};

const goLaunch = (env: LaunchConfig["env"] = {}): LaunchConfig => ({ type: "go", request: "launch", name: "api", program: "${workspaceFolder}/cmd/api", env });

function deps(api: ServerApi, ui: ScriptedUi, opts: { enabled?: boolean; active?: string; trusted?: boolean } = {}): LaunchDeps & { log: NullLog } {
  return {
    api,
    ui,
    store: new MemoryStore(),
    log: new NullLog(),
    enabled: () => opts.enabled ?? true,
    activeConfig: () => opts.active,
    trusted: () => opts.trusted ?? true,
  };
}

describe("resolveLaunch", () => {
  it("leaves a skipped launch alone and asks the server nothing", async () => {
    const api = fakeApi({});
    const config = goLaunch({ MIRRORD_ACTIVE: "0" });
    assert.equal(await resolveLaunch(config, "/w", deps(api, new ScriptedUi())), config);
    const disabled = goLaunch();
    assert.equal(await resolveLaunch(disabled, "/w", deps(api, new ScriptedUi(), { enabled: false })), disabled);
    const attach = { ...goLaunch({ MIRRORD_ACTIVE: "1" }), request: "attach" };
    assert.equal(await resolveLaunch(attach, "/w", deps(api, new ScriptedUi())), attach);
    assert.equal(api.calls.length, 0);
  });

  it("refuses a mirrord launch in an untrusted workspace before asking the server anything", async () => {
    const api = fakeApi({
      discoverConfig: () => Promise.resolve(found),
      verifyConfig: () => Promise.resolve(withTarget),
      startSession: () => Promise.resolve(started),
    });
    for (const config of [goLaunch(), goLaunch({ MIRRORD_ACTIVE: "1" })]) {
      const ui = new ScriptedUi();
      const d = deps(api, ui, { trusted: false });
      assert.equal(await resolveLaunch(config, "/w", d), undefined, "the launch is cancelled");
      assert.deepEqual(ui.messages, [{ level: "error", text: UNTRUSTED_LAUNCH, actions: [] }]);
      assert.match(UNTRUSTED_LAUNCH, /not trusted \(Restricted Mode\).*Manage Workspace Trust/);
      assert.deepEqual(ui.progress, [], "no session was started");
      assert.ok(d.log.lines.some((l) => /^warn: .*refused, the workspace is not trusted/.test(l)), d.log.lines.join("\n"));
    }
    assert.deepEqual(api.calls, [], "no request reached the server");
  });

  it("leaves a launch mirrord does not apply to alone in an untrusted workspace", async () => {
    const api = fakeApi({});
    const ui = new ScriptedUi();
    for (const config of [goLaunch(), goLaunch({ MIRRORD_ACTIVE: "0" })]) {
      assert.equal(await resolveLaunch(config, "/w", deps(api, ui, { enabled: false, trusted: false })), config);
    }
    assert.deepEqual(ui.messages, []);
    assert.deepEqual(api.calls, []);
  });

  it("reads the trust at every launch: granted meanwhile, the next launch starts its session", async () => {
    const api = fakeApi({
      discoverConfig: () => Promise.resolve(found),
      verifyConfig: () => Promise.resolve(withTarget),
      startSession: () => Promise.resolve(started),
    });
    let trusted = false;
    const d = { ...deps(api, new ScriptedUi()), trusted: () => trusted };
    assert.equal(await resolveLaunch(goLaunch(), "/w", d), undefined);
    trusted = true;
    assert.ok(await resolveLaunch(goLaunch(), "/w", d));
    assert.deepEqual(api.calls.map((c) => c.method), ["discoverConfig", "verifyConfig", "startSession"]);
  });

  it("discovers, verifies and starts a session for a config with a target", async () => {
    const api = fakeApi({
      discoverConfig: () => Promise.resolve(found),
      verifyConfig: () => Promise.resolve({ ...withTarget, warnings: [{ message: "port 80 is stolen", severity: "warning" }] }),
      startSession: (_p, _t, progress) => {
        progress?.("connecting to the agent");
        return Promise.resolve({ ...started, warnings: ["port 80 is stolen", ...started.warnings] });
      },
    });
    const ui = new ScriptedUi();
    const d = deps(api, ui, { active: "/w/other.mirrord.json" });
    const config = goLaunch({ AWS_PROFILE: "dev", MIRRORD_ACTIVE: "1" });
    const got = await resolveLaunch(config, "/w", d);
    assert.ok(got);
    assert.notEqual(got, config, "a copy is returned");
    assert.equal(got.env?.LD_PRELOAD, "/lib/libmirrord.so");
    assert.equal(got.env?.[INJECTED_MARKER], "true");
    assert.equal("AWS_PROFILE" in (got.env ?? {}), false);
    assert.match(got.env?.MIRRORD_SKIP_PROCESSES ?? "", /^dlv;/);
    assert.equal(config.env?.LD_PRELOAD, undefined, "the input is not modified");

    assert.deepEqual(
      api.calls.map((c) => c.method),
      ["discoverConfig", "verifyConfig", "startSession"],
    );
    const discover = api.calls[0]?.params as { active?: string; workspaceFolder?: string; env?: Record<string, string> };
    assert.equal(discover.active, "/w/other.mirrord.json");
    assert.equal(discover.workspaceFolder, "/w");
    assert.equal(discover.env?.MIRRORD_SKIP_PROCESSES?.startsWith("dlv;"), true, "hints reach the server");
    const start = api.calls[2]?.params as { configPath?: string; target?: string; debugType?: string; executable?: string };
    assert.equal(start.configPath, CONFIG);
    assert.equal(start.target, undefined, "the config's own target is used");
    assert.equal(start.debugType, "go");
    assert.equal(start.executable, "${workspaceFolder}/cmd/api");
    assert.deepEqual(ui.progress, ["mirrord: starting session", "connecting to the agent"]);
    assert.deepEqual(
      ui.messages.map((m) => `${m.level}: ${m.text}`),
      ["warn: mirrord: port 80 is stolen", "warn: mirrord: agent is old"],
      "a warning from both verifyConfig and startSession is shown once",
    );
  });

  it("stops on config errors and opens the config at the first error", async () => {
    const range = { start: { line: 3, character: 4 }, end: { line: 3, character: 9 } };
    const api = fakeApi({
      discoverConfig: () => Promise.resolve(found),
      verifyConfig: () =>
        Promise.resolve({
          ok: false,
          target: null,
          namespace: null,
          errors: [
            { message: "unknown field `fetaure`", severity: "error", range },
            { message: "second", severity: "error" },
          ],
          warnings: [],
        }),
    });
    const ui = new ScriptedUi();
    ui.messageAnswer = OPEN_CONFIG;
    assert.equal(await resolveLaunch(goLaunch(), "/w", deps(api, ui)), undefined);
    assert.deepEqual(ui.messages, [
      { level: "error", text: `mirrord: ${CONFIG}:4:5: unknown field \`fetaure\` (and 1 more)`, actions: [OPEN_CONFIG] },
    ]);
    assert.deepEqual(ui.opened, [{ path: CONFIG, range }]);
    assert.ok(!api.calls.some((c) => c.method === "startSession"));
  });

  it("asks for a target when the config names none, in the config's namespace", async () => {
    const api = fakeApi({
      discoverConfig: () => Promise.resolve(found),
      verifyConfig: () => Promise.resolve(noTarget),
      listTargets: (p) =>
        Promise.resolve({
          currentNamespace: p.namespace ?? "default",
          namespaces: [],
          targets: [{ path: "deployment/web", kind: "deployment", namespace: "staging", available: true }],
        }),
      startSession: () => Promise.resolve(started),
    });
    const ui = new ScriptedUi([labelled("deployment/web")]);
    assert.ok(await resolveLaunch(goLaunch(), "/w", deps(api, ui)));
    assert.deepEqual(api.calls[2]?.params, { configPath: CONFIG, namespace: "staging" });
    const start = api.calls[3]?.params as { target?: string; env?: Record<string, string> };
    assert.equal(start.target, "deployment/web");
    assert.equal(start.env?.MIRRORD_TARGET_NAMESPACE, "staging");
  });

  it("cancels the launch when the picker is dismissed", async () => {
    const api = fakeApi({
      discoverConfig: () => Promise.resolve({ source: "none", reason: "nothing" }),
      listTargets: () => Promise.resolve({ currentNamespace: "default", namespaces: [], targets: [] }),
    });
    const ui = new ScriptedUi([esc]);
    const d = deps(api, ui);
    assert.equal(await resolveLaunch(goLaunch(), "/w", d), undefined);
    assert.deepEqual(
      api.calls.map((c) => c.method),
      ["discoverConfig", "listTargets"],
      "no config: no verify, and no session after Esc",
    );
    assert.equal(ui.messages.length, 0);
    assert.ok(d.log.lines.some((l) => l.includes("cancelled in the target picker")));
  });

  it("skips the picker when MIRRORD_IMPERSONATED_TARGET is in the launch env", async () => {
    const api = fakeApi({
      discoverConfig: () => Promise.resolve({ source: "none", reason: "nothing" }),
      startSession: () => Promise.resolve(started),
    });
    assert.ok(await resolveLaunch(goLaunch({ MIRRORD_IMPERSONATED_TARGET: "pod/x" }), "/w", deps(api, new ScriptedUi())));
    assert.deepEqual(
      api.calls.map((c) => c.method),
      ["discoverConfig", "startSession"],
    );
  });

  it("cancelling the progress notification cancels startSession quietly", async () => {
    let sawCancel = false;
    const api = fakeApi({
      discoverConfig: () => Promise.resolve(found),
      verifyConfig: () => Promise.resolve(withTarget),
      startSession: (_p, token) =>
        new Promise((_, reject) => {
          token?.onCancellationRequested(() => {
            sawCancel = true;
            reject(new CancelledError("mirrord/startSession"));
          });
        }),
    });
    const ui = new ScriptedUi();
    ui.cancelProgress = true;
    assert.equal(await resolveLaunch(goLaunch(), "/w", deps(api, ui)), undefined);
    assert.ok(sawCancel);
    assert.equal(ui.messages.length, 0, "a cancellation is not an error");
  });

  it("the debug session's own token cancels too", async () => {
    const source = new CancelSource();
    const api = fakeApi({
      discoverConfig: () => Promise.resolve(found),
      verifyConfig: () => Promise.resolve(withTarget),
      startSession: (_p, token) =>
        new Promise((_, reject) => {
          token?.onCancellationRequested(() => reject(new CancelledError()));
          source.cancel();
        }),
    });
    const ui = new ScriptedUi();
    assert.equal(await resolveLaunch(goLaunch(), "/w", deps(api, ui), source.token), undefined);
    assert.equal(ui.messages.length, 0);
  });

  it("shows a server error and stops the launch", async () => {
    const api = fakeApi({ discoverConfig: () => Promise.reject(new Error("active config: /w/gone.json does not exist")) });
    const ui = new ScriptedUi();
    assert.equal(await resolveLaunch(goLaunch(), "/w", deps(api, ui, { active: "/w/gone.json" })), undefined);
    assert.deepEqual(ui.messages.map((m) => m.text), ["mirrord: active config: /w/gone.json does not exist"]);
  });
});
