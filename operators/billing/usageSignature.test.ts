import assert from "node:assert/strict";
import { generateIdentityKey } from "../federation/keys.ts";
import type { UsageRecordSpec } from "../schema/usageRecord.ts";
import { signUsageRecord, verifyUsageRecord } from "./usageSignature.ts";

const spec: UsageRecordSpec = {
  pipelineRunRef: { name: "ndvi" },
  step: "composite",
  cluster: "fed-2",
  projectRef: { name: "ocean" },
  startedAt: "2026-06-10T10:00:00Z",
  finishedAt: "2026-06-10T11:00:00Z",
  source: "resourcesDuration",
  resourcesDuration: { cpu: 3600, memory: 36864 },
  usage: { cpuCoreHours: "1.000000", memoryGiBHours: "1.000000", pods: 1 },
  priceRef: { name: "gpu-fed-2" },
  lines: [{ charge: "cpu", quantity: "1.000000", unit: "core-hour", rate: "0.05", amount: "0.05" }],
  cost: { amount: "0.05", currency: "EUR" },
};

describe("signed UsageRecords (a peer's account of a step it ran)", () => {
  const peerKey = generateIdentityKey();
  const otherKey = generateIdentityKey();

  it("verifies under the metering cluster's key, whatever local Peer name the receiver files it under", () => {
    const signed = signUsageRecord(spec, peerKey.privateKeyPem);
    assert.equal(signed.signature?.cluster, "fed-2");
    assert.deepEqual(verifyUsageRecord({ ...signed, peer: "lyon-edge" }, "fed-2", peerKey.publicKey), { ok: true });
  });

  it("refuses a changed record, another signer's key, a missing signature, or a record claiming another cluster", () => {
    const signed = signUsageRecord(spec, peerKey.privateKeyPem);
    const changed = { ...signed, cost: { amount: "0.01", currency: "EUR" } };
    assert.match(JSON.stringify(verifyUsageRecord(changed, "fed-2", peerKey.publicKey)), /does not verify under the key of cluster fed-2/);
    assert.equal(verifyUsageRecord(signed, "fed-2", otherKey.publicKey).ok, false);
    assert.match(JSON.stringify(verifyUsageRecord(spec, "fed-2", peerKey.publicKey)), /spec\.signature is missing/);
    assert.match(JSON.stringify(verifyUsageRecord(signed, "fed-3", peerKey.publicKey)), /must both be the Peer's cluster fed-3/);
  });
});
