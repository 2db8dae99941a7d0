// The target picker: pages per kind, a namespace switcher, the last-used
// target first and "No target (targetless)". Esc cancels the launch (the
// official extension runs targetless on Esc, which starts a session the user
// did not ask for).

import type { Cancel } from "./cancel";
import type { ListTargetsParams, Target, TargetList } from "./protocol";
import type { ServerApi } from "./serverApi";
import { item, separator, type PickItem, type Store, type Ui } from "./ui";

export const TARGETLESS = "targetless";
export const LAST_TARGET_KEY = "mirrord.lastTarget";

export interface PickedTarget {
  /** A target path, or "targetless". */
  target: string;
  /** The namespace the target was listed in. */
  namespace?: string;
}

export interface PickerRequest {
  configPath?: string;
  /** The namespace the config names, if any. */
  namespace?: string;
}

/** Pages are shown in this order; kinds the server adds later follow, sorted. */
const KIND_ORDER = ["deployment", "rollout", "statefulset", "pod", "job", "cronjob", "service", "replicaset"];

type Choice =
  | { do: "target"; target: string; namespace?: string }
  | { do: "page"; kind: string }
  | { do: "namespace" };

export function orderedKinds(targets: readonly Target[]): string[] {
  const kinds = [...new Set(targets.map((t) => t.kind))];
  const rank = (k: string): number => {
    const i = KIND_ORDER.indexOf(k);
    return i < 0 ? KIND_ORDER.length : i;
  };
  return kinds.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

export function plural(kind: string): string {
  const title = kind.charAt(0).toUpperCase() + kind.slice(1);
  return title.endsWith("s") ? title : `${title}s`;
}

/**
 * pickTarget lists targets through the server and lets the user choose one.
 * It returns undefined when the user cancels (Esc on the target page).
 */
export async function pickTarget(
  api: ServerApi,
  ui: Ui,
  store: Store,
  req: PickerRequest,
  token?: Cancel,
): Promise<PickedTarget | undefined> {
  const last = store.get<PickedTarget>(LAST_TARGET_KEY);
  // Without a namespace in the config, the picker opens where the last
  // target was chosen, so "Use most recent target" is offered even when it
  // is not in the kubeconfig's namespace; a namespace that went away falls
  // back to the default listing.
  let namespace = req.namespace ?? last?.namespace;
  let list: TargetList;
  try {
    list = await api.listTargets(listParams(req, namespace), token);
  } catch (err) {
    if (namespace === req.namespace || token?.isCancellationRequested) throw err;
    namespace = req.namespace;
    list = await api.listTargets(listParams(req, namespace), token);
  }
  let page: string | undefined;

  for (;;) {
    const available = list.targets.filter((t) => t.available);
    const kinds = orderedKinds(available);
    const ns = list.currentNamespace || namespace || "";
    if (page === undefined || !kinds.includes(page)) {
      const lastKind = last && last.target !== TARGETLESS ? kindOfPath(last.target) : undefined;
      page = lastKind && kinds.includes(lastKind) ? lastKind : kinds[0];
    }
    const items = targetPageItems(available, kinds, page, ns, list.namespaces, last);
    const choice = await ui.pick<Choice>(items, {
      title: `mirrord: choose a target${ns ? ` in ${ns}` : ""}`,
      placeholder: available.length === 0 ? `No available targets in ${ns || "this namespace"}` : "Type to filter targets",
    });
    if (token?.isCancellationRequested || choice === undefined) return undefined;

    switch (choice.do) {
      case "target": {
        const picked: PickedTarget = { target: choice.target, ...(choice.namespace ? { namespace: choice.namespace } : {}) };
        await store.update(LAST_TARGET_KEY, picked);
        return picked;
      }
      case "page":
        page = choice.kind;
        break;
      case "namespace": {
        const chosen = await pickNamespace(ui, list.namespaces, ns);
        if (chosen !== undefined && chosen !== ns) {
          namespace = chosen;
          list = await api.listTargets(listParams(req, namespace), token);
          page = undefined;
        }
        break;
      }
    }
  }
}

function listParams(req: PickerRequest, namespace: string | undefined): ListTargetsParams {
  return {
    ...(req.configPath ? { configPath: req.configPath } : {}),
    ...(namespace ? { namespace } : {}),
  };
}

function kindOfPath(path: string): string {
  const i = path.indexOf("/");
  return i < 0 ? path : path.slice(0, i);
}

export function targetPageItems(
  available: readonly Target[],
  kinds: readonly string[],
  page: string | undefined,
  namespace: string,
  namespaces: readonly string[],
  last: PickedTarget | undefined,
): PickItem<Choice>[] {
  const items: PickItem<Choice>[] = [];
  const nsOf = (t: Target): string | undefined => t.namespace || namespace || undefined;
  const lastHere =
    last &&
    (last.target === TARGETLESS ||
      available.some((t) => t.path === last.target && (last.namespace === undefined || last.namespace === nsOf(t))));
  if (last && lastHere) {
    items.push(
      item(`$(history) Use most recent target: ${last.target}`, { do: "target", target: last.target, ...nsField(last.namespace ?? namespace) }),
    );
  }
  if (page !== undefined) {
    items.push(separator(`${plural(page)}${namespace ? ` in ${namespace}` : ""}`));
    for (const t of available.filter((x) => x.kind === page)) {
      const description = t.containers && t.containers.length > 1 ? `containers: ${t.containers.join(", ")}` : undefined;
      items.push(item(t.path, { do: "target", target: t.path, ...nsField(nsOf(t)) }, description ? { description } : {}));
    }
  } else {
    items.push(separator(`No available targets${namespace ? ` in ${namespace}` : ""}`));
  }
  items.push(separator("More"));
  for (const k of kinds) {
    if (k === page) continue;
    const n = available.filter((t) => t.kind === k).length;
    items.push(item(`$(list-flat) Show ${plural(k)}`, { do: "page", kind: k }, { description: `${n}` }));
  }
  if (namespaces.length > 0) {
    items.push(item("$(arrow-swap) Select another namespace", { do: "namespace" }, namespace ? { description: `current: ${namespace}` } : {}));
  }
  items.push(item('No target ("targetless")', { do: "target", target: TARGETLESS, ...nsField(namespace) }));
  return items;
}

function nsField(ns: string | undefined): { namespace?: string } {
  return ns ? { namespace: ns } : {};
}

async function pickNamespace(ui: Ui, namespaces: readonly string[], current: string): Promise<string | undefined> {
  const items = namespaces.map((ns) => item(ns, ns, ns === current ? { description: "current" } : {}));
  return ui.pick(items, { title: "mirrord: choose a namespace", placeholder: "Type to filter namespaces" });
}
