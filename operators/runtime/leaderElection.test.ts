import assert from "node:assert/strict";
import { acquiredSpec, heldByOther, leaseTimings, recordFingerprint, releasedSpec, renewBudgetMs } from "./leaderElection.ts";

describe("runtime/leaderElection", () => {
  it("defaults to controller-runtime's 15 s lease, 10 s renew deadline, 2 s retry, and checks their order", () => {
    assert.deepEqual(leaseTimings({ leaseName: "l", leaseNamespace: "n" }), { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    assert.throws(() => leaseTimings({ leaseName: "l", leaseNamespace: "n", renewDeadlineMs: 20_000 }), /leaseDurationMs > renewDeadlineMs/);
    assert.throws(() => leaseTimings({ leaseName: "l", leaseNamespace: "n", leaseDurationMs: 2500, renewDeadlineMs: 2000, retryPeriodMs: 500 }), /whole seconds/);
  });

  it("a lease is free when nobody holds it, when we hold it, or when the holder went quiet for a lease duration", () => {
    const spec = { holderIdentity: "a", leaseDurationSeconds: 15 };
    assert.equal(heldByOther(spec, "b", 1_000, 15_999), true);
    assert.equal(heldByOther(spec, "b", 1_000, 16_000), false);
    assert.equal(heldByOther(spec, "a", 1_000, 2_000), false);
    assert.equal(heldByOther({ holderIdentity: "", leaseDurationSeconds: 15 }, "b", 1_000, 2_000), false);
    assert.equal(heldByOther(undefined, "b", 0, 0), false);
  });

  it("taking over counts a transition and sets acquireTime; renewing keeps acquireTime", () => {
    const taken = acquiredSpec({ holderIdentity: "a", leaseTransitions: 2 }, "b", 5_000, 15_000);
    assert.equal(taken.holderIdentity, "b");
    assert.equal(taken.leaseDurationSeconds, 15);
    assert.equal(taken.leaseTransitions, 3);
    assert.equal(taken.acquireTime?.getTime(), 5_000);
    const renewed = acquiredSpec(taken, "b", 7_000, 15_000);
    assert.equal(renewed.leaseTransitions, 3);
    assert.equal(renewed.acquireTime?.getTime(), 5_000);
    assert.equal(renewed.renewTime?.getTime(), 7_000);
    assert.equal(acquiredSpec(undefined, "a", 0, 15_000).leaseTransitions, 0);
    assert.equal(acquiredSpec(releasedSpec(taken, 8_000), "c", 9_000, 15_000).leaseTransitions, 4, "taking a released lease is a transition too");
  });

  it("release empties the holder and shortens the lease to 1 s", () => {
    const released = releasedSpec({ holderIdentity: "a", leaseDurationSeconds: 15, leaseTransitions: 4 }, 1_000);
    assert.equal(released.holderIdentity, "");
    assert.equal(released.leaseDurationSeconds, 1);
    assert.equal(released.leaseTransitions, 4);
  });

  it("a renewal changes the fingerprint that tells us the holder is alive; the same record does not", () => {
    const a = acquiredSpec(undefined, "a", 1_000, 15_000);
    assert.equal(recordFingerprint(a), recordFingerprint({ ...a, renewTime: new Date(1_000) }));
    assert.notEqual(recordFingerprint(a), recordFingerprint(acquiredSpec(a, "a", 3_000, 15_000)));
  });

  it("a leader's renew budget counts from the start of its last successful renewal, and is 0 once the deadline passed", () => {
    assert.equal(renewBudgetMs(1_000, 10_000, 1_000), 10_000);
    assert.equal(renewBudgetMs(1_000, 10_000, 8_500), 2_500);
    assert.equal(renewBudgetMs(1_000, 10_000, 11_000), 0);
    assert.equal(renewBudgetMs(1_000, 10_000, 20_000), 0);
  });
});
