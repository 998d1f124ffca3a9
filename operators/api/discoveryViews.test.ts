import assert from "node:assert/strict";
import { generateSwarmKey } from "../discovery/swarmKey.ts";
import { approvalPatch, checkSwarmKey, currentIdentity, joinedKeySecret, networkObject, ownedByNetwork, peersOfNetwork } from "./discoveryViews.ts";
import { ApiError } from "./errors.ts";

describe("discovery views", () => {
  it("accepts a swarm key in either encoding and stores it in canonical base16", () => {
    const key = generateSwarmKey(() => new Uint8Array(32).fill(7));
    assert.equal(checkSwarmKey(key), key);
    const b64 = `/key/swarm/psk/1.0.0/\r\n/base64/\r\n${Buffer.alloc(32, 7).toString("base64")}\r\n`;
    assert.equal(checkSwarmKey(b64), key);
  });

  it("refuses a bad swarm key with 422 on swarmKey, never repeating its text", () => {
    const secretish = "ab".repeat(32);
    for (const text of [`/key/swarm/psk/1.0.0/\n${secretish}\n/base16/`, "nope", `/key/swarm/psk/1.0.0/\n/base16/\n${secretish.slice(2)}`]) {
      assert.throws(
        () => checkSwarmKey(text),
        (e: unknown) => e instanceof ApiError && e.status === 422 && e.field === "swarmKey" && !e.message.includes("abab"),
      );
    }
  });

  it("writes a Network with the key reference only when joining", () => {
    const made = networkObject({ name: "n" }, { ipfs: { mode: "managed" } }) as { spec: Record<string, unknown> };
    assert.equal(made.spec.swarmKeySecretRef, undefined);
    const joined = networkObject({ name: "n", labels: { a: "b" } }, { ipfs: { mode: "managed" } }, { namespace: "s", name: "n-swarm-key" }) as {
      metadata: Record<string, unknown>;
      spec: Record<string, unknown>;
    };
    assert.deepEqual(joined.spec.swarmKeySecretRef, { namespace: "s", name: "n-swarm-key" });
    assert.deepEqual(joined.metadata.labels, { a: "b" });
    const secret = joinedKeySecret("n", "s", "KEY") as { metadata: { name: string; namespace: string }; stringData: Record<string, string> };
    assert.deepEqual([secret.metadata.namespace, secret.metadata.name, secret.stringData["swarm.key"]], ["s", "n-swarm-key", "KEY"]);
    assert.deepEqual(ownedByNetwork({ metadata: { name: "n", uid: "u" } }), {
      metadata: { ownerReferences: [{ apiVersion: "archipel.io/v1alpha1", kind: "Network", name: "n", uid: "u" }] },
    });
    assert.throws(() => ownedByNetwork({ metadata: { name: "n" } }), /no name or uid/);
    assert.deepEqual(approvalPatch("Rejected"), { spec: { approval: "Rejected" } });
  });

  it("picks the Identity named self, else the oldest; filters peers by spec.networkRef", () => {
    const older = { metadata: { name: "b", creationTimestamp: "2020-01-01T00:00:00Z" } };
    const newer = { metadata: { name: "a", creationTimestamp: "2021-01-01T00:00:00Z" } };
    assert.equal(currentIdentity([newer, older]), older);
    assert.equal(currentIdentity([older, { metadata: { name: "self" } }])?.metadata.name, "self");
    assert.equal(currentIdentity([]), undefined);
    const peers = [{ spec: { networkRef: { name: "x" } } }, { spec: { networkRef: { name: "y" } } }];
    assert.deepEqual(peersOfNetwork(peers, "y"), [peers[1]]);
    assert.equal(peersOfNetwork(peers, undefined).length, 2);
  });
});
