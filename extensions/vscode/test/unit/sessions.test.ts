import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SessionInfo } from "../../src/protocol";
import { describeSession, showSessions, stopAllSessions } from "../../src/sessions";
import { esc, fakeApi, itemLabels, labelled, ScriptedUi } from "./fakes";

const sessions: SessionInfo[] = [
  { id: "s1", target: "deployment/api", namespace: "default", pid: 10, key: "k1" },
  { id: "s2", namespace: "default" },
];

describe("sessions", () => {
  it("describes a session", () => {
    assert.deepEqual(describeSession(sessions[0] as SessionInfo), {
      label: "$(plug) deployment/api (default)",
      description: "s1",
      detail: "key k1 · intproxy pid 10",
    });
    assert.equal(describeSession(sessions[1] as SessionInfo).label, "$(plug) targetless (default)");
  });

  it("stops the chosen session", async () => {
    const stopped: string[] = [];
    const api = fakeApi({
      listSessions: () => Promise.resolve(sessions),
      stopSession: (id) => {
        stopped.push(id);
        return Promise.resolve();
      },
    });
    const ui = new ScriptedUi([labelled("deployment/api"), labelled("Stop this session")]);
    await showSessions(api, ui);
    assert.deepEqual(stopped, ["s1"]);
    assert.deepEqual(itemLabels(ui.picks[0]?.items ?? []), ["$(plug) deployment/api (default)", "$(plug) targetless (default)", "$(debug-stop) Stop all sessions"]);
    assert.deepEqual(ui.messages.map((m) => m.text), ["mirrord: stopped session s1"]);
  });

  it("Back returns to the list; Esc closes without stopping", async () => {
    const api = fakeApi({ listSessions: () => Promise.resolve(sessions) });
    const ui = new ScriptedUi([labelled("targetless"), labelled("Back"), esc]);
    await showSessions(api, ui);
    assert.equal(api.calls.filter((c) => c.method === "stopSession").length, 0);
    assert.equal(ui.picks.length, 3);
  });

  it("says when nothing runs", async () => {
    const ui = new ScriptedUi();
    await showSessions(fakeApi({ listSessions: () => Promise.resolve([]) }), ui);
    assert.deepEqual(ui.messages.map((m) => m.text), ["mirrord: no sessions are running"]);
  });

  it("stop all reports the failures together", async () => {
    const api = fakeApi({
      listSessions: () => Promise.resolve(sessions),
      stopSession: (id) => (id === "s2" ? Promise.reject(new Error("socket gone")) : Promise.resolve()),
    });
    const ui = new ScriptedUi();
    assert.equal(await stopAllSessions(api, ui), 1);
    assert.deepEqual(ui.messages, [{ level: "error", text: "mirrord: could not stop 1 session(s): s2: socket gone", actions: [] }]);
  });
});
