// A pre-started targetless mirrord-agent on loopback (bin/mirrord-agent next
// to mirrord-ls), so mirrord/startSession runs a real session without a
// cluster: mirrord-ls runs `mirrord ext`, which connects to the agent named
// by MIRRORD_AGENT_ADDRESS / MIRRORD_AGENT_TOKEN (docs/sessions.md).

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { serverBinary } from "./realServer";

export class PrestartedAgent {
  private constructor(
    private readonly proc: ChildProcess,
    /** The environment mirrord-ls (and so `mirrord ext`) gets. */
    readonly env: Record<string, string>,
    private readonly sessions: string,
  ) {}

  static async start(): Promise<PrestartedAgent> {
    const bin = path.join(path.dirname(serverBinary()), "mirrord-agent");
    if (!existsSync(bin)) throw new Error(`${bin} does not exist: run \`make build\``);
    const token = randomBytes(16).toString("hex");
    // Short: the session sockets live here.
    const sessions = mkdtempSync("/tmp/mvsx");
    // The token goes through the environment, never the command line.
    const proc = spawn(bin, ["targetless", "--listen", "127.0.0.1:0", "--linger", "300s", "--communication-timeout", "300s"], {
      env: { ...process.env, MIRRORD_AGENT_TOKEN: token },
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stderr?.resume();
    const addr = await new Promise<string>((resolve, reject) => {
      let listening = "";
      const timer = setTimeout(() => reject(new Error("mirrord-agent not ready after 30s")), 30_000);
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`mirrord-agent exited with ${String(code)} before it was ready`));
      });
      createInterface({ input: proc.stdout }).on("line", (line) => {
        if (line.startsWith("listening on ")) listening = line.slice("listening on ".length);
        if (line.startsWith("agent ready") && listening) {
          clearTimeout(timer);
          resolve(listening);
        }
      });
    });
    return new PrestartedAgent(proc, { MIRRORD_AGENT_ADDRESS: addr, MIRRORD_AGENT_TOKEN: token, MIRRORD_SESSIONS_DIR: sessions }, sessions);
  }

  /** Stops every session left in its session directory, then the agent. */
  async stop(): Promise<void> {
    const mirrord = path.join(path.dirname(serverBinary()), "mirrord");
    spawnSync(mirrord, ["session", "stop", "--all"], { env: { ...process.env, ...this.env }, timeout: 30_000, stdio: "ignore" });
    if (this.proc.exitCode === null) {
      const exited = new Promise((resolve) => this.proc.once("exit", resolve));
      this.proc.kill("SIGTERM");
      await exited;
    }
    rmSync(this.sessions, { recursive: true, force: true });
  }
}
