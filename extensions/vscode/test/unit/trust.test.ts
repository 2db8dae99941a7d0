import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { grantTrust, initializationOptions, type Notifier, UNTRUSTED_LAUNCH, untrustedRefusal } from "../../src/trust";

describe("workspace trust", () => {
  const cases: { name: string; trusted: boolean }[] = [
    { name: "trusted", trusted: true },
    { name: "untrusted", trusted: false },
  ];
  for (const c of cases) {
    it(`initializationOptions says ${c.name}`, () => {
      assert.deepEqual(initializationOptions(c.trusted), { client: "vscode", workspaceTrusted: c.trusted });
    });
  }
  it("a grant notifies the server", async () => {
    const sent: { method: string; params: unknown }[] = [];
    const server: Notifier = {
      sendNotification(method, params) {
        sent.push({ method, params });
        return Promise.resolve();
      },
    };
    await grantTrust(server);
    assert.deepEqual(sent, [{ method: "mirrord/didChangeWorkspaceTrust", params: { trusted: true } }]);
  });
});

describe("the launch guard", () => {
  it("refuses in an untrusted workspace only", () => {
    assert.equal(untrustedRefusal(true), undefined);
    assert.equal(untrustedRefusal(false), UNTRUSTED_LAUNCH);
  });
});
