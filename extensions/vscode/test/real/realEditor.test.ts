// The extension in a real VS Code: code-server (Code 1.100) in headless
// Chromium driven by playwright-core, the .vsix from `make vsix` installed,
// mirrord-ls bundled in it, and launches against real pods of the local
// cluster's real node. Assertions read the DOM and the state the editor
// writes (the mirrord output channel's log file, the debuggee's output);
// screenshots are saved as artifacts. Run with `make vscode-real-test`
// (docs/vscode.md).

import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before, describe, it as nodeIt, type TestContext } from "node:test";
import { chromium, type Browser, type BrowserContext, type Locator } from "playwright-core";
import { clusterInfo, ORDERS_PAGE, POD_FILE, POD_FILE_TEXT, POD_GREETING, TestNamespace, type ClusterInfo } from "./cluster";
import { CodeServer, onSignal, rssMiB } from "./codeServer";
import { until } from "./wait";
import { Workbench } from "./workbench";

const REPO = path.resolve(__dirname, "../../../../../..");
const VERSION = (JSON.parse(readFileSync(path.join(REPO, "extensions/vscode/package.json"), "utf8")) as { version: string }).version;
const VSIX = process.env.MIRRORD_VSIX ?? path.join(REPO, "bin", `mirrord-ls-vscode-${VERSION}.vsix`);
const CODE_SERVER = process.env.CODE_SERVER_DIR ?? "";
const ARTIFACTS = process.env.MIRRORD_REAL_ARTIFACTS ?? path.join(REPO, ".cache/vscode-real/artifacts");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** What the debuggee writes: see app.js below. */
interface Probe {
  pid: number;
  greeting: string | null;
  file: string;
  orders: string;
  ordersPage: string;
  echo?: string;
  echoClosed?: boolean;
  echoError?: string;
  /** The output of a static Go program the debuggee ran (GOPROBE). */
  goStatic?: string;
}

// The debuggee: what it sees of the target (an env var, a pod-only file,
// a Service name resolved and called), then a connection held open to the
// echo Service so stopping the session is visible to it.
const APP = `const fs = require("fs"), dns = require("dns"), http = require("http"), net = require("net");
const result = { pid: process.pid, greeting: process.env.APP_GREETING ?? null };
const write = () => fs.writeFileSync(process.env.PROBE_OUT, JSON.stringify(result));
try { result.file = fs.readFileSync(${JSON.stringify(POD_FILE)}, "utf8").trim(); } catch (e) { result.file = "error: " + e.code; }
// A static Go program started by the debuggee: LD_PRELOAD cannot load
// into it; mirrord's layer runs it under the seccomp supervisor.
if (process.env.GOPROBE) {
  require("child_process").execFile(process.env.GOPROBE, ["cat=${POD_FILE}", "get=http://orders/"], { timeout: 60000 }, (err, stdout) => {
    result.goStatic = err ? "error: " + err.message + " " + stdout : stdout;
    write();
  });
}
dns.lookup("orders", (err, address) => {
  result.orders = err ? "error: " + err.code : address;
  http.get("http://orders/", (res) => {
    let body = "";
    res.on("data", (d) => (body += d));
    res.on("end", () => { result.ordersPage = body.trim(); hold(); });
  }).on("error", (e) => { result.ordersPage = "error: " + e.message; hold(); });
});
function hold() {
  const s = net.connect(9000, "echo", () => s.write("ping\\n"));
  s.on("data", (d) => { result.echo = d.toString().trim(); write(); });
  s.on("close", () => { result.echoClosed = true; write(); });
  s.on("error", (e) => { result.echoError = e.message; write(); });
}
setInterval(() => undefined, 1000);
`;

// A config with two mistakes (an enum value and a key), for Problems and
// the config-error launch; a copy of it is edited by the completion,
// quick-fix and restart tests.
const BROKEN = `{
  "feature": {
    "network": { "incoming": "mirorr" }
  },
  "agnet": {}
}
`;

function writeWorkspace(ws: string, c: ClusterInfo): void {
  const w = (rel: string, text: string): void => {
    mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
    writeFileSync(path.join(ws, rel), text);
  };
  // The launch config: our agent image, pinned to the real node (the
  // targetless agent has no target node to follow; kwok nodes run nothing).
  w(
    ".mirrord/mirrord.json",
    `${JSON.stringify(
      {
        agent: { image: c.agentImage, startup_timeout: 90, node_selector: { "kubernetes.io/hostname": c.node } },
        feature: { network: { incoming: "mirror", outgoing: true }, fs: "read", env: true },
      },
      null,
      2,
    )}\n`,
  );
  w("broken/mirrord.json", BROKEN);
  w("edit/mirrord.json", BROKEN);
  w("app.js", APP);
  // a static (CGO_ENABLED=0) Go program for the debuggee to start
  const build = spawnSync("go", ["build", "-o", path.join(ws, "bin/goprobe-static"), "./layer/supervisor/testdata/goprobe"], {
    cwd: REPO,
    env: { ...process.env, CGO_ENABLED: "0" },
    encoding: "utf8",
  });
  assert.equal(build.status, 0, `go build goprobe: ${build.stderr}`);
  const probe = { PROBE_OUT: "${workspaceFolder}/out/probe.json", GOPROBE: "${workspaceFolder}/bin/goprobe-static" };
  w(
    ".vscode/launch.json",
    `${JSON.stringify(
      {
        version: "0.2.0",
        configurations: [
          { name: "Node probe", type: "node", request: "launch", program: "${workspaceFolder}/app.js", env: probe },
          {
            name: "Node probe (broken config)",
            type: "node",
            request: "launch",
            program: "${workspaceFolder}/app.js",
            env: { ...probe, MIRRORD_CONFIG_FILE: "${workspaceFolder}/broken/mirrord.json" },
          },
        ],
      },
      null,
      2,
    )}\n`,
  );
  mkdirSync(path.join(ws, "out"), { recursive: true });
}

/**
 * Stops the sessions the extension started (their intproxies are not in
 * code-server's process group: sessions outlive the editor by design).
 */
function stopSessions(log: string): void {
  const mirrord = path.join(path.dirname(VSIX), "mirrord");
  for (const m of log.matchAll(/session (\S+) started for/g)) {
    spawnSync(mirrord, ["session", "stop", m[1]!], { timeout: 30_000, stdio: "ignore" });
  }
}

let failureShot: ((name: string) => Promise<unknown>) | undefined;

/** A test step that leaves a screenshot when it fails. */
function it(name: string, fn: (t: TestContext) => void | Promise<void>): void {
  nodeIt(name, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      await failureShot?.(`FAILED ${name}`);
      throw err;
    }
  });
}

const metrics: string[] = [];
function metric(t: TestContext, line: string): void {
  metrics.push(line);
  t.diagnostic(`metric: ${line}`);
  console.log(`real-editor metric: ${line}`);
}

describe("the extension in a real VS Code (code-server + Chromium)", { timeout: 20 * 60_000 }, () => {
  let home = "";
  let ws = "";
  let cluster: ClusterInfo;
  let ns: TestNamespace | undefined;
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let wb: Workbench;
  const probePath = (): string => path.join(ws, "out/probe.json");
  const readProbe = (): Probe | undefined => {
    try {
      return JSON.parse(readFileSync(probePath(), "utf8")) as Probe;
    } catch {
      return undefined;
    }
  };
  const log = (): string => server?.extensionLog() ?? "";
  const waitLog = (what: string, re: RegExp, timeoutMs = 60_000): Promise<string> =>
    until(`the mirrord log to show ${what}`, timeoutMs, () => re.exec(log())?.[0]);

  before(async () => {
    assert.ok(CODE_SERVER && existsSync(path.join(CODE_SERVER, "out/node/entry.js")), `CODE_SERVER_DIR=${CODE_SERVER} is not a code-server install (scripts/code-server-install.sh)`);
    assert.ok(existsSync(VSIX), `${VSIX} is missing: make vsix`);
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    cluster = clusterInfo(REPO);
    home = mkdtempSync(path.join(tmpdir(), "mirrord-vscode-real-"));
    ws = path.join(home, "workspace");
    writeWorkspace(ws, cluster);
    const [created, started] = await Promise.allSettled([
      TestNamespace.create(cluster),
      CodeServer.start({
        dir: CODE_SERVER,
        vsix: VSIX,
        home: path.join(home, "code-server"),
        env: { KUBECONFIG: cluster.kubeconfig },
        settings: {
          "mirrord.trace.server": "messages",
          "workbench.startupEditor": "none",
          "workbench.tips.enabled": false,
          "security.workspace.trust.enabled": false,
          "extensions.autoCheckUpdates": false,
          "extensions.autoUpdate": false,
          "telemetry.telemetryLevel": "off",
          "debug.internalConsoleOptions": "neverOpen",
        },
      }),
    ]);
    if (created.status === "fulfilled") ns = created.value;
    onSignal(() => {
      stopSessions(server?.extensionLog() ?? "");
      ns?.deleteNow();
      rmSync(home, { recursive: true, force: true });
    });
    if (started.status === "fulfilled") server = started.value;
    if (created.status === "rejected") throw created.reason;
    if (started.status === "rejected") throw started.reason;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"] });
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    wb = new Workbench(await context.newPage(), ARTIFACTS);
    failureShot = async (name) => {
      await wb.screenshot(name);
      if (server) writeFileSync(path.join(ARTIFACTS, "mirrord.log"), server.extensionLog());
    };
  });

  after(async () => {
    if (wb) await wb.screenshot("final");
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.stop();
    stopSessions(server?.extensionLog() ?? "");
    await ns?.delete();
    if (metrics.length > 0) writeFileSync(path.join(ARTIFACTS, "metrics.txt"), `${metrics.join("\n")}\n`);
    if (server) {
      writeFileSync(path.join(ARTIFACTS, "mirrord.log"), server.extensionLog());
      try {
        writeFileSync(path.join(ARTIFACTS, "code-server.log"), readFileSync(path.join(server.home, "code-server.log")));
      } catch {
        // no log
      }
    }
    rmSync(home, { recursive: true, force: true });
  });

  it("shows the status item after the window opens", async (t) => {
    const t0 = Date.now();
    await wb.page.goto(server!.folderUrl(ws));
    await wb.waitReady();
    const workbench = Date.now() - t0;
    assert.equal(await wb.mirrordEnabled(), false, "mirrord starts disabled (enabledByDefault is false)");
    metric(t, `window open -> workbench ${workbench} ms, -> mirrord status item ${Date.now() - t0} ms`);
    const label = await wb.statusItem().locator("a").getAttribute("aria-label");
    assert.equal(label, "mirrord, disabled", "the status item's accessible label is short, not its markdown tooltip");
    await waitLog("the server running", /mirrord-ls \S+ is running; methods: .*mirrord\/startSession/);
    await wb.screenshot("window-open");
  });

  it("mirrord.trace.server logs the JSON-RPC traffic", async () => {
    await waitLog("a traced request", /\[trace\] Sending request 'initialize/);
    await waitLog("a traced answer", /\[trace\] Received response 'mirrord\/listSessions/);
  });

  it("toggles off -> on -> off, and the state survives a window reload", async () => {
    await wb.statusItem().locator("a").click();
    await wb.waitMirrord(true);
    await wb.statusItem().locator("a").click();
    await wb.waitMirrord(false);
    await wb.statusItem().locator("a").click();
    await wb.waitMirrord(true);
    await wb.screenshot("toggle-on");
    await wb.reloadWindow();
    await wb.waitMirrord(true, 120_000);
    // ... and the palette command toggles too.
    await wb.runCommand("mirrord: Toggle mirrord (enable/disable)");
    await wb.waitMirrord(false);
    await wb.reloadWindow();
    await wb.waitMirrord(false, 120_000);
    await waitLog("the server of the reloaded window", /mirrord-ls \S+ is running[^\n]*\n[\s\S]*mirrord-ls \S+ is running[\s\S]*mirrord-ls \S+ is running/, 120_000);
  });

  it("tooltip links run the extension's commands", async () => {
    const hoverLink = async (text: string): Promise<void> => {
      await wb.page.mouse.move(0, 0);
      await wb.statusItem().hover();
      const link = wb.page.locator(".monaco-hover a").filter({ hasText: text }).first();
      await link.waitFor({ state: "visible", timeout: 30_000 });
      await link.click();
    };
    await hoverLink("disabled");
    await wb.waitMirrord(true);
    await hoverLink("enabled");
    await wb.waitMirrord(false);
    await hoverLink("Open config");
    await wb.waitActiveEditor(".mirrord/mirrord.json");
    await hoverLink("Log");
    await wb.waitOutputChannel("mirrord", "[info]");
    await wb.screenshot("tooltip-log");
    await hoverLink("Sessions");
    await wb.notification("no sessions are running");
    await wb.dismissHover();
    await wb.clearNotifications();
  });

  it("shows mirrord-ls's diagnostics with exact ranges, and no second JSON-schema problem", async () => {
    await wb.openFile("broken/mirrord.json");
    const rows = await wb.waitProblems("two problems in broken/mirrord.json", (r) => r.filter((l) => /mirorr|agnet/.test(l)).length >= 2);
    await wb.screenshot("problems");
    const mine = rows.filter((l) => /generated by mirrord/.test(l));
    const value = mine.find((l) => l.includes("unknown value `mirorr`"));
    const key = mine.find((l) => l.includes("unknown field `agnet`"));
    // Positions are 1-based in the Problems view.
    const lines = BROKEN.split("\n");
    assert.ok(value?.includes(`at line 3 and character ${lines[2]!.indexOf('"mirorr"') + 1}`), `mirorr problem: ${value}`);
    assert.ok(key?.includes(`at line 5 and character ${lines[4]!.indexOf('"agnet"') + 1}`), `agnet problem: ${key}`);
    const others = rows.filter((l) => /^(Error|Warning|Info)/.test(l) && !/generated by mirrord/.test(l) && /mirorr|agnet|incoming|not allowed|Value is not accepted|Property/.test(l));
    assert.deepEqual(others, [], "VS Code's own JSON validation adds no second problem");
    // The range's end: opening the problem selects it.
    const row = wb.page.locator(".markers-panel .monaco-list-row").filter({ hasText: "mirorr" }).first();
    await row.click();
    await wb.page.keyboard.press("Enter");
    // The status shows the selection's active end: the range is [30, 38).
    await until("the problem's range selected", 30_000, async () => {
      const s = await wb.selectionStatus();
      return s === `Ln 3, Col ${lines[2]!.indexOf('"mirorr"') + 1 + '"mirorr"'.length} (${'"mirorr"'.length} selected)` ? s : undefined;
    });
  });

  it("completes keys and enum values, and applies a quick fix", async () => {
    await wb.openFile("edit/mirrord.json");
    const lines = BROKEN.split("\n");
    // Inside the enum value: "mirorr" -> offers mirror/steal/off.
    await wb.goTo(`3:${lines[2]!.indexOf('"mirorr"') + 2}`);
    await wb.page.keyboard.press("Control+Space");
    const values = await wb.suggestions();
    await wb.screenshot("completion-values");
    for (const v of ["mirror", "steal", "off"]) assert.ok(values.some((l) => l.startsWith(v) || l.includes(`"${v}"`)), `enum value ${v} offered: ${values.join(" | ")}`);
    await wb.page.keyboard.press("Escape");
    // A new key in "feature": offers its fields.
    await wb.goTo(`2:${lines[1]!.length + 1}`);
    await wb.page.keyboard.press("Enter");
    await wb.page.keyboard.type('"');
    await wb.page.keyboard.press("Control+Space");
    const keys = await wb.suggestions();
    await wb.screenshot("completion-keys");
    for (const k of ["network", "fs", "env"]) assert.ok(keys.some((l) => l.startsWith(k) || l.includes(`"${k}"`)), `key ${k} offered: ${keys.join(" | ")}`);
    await wb.page.keyboard.press("Escape");
    await wb.page.keyboard.press("Control+Z");
    await wb.page.keyboard.press("Control+Z");
    await until("the edit undone", 10_000, async () => ((await wb.editorText()).startsWith(BROKEN.split("\n").slice(0, 3).join("\n")) ? true : undefined));
    // Quick fix on the misspelled key.
    await wb.goTo(`5:${lines[4]!.indexOf('"agnet"') + 2}`);
    await wb.page.keyboard.press("Control+.");
    const action = wb.page.locator(".action-widget .monaco-list-row").filter({ hasText: 'Change to "agent"' }).first();
    await action.waitFor({ state: "visible", timeout: 30_000 });
    await wb.screenshot("quick-fix");
    await until("the fix focused in the action list", 10_000, async () => {
      if (((await action.getAttribute("class")) ?? "").includes("focused")) return true;
      await wb.page.keyboard.press("ArrowDown");
      return undefined;
    });
    await wb.page.keyboard.press("Enter");
    await until("the quick fix applied", 30_000, async () => ((await wb.editorText()).includes('"agent": {}') ? true : undefined));
    await wb.waitProblems("the agnet problem gone from edit/mirrord.json", (r) => !r.some((l) => l.includes("`agnet`") && l.includes("edit")) && r.filter((l) => l.includes("mirorr")).length >= 1);
  });

  it("restarts a killed mirrord-ls, and diagnostics come back", async () => {
    const before = server!.newestServerPid();
    assert.ok(before, "a mirrord-ls runs");
    process.kill(before, "SIGKILL");
    await waitLog("the restart", /mirrord-ls exited; restarting it/);
    const after = await until("a new mirrord-ls", 60_000, () => {
      const p = server!.newestServerPid();
      return p && p !== before ? p : undefined;
    });
    assert.notEqual(after, before);
    // A new mistake in the open document is diagnosed by the new server.
    await wb.openFile("edit/mirrord.json");
    const line = (await wb.editorText()).split("\n")[4] ?? "";
    const col = line.indexOf('"agent"') + 7;
    await wb.goTo(`5:${col}`);
    await wb.page.keyboard.type("x");
    await wb.waitProblems("the new server's diagnostic for agentx", (r) => r.some((l) => l.includes("`agentx`") && /generated by mirrord/.test(l)));
    await wb.screenshot("after-restart");
  });

  it("runs every other command: select active config, open config, restart server, show log", async () => {
    await wb.runCommand("mirrord: Select active configuration");
    await wb.quickPick("select the active config");
    await wb.pick(".mirrord/mirrord.json");
    await until("the active config in the tooltip", 30_000, async () =>
      ((await wb.statusItem().locator("a").getAttribute("aria-label")) ?? "").includes("active config .mirrord/mirrord.json") ? true : undefined,
    );
    await wb.runCommand("mirrord: Open configuration (create the default if none)");
    await wb.waitActiveEditor(".mirrord/mirrord.json");
    await wb.runCommand("mirrord: Select active configuration");
    await wb.quickPick("select the active config");
    await wb.pick("Unset active config");
    await until("no active config", 30_000, async () =>
      ((await wb.statusItem().locator("a").getAttribute("aria-label")) ?? "").includes("active config") ? undefined : true,
    );
    const before = server!.newestServerPid();
    await wb.runCommand("mirrord: Restart server");
    await waitLog("the restart", /restarting mirrord-ls/);
    await until("a restarted mirrord-ls", 60_000, () => {
      const p = server!.newestServerPid();
      return p && p !== before ? p : undefined;
    });
    await wb.runCommand("mirrord: Show log");
    await wb.waitOutputChannel("mirrord", "[info]");
    const errors = (await wb.notificationTexts()).filter((n) => /invalid params|mirrord: .*:/.test(n));
    assert.deepEqual(errors, [], "no command failed");
    await wb.clearNotifications();
  });

  it("Esc in the target picker cancels the launch", async () => {
    if (!(await wb.mirrordEnabled())) await wb.runCommand("mirrord: Toggle mirrord (enable/disable)");
    await wb.waitMirrord(true);
    await wb.closeQuickInput();
    await wb.page.keyboard.press("F5");
    await wb.quickPick("mirrord: choose a target", 120_000);
    await wb.screenshot("picker-esc");
    await wb.page.keyboard.press("Escape");
    await waitLog("the cancelled launch", /launch "Node probe" cancelled in the target picker/);
    assert.equal(await wb.debugging(), false, "no debug session started");
    assert.equal(existsSync(probePath()), false, "the program did not run");
  });

  it("F5 runs the Node program in a real pod picked in the real quick pick; Show sessions stops it", async (t) => {
    const f5 = Date.now();
    await wb.page.keyboard.press("F5");
    const first = await wb.quickPick("mirrord: choose a target", 120_000);
    const pickerShown = Date.now() - f5;
    assert.ok(first.some((l) => l.includes("Select another namespace")), `namespace switch offered: ${first.join(" | ")}`);
    await wb.pick("Select another namespace", "another namespace");
    await wb.quickPick("choose a namespace");
    await wb.pick(ns!.name);
    await until(`the picker to list ${ns!.name}`, 60_000, async () => ((await wb.quickPickTitle()).includes(ns!.name) ? true : undefined));
    const rows = await wb.quickPick(`in ${ns!.name}`);
    await wb.screenshot("picker-namespace");
    // The filter narrows the list to the one target.
    await wb.page.locator(".quick-input-widget input").fill("deployment/api");
    const filtered = await until("the filtered picker", 30_000, async () => {
      const r = await wb.quickPick(`in ${ns!.name}`);
      return r.some((l) => l.includes("deployment/orders")) ? undefined : r;
    });
    assert.ok(filtered.some((l) => l.startsWith("deployment/api")), `filter keeps deployment/api: ${filtered.join(" | ")} (all: ${rows.join(" | ")})`);
    const chosen = Date.now();
    await wb.pick("deployment/api");
    const probe = await until("the debuggee's probe", 240_000, () => {
      const p = readProbe();
      return (p?.echo || p?.echoError) && p.goStatic !== undefined ? p : undefined;
    });
    const running = Date.now();
    await wb.screenshot("debuggee-running");
    assert.equal(probe.greeting, POD_GREETING, "the pod's environment");
    assert.equal(probe.file, POD_FILE_TEXT, "the pod-only file");
    assert.match(probe.orders, /^\d+\.\d+\.\d+\.\d+$/, "the orders Service resolved");
    assert.equal(probe.ordersPage, ORDERS_PAGE, "the orders Service called");
    assert.equal(probe.echo, "ping");
    // the static Go program the debuggee started sees the pod too
    assert.ok(probe.goStatic!.includes(`cat ${JSON.stringify(POD_FILE_TEXT + "\n")}`), `static Go program's pod-only file: ${probe.goStatic}`);
    assert.ok(probe.goStatic!.includes(ORDERS_PAGE), `static Go program called the orders Service: ${probe.goStatic}`);
    assert.ok(await wb.debugging(), "the debug session runs");
    metric(t, `F5 -> target picker ${pickerShown} ms; target chosen -> debuggee running with mirrord in the real pod ${running - chosen} ms; F5 -> running ${running - f5} ms (includes the picker's clicks)`);
    const ext = rssMiB(server!.newestExtensionHostPid());
    const ls = rssMiB(server!.newestServerPid());
    metric(t, `memory with a session running: extension host ${ext} MiB, mirrord-ls ${ls} MiB, together ${(ext ?? 0) + (ls ?? 0)} MiB`);
    await waitLog("the session", /session \S+ started for "Node probe"/);

    await wb.runCommand("mirrord: Show sessions");
    const sessions = await wb.quickPick(/mirrord: 1 session/);
    await wb.screenshot("show-sessions");
    assert.ok(sessions.some((l) => l.includes("deployment/api") && l.includes(ns!.name)), `the session is listed: ${sessions.join(" | ")}`);
    await wb.pick("deployment/api");
    await wb.quickPick("mirrord: session");
    await wb.pick("Stop this session");
    await wb.notification("stopped session");
    const closed = await until("the debuggee to see its connection closed", 120_000, () => {
      const p = readProbe();
      return p?.echoClosed || p?.echoError ? p : undefined;
    });
    assert.ok(closed.echoClosed, `the debuggee's connection through the session was closed: ${JSON.stringify(closed)}`);
    await wb.page.keyboard.press("Shift+F5");
    await until("the debug session to end", 60_000, async () => ((await wb.debugging()) ? undefined : true));
    await wb.clearNotifications();
  });

  it("runs targetless from the picker; Stop all sessions ends it", async () => {
    rmSync(probePath(), { force: true });
    await wb.page.keyboard.press("F5");
    const first = await wb.quickPick("mirrord: choose a target", 120_000);
    // The picker opens where the last target was chosen, offering it first.
    assert.ok((await wb.quickPickTitle()).includes(ns!.name), `the picker opens in ${ns!.name}: ${await wb.quickPickTitle()}`);
    assert.ok(first[0]?.includes("Use most recent target: deployment/api"), `most recent target first: ${first.join(" | ")}`);
    await wb.pick('No target ("targetless")', "targetless");
    const probe = await until("the targetless debuggee's probe", 240_000, () => {
      const p = readProbe();
      return p?.echo || p?.echoError ? p : undefined;
    });
    assert.equal(probe.echo, "ping", `the echo Service through the targetless agent: ${JSON.stringify(probe)}`);
    assert.equal(probe.greeting, null, "no target environment");
    assert.match(probe.orders, /^\d+\.\d+\.\d+\.\d+$/, "the cluster's DNS");
    await wb.runCommand("mirrord: Stop all sessions");
    await wb.notification("stopped 1 session");
    await until("the targetless debuggee to see its connection closed", 120_000, () => (readProbe()?.echoClosed ? true : undefined));
    await wb.page.keyboard.press("Shift+F5");
    await until("the debug session to end", 60_000, async () => ((await wb.debugging()) ? undefined : true));
    await wb.clearNotifications();
  });

  it("F5 with a pre-started agent: the debuggee runs with the agent's environment", async (t) => {
    rmSync(probePath(), { force: true });
    // A targetless agent on loopback; its own environment is the
    // "remote" one. The token travels in the environment only.
    const token = randomBytes(16).toString("hex");
    const agent = spawn(path.join(path.dirname(VSIX), "mirrord-agent"), ["targetless", "--listen", "127.0.0.1:0", "--linger", "120s"], {
      env: { ...process.env, MIRRORD_AGENT_TOKEN: token, APP_GREETING: "from the pre-started agent" },
      stdio: ["ignore", "pipe", "ignore"],
    });
    try {
      const addr = await new Promise<string>((resolve, reject) => {
        let listening = "";
        const timer = setTimeout(() => reject(new Error("mirrord-agent not ready after 30s")), 30_000);
        agent.once("exit", (code) => reject(new Error(`mirrord-agent exited with ${String(code)}`)));
        createInterface({ input: agent.stdout }).on("line", (line) => {
          if (line.startsWith("listening on ")) listening = line.slice("listening on ".length);
          if (line.startsWith("agent ready") && listening) {
            clearTimeout(timer);
            resolve(listening);
          }
        });
      });
      mkdirSync(path.join(ws, "prestarted"), { recursive: true });
      writeFileSync(path.join(ws, "prestarted/mirrord.json"), `${JSON.stringify({ target: "targetless", feature: { env: true, fs: "local" } })}\n`);
      const launchFile = path.join(ws, ".vscode/launch.json");
      const launch = JSON.parse(readFileSync(launchFile, "utf8")) as { configurations: object[] };
      launch.configurations.push({
        name: "Node probe (pre-started agent)",
        type: "node",
        request: "launch",
        program: "${workspaceFolder}/app.js",
        env: {
          PROBE_OUT: "${workspaceFolder}/out/probe.json",
          MIRRORD_CONFIG_FILE: "${workspaceFolder}/prestarted/mirrord.json",
          MIRRORD_AGENT_ADDRESS: addr,
          MIRRORD_AGENT_TOKEN: token,
        },
      });
      writeFileSync(launchFile, `${JSON.stringify(launch, null, 2)}\n`);
      // VS Code notices the changed launch.json on its own time: open the
      // list again until it offers the new configuration.
      await until(
        "the new launch configuration offered",
        60_000,
        async () => {
          await wb.runCommand("Debug: Select and Start Debugging");
          const rows = await wb.quickPick(/./);
          if (rows.some((r) => r.includes("Node probe (pre-started agent)"))) return true;
          await wb.page.keyboard.press("Escape");
          return undefined;
        },
        1000,
      );
      const f5 = Date.now();
      await wb.pick("Node probe (pre-started agent)", "debug Node probe (pre-started agent)");
      const probe = await until("the debuggee's probe", 120_000, () => {
        const p = readProbe();
        return p?.echo || p?.echoError ? p : undefined;
      });
      const running = Date.now();
      await wb.screenshot("prestarted-running");
      assert.equal(probe.greeting, "from the pre-started agent", `the agent's environment: ${JSON.stringify(probe)}`);
      metric(t, `F5 -> debuggee running with mirrord (pre-started agent) ${running - f5} ms`);
      await wb.runCommand("mirrord: Stop all sessions");
      await wb.notification("stopped 1 session");
      await wb.page.keyboard.press("Shift+F5");
      await until("the debug session to end", 60_000, async () => ((await wb.debugging()) ? undefined : true));
      await wb.clearNotifications();
    } finally {
      agent.kill("SIGTERM");
    }
  });

  it("a config error cancels the launch with a message that opens the config at the error", async () => {
    rmSync(probePath(), { force: true });
    await wb.runCommand("Debug: Select and Start Debugging");
    await wb.quickPick(/./);
    // The debug quick access keeps its "debug " prefix.
    await wb.pick("Node probe (broken config)", "debug Node probe (broken config)");
    const toast = await wb.notification("broken/mirrord.json:3:");
    await wb.screenshot("config-error");
    assert.equal(await wb.debugging(), false, "no debug session started");
    await toast.locator(".monaco-button").filter({ hasText: "Open config" }).click();
    await wb.waitActiveEditor("broken/mirrord.json");
    const lines = BROKEN.split("\n");
    const col = lines[2]!.indexOf('"mirorr"') + 1 + '"mirorr"'.length;
    await until("the error selected", 30_000, async () => ((await wb.selectionStatus()) === `Ln 3, Col ${col} (${'"mirorr"'.length} selected)` ? true : undefined));
    assert.equal(existsSync(probePath()), false, "the program did not run");
  });

  it("Open configuration creates the default config when there is none", async () => {
    const config = path.join(ws, ".mirrord/mirrord.json");
    await wb.runCommand("View: Close All Editors");
    rmSync(config);
    await wb.runCommand("mirrord: Open configuration (create the default if none)");
    await wb.waitActiveEditor(".mirrord/mirrord.json");
    const written = await until("the default config on disk", 30_000, () => (existsSync(config) ? readFileSync(config, "utf8") : undefined));
    assert.deepEqual(JSON.parse(written), { feature: { network: { incoming: "mirror", outgoing: true }, fs: "read", env: true } });
    await until("the default config in the editor", 30_000, async () => ((await wb.editorText()).includes('"incoming": "mirror"') ? true : undefined));
    await wb.screenshot("default-config");
  });

  it("no request of the session failed with invalid params", () => {
    const text = log();
    assert.ok(text.includes("Sending request 'mirrord/discoverConfig"), "the log has the traced requests");
    assert.deepEqual(text.split("\n").filter((l) => /invalid params|params must be an object/.test(l)), []);
  });
});

/**
 * A repository a user does not trust: a config naming a kubeconfig of the
 * repository, whose user is an exec credential plugin that leaves a marker
 * file and hands out the local cluster's admin token (as
 * server/kubetargets/trust_test.go does), and a config with a mistake.
 */
function writeUntrustedWorkspace(ws: string, c: ClusterInfo): { marker: string } {
  const admin = readFileSync(c.kubeconfig, "utf8");
  const field = (name: string): string => {
    const m = new RegExp(`${name}:\\s*([^\\s,}]+)`).exec(admin);
    if (!m?.[1]) throw new Error(`${c.kubeconfig} has no ${name}`);
    return m[1];
  };
  const marker = path.join(ws, "plugin-ran");
  const w = (rel: string, text: string, mode = 0o644): void => {
    mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
    writeFileSync(path.join(ws, rel), text, { mode });
  };
  const credential = JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token: field("token") } });
  w("tools/plugin.sh", `#!/bin/sh\necho ran >> '${marker}'\nprintf '%s' '${credential}'\n`, 0o700);
  w(
    "repo.kubeconfig",
    `apiVersion: v1
kind: Config
clusters:
- name: repo
  cluster: {server: ${JSON.stringify(field("server"))}, certificate-authority: ${JSON.stringify(field("certificate-authority"))}}
contexts:
- name: repo
  context: {cluster: repo, user: repo}
current-context: repo
users:
- name: repo
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ${JSON.stringify(path.join(ws, "tools/plugin.sh"))}
      interactiveMode: Never
`,
    0o600,
  );
  w(".mirrord/mirrord.json", `${JSON.stringify({ kubeconfig: "../repo.kubeconfig", target: { namespace: "default", path: "pod/ghost" } }, null, 2)}\n`);
  w("broken/mirrord.json", BROKEN);
  return { marker };
}

describe("Restricted Mode: the extension in an untrusted workspace, then trusted through the UI", { timeout: 10 * 60_000 }, () => {
  let home = "";
  let ws = "";
  let marker = "";
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let wb: Workbench;
  const artifacts = path.join(ARTIFACTS, "restricted");
  const log = (): string => server?.extensionLog() ?? "";
  const waitLog = (what: string, re: RegExp, timeoutMs = 60_000): Promise<string> =>
    until(`the mirrord log to show ${what}`, timeoutMs, () => re.exec(log())?.[0]);
  const pluginRan = (): boolean => existsSync(marker);
  /**
   * A row of the Problems view showing mirrord-ls's diagnostic code (shown
   * as "mirrord(CODE)"; the parentheses come from CSS, not the text).
   */
  const problemRow = (code: string): Locator =>
    wb.page.locator(".markers-panel .monaco-list-row").filter({ hasText: "mirrord" }).filter({ hasText: code }).first();
  const notTrusted = (l: string): boolean => l.includes("workspace not trusted") && l.includes("repo.kubeconfig");
  const targetNotFound = (l: string): boolean => /ghost/.test(l) && /generated by mirrord/.test(l) && !l.includes("workspace not trusted");

  before(async () => {
    assert.ok(CODE_SERVER && existsSync(path.join(CODE_SERVER, "out/node/entry.js")), `CODE_SERVER_DIR=${CODE_SERVER} is not a code-server install (scripts/code-server-install.sh)`);
    assert.ok(existsSync(VSIX), `${VSIX} is missing: make vsix`);
    const cluster = clusterInfo(REPO);
    home = mkdtempSync(path.join(tmpdir(), "mirrord-vscode-restricted-"));
    onSignal(() => rmSync(home, { recursive: true, force: true }));
    ws = path.join(home, "untrusted-repo");
    ({ marker } = writeUntrustedWorkspace(ws, cluster));
    server = await CodeServer.start({
      dir: CODE_SERVER,
      vsix: VSIX,
      home: path.join(home, "code-server"),
      // The user's own kubeconfig: usable in any workspace.
      env: { KUBECONFIG: cluster.kubeconfig },
      workspaceTrust: true,
      settings: {
        // Workspace trust on, and no startup dialog: an untrusted folder
        // opens in Restricted Mode, with its banner (Code 1.100: "never"
        // asks nothing and leaves the folder untrusted).
        "security.workspace.trust.enabled": true,
        "security.workspace.trust.startupPrompt": "never",
        "security.workspace.trust.banner": "always",
        "mirrord.trace.server": "verbose",
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": false,
        "extensions.autoCheckUpdates": false,
        "extensions.autoUpdate": false,
        "telemetry.telemetryLevel": "off",
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"] });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    wb = new Workbench(await context.newPage(), artifacts);
    failureShot = async (name) => {
      await wb.screenshot(name);
      writeFileSync(path.join(artifacts, "mirrord.log"), log());
    };
  });

  after(async () => {
    if (wb) await wb.screenshot("final");
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (metrics.length > 0) writeFileSync(path.join(ARTIFACTS, "metrics.txt"), `${metrics.join("\n")}\n`);
    if (server) {
      mkdirSync(artifacts, { recursive: true });
      writeFileSync(path.join(artifacts, "mirrord.log"), log());
      try {
        writeFileSync(path.join(artifacts, "code-server.log"), readFileSync(path.join(server.home, "code-server.log")));
      } catch {
        // no log
      }
    }
    rmSync(home, { recursive: true, force: true });
  });

  it("opens the folder in Restricted Mode, with the mirrord status item", async (t) => {
    const t0 = Date.now();
    await wb.page.goto(server!.folderUrl(ws));
    await wb.waitReady();
    await wb.page.locator(".part.banner").filter({ hasText: "Restricted Mode is intended for safe code browsing" }).waitFor({ state: "visible", timeout: 60_000 });
    assert.equal(await wb.mirrordEnabled(), false, "the extension runs in Restricted Mode: its status item is there");
    metric(t, `restricted: window open -> mirrord status item ${Date.now() - t0} ms`);
    // The server was told: initializationOptions.workspaceTrusted is false.
    await waitLog("the untrusted initialize", /"workspaceTrusted": false/);
    await waitLog("the server running", /mirrord-ls \S+ is running/);
    await wb.screenshot("restricted-window");
  });

  it("validates and completes a config in Restricted Mode", async () => {
    await wb.openFile("broken/mirrord.json");
    const rows = await wb.waitProblems("mirrord-ls's problem in broken/mirrord.json", (r) => r.some((l) => l.includes("unknown value `mirorr`") && /generated by mirrord/.test(l)));
    assert.ok(rows.some((l) => l.includes("unknown field `agnet`")), `both mistakes: ${rows.join(" | ")}`);
    await wb.screenshot("restricted-problems");
    const lines = BROKEN.split("\n");
    await wb.goTo(`3:${lines[2]!.indexOf('"mirorr"') + 2}`);
    await wb.page.keyboard.press("Control+Space");
    const values = await wb.suggestions();
    assert.ok(values.some((l) => l.includes("steal")), `enum values offered: ${values.join(" | ")}`);
    await wb.page.keyboard.press("Escape");
  });

  it("warns WORKSPACE-NOT-TRUSTED instead of using the repository's kubeconfig; its exec plugin never runs", async () => {
    await wb.openFile(".mirrord/mirrord.json");
    const rows = await wb.waitProblems("the workspace-not-trusted warning", (r) => r.some(notTrusted));
    const warning = rows.find(notTrusted)!;
    assert.match(warning, /^Warning/, warning);
    assert.ok(!rows.some(targetNotFound), `the target was not checked: ${rows.join(" | ")}`);
    await problemRow("WORKSPACE-NOT-TRUSTED").waitFor({ state: "visible", timeout: 10_000 });
    await wb.screenshot("restricted-not-trusted");
    // Completion in the target asks the cluster for nothing either.
    const text = readFileSync(path.join(ws, ".mirrord/mirrord.json"), "utf8").split("\n");
    const line = text.findIndex((l) => l.includes("pod/ghost"));
    await wb.goTo(`${line + 1}:${text[line]!.indexOf("pod/ghost") + 5}`);
    await wb.page.keyboard.press("Control+Space");
    await waitLog("the completion answered", /Received response 'textDocument\/completion[\s\S]*Received response 'textDocument\/completion/);
    await wb.page.keyboard.press("Escape");
    assert.equal(pluginRan(), false, "the exec plugin of the workspace kubeconfig did not run");
    assert.ok(!/mirrord\/startSession/.test(log().split("\n").filter((l) => l.includes("Sending request")).join("\n")), "no session was asked for");
  });

  it("trusting the folder in the UI checks the target in the cluster, through the same server", async (t) => {
    const pid = server!.newestServerPid();
    assert.ok(pid, "a mirrord-ls runs");
    const banner = wb.page.locator(".part.banner");
    await banner.locator("a, .monaco-button").filter({ hasText: "Manage" }).first().click();
    const trust = wb.page.locator(".workspace-trust-editor .monaco-button").filter({ hasText: /^Trust$/ }).first();
    await trust.waitFor({ state: "visible", timeout: 30_000 });
    await wb.screenshot("trust-editor");
    const granted = Date.now();
    await trust.click();
    await banner.filter({ hasText: "Restricted Mode" }).waitFor({ state: "hidden", timeout: 30_000 });
    await waitLog("the grant sent to the server", /Sending notification 'mirrord\/didChangeWorkspaceTrust'/);
    await wb.runCommand("View: Close All Editors");
    await wb.openFile(".mirrord/mirrord.json");
    const rows = await wb.waitProblems("the target checked in the cluster", (r) => r.some(targetNotFound) && !r.some(notTrusted), 120_000);
    metric(t, `trust granted -> target checked in the cluster ${Date.now() - granted} ms`);
    await wb.screenshot("trusted-target-checked");
    assert.equal(server!.newestServerPid(), pid, "the same mirrord-ls: the notification, not a restart");
    assert.ok(pluginRan(), "trusted: the workspace kubeconfig (its exec plugin) was used");
    assert.ok(rows.some((l) => /not found/i.test(l) && l.includes("ghost")), `TARGET-NOT-FOUND: ${rows.filter(targetNotFound).join(" | ")}`);
    await problemRow("TARGET-NOT-FOUND").waitFor({ state: "visible", timeout: 10_000 });
  });
});
