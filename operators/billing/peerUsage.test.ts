import assert from "node:assert/strict";
import { generateIdentityKey } from "../federation/keys.ts";
import type { UsageRecordSpec } from "../schema/usageRecord.ts";
import { copyAgreement, judgeReceived, receivedCopy, servedAgreement, signedOriginal, usageDigest } from "./peerUsage.ts";
import { signUsageRecord, verifyUsageRecord } from "./usageSignature.ts";

// What fed-2 meters of step "composite", run for its Peer "lyon-1" (this cluster, as fed-2 calls it).
const served: UsageRecordSpec = {
  pipelineRunRef: { name: "lyon-1-ndvi-3f2a9c1b", uid: "b-uid" },
  step: "composite",
  cluster: "fed-2",
  requester: { peer: "lyon-1" },
  startedAt: "2026-06-10T10:00:00Z",
  finishedAt: "2026-06-10T11:00:00Z",
  source: "resourcesDuration",
  resourcesDuration: { cpu: 7200, memory: 36864 },
  usage: { cpuCoreHours: "2.000000", memoryGiBHours: "1.000000", pods: 1 },
  priceRef: { name: "for-lyon" },
  lines: [
    { charge: "cpu", quantity: "2.000000", unit: "core-hour", rate: "0.05", amount: "0.10" },
    { charge: "run", quantity: "1", unit: "run", rate: "0.25", amount: "0.25" },
  ],
  cost: { amount: "0.35", currency: "EUR" },
};

const binding = { run: { name: "ndvi", uid: "a-uid" }, peer: "fed-2-peer", project: "ocean", recordName: "lyon-1-ndvi-3f2a9c1b-composite-b0000000" };
const seen = [{ name: "composite", startedAt: "2026-06-10T10:00:00Z", finishedAt: "2026-06-10T11:00:00Z" }];

describe("records from peers: copies, verdicts and receipts", () => {
  const key = generateIdentityKey();
  const other = generateIdentityKey();
  const signed = signUsageRecord(served, key.privateKeyPem);
  const judgeInput = { cluster: "fed-2", publicKey: key.publicKey, peerRunName: "lyon-1-ndvi-3f2a9c1b", steps: seen };

  it("binds the copy to this cluster's run, Peer and project, and still verifies under the peer's key once the peer's fields are put back", () => {
    const copy = receivedCopy(signed, binding);
    assert.deepEqual(copy.pipelineRunRef, { name: "ndvi", uid: "a-uid" });
    assert.equal(copy.peer, "fed-2-peer");
    assert.deepEqual(copy.projectRef, { name: "ocean" });
    assert.equal(copy.requester, undefined, "a copy is of a step run for this cluster, not by it");
    assert.deepEqual(copy.received, { name: binding.recordName, pipelineRunRef: served.pipelineRunRef, requester: { peer: "lyon-1" } });
    assert.deepEqual(copy.cost, served.cost);
    const original = signedOriginal(copy);
    assert.ok(original);
    assert.deepEqual(verifyUsageRecord(original, "fed-2", key.publicKey), { ok: true });
    assert.equal(usageDigest(original), usageDigest(signed), "both sides compute one digest");
    // A copy changed here no longer verifies: the peer's account cannot be rewritten by the requester.
    const edited = signedOriginal({ ...copy, cost: { amount: "0.01", currency: "EUR" } });
    assert.ok(edited);
    assert.equal(verifyUsageRecord(edited, "fed-2", key.publicKey).ok, false);
    assert.equal(signedOriginal(served), undefined, "a record metered here is not a copy");
  });

  it("agrees with a record signed by the peer, for this run's step, with the times the peer reported and lines that add up", () => {
    assert.deepEqual(judgeReceived(signed, judgeInput), { keep: true, agreed: true, reason: "Agreed", message: "signed by fed-2, times as reported while the step ran, 0.35 EUR" });
  });

  it("keeps no record another key signed, of another run, or of a step not placed on that peer", () => {
    assert.deepEqual(
      [judgeReceived(signUsageRecord(served, other.privateKeyPem), judgeInput), judgeReceived(signed, { ...judgeInput, peerRunName: "lyon-1-other" }), judgeReceived(signed, { ...judgeInput, steps: [{ name: "ndvi" }] })].map((j) => [j.keep, j.reason]),
      [
        [false, "SignatureInvalid"],
        [false, "NotThisRun"],
        [false, "UnknownStep"],
      ],
    );
  });

  it("keeps, and disputes, a record whose times are not what the peer reported, or whose lines do not add up to its cost", () => {
    const late = judgeReceived(signed, { ...judgeInput, steps: [{ ...seen[0]!, finishedAt: "2026-06-10T10:30:00Z" }] });
    assert.deepEqual([late.keep, late.keep && late.agreed, late.reason], [true, false, "TimesDisagree"]);
    assert.match(late.message, /ran from 2026-06-10T10:00:00Z to 2026-06-10T11:00:00Z; fed-2 reported 2026-06-10T10:00:00Z to 2026-06-10T10:30:00Z/);
    const padded = judgeReceived(signUsageRecord({ ...served, cost: { amount: "0.45", currency: "EUR" } }, key.privateKeyPem), judgeInput);
    assert.deepEqual([padded.keep, padded.keep && padded.agreed, padded.reason], [true, false, "CostDisagrees"]);
    assert.match(padded.message, /0\.10 \+ 0\.25, not spec\.cost\.amount 0\.45/);
    // Equal instants in another spelling are the same time.
    const spelled = judgeReceived(signed, { ...judgeInput, steps: [{ name: "composite", startedAt: "2026-06-10T10:00:00.000Z", finishedAt: "2026-06-10T11:00:00Z" }] });
    assert.equal(spelled.keep && spelled.agreed, true);
  });

  it("shows on the serving cluster's record what the requester said: awaiting, agreed, disputed, or holding another record", () => {
    const receipt = (over: object): string => JSON.stringify({ digest: usageDigest(signed), agreed: true, reason: "Agreed", at: "2026-06-10T11:01:00Z", ...over });
    const show = (annotation: string | undefined): string[] => {
      const c = servedAgreement(signed, annotation);
      return [c.status, c.reason];
    };
    assert.deepEqual(show(undefined), ["Unknown", "AwaitingReceipt"]);
    assert.deepEqual(show(receipt({})), ["True", "Agreed"]);
    assert.deepEqual(show(receipt({ agreed: false, reason: "TimesDisagree", message: "the record says…" })), ["False", "RequesterDisputed"]);
    assert.match(servedAgreement(signed, receipt({ agreed: false, reason: "TimesDisagree", message: "the record says x" })).message, /lyon-1 disputes it \(TimesDisagree\): the record says x/);
    assert.deepEqual(show(receipt({ digest: "0".repeat(64) })), ["False", "RecordsDiffer"]);
    assert.deepEqual(show("{not json"), ["Unknown", "ReceiptUnreadable"]);
  });

  it("shows on the copy whether the peer still holds the record it sent", () => {
    const agreedVerdict = { agreed: true, reason: "Agreed", message: "signed by fed-2" };
    const show = (judged: typeof agreedVerdict, found: boolean, matches: boolean): string[] => {
      const c = copyAgreement(judged, { cluster: "fed-2", found, matches });
      return [c.status, c.reason];
    };
    assert.deepEqual(show(agreedVerdict, true, true), ["True", "Agreed"]);
    assert.deepEqual(show(agreedVerdict, true, false), ["False", "RecordsDiffer"]);
    assert.deepEqual(show(agreedVerdict, false, false), ["False", "RecordsDiffer"]);
    assert.deepEqual(show({ agreed: false, reason: "TimesDisagree", message: "x" }, true, true), ["False", "TimesDisagree"]);
  });
});
