import assert from "node:assert/strict";
import type { PeerTrust } from "../schema/peer.ts";
import { outcomesOf, peersOfRun, planTrust, runsOnPeer, TRUST_HALF_LIFE_MS, TRUST_REFRESH_MS, trustScore } from "./peerTrust.ts";

const t0 = Date.parse("2026-12-01T00:00:00Z");
const none = { succeeded: 0, failed: 0 };
const steady = { wasConnected: true, stateChanged: false, lastSeenMoved: false, runs: none };

describe("peerTrust", () => {
  it("scores availability × (½ + ½ × run success, one success and one failure assumed)", () => {
    assert.equal(trustScore(1, none), 75, "a new peer is neither trusted nor distrusted on runs");
    assert.equal(trustScore(1, { succeeded: 8, failed: 0 }), 95);
    assert.equal(trustScore(1, { succeeded: 0, failed: 8 }), 55);
    assert.equal(trustScore(0.5, { succeeded: 8, failed: 0 }), 48);
  });

  it("starts a history at the first pass, with availability assumed (10 minutes of prior)", () => {
    const first = planTrust(undefined, { now: t0, ...steady, stateChanged: true });
    assert.deepEqual(first, { score: 75, availability: 100, connectedSeconds: 0, observedSeconds: 0, observedAt: "2026-12-01T00:00:00Z", runsSucceeded: 0, runsFailed: 0 });
  });

  it("keeps the written history while nothing else would be written (no write of its own)", () => {
    const first = planTrust(undefined, { now: t0, ...steady });
    const later = planTrust(first, { now: t0 + 30_000, ...steady });
    assert.deepEqual(later, first);
  });

  it("counts the time since the last write as the previous state's when lastSeen's minute or the state moves", () => {
    const first = planTrust(undefined, { now: t0, ...steady });
    const up = planTrust(first, { now: t0 + 60_000, ...steady, lastSeenMoved: true });
    assert.deepEqual([up.connectedSeconds, up.observedSeconds, up.availability], [60, 60, 100]);
    // Down for 30 minutes: counted when it comes back (the state changes).
    const back = planTrust(up, { now: t0 + 31 * 60_000, wasConnected: false, stateChanged: true, lastSeenMoved: true, runs: none });
    assert.deepEqual([back.connectedSeconds, back.observedSeconds], [60, 1860]);
    assert.equal(back.availability, Math.round((100 * (60 + 600)) / (1860 + 600)));
    assert.ok(back.score < up.score);
  });

  it("advances at least hourly, and halves old time every week", () => {
    const history: PeerTrust = { score: 0, availability: 0, connectedSeconds: 0, observedSeconds: 100_000, observedAt: "2026-12-01T00:00:00Z", runsSucceeded: 0, runsFailed: 0 };
    const hourly = planTrust(history, { now: t0 + TRUST_REFRESH_MS, ...steady });
    assert.equal(hourly.observedAt, "2026-12-01T01:00:00Z");
    assert.equal(hourly.connectedSeconds, 3600);
    const week = planTrust(history, { now: t0 + TRUST_HALF_LIFE_MS, ...steady, lastSeenMoved: true });
    assert.equal(week.observedSeconds, Math.round(50_000 + TRUST_HALF_LIFE_MS / 1000));
  });

  it("counts runs that ended: succeeded, failed, or their reservation rejected or expired; not a request the peer refused", () => {
    const outcomes = outcomesOf([
      { peerRun: { phase: "Succeeded" }, reason: "Succeeded" },
      { peerRun: { phase: "Failed" }, reason: "StepFailed" },
      { peerRun: { phase: "Error" } },
      { peerRun: { reservationState: "Rejected" }, reason: "ReservationRejected" },
      { peerRun: { phase: "Failed", reservationState: "Expired" } },
      { peerRun: { phase: "Running", reservationState: "Active" } },
      { peerRun: { phase: "Failed" }, reason: "PeerRefused" },
      {},
    ]);
    assert.deepEqual(outcomes, { succeeded: 1, failed: 4 });
    const trust = planTrust(undefined, { now: t0, ...steady, runs: outcomes });
    assert.deepEqual([trust.runsSucceeded, trust.runsFailed, trust.score], [1, 4, Math.round(100 * (0.5 + 0.5 * (2 / 7)))]);
  });

  it("counts against a peer each hold it did not keep before Auto moved the run's steps, beside the run's steps there", () => {
    const moved = { peerRuns: [{ peer: "nice", phase: "Succeeded" }], autoRefused: [{ peer: "lyon", state: "Rejected" }, { peer: "oslo", state: "Expired" }, { peer: "lyon", state: "Expired" }], reason: "Succeeded" };
    assert.deepEqual(peersOfRun(moved), ["nice", "lyon", "oslo"]);
    assert.deepEqual(outcomesOf(runsOnPeer(moved, "lyon")), { succeeded: 0, failed: 2 });
    assert.deepEqual(outcomesOf(runsOnPeer(moved, "nice")), { succeeded: 1, failed: 0 });
    assert.deepEqual(runsOnPeer(moved, "rome"), []);
    assert.deepEqual(peersOfRun({}), []);
  });

  it("counts a run over several peers against the one whose part failed, not those cancelled or released for it", () => {
    const run = {
      peerRuns: [
        { peer: "nice", phase: "Cancelled", reservationState: "Released" },
        { peer: "lyon", phase: "Failed", reservationState: "Released" },
        { peer: "oslo", reservationState: "Released" },
      ],
      reason: "StepFailed",
    };
    assert.deepEqual(peersOfRun(run), ["nice", "lyon", "oslo"]);
    assert.deepEqual(outcomesOf(runsOnPeer(run, "lyon")), { succeeded: 0, failed: 1 });
    assert.deepEqual(outcomesOf(runsOnPeer(run, "nice")), { succeeded: 0, failed: 0 });
    assert.deepEqual(outcomesOf(runsOnPeer(run, "oslo")), { succeeded: 0, failed: 0 });
    const refusedHold = { peerRuns: [{ peer: "nice", reservationState: "Released" }, { peer: "lyon", reservationState: "Rejected" }], reason: "ReservationRejected" };
    assert.deepEqual([outcomesOf(runsOnPeer(refusedHold, "lyon")).failed, outcomesOf(runsOnPeer(refusedHold, "nice")).failed], [1, 0]);
  });
});
