// Launch injection: the order of a mirrord launch, from the gate to the
// merged environment. Every decision about configs, targets and sessions is
// the server's; this module asks, shows and merges.

import { type Cancel, anyOf, isCancelled } from "./cancel";
import { decideGate, type LaunchConfig } from "./gating";
import { mergeLaunchEnv, hintsFor, stringEnv } from "./launchEnv";
import { pickTarget, type PickedTarget } from "./picker";
import type { ConfigProblem, Discovery } from "./protocol";
import type { ServerApi } from "./serverApi";
import { untrustedRefusal } from "./trust";
import type { Log, Store, Ui } from "./ui";

export interface LaunchDeps {
  api: ServerApi;
  ui: Ui;
  /** workspaceState: the last-used target lives here. */
  store: Store;
  log: Log;
  /** Whether the toggle is on. */
  enabled(): boolean;
  /** The active config chosen with "Select active configuration", if any. */
  activeConfig(): string | undefined;
  /** Whether the user trusts the workspace (vscode.workspace.isTrusted), read at every launch. */
  trusted(): boolean;
}

export const OPEN_CONFIG = "Open config";

/**
 * resolveLaunch returns the launch configuration to start: unchanged when
 * mirrord does not apply, a copy with mirrord's environment when it does, or
 * undefined to cancel the launch (an error was shown, or the user cancelled).
 */
export async function resolveLaunch(
  config: LaunchConfig,
  workspaceFolder: string | undefined,
  deps: LaunchDeps,
  token?: Cancel,
): Promise<LaunchConfig | undefined> {
  const { api, ui, log } = deps;
  const gate = decideGate(config, deps.enabled());
  if (!gate.inject) {
    log.info(`launch "${config.name}": not using mirrord (${gate.reason})`);
    return config;
  }
  // Restricted Mode: VS Code disables debugging there, but the extension
  // refuses on its own too, before asking the server anything.
  const refusal = untrustedRefusal(deps.trusted());
  if (refusal) {
    log.warn(`launch "${config.name}": refused, the workspace is not trusted`);
    void ui.error(refusal);
    return undefined;
  }
  log.info(`launch "${config.name}" (${config.type}): using mirrord (${gate.reason})`);
  const folder = workspaceFolder ? { workspaceFolder } : {};
  // The hints go to the server too: they are layer settings, and the session
  // must be resolved with them.
  const env = { ...stringEnv(config.env), ...hintsFor(config.type, config.env) };

  try {
    const active = deps.activeConfig();
    const discovery: Discovery = await api.discoverConfig({ ...folder, ...(active ? { active } : {}), env }, token);
    log.info(`config: ${discovery.path ?? "(none)"} [${discovery.source}: ${discovery.reason}]`);
    const configPath = discovery.path ? { configPath: discovery.path } : {};

    // A warning is shown once per launch, even when verifyConfig and
    // startSession both report it (the official extension shows it twice).
    const shown = new Set<string>();
    const warn = (message: string): void => {
      if (shown.has(message)) return;
      shown.add(message);
      void ui.warn(`mirrord: ${message}`);
    };

    let configTarget = env.MIRRORD_IMPERSONATED_TARGET?.trim() || null;
    let configNamespace: string | undefined;
    if (discovery.path) {
      const verify = await api.verifyConfig({ path: discovery.path, env }, token);
      for (const w of verify.warnings) warn(w.message);
      if (!verify.ok || verify.errors.length > 0) {
        await showConfigErrors(ui, discovery.path, verify.errors);
        log.error(`config ${discovery.path} has errors: ${verify.errors.map((e) => e.message).join("; ")}`);
        return undefined;
      }
      configTarget = configTarget ?? verify.target;
      configNamespace = verify.namespace ?? undefined;
    }

    let picked: PickedTarget | undefined;
    if (!configTarget) {
      picked = await pickTarget(api, ui, deps.store, { ...configPath, ...(configNamespace ? { namespace: configNamespace } : {}) }, token);
      if (!picked) {
        log.info(`launch "${config.name}" cancelled in the target picker`);
        return undefined;
      }
      log.info(`target: ${picked.target}${picked.namespace ? ` in ${picked.namespace}` : ""}`);
    }
    // As the official extension does for `mirrord ext`: the picked namespace
    // goes to the session as MIRRORD_TARGET_NAMESPACE, not to the debuggee.
    const sessionEnv = picked?.namespace ? { ...env, MIRRORD_TARGET_NAMESPACE: picked.namespace } : env;

    const start = await ui.withProgress("mirrord: starting session", async (report, progressToken) => {
      const both = anyOf(token, progressToken);
      return api.startSession(
        {
          ...configPath,
          ...folder,
          env: sessionEnv,
          debugType: config.type,
          ...(picked ? { target: picked.target } : {}),
          ...executableOf(config),
        },
        both.token,
        report,
      );
    });
    log.info(`session ${start.sessionId} started for "${config.name}"`);
    for (const w of start.warnings) warn(w);
    return { ...config, env: mergeLaunchEnv(config.type, config.env, start) };
  } catch (err) {
    if (isCancelled(err) || token?.isCancellationRequested) {
      log.info(`launch "${config.name}" cancelled`);
      return undefined;
    }
    const message = err instanceof Error ? err.message : String(err);
    log.error(`launch "${config.name}" failed: ${message}`);
    void ui.error(`mirrord: ${message}`);
    return undefined;
  }
}

/** Shows the first error with a button that opens the config at its range. */
export async function showConfigErrors(ui: Ui, path: string, errors: readonly ConfigProblem[]): Promise<void> {
  const first = errors[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
  const where = first?.range ? `:${first.range.start.line + 1}:${first.range.start.character + 1}` : "";
  const text = first ? first.message : "the config is not valid";
  const answer = await ui.error(`mirrord: ${path}${where}: ${text}${more}`, OPEN_CONFIG);
  if (answer === OPEN_CONFIG) await ui.openFile(path, first?.range);
}

/** The program a launch starts, for the server (SIP patching on macOS). */
function executableOf(config: LaunchConfig): { executable?: string } {
  for (const key of ["runtimeExecutable", "python", "pythonPath", "program"]) {
    const v = config[key];
    if (typeof v === "string" && v !== "") return { executable: v };
  }
  return {};
}

