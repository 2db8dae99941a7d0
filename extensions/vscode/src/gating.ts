// Whether a launch gets mirrord: the toggle, MIRRORD_ACTIVE, and the launches
// mirrord must never touch (attach, child sessions, already injected ones).

/** The parts of a debug configuration the extension reads. */
export interface LaunchConfig {
  type: string;
  request: string;
  name: string;
  env?: Record<string, string | null | undefined>;
  __parentId?: string;
  [key: string]: unknown;
}

/** Set in the env of every launch the extension injected. */
export const INJECTED_MARKER = "__MIRRORD_EXT_INJECTED";

export type GateDecision = { inject: true; reason: string } | { inject: false; reason: string };

/**
 * decideGate applies, in order: attach requests and child sessions are never
 * injected, nor a launch that was already injected; MIRRORD_ACTIVE=0 skips
 * and MIRRORD_ACTIVE=1 injects whatever the toggle says; otherwise the
 * toggle decides.
 */
export function decideGate(config: LaunchConfig, enabled: boolean): GateDecision {
  if (config.request === "attach") return { inject: false, reason: "attach requests are not launched by mirrord" };
  if (config.__parentId !== undefined && config.__parentId !== null) {
    return { inject: false, reason: "child debug sessions inherit their parent's environment" };
  }
  const env = config.env ?? {};
  if (env[INJECTED_MARKER] === "true") return { inject: false, reason: "the launch already has mirrord's environment" };
  const active = env.MIRRORD_ACTIVE?.trim();
  if (active === "0") return { inject: false, reason: "MIRRORD_ACTIVE=0 in the launch configuration" };
  if (active === "1") return { inject: true, reason: "MIRRORD_ACTIVE=1 in the launch configuration" };
  return enabled ? { inject: true, reason: "mirrord is enabled" } : { inject: false, reason: "mirrord is disabled" };
}
