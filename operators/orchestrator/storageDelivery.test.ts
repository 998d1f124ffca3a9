import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { PipelineRun, PipelineRunStatus } from "../schema/pipelineRun.ts";
import { afterFailedCopy, awaitingDelivery, deliveredObservation, deliveryRefused, succeededOnceDelivered } from "./storageDelivery.ts";
import type { RunObservation } from "./runStatus.ts";

const condition = (type: string, status: "True" | "False" | "Unknown", reason: string, message = ""): NonNullable<PipelineRunStatus["conditions"]>[number] => ({ type, status, reason, message, lastTransitionTime: "2026-12-03T07:00:00Z" });

function run(status: PipelineRunStatus = {}): PipelineRun {
  return { apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { name: "r", namespace: "team-a" }, spec: { steps: [{ name: "write", serviceRef: { name: "writer", peer: "lyon" } }] }, status } as PipelineRun;
}

const peerRun = { peer: "lyon", cluster: "lyon-1", namespace: "team-a", reservation: "h", phase: "Succeeded" };
const succeededOnPeer: RunObservation = {
  phase: "Succeeded",
  progress: "1/1",
  steps: [{ name: "write", phase: "Succeeded", cluster: "lyon-1" }],
  finishedAt: "2026-12-03T07:00:00Z",
  outputs: [{ name: "raw", location: "s3://lyon-artifacts/runs/r/main/write/greeting.txt" }],
  ready: { type: "Ready", status: "True", reason: "Succeeded", message: "all 1 steps succeeded on peer lyon-1" },
  succeeded: { type: "Succeeded", status: "True", reason: "Succeeded", message: "all 1 steps succeeded on peer lyon-1" },
};

describe("storageDelivery", () => {
  it("holds a peer's success until its outputs are in storage here: Running, Succeeded Unknown, no finish time, the peer's locations kept", () => {
    const held = succeededOnceDelivered(run({ peerRuns: [peerRun] }), succeededOnPeer);
    assert.equal(held.phase, "Running");
    assert.equal(held.succeeded.status, "Unknown");
    assert.equal(held.ready.reason, "OutputsUndelivered");
    assert.match(held.ready.message, /succeeded on peer lyon-1; copying the outputs to storage here/);
    assert.equal(held.finishedAt, undefined);
    assert.deepEqual(held.outputs, succeededOnPeer.outputs, "delivery reads these names and locations");
    assert.ok(awaitingDelivery(run({ peerRuns: [peerRun], conditions: [condition("Succeeded", "Unknown", "OutputsUndelivered")] })));
  });

  it("a refused copy fails the run naming why, and that record is kept; any other failed copy leaves it Running to try again", () => {
    const refused = afterFailedCopy(succeededOnPeer, { reason: "OutputsRefused", message: "spec.outputs[0].storageRef: copying output raw to storage Resource results: big.bin is 300000000 bytes; at most 268435456 are copied" });
    assert.deepEqual([refused.phase, refused.succeeded.status, refused.succeeded.reason, refused.ready.status], ["Failed", "False", "OutputsRefused", "False"]);
    assert.match(refused.succeeded.message, /big\.bin is 300000000 bytes/);
    assert.equal(refused.finishedAt, succeededOnPeer.finishedAt, "the run ended when its steps did");
    const retried = afterFailedCopy(succeededOnPeer, { reason: "OutputsUndelivered", message: "the storage did not answer (trying again in 30 s)" });
    assert.deepEqual([retried.phase, retried.succeeded.status, retried.finishedAt], ["Running", "Unknown", undefined]);
    assert.ok(deliveryRefused(run({ conditions: [condition("Succeeded", "False", "OutputsRefused")] })));
    assert.equal(deliveryRefused(run({ conditions: [condition("Succeeded", "False", "StepFailed")] })), false);
    assert.equal(deliveryRefused(run({ conditions: [condition("Succeeded", "Unknown", "OutputsRefused")] })), false);
  });

  it("a failure passes through, and nothing awaits delivery before the peer's run has succeeded", () => {
    const failed = { ...succeededOnPeer, phase: "Failed" as const, succeeded: { ...succeededOnPeer.succeeded, status: "False" as const, reason: "StepFailed" } };
    assert.equal(succeededOnceDelivered(run({ peerRuns: [peerRun] }), failed), failed);
    assert.equal(awaitingDelivery(run({ peerRuns: [{ ...peerRun, phase: "Running" }] })), false);
    assert.equal(awaitingDelivery(run({ peerRuns: [{ ...peerRun, phase: "Failed" }] })), false);
  });

  it("once delivered the record stands: Succeeded with the storage locations, whatever the peer answers later", () => {
    const held = succeededOnceDelivered(run({ peerRuns: [peerRun] }), succeededOnPeer);
    const done = deliveredObservation(held, [{ name: "raw", location: "s3://results/grants/x/greeting.txt" }], "all 1 steps succeeded on peer lyon-1; outputs copied to storage", "2026-12-03T07:01:00Z");
    assert.equal(done.phase, "Succeeded");
    assert.equal(done.succeeded.status, "True");
    assert.equal(done.finishedAt, "2026-12-03T07:01:00Z");
    const recorded = run({ peerRuns: [peerRun], phase: "Succeeded", outputs: done.outputs, conditions: [condition("Ready", "True", "Succeeded", done.ready.message), condition("Succeeded", "True", "Succeeded", done.succeeded.message)] });
    assert.equal(awaitingDelivery(recorded), false);
    const later = succeededOnceDelivered(recorded, succeededOnPeer);
    assert.deepEqual(later.outputs, [{ name: "raw", location: "s3://results/grants/x/greeting.txt" }]);
    assert.equal(later.succeeded.message, "all 1 steps succeeded on peer lyon-1; outputs copied to storage");
  });
});
