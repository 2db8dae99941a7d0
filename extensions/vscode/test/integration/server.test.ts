// Integration tests: the extension's client code (ServerApi, resolveLaunch,
// the picker) against the real mirrord-ls binary over stdio.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import type { LaunchConfig } from "../../src/gating";
import { OPEN_CONFIG, resolveLaunch } from "../../src/launch";
import { pickTarget, TARGETLESS } from "../../src/picker";
import { Method } from "../../src/protocol";
import { isMethodNotFound, ServerError } from "../../src/serverApi";
import { labelled, MemoryStore, NullLog, ScriptedUi } from "../unit/fakes";
import { PrestartedAgent } from "./agent";
import { RealServer } from "./realServer";

const FILES: Record<string, string> = {
  ".mirrord/mirrord.json": '{\n  "target": "deployment/api",\n  "feature": { "env": true }\n}\n',
  ".mirrord/z-mirrord.yaml": "target: pod/z\n",
  "notarget.mirrord.json": '{ "feature": { "env": true } }\n',
  "targetless.mirrord.json": '{ "target": "targetless" }\n',
  "advanced.mirrord.toml": '[target]\npath = "pod/p/container/c"\nnamespace = "prod"\n',
  "bad.mirrord.json": '{\n  "target": "deployment/api",\n  "feature": {\n    "fetaure": true,\n    "env": 3\n  }\n}\n',
  "syntax.mirrord.json": '{\n  "target": "deployment/api",\n',
  "bad.mirrord.yaml": "feature:\n  network:\n    incoming: sideways\n",
};

let workspace = "";
let empty = "";
let server: RealServer;
let agent: PrestartedAgent | undefined;

before(async () => {
  workspace = mkdtempSync(path.join(tmpdir(), "mirrord-vscode-it-"));
  empty = mkdtempSync(path.join(tmpdir(), "mirrord-vscode-it-empty-"));
  for (const [rel, text] of Object.entries(FILES)) {
    mkdirSync(path.dirname(path.join(workspace, rel)), { recursive: true });
    writeFileSync(path.join(workspace, rel), text);
  }
  // Sessions connect to a pre-started agent: the test cluster runs no real pods.
  agent = await PrestartedAgent.start();
  server = await RealServer.start(workspace, { ...localClusterEnv(), ...agent.env });
});

after(async () => {
  const code = await server?.stop();
  await agent?.stop();
  rmSync(workspace, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
  assert.equal(code, 0, `mirrord-ls exit code; stderr: ${server?.stderr.join("")}`);
});

const at = (rel: string): string => path.join(workspace, rel);

describe("initialize", () => {
  it("advertises config editing and the mirrord methods", () => {
    const caps = server.initialize.capabilities;
    assert.equal(server.initialize.serverInfo?.name, "mirrord-ls");
    assert.ok(caps.textDocumentSync, "textDocumentSync");
    assert.ok(caps.completionProvider, "completion");
    assert.ok(caps.hoverProvider, "hover");
    assert.ok(caps.codeActionProvider, "code actions");
    assert.ok(server.advertises(Method.discoverConfig));
    assert.ok(server.advertises(Method.verifyConfig));
    assert.ok(caps.executeCommandProvider?.commands.includes("mirrord.discoverConfig"));
  });
});

describe("mirrord/discoverConfig", () => {
  const cases: { name: string; folder: () => string; active?: string; env?: Record<string, string>; path?: string; source: string }[] = [
    { name: "the first default config in byte order", folder: () => workspace, path: ".mirrord/mirrord.json", source: "default" },
    { name: "the active config wins", folder: () => workspace, active: "bad.mirrord.yaml", path: "bad.mirrord.yaml", source: "active" },
    {
      name: "MIRRORD_CONFIG_FILE, relative to the folder",
      folder: () => workspace,
      env: { MIRRORD_CONFIG_FILE: "notarget.mirrord.json" },
      path: "notarget.mirrord.json",
      source: "env",
    },
    { name: "none in a folder without configs", folder: () => empty, source: "none" },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const got = await server.api.discoverConfig({
        workspaceFolder: c.folder(),
        ...(c.active ? { active: at(c.active) } : {}),
        ...(c.env ? { env: c.env } : {}),
      });
      assert.equal(got.source, c.source);
      assert.equal(got.path, c.path ? at(c.path) : undefined);
      assert.ok(got.reason.length > 0);
    });
  }

  it("a missing active config is an error naming it", async () => {
    const err = await server.api.discoverConfig({ workspaceFolder: workspace, active: at("gone.mirrord.json") }).catch((e: unknown) => e);
    assert.ok(err instanceof ServerError, String(err));
    assert.match(err.message, /gone\.mirrord\.json does not exist/);
  });

  it("answers the same through workspace/executeCommand", async () => {
    const direct = await server.api.discoverConfig({ workspaceFolder: workspace });
    const viaCommand = await server.connection.sendRequest<{ path?: string; source: string }>("workspace/executeCommand", {
      command: "mirrord.discoverConfig",
      arguments: [{ workspaceFolder: workspace }],
    });
    assert.equal(viaCommand.path, direct.path);
    assert.equal(viaCommand.source, direct.source);
  });
});

describe("mirrord/verifyConfig", () => {
  const valid: { file: string; target: string | null; namespace: string | null }[] = [
    { file: ".mirrord/mirrord.json", target: "deployment/api", namespace: null },
    { file: "notarget.mirrord.json", target: null, namespace: null },
    { file: "targetless.mirrord.json", target: TARGETLESS, namespace: null },
    { file: "advanced.mirrord.toml", target: "pod/p/container/c", namespace: "prod" },
    { file: ".mirrord/z-mirrord.yaml", target: "pod/z", namespace: null },
  ];
  for (const c of valid) {
    it(`${c.file} is valid, target ${String(c.target)}`, async () => {
      const got = await server.api.verifyConfig({ path: at(c.file) });
      assert.deepEqual(got.errors, []);
      assert.equal(got.ok, true);
      assert.equal(got.target, c.target);
      assert.equal(got.namespace, c.namespace);
    });
  }

  const broken: { file: string; line: number; character: number; message: RegExp; count: number }[] = [
    { file: "bad.mirrord.json", line: 3, character: 4, message: /unknown field `fetaure`/, count: 2 },
    { file: "syntax.mirrord.json", line: 2, character: 0, message: /invalid JSON/, count: 1 },
    { file: "bad.mirrord.yaml", line: 2, character: 14, message: /unknown value `sideways`/, count: 1 },
  ];
  for (const c of broken) {
    it(`${c.file} fails with ranged errors`, async () => {
      const got = await server.api.verifyConfig({ path: at(c.file) });
      assert.equal(got.ok, false);
      assert.equal(got.errors.length, c.count);
      const first = got.errors[0];
      assert.match(first?.message ?? "", c.message);
      assert.deepEqual(first?.range?.start, { line: c.line, character: c.character });
    });
  }

  it("applies the launch env (MIRRORD_IMPERSONATED_TARGET overrides the file)", async () => {
    const got = await server.api.verifyConfig({ path: at("notarget.mirrord.json"), env: { MIRRORD_IMPERSONATED_TARGET: "deployment/from-env" } });
    assert.equal(got.ok, true);
    assert.equal(got.target, "deployment/from-env");
  });
});

describe("config editing (what the document selector sends to the server)", () => {
  type Published = { uri: string; diagnostics: { range: { start: { line: number; character: number } }; message: string }[] };
  const docs: { name: string; languageId: string; text: string; line: number; character: number; message: RegExp }[] = [
    { name: "json", languageId: "json", text: FILES["bad.mirrord.json"] ?? "", line: 3, character: 4, message: /fetaure/ },
    { name: "yaml", languageId: "yaml", text: FILES["bad.mirrord.yaml"] ?? "", line: 2, character: 14, message: /sideways/ },
    { name: "toml", languageId: "toml", text: '[feature]\nfs = "sometimes"\n', line: 1, character: 5, message: /sometimes/ },
  ];
  for (const d of docs) {
    it(`publishes ranged diagnostics for an open ${d.name} config`, async () => {
      const uri = pathToFileURL(at(`.mirrord/open-${d.name}.${d.name}`)).toString();
      await server.connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: d.languageId, version: 1, text: d.text } });
      const published = await server.waitForNotification<Published>("textDocument/publishDiagnostics", (p) => p.uri === uri && p.diagnostics.length > 0);
      const first = published.diagnostics.find((x) => d.message.test(x.message));
      assert.ok(first, published.diagnostics.map((x) => x.message).join("; "));
      assert.deepEqual(first.range.start, { line: d.line, character: d.character });
      await server.connection.sendNotification("textDocument/didClose", { textDocument: { uri } });
    });
  }
});

describe("resolveLaunch against mirrord-ls", () => {
  const launch = (env: Record<string, string> = {}): LaunchConfig => ({ type: "python", request: "launch", name: "app", program: "app.py", env });
  const deps = (ui: ScriptedUi, active?: string) => ({
    api: server.api,
    ui,
    store: new MemoryStore(),
    log: new NullLog(),
    enabled: () => true,
    activeConfig: () => (active ? at(active) : undefined),
    trusted: () => true,
  });

  it("a broken active config stops the launch with its error and opens it at the range", async () => {
    const ui = new ScriptedUi();
    ui.messageAnswer = OPEN_CONFIG;
    assert.equal(await resolveLaunch(launch(), workspace, deps(ui, "bad.mirrord.json")), undefined);
    assert.equal(ui.messages.length, 1);
    assert.equal(ui.messages[0]?.level, "error");
    assert.match(ui.messages[0]?.text ?? "", /bad\.mirrord\.json:4:5: unknown field `fetaure`.*\(and 1 more\)$/);
    assert.deepEqual(ui.opened, [{ path: at("bad.mirrord.json"), range: { start: { line: 3, character: 4 }, end: { line: 3, character: 13 } } }]);
  });

  it("a missing active config stops the launch with the server's message", async () => {
    const ui = new ScriptedUi();
    assert.equal(await resolveLaunch(launch(), workspace, deps(ui, "gone.mirrord.json")), undefined);
    assert.match(ui.messages[0]?.text ?? "", /^mirrord: active config: .*gone\.mirrord\.json does not exist$/);
  });

  it("a config with a target goes straight to startSession", async () => {
    const ui = new ScriptedUi();
    const got = await resolveLaunch(launch(), workspace, deps(ui));
    const failure = ui.messages.find((m) => m.level === "error")?.text ?? "";
    assert.ok(got, failure);
    assert.equal(ui.picks.length, 0, "no picker: the config names a target");
    assert.ok(got.env?.MIRRORD_LAYER_INTPROXY_ADDR, "the session's environment is merged");
    assert.equal(got.env?.MIRRORD_DETECT_DEBUGGER_PORT, "debugpy");
  });
});

describe("targets and sessions", () => {
  it(`${Method.listTargets} lists the local cluster and feeds the picker`, async () => {
    const list = await server.api.listTargets({});
    assert.ok(Array.isArray(list.targets));
    assert.ok(list.currentNamespace.length > 0, "a current namespace");
    assert.ok(list.namespaces.includes("kube-system"), `namespaces of the real cluster: ${list.namespaces.join(",")}`);
    const ui = new ScriptedUi([labelled("targetless")]);
    const picked = await pickTarget(server.api, ui, new MemoryStore(), { configPath: at("notarget.mirrord.json") });
    assert.deepEqual(picked, { target: TARGETLESS, namespace: list.currentNamespace });
  });

  it(`${Method.startSession}, ${Method.listSessions} and ${Method.stopSession} (targetless)`, async () => {
    let id = "";
    try {
      const start = await server.api.startSession({ configPath: at("targetless.mirrord.json"), workspaceFolder: workspace, target: TARGETLESS, debugType: "go" });
      id = start.sessionId;
      assert.ok(id, "a session id");
      assert.ok(Object.keys(start.environment).length > 0, "a launch environment");
      const listed = await server.api.listSessions();
      assert.ok(listed.some((s) => s.id === id), `session ${id} is listed`);
      await server.api.stopSession(id);
      const after = await server.api.listSessions();
      assert.ok(!after.some((s) => s.id === id), `session ${id} is gone after stop`);
      id = "";
    } finally {
      if (id) await server.api.stopSession(id).catch(() => undefined);
    }
  });

  it(`${Method.listSessions} answers a list`, async () => {
    assert.ok(Array.isArray(await server.api.listSessions()));
  });

  it(`${Method.stopSession} of an unknown session is an error`, async () => {
    const err = await server.api.stopSession("no-such-session").catch((e: unknown) => e);
    assert.ok(err instanceof ServerError && !isMethodNotFound(err), String(err));
  });
});

/** KUBECONFIG of the local control plane: `make vscode-test` starts it and sets MIRRORD_TEST_KUBECONFIG. */
function localClusterEnv(): Record<string, string> {
  const kubeconfig = process.env.MIRRORD_TEST_KUBECONFIG ?? path.resolve(__dirname, "../../../../../../.cache/cluster/state/admin.kubeconfig");
  if (!existsSync(kubeconfig)) {
    throw new Error(`no local cluster kubeconfig at ${kubeconfig}: run the tests through \`make vscode-test\`, which starts the cluster`);
  }
  return { KUBECONFIG: kubeconfig };
}
