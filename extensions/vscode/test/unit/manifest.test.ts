import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

// The compiled test runs from dist/tsc/test/unit; package.json is at the
// extension's root.
const ROOT = path.resolve(__dirname, "../../../..");

interface Setting {
  scope?: string;
}
interface Manifest {
  capabilities: { untrustedWorkspaces: { supported: boolean | "limited"; description?: string; restrictedConfigurations?: string[] } };
  contributes: { configuration: { properties: Record<string, Setting> } };
}

const manifest = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as Manifest;

// Settings whose workspace value may be used in Restricted Mode: they change
// only what the user sees.
const HARMLESS = new Set(["mirrord.showStatusBarButton", "mirrord.trace.server"]);

describe("the manifest's Restricted Mode", () => {
  const untrusted = manifest.capabilities.untrustedWorkspaces;
  it("runs in untrusted workspaces with limited support, and says what is limited", () => {
    assert.equal(untrusted.supported, "limited");
    assert.match(untrusted.description ?? "", /no session/);
    assert.match(untrusted.description ?? "", /kubeconfig/);
  });
  it("ignores the workspace value of every setting that can change what runs", () => {
    const restricted = new Set(untrusted.restrictedConfigurations ?? []);
    const properties = manifest.contributes.configuration.properties;
    for (const name of restricted) assert.ok(name in properties, `restrictedConfigurations names ${name}, which is not contributed`);
    for (const [name, setting] of Object.entries(properties)) {
      // A machine-scoped setting has no workspace value at all.
      const machine = setting.scope === "machine" || setting.scope === "machine-overridable";
      if (machine) {
        assert.notEqual(setting.scope, "machine-overridable", `${name}: a workspace may override a machine-overridable setting`);
        continue;
      }
      assert.ok(restricted.has(name) || HARMLESS.has(name), `${name} has a workspace value: list it in restrictedConfigurations, or in this test's HARMLESS`);
    }
  });
  it("mirrord.serverPath is machine-scoped: no workspace chooses the binary", () => {
    assert.equal(manifest.contributes.configuration.properties["mirrord.serverPath"]?.scope, "machine");
  });
});
