// The launch environment: what the debuggee gets from a mirrord session, plus
// the per-debugger hints that keep mirrord away from the debugger itself.

import { INJECTED_MARKER } from "./gating";
import type { LaunchEnv, SessionStart } from "./protocol";

export type DebugEnv = Record<string, string | null | undefined>;

/** Debug adapters of the JavaScript debugger (js-debug), which reads `null` as "unset". */
const NODE_TYPES = new Set(["node", "pwa-node", "node-terminal"]);

/** Ports debug adapters pick for themselves; mirrord leaves them local. */
export const DEBUGGER_PORT_RANGE = "45000-65535";

/**
 * Environment hints for a debug adapter type, as the official extension
 * intends them (reference ide-contract §1.1). The Node hints fire here: the
 * official extension tests `type in [...]`, which checks array indices and is
 * never true (§6).
 */
export function debuggerHints(debugType: string): LaunchEnv {
  const hints: LaunchEnv = { MIRRORD_IGNORE_DEBUGGER_PORTS: DEBUGGER_PORT_RANGE };
  switch (debugType) {
    case "go":
      hints.MIRRORD_SKIP_PROCESSES = "dlv;debugserver;compile;go;asm;cgo;link;git;gcc;as;ld;collect2;cc1";
      break;
    case "python":
    case "debugpy":
      hints.MIRRORD_DETECT_DEBUGGER_PORT = "debugpy";
      break;
    case "java":
      hints.MIRRORD_DETECT_DEBUGGER_PORT = "javaagent";
      break;
    default:
      if (NODE_TYPES.has(debugType)) {
        hints.MIRRORD_DETECT_DEBUGGER_PORT = "nodeinspector";
        hints.MIRRORD_ENV_LOAD_FROM_PROCESS = "true";
      }
  }
  return hints;
}

/** The launch env as plain strings, for the server: unset (null) entries are dropped. */
export function stringEnv(env: DebugEnv | undefined): LaunchEnv {
  const out: LaunchEnv = {};
  for (const [k, v] of Object.entries(env ?? {})) {
    if (typeof v === "string") out[k] = v;
  }
  return out;
}

/** The hints the user has not set already: a launch config's own value wins. */
export function hintsFor(debugType: string, env: DebugEnv | undefined): LaunchEnv {
  const out: LaunchEnv = {};
  for (const [k, v] of Object.entries(debuggerHints(debugType))) {
    if (env?.[k] === undefined) out[k] = v;
  }
  return out;
}

/**
 * mergeLaunchEnv returns the env a launch runs with: the launch's own env, the
 * debugger hints, then the session's environment (which wins: it carries the
 * layer and the remote env), minus env_to_unset, plus the injected marker.
 * Unset variables are removed; for js-debug they are set to null, which makes
 * it remove them from the inherited environment too.
 */
export function mergeLaunchEnv(debugType: string, env: DebugEnv | undefined, start: SessionStart): DebugEnv {
  const merged: DebugEnv = { ...(env ?? {}), ...hintsFor(debugType, env), ...start.environment };
  for (const name of start.envToUnset) {
    if (NODE_TYPES.has(debugType)) merged[name] = null;
    else delete merged[name];
  }
  merged[INJECTED_MARKER] = "true";
  return merged;
}
