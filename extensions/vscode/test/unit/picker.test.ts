import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LAST_TARGET_KEY, orderedKinds, pickTarget, TARGETLESS } from "../../src/picker";
import type { ListTargetsParams, Target, TargetList } from "../../src/protocol";
import { esc, fakeApi, itemLabels, labelled, MemoryStore, ScriptedUi } from "./fakes";

const t = (path: string, namespace = "default", available = true): Target => ({
  path,
  kind: path.slice(0, path.indexOf("/")),
  namespace,
  available,
});

const lists: Record<string, TargetList> = {
  default: {
    currentNamespace: "default",
    namespaces: ["default", "staging"],
    targets: [
      t("pod/api-7d9c5-x2"),
      t("pod/worker-1"),
      t("deployment/api"),
      t("deployment/down", "default", false),
      t("rollout/canary"),
    ],
  },
  staging: { currentNamespace: "staging", namespaces: ["default", "staging"], targets: [t("deployment/web", "staging")] },
  empty: { currentNamespace: "empty", namespaces: [], targets: [] },
};

const api = () =>
  fakeApi({
    listTargets: (p: ListTargetsParams) => {
      const list = lists[p.namespace ?? "default"];
      if (!list) throw new Error(`no namespace ${p.namespace ?? ""}`);
      return Promise.resolve(list);
    },
  });

describe("pickTarget", () => {
  it("orders pages deployments, rollouts, ..., pods, and unknown kinds last", () => {
    assert.deepEqual(orderedKinds([t("pod/a"), t("zebra/z"), t("rollout/r"), t("deployment/d"), t("alpaca/a")]), [
      "deployment",
      "rollout",
      "pod",
      "alpaca",
      "zebra",
    ]);
  });

  it("shows the first page, skips unavailable targets, and remembers the choice", async () => {
    const store = new MemoryStore();
    const ui = new ScriptedUi([labelled("deployment/api")]);
    const got = await pickTarget(api(), ui, store, { configPath: "/w/.mirrord/mirrord.json" });
    assert.deepEqual(got, { target: "deployment/api", namespace: "default" });
    const labels = itemLabels(ui.picks[0]?.items ?? []);
    assert.deepEqual(labels, [
      "deployment/api",
      "$(list-flat) Show Rollouts",
      "$(list-flat) Show Pods",
      "$(arrow-swap) Select another namespace",
      'No target ("targetless")',
    ]);
    assert.deepEqual(store.get(LAST_TARGET_KEY), { target: "deployment/api", namespace: "default" });
  });

  it("offers the last-used target first and opens on its kind's page", async () => {
    const store = new MemoryStore();
    await store.update(LAST_TARGET_KEY, { target: "pod/worker-1", namespace: "default" });
    const ui = new ScriptedUi([labelled("Use most recent target")]);
    const got = await pickTarget(api(), ui, store, {});
    assert.deepEqual(got, { target: "pod/worker-1", namespace: "default" });
    const labels = itemLabels(ui.picks[0]?.items ?? []);
    assert.equal(labels[0], "$(history) Use most recent target: pod/worker-1");
    assert.ok(labels.includes("pod/api-7d9c5-x2"), "the pods page is shown");
    assert.ok(!labels.includes("deployment/api"));
  });

  it("does not offer a last-used target that is gone", async () => {
    const store = new MemoryStore();
    await store.update(LAST_TARGET_KEY, { target: "pod/deleted", namespace: "default" });
    const ui = new ScriptedUi([labelled("targetless")]);
    assert.deepEqual(await pickTarget(api(), ui, store, {}), { target: TARGETLESS, namespace: "default" });
    assert.ok(!itemLabels(ui.picks[0]?.items ?? []).some((l) => l.includes("most recent")));
  });

  it("switches pages", async () => {
    const ui = new ScriptedUi([labelled("Show Rollouts"), labelled("rollout/canary")]);
    assert.deepEqual(await pickTarget(api(), ui, new MemoryStore(), {}), { target: "rollout/canary", namespace: "default" });
    assert.ok(itemLabels(ui.picks[1]?.items ?? []).includes("$(list-flat) Show Deployments"));
  });

  it("switches namespace and lists again", async () => {
    const server = api();
    const ui = new ScriptedUi([labelled("Select another namespace"), labelled("staging"), labelled("deployment/web")]);
    const got = await pickTarget(server, ui, new MemoryStore(), { configPath: "/c.json" });
    assert.deepEqual(got, { target: "deployment/web", namespace: "staging" });
    assert.deepEqual(
      server.calls.map((c) => c.params),
      [{ configPath: "/c.json" }, { configPath: "/c.json", namespace: "staging" }],
    );
    assert.match(ui.picks[2]?.title ?? "", /in staging/);
  });

  it("Esc in the namespace list goes back to the targets", async () => {
    const server = api();
    const ui = new ScriptedUi([labelled("Select another namespace"), esc, labelled("deployment/api")]);
    assert.equal((await pickTarget(server, ui, new MemoryStore(), {}))?.target, "deployment/api");
    assert.equal(server.calls.length, 1);
  });

  it("Esc cancels (the official extension would run targetless)", async () => {
    const store = new MemoryStore();
    const ui = new ScriptedUi([esc]);
    assert.equal(await pickTarget(api(), ui, store, {}), undefined);
    assert.equal(store.get(LAST_TARGET_KEY), undefined);
  });

  it("opens in the last target's namespace when the config names none (found in the real editor)", async () => {
    const store = new MemoryStore();
    await store.update(LAST_TARGET_KEY, { target: "deployment/web", namespace: "staging" });
    const ui = new ScriptedUi([labelled("Use most recent target")]);
    assert.deepEqual(await pickTarget(api(), ui, store, {}), { target: "deployment/web", namespace: "staging" });
    assert.equal(ui.picks[0]?.title, "mirrord: choose a target in staging");
  });

  it("falls back to the default listing when the last target's namespace is gone", async () => {
    const store = new MemoryStore();
    await store.update(LAST_TARGET_KEY, { target: "deployment/old", namespace: "deleted" });
    const ui = new ScriptedUi([labelled("targetless")]);
    assert.deepEqual(await pickTarget(api(), ui, store, {}), { target: TARGETLESS, namespace: "default" });
  });

  it("keeps the config's namespace over the last target's", async () => {
    const store = new MemoryStore();
    await store.update(LAST_TARGET_KEY, { target: "deployment/web", namespace: "staging" });
    const ui = new ScriptedUi([labelled("targetless")]);
    assert.deepEqual(await pickTarget(api(), ui, store, { namespace: "empty" }), { target: TARGETLESS, namespace: "empty" });
  });

  it("starts in the config's namespace and says when it is empty", async () => {
    const ui = new ScriptedUi([labelled("targetless")]);
    const got = await pickTarget(api(), ui, new MemoryStore(), { namespace: "empty" });
    assert.deepEqual(got, { target: TARGETLESS, namespace: "empty" });
    const shown = ui.picks[0];
    assert.equal(shown?.placeholder, "No available targets in empty");
    assert.deepEqual(itemLabels(shown?.items ?? []), ['No target ("targetless")']);
  });

  it("describes multi-container pods", async () => {
    const server = fakeApi({
      listTargets: () =>
        Promise.resolve({ currentNamespace: "default", namespaces: [], targets: [{ ...t("pod/p"), containers: ["app", "sidecar"] }] }),
    });
    const ui = new ScriptedUi([labelled("pod/p")]);
    await pickTarget(server, ui, new MemoryStore(), {});
    const podItem = ui.picks[0]?.items.find((i) => i.label === "pod/p");
    assert.equal(podItem?.kind === "item" ? podItem.description : undefined, "containers: app, sidecar");
  });
});
