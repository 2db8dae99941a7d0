import "./vscodeMock";
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { ActiveConfig } from "../../src/activeConfig";
import { StatusBar } from "../../src/statusBar";
import { ENABLED_KEY, MirrordToggle } from "../../src/toggle";
import { MemoryStore } from "./fakes";
import { mock } from "./vscodeMock";

describe("MirrordToggle", () => {
  it("starts from enabledByDefault, then keeps the toggled state", async () => {
    const store = new MemoryStore();
    let byDefault = true;
    const t = new MirrordToggle(store, () => byDefault);
    assert.equal(t.enabled, true);
    byDefault = false;
    assert.equal(t.enabled, false, "before the first toggle the setting decides");
    assert.equal(await t.toggle(), true);
    byDefault = false;
    assert.equal(t.enabled, true, "after a toggle the stored state wins over the setting");
    assert.equal(store.get(ENABLED_KEY), true);
  });

  it("survives a reload (a new toggle over the same store)", async () => {
    const store = new MemoryStore();
    await new MirrordToggle(store, () => false).toggle();
    assert.equal(new MirrordToggle(store, () => false).enabled, true);
  });

  it("tells listeners", async () => {
    const t = new MirrordToggle(new MemoryStore(), () => false);
    const seen: boolean[] = [];
    const sub = t.onDidChange((e) => seen.push(e));
    await t.toggle();
    await t.toggle();
    sub.dispose();
    await t.toggle();
    assert.deepEqual(seen, [true, false]);
  });
});

describe("StatusBar", () => {
  afterEach(() => mock.reset());

  const setup = () => {
    const store = new MemoryStore();
    const toggle = new MirrordToggle(store, () => mock.settings.get("mirrord.enabledByDefault") === true);
    const active = new ActiveConfig(store);
    const bar = new StatusBar(toggle, active);
    const item = mock.statusItems[0];
    assert.ok(item);
    return { toggle, active, bar, item };
  };

  it("shows the state and toggles on click", async () => {
    const { toggle, bar, item } = setup();
    assert.equal(item.command, "mirrord.toggleMirroring");
    assert.equal(item.text, "mirrord $(circle-large-outline)");
    assert.equal(item.visible, true);
    await toggle.toggle();
    assert.equal(item.text, "mirrord $(circle-large-filled)");
    bar.dispose();
    assert.equal(item.disposed, true);
  });

  it("follows enabledByDefault until toggled", () => {
    mock.settings.set("mirrord.enabledByDefault", true);
    const { item } = setup();
    assert.equal(item.text, "mirrord $(circle-large-filled)");
  });

  it("hides and shows with mirrord.showStatusBarButton, live", () => {
    const { item } = setup();
    mock.setSetting("mirrord.showStatusBarButton", false);
    assert.equal(item.visible, false);
    mock.setSetting("mirrord.showStatusBarButton", true);
    assert.equal(item.visible, true);
    mock.setSetting("editor.fontSize", 3);
    assert.equal(item.visible, true);
  });

  it("puts the active config, sessions and quick links in the tooltip", async () => {
    const { active, bar, item } = setup();
    const tooltip = (): string => (item.tooltip as { value: string }).value;
    assert.match(tooltip(), /Active config: none/);
    assert.match(tooltip(), /command:mirrord\.selectActiveConfig/);
    assert.match(tooltip(), /command:mirrord\.showSessions/);
    await active.set("/work/space/.mirrord/mirrord.json");
    assert.match(tooltip(), /Active config: \[\\\.mirrord\/mirrord\\\.json\]\(command:mirrord\.openConfig\)/);
    bar.setSessionCount(2);
    assert.equal(item.text, "mirrord $(circle-large-outline) 2");
    assert.match(tooltip(), /2 running sessions/);
    const trusted = (item.tooltip as { isTrusted: { enabledCommands: string[] } }).isTrusted;
    assert.ok(trusted.enabledCommands.includes("mirrord.toggleMirroring"));
  });
});
