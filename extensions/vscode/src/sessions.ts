// Session commands: list local sessions through the server, stop one or all.

import type { SessionInfo } from "./protocol";
import type { ServerApi } from "./serverApi";
import { item, separator, type PickItem, type Ui } from "./ui";

type SessionChoice = { do: "session"; session: SessionInfo } | { do: "stopAll" };
type ActionChoice = "stop" | "back";

export function describeSession(s: SessionInfo): { label: string; description?: string; detail?: string } {
  const label = `$(plug) ${s.target ?? "targetless"}${s.namespace ? ` (${s.namespace})` : ""}`;
  const detail = [s.key ? `key ${s.key}` : "", s.pid ? `intproxy pid ${s.pid}` : "", s.startedAt ? `started ${s.startedAt}` : ""]
    .filter(Boolean)
    .join(" · ");
  return { label, description: s.id, ...(detail ? { detail } : {}) };
}

/** Shows the sessions; choosing one offers to stop it. */
export async function showSessions(api: ServerApi, ui: Ui): Promise<void> {
  for (;;) {
    const sessions = await api.listSessions();
    if (sessions.length === 0) {
      void ui.info("mirrord: no sessions are running");
      return;
    }
    const items: PickItem<SessionChoice>[] = sessions.map((s) => {
      const d = describeSession(s);
      return item<SessionChoice>(d.label, { do: "session", session: s }, d);
    });
    items.push(separator("Actions"), item<SessionChoice>("$(debug-stop) Stop all sessions", { do: "stopAll" }));
    const choice = await ui.pick(items, { title: `mirrord: ${sessions.length} session${sessions.length === 1 ? "" : "s"}`, placeholder: "Choose a session to stop it" });
    if (!choice) return;
    if (choice.do === "stopAll") {
      await stopAllSessions(api, ui);
      return;
    }
    const action = await ui.pick<ActionChoice>(
      [item("$(debug-stop) Stop this session", "stop", { description: choice.session.id }), item("$(arrow-left) Back", "back")],
      { title: `mirrord: session ${choice.session.id}` },
    );
    if (action === undefined) return;
    if (action === "stop") {
      await api.stopSession(choice.session.id);
      void ui.info(`mirrord: stopped session ${choice.session.id}`);
      return;
    }
  }
}

/** Stops every session the server knows; failures are reported together. */
export async function stopAllSessions(api: ServerApi, ui: Ui): Promise<number> {
  const sessions = await api.listSessions();
  const results = await Promise.allSettled(sessions.map((s) => api.stopSession(s.id)));
  const failed = results
    .map((r, i) => (r.status === "rejected" ? `${sessions[i]?.id ?? "?"}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}` : ""))
    .filter(Boolean);
  const stopped = sessions.length - failed.length;
  if (failed.length > 0) void ui.error(`mirrord: could not stop ${failed.length} session(s): ${failed.join("; ")}`);
  else void ui.info(sessions.length === 0 ? "mirrord: no sessions are running" : `mirrord: stopped ${stopped} session(s)`);
  return stopped;
}
