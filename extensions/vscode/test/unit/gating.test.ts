import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decideGate, INJECTED_MARKER, type LaunchConfig } from "../../src/gating";

const launch = (extra: Partial<LaunchConfig> = {}): LaunchConfig => ({ type: "go", request: "launch", name: "app", ...extra });

describe("decideGate", () => {
  const cases: { name: string; config: LaunchConfig; enabled: boolean; inject: boolean; reason: RegExp }[] = [
    { name: "enabled launch", config: launch(), enabled: true, inject: true, reason: /enabled/ },
    { name: "disabled launch", config: launch(), enabled: false, inject: false, reason: /disabled/ },
    { name: "MIRRORD_ACTIVE=1 beats a disabled toggle", config: launch({ env: { MIRRORD_ACTIVE: "1" } }), enabled: false, inject: true, reason: /MIRRORD_ACTIVE=1/ },
    { name: "MIRRORD_ACTIVE=0 beats an enabled toggle", config: launch({ env: { MIRRORD_ACTIVE: "0" } }), enabled: true, inject: false, reason: /MIRRORD_ACTIVE=0/ },
    { name: "MIRRORD_ACTIVE with spaces", config: launch({ env: { MIRRORD_ACTIVE: " 0 " } }), enabled: true, inject: false, reason: /MIRRORD_ACTIVE=0/ },
    { name: "other MIRRORD_ACTIVE values defer to the toggle", config: launch({ env: { MIRRORD_ACTIVE: "yes" } }), enabled: false, inject: false, reason: /disabled/ },
    { name: "attach is never injected", config: launch({ request: "attach", env: { MIRRORD_ACTIVE: "1" } }), enabled: true, inject: false, reason: /attach/ },
    { name: "child session", config: launch({ __parentId: "abc" }), enabled: true, inject: false, reason: /child/ },
    { name: "already injected", config: launch({ env: { [INJECTED_MARKER]: "true", MIRRORD_ACTIVE: "1" } }), enabled: true, inject: false, reason: /already/ },
    { name: "null env values are ignored", config: launch({ env: { MIRRORD_ACTIVE: null } }), enabled: true, inject: true, reason: /enabled/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = decideGate(c.config, c.enabled);
      assert.equal(got.inject, c.inject);
      assert.match(got.reason, c.reason);
    });
  }
});
