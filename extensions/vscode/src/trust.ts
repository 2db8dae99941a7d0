// Workspace trust as the server sees it (docs/security.md): the server uses
// a kubeconfig named by a workspace file (its cluster, its exec credential
// plugins) only when the editor says the workspace is trusted.

import { Method } from "./protocol";

/** The initializationOptions the extension sends to mirrord-ls. */
export function initializationOptions(workspaceTrusted: boolean): { client: string; workspaceTrusted: boolean } {
  return { client: "vscode", workspaceTrusted };
}

/** Something that can send a notification to the server. */
export interface Notifier {
  sendNotification(method: string, params: unknown): Promise<void>;
}

/** Tells a running server that the user granted trust to the workspace. */
export function grantTrust(server: Notifier): Promise<void> {
  return server.sendNotification(Method.didChangeWorkspaceTrust, { trusted: true });
}

/**
 * The message of a launch refused in an untrusted workspace (VS Code's
 * Restricted Mode): a session runs the workspace's program with mirrord and
 * contacts a cluster, which only a trusted workspace may ask for.
 */
export const UNTRUSTED_LAUNCH =
  "mirrord: this workspace is not trusted (Restricted Mode), so mirrord starts no session for it. Trust the workspace (“Workspaces: Manage Workspace Trust”) to launch with mirrord.";

/**
 * untrustedRefusal is the message that refuses what starts a session or
 * runs a workspace program, or undefined when the workspace is trusted.
 */
export function untrustedRefusal(trusted: boolean): string | undefined {
  return trusted ? undefined : UNTRUSTED_LAUNCH;
}
