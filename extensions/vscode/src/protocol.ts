// Wire types of the mirrord-ls editor protocol (docs/protocol.md). The
// extension never decides anything the server can decide: these are the
// shapes it sends and receives, nothing more.

/** Request and notification names of the mirrord-ls custom protocol. */
export const Method = {
  discoverConfig: "mirrord/discoverConfig",
  verifyConfig: "mirrord/verifyConfig",
  listTargets: "mirrord/listTargets",
  startSession: "mirrord/startSession",
  listSessions: "mirrord/listSessions",
  stopSession: "mirrord/stopSession",
  gitBranch: "mirrord/gitBranch",
  sessionsChanged: "mirrord/sessionsChanged",
  didChangeWorkspaceTrust: "mirrord/didChangeWorkspaceTrust",
} as const;

/** JSON-RPC error codes the extension reacts to. */
export const ErrorCode = {
  methodNotFound: -32601,
  requestCancelled: -32800,
} as const;

/** The environment of a launch configuration, as the debugger sees it. */
export type LaunchEnv = Record<string, string>;

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export interface DiscoverConfigParams {
  /** Absolute path of the launch's workspace folder. */
  workspaceFolder?: string;
  /** The active config chosen by the user: an explicit path that wins over everything. */
  active?: string;
  /** The launch configuration's environment (for MIRRORD_CONFIG_FILE). */
  env?: LaunchEnv;
}

export type DiscoverySource = "active" | "env" | "default" | "none";

export interface Discovery {
  /** Absolute path of the config, absent when source is "none". */
  path?: string;
  source: DiscoverySource;
  reason: string;
}

export interface VerifyConfigParams {
  /** Absolute path of the config on disk. */
  path: string;
  env?: LaunchEnv;
}

/** One finding about a config file, with its place in the file when it has one. */
export interface ConfigProblem {
  message: string;
  severity: "error" | "warning";
  range?: Range;
  code?: string;
}

export interface VerifyResult {
  /** True when the config has no errors. */
  ok: boolean;
  /** The target the config names ("targetless" included), or null when the picker must ask. */
  target: string | null;
  namespace: string | null;
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
}

export interface ListTargetsParams {
  configPath?: string;
  namespace?: string;
}

export interface Target {
  /** Target path in the CLI grammar, e.g. "deployment/api" or "pod/api-x/container/app". */
  path: string;
  /** Kind, e.g. "deployment", "rollout", "pod", "statefulset". */
  kind: string;
  namespace: string;
  available: boolean;
  containers?: string[];
}

export interface TargetList {
  targets: Target[];
  currentNamespace: string;
  namespaces: string[];
}

export interface StartSessionParams {
  configPath?: string;
  workspaceFolder?: string;
  /** A target path, "targetless", or absent to use the config's target. */
  target?: string;
  /** The launch environment; the picker's namespace travels as MIRRORD_TARGET_NAMESPACE. */
  env?: LaunchEnv;
  /** The debug adapter type of the launch ("go", "python", "node", ...). */
  debugType?: string;
  /** The program the debugger will start, when the launch names one. */
  executable?: string;
  /** Token for $/progress reports (LSP work-done progress). */
  workDoneToken?: string;
}

export interface SessionStart {
  sessionId: string;
  environment: LaunchEnv;
  envToUnset: string[];
  warnings: string[];
  patchedPath?: string | null;
}

export interface SessionInfo {
  id: string;
  key?: string;
  target?: string;
  namespace?: string;
  startedAt?: string;
  /** The intproxy's process id. */
  pid?: number;
}
