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
