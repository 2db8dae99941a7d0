import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CancelledError, CancelSource, type Disposable } from "../../src/cancel";
import { Method } from "../../src/protocol";
import { createServerApi, isMethodNotFound, ServerError, targetString, type RpcChannel } from "../../src/serverApi";

/** A channel answering from a table; records requests. */
function channel(answers: Record<string, unknown>, progress?: string[]): RpcChannel & { sent: { method: string; params: unknown }[] } {
  const sent: { method: string; params: unknown }[] = [];
  return {
    sent,
    request(method, params) {
      sent.push({ method, params });
      const a = answers[method];
      if (a instanceof Error) return Promise.reject(a);
      if (typeof a === "object" && a !== null && "code" in a) {
        // A JSON-RPC error object, as vscode-jsonrpc's ResponseError carries it.
        const { code, message } = a as { code: number; message: string };
        return Promise.reject(Object.assign(new Error(message), { code }));
      }
      return Promise.resolve(a);
    },
    onWorkDone(_token, report): Disposable {
      for (const m of progress ?? []) report(m);
      return { dispose: () => undefined };
    },
  };
}

describe("ServerApi", () => {
  it("reads discoverConfig", async () => {
    const api = createServerApi(channel({ [Method.discoverConfig]: { path: "/w/.mirrord/mirrord.json", uri: "file:///w/.mirrord/mirrord.json", source: "default", reason: "r" } }));
    assert.deepEqual(await api.discoverConfig({ workspaceFolder: "/w" }), { path: "/w/.mirrord/mirrord.json", source: "default", reason: "r" });
  });

  it("rejects an unknown discovery source", async () => {
    const api = createServerApi(channel({ [Method.discoverConfig]: { source: "magic" } }));
    await assert.rejects(api.discoverConfig({}), /unknown source "magic"/);
  });

  it("reads verifyConfig diagnostics with ranges, and the target", async () => {
    const range = { start: { line: 1, character: 2 }, end: { line: 1, character: 8 } };
    const api = createServerApi(
      channel({
        [Method.verifyConfig]: {
          type: "Success",
          config: { path: { deployment: "api", container: "app" }, namespace: "prod" },
          warnings: ["w1"],
          diagnostics: [{ severity: "warning", message: "w1", range, code: "W", stage: "semantic", pointer: "/x" }],
        },
      }),
    );
    const got = await api.verifyConfig({ path: "/c.json" });
    assert.deepEqual(got, {
      ok: true,
      target: "deployment/api/container/app",
      namespace: "prod",
      errors: [],
      warnings: [{ message: "w1", severity: "warning", range, code: "W" }],
    });
  });

  it("a Fail is not ok even without diagnostics", async () => {
    const api = createServerApi(channel({ [Method.verifyConfig]: { type: "Fail", errors: ["bad"], warnings: [], diagnostics: [] } }));
    const got = await api.verifyConfig({ path: "/c.json" });
    assert.equal(got.ok, false);
    assert.deepEqual(got.errors, [{ message: "bad", severity: "error" }]);
  });

  it("spells targets in the CLI grammar", () => {
    const cases: [unknown, string | null][] = [
      [null, null],
      ["", null],
      ["targetless", "targetless"],
      ["pod/a/container/b", "pod/a/container/b"],
      [{ path: "deployment/x" }, "deployment/x"],
      [{ Kind: "deployment", Name: "x", Container: "" }, "deployment/x"],
      [{ kind: "pod", name: "p", container: "c" }, "pod/p/container/c"],
      [{ kind: "targetless" }, "targetless"],
      [{ Kind: "label", Name: "", Labels: [{ Key: "app", Value: "api" }, { Key: "tier", Value: "web" }], Container: "" }, "label/app=api,tier=web"],
      [{ rollout: "r", container: null }, "rollout/r"],
      [42, null],
    ];
    for (const [input, want] of cases) assert.equal(targetString(input), want, JSON.stringify(input));
  });

  it("reads listTargets with snake_case current_namespace and fills kinds", async () => {
    const api = createServerApi(
      channel({ [Method.listTargets]: { targets: [{ path: "pod/a", available: true }], current_namespace: "ns", namespaces: ["ns"] } }),
    );
    assert.deepEqual(await api.listTargets({}), {
      targets: [{ path: "pod/a", kind: "pod", namespace: "ns", available: true }],
      currentNamespace: "ns",
      namespaces: ["ns"],
    });
  });

  it("reads startSession, sends a work-done token and relays progress", async () => {
    const ch = channel(
      { [Method.startSession]: { session_id: "s", environment: { A: "1" }, env_to_unset: ["B"], warnings: ["w"] } },
      ["agent ready"],
    );
    const seen: string[] = [];
    const got = await createServerApi(ch).startSession({ target: "pod/a" }, undefined, (m) => seen.push(m));
    assert.deepEqual(got, { sessionId: "s", environment: { A: "1" }, envToUnset: ["B"], warnings: ["w"] });
    assert.deepEqual(seen, ["agent ready"]);
    const params = ch.sent[0]?.params as { workDoneToken?: string; target?: string };
    assert.match(params.workDoneToken ?? "", /^mirrord-start-/);
  });

  it("refuses a non-string environment value", async () => {
    const api = createServerApi(channel({ [Method.startSession]: { session_id: "s", environment: { A: 1 } } }));
    await assert.rejects(api.startSession({}), /environment\.A is not a string/);
  });

  it("lists and stops sessions by session_id", async () => {
    const ch = channel({
      [Method.listSessions]: [{ session_id: "s1", key: "k", target: "pod/a", namespace: "default", started_at: "2026-01-01T00:00:00Z", pid: 42 }],
      [Method.stopSession]: null,
    });
    const api = createServerApi(ch);
    assert.deepEqual(await api.listSessions(), [
      { id: "s1", key: "k", target: "pod/a", namespace: "default", startedAt: "2026-01-01T00:00:00Z", pid: 42 },
    ]);
    await api.stopSession("s1");
    assert.deepEqual(ch.sent[1], { method: Method.stopSession, params: { session_id: "s1" } });
  });

  it("maps MethodNotFound and RequestCancelled", async () => {
    const api = createServerApi(
      channel({
        [Method.listTargets]: { code: -32601, message: 'method not found: "mirrord/listTargets"' },
        [Method.listSessions]: { code: -32800, message: "request cancelled" },
      }),
    );
    const err = await api.listTargets({}).catch((e: unknown) => e);
    assert.ok(err instanceof ServerError);
    assert.ok(isMethodNotFound(err));
    assert.match((err as Error).message, /this mirrord-ls does not support mirrord\/listTargets; update it/);
    await assert.rejects(api.listSessions(), CancelledError);
  });

  it("gives up at once when cancelled, even if the server never answers", async () => {
    const source = new CancelSource();
    let passedToken = false;
    const api = createServerApi({
      request: (_m, _p, token) => {
        passedToken = token === source.token;
        return new Promise(() => undefined);
      },
      onWorkDone: () => ({ dispose: () => undefined }),
    });
    const pending = api.startSession({}, source.token);
    source.cancel();
    await assert.rejects(pending, CancelledError);
    assert.ok(passedToken, "the token reaches the channel, which sends $/cancelRequest");
  });
});
