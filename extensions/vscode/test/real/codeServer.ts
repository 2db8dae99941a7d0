// code-server (VS Code's server and web workbench) for the real-editor
// suite: installs the extension's .vsix into a private extensions dir and
// runs the server in its own process group, bound to 127.0.0.1, with its
// config and user data in a temp dir. Every page load starts an extension
// host (and a mirrord-ls) that outlives the page, so stop() kills the whole
// group; an exit hook does the same when the test process dies early.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { until } from "./wait";

export interface CodeServerOptions {
  /** The code-server package dir (scripts/code-server-install.sh prints it). */
  dir: string;
  vsix: string;
  /** Where config, user data, extensions and the server's log go. */
  home: string;
  /** Extra environment of the server (and so of the extension host and mirrord-ls). */
  env?: NodeJS.ProcessEnv;
  /** User settings (settings.json). */
  settings?: Record<string, unknown>;
  /**
   * Keep VS Code's workspace trust on: without it the server runs with
   * --disable-workspace-trust and every folder is trusted.
   */
  workspaceTrust?: boolean;
}

const onSignalHooks: (() => void)[] = [];

/** Runs hook (synchronously) when the test process is killed by a signal. */
export function onSignal(hook: () => void): void {
  onSignalHooks.push(hook);
}

export class CodeServer {
  private constructor(
    readonly proc: ChildProcess,
    readonly url: string,
    readonly home: string,
    private readonly disarm: () => void,
  ) {}

  static async start(o: CodeServerOptions): Promise<CodeServer> {
    const entry = path.join(o.dir, "out/node/entry.js");
    const config = path.join(o.home, "config.yaml");
    const userData = path.join(o.home, "user-data");
    const extensions = path.join(o.home, "extensions");
    mkdirSync(path.join(userData, "User"), { recursive: true });
    mkdirSync(extensions, { recursive: true });
    // Port 0: the server reports the port it got, so there is no race for one.
    writeFileSync(config, "bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n");
    writeFileSync(path.join(userData, "User", "settings.json"), JSON.stringify(o.settings ?? {}, null, 2));
    const common = ["--config", config, "--user-data-dir", userData, "--extensions-dir", extensions];
    const env = { ...process.env, ...o.env };
    const install = spawnSync(process.execPath, [entry, ...common, "--install-extension", o.vsix], { env, encoding: "utf8", timeout: 180_000 });
    if (install.status !== 0) {
      throw new Error(`code-server --install-extension ${o.vsix} failed (${install.status ?? install.signal}):\n${install.stdout}\n${install.stderr}`);
    }
    const logPath = path.join(o.home, "code-server.log");
    const log = createWriteStream(logPath);
    const proc = spawn(
      process.execPath,
      [entry, ...common, "--disable-telemetry", "--disable-update-check", ...(o.workspaceTrust ? [] : ["--disable-workspace-trust"]), "--disable-getting-started-override"],
      { env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    const killGroup = (): void => {
      try {
        if (proc.pid) process.kill(-proc.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    // Killed or interrupted: the group goes too (the test runner's own
    // exit handlers do not run on a signal).
    const onSignal = (sig: NodeJS.Signals): void => {
      killGroup();
      onSignalHooks.forEach((h) => h());
      setTimeout(() => process.exit(sig === "SIGINT" ? 130 : 143), 2000).unref();
    };
    process.once("exit", killGroup);
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(sig, onSignal);
    const disarm = (): void => {
      process.removeListener("exit", killGroup);
      for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeListener(sig, onSignal);
    };
    let output = "";
    const collect = (b: Buffer): void => {
      output += b.toString();
      log.write(b);
    };
    proc.stdout?.on("data", collect);
    proc.stderr?.on("data", collect);
    let exited = false;
    proc.once("exit", () => (exited = true));
    try {
      const url = await until("code-server to listen", 60_000, () => {
        if (exited) throw new Error(`code-server exited:\n${output}`);
        return /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      });
      await until("code-server /healthz", 60_000, async () => {
        const r = await fetch(`${url}/healthz`).catch(() => undefined);
        return r?.ok === true ? true : undefined;
      });
      return new CodeServer(proc, url, o.home, disarm);
    } catch (err) {
      killGroup();
      disarm();
      throw err;
    }
  }

  /** The workbench URL of a folder. */
  folderUrl(folder: string): string {
    return `${this.url}/?folder=${encodeURIComponent(folder)}`;
  }

  /** Processes of the server's group: pid and command line. */
  processes(): { pid: number; cmd: string; started: number }[] {
    const out: { pid: number; cmd: string; started: number }[] = [];
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        // Fields after the command name "(...)": state ppid pgrp ... starttime (22nd field).
        const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(rest[2]) !== this.proc.pid) continue;
        const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").join(" ").trim();
        out.push({ pid: Number(name), cmd, started: Number(rest[19]) });
      } catch {
        // gone meanwhile
      }
    }
    return out.sort((a, b) => a.started - b.started || a.pid - b.pid);
  }

  /** The newest mirrord-ls of the group (the one of the newest window). */
  newestServerPid(): number | undefined {
    return this.processes()
      .filter((p) => /(^|\/)mirrord-ls --stdio/.test(p.cmd))
      .at(-1)?.pid;
  }

  /** The newest extension host of the group. */
  newestExtensionHostPid(): number | undefined {
    return this.processes()
      .filter((p) => p.cmd.includes("--type=extensionHost"))
      .at(-1)?.pid;
  }

  /** Every mirrord output channel log file the extension hosts wrote. */
  extensionLogs(): string[] {
    const found: string[] = [];
    const walk = (dir: string): void => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/mirrord\.log$/.test(e.name)) found.push(p);
      }
    };
    walk(path.join(this.home, "user-data", "logs"));
    return found;
  }

  /** The concatenated text of every mirrord output channel log. */
  extensionLog(): string {
    return this.extensionLogs()
      .map((f) => {
        try {
          return readFileSync(f, "utf8");
        } catch {
          return "";
        }
      })
      .join("\n");
  }

  /** Kills the whole process group and waits for the leader to exit. */
  async stop(): Promise<void> {
    const pid = this.proc.pid;
    if (pid) {
      for (const sig of ["SIGTERM", "SIGKILL"] as const) {
        try {
          process.kill(-pid, sig);
        } catch {
          break;
        }
        const gone = await until(`code-server group ${pid} to exit`, 5_000, () => (this.processes().length === 0 ? true : undefined)).catch(() => false);
        if (gone) break;
      }
    }
    this.disarm();
  }
}

/** Resident memory of a process in MiB, or undefined. */
export function rssMiB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}
