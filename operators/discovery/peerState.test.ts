import assert from "node:assert/strict";
import {
  FIRST_CONTACT_RETRY_MS,
  LOST_AFTER_MS,
  LOST_PROBE_INTERVAL_MS,
  MISSED_PROBES_BEFORE_UNREACHABLE,
  nextPeerState,
  PROBE_INTERVAL_MS,
  type PeerReachability,
  PeerState,
  PeerStateReason,
  UNREACHABLE_AFTER_MS,
} from "./peerState.ts";

const t0 = 1_000_000;

/** Runs observations (connected or not) every probe interval from t0; returns every step. */
function run(observations: boolean[], start?: PeerReachability): Array<ReturnType<typeof nextPeerState>> {
  let prev = start;
  return observations.map((connected, i) => {
    const step = nextPeerState(prev, { now: t0 + i * PROBE_INTERVAL_MS, connected });
    prev = step.next;
    return step;
  });
}

describe("peerState", () => {
  it("documents its timing: 3 missed 5 s probes, Lost after 10 min", () => {
    assert.equal(PROBE_INTERVAL_MS, 5_000);
    assert.equal(MISSED_PROBES_BEFORE_UNREACHABLE, 3);
    assert.equal(UNREACHABLE_AFTER_MS, 15_000);
    assert.equal(LOST_AFTER_MS, 600_000);
  });

  it("a new peer seen but not connected is Discovered, then Connected on contact", () => {
    const [first, second] = run([false, true]);
    assert.equal(first?.next.state, PeerState.Discovered);
    assert.equal(first?.next.reason, PeerStateReason.FirstSeen);
    assert.equal(first?.changed, true);
    assert.equal(first?.next.lastSeen, undefined);
    assert.equal(second?.next.state, PeerState.Connected);
    assert.equal(second?.next.reason, PeerStateReason.Reachable);
    assert.equal(second?.next.lastSeen, t0 + PROBE_INTERVAL_MS);
    assert.equal(second?.next.discoveredAt, t0);
  });

  it("a peer connected at first sight is Connected at once", () => {
    const [first] = run([true]);
    assert.equal(first?.next.state, PeerState.Connected);
    assert.equal(first?.checkAfterMs, PROBE_INTERVAL_MS);
  });

  it("stays Connected through fewer than N missed probes, keeps since and lastSeen", () => {
    const steps = run([true, false, false]);
    const last = steps.at(-1);
    assert.equal(last?.next.state, PeerState.Connected);
    assert.equal(last?.changed, false);
    assert.equal(last?.next.since, t0);
    assert.equal(last?.next.lastSeen, t0);
  });

  it("becomes Unreachable after N missed probes, exactly at the threshold", () => {
    const steps = run([true, false, false, false]);
    assert.deepEqual(steps.map((s) => s.next.state), ["Connected", "Connected", "Connected", "Unreachable"]);
    const unreachable = steps.at(-1);
    assert.equal(unreachable?.changed, true);
    assert.equal(unreachable?.next.reason, PeerStateReason.MissedProbes);
    assert.equal(unreachable?.next.since, t0 + UNREACHABLE_AFTER_MS);
    assert.equal(unreachable?.next.lastSeen, t0);
  });

  it("wakes exactly at the Unreachable threshold when it is closer than a probe interval", () => {
    const connected = nextPeerState(undefined, { now: t0, connected: true }).next;
    const step = nextPeerState(connected, { now: t0 + UNREACHABLE_AFTER_MS - 2_000, connected: false });
    assert.equal(step.checkAfterMs, 2_000);
  });

  it("a Discovered peer that never connects becomes Unreachable, then Lost", () => {
    const discovered = nextPeerState(undefined, { now: t0, connected: false }).next;
    const unreachable = nextPeerState(discovered, { now: t0 + UNREACHABLE_AFTER_MS, connected: false });
    assert.equal(unreachable.next.state, PeerState.Unreachable);
    const lost = nextPeerState(unreachable.next, { now: t0 + LOST_AFTER_MS, connected: false });
    assert.equal(lost.next.state, PeerState.Lost);
    assert.equal(lost.next.reason, PeerStateReason.NotSeenForLong);
    assert.equal(lost.checkAfterMs, LOST_PROBE_INTERVAL_MS);
  });

  it("Unreachable goes Lost after LOST_AFTER_MS since last seen, not before", () => {
    const connected = nextPeerState(undefined, { now: t0, connected: true }).next;
    const unreachable = nextPeerState(connected, { now: t0 + UNREACHABLE_AFTER_MS, connected: false }).next;
    const still = nextPeerState(unreachable, { now: t0 + LOST_AFTER_MS - 1, connected: false });
    assert.equal(still.next.state, PeerState.Unreachable);
    assert.equal(still.changed, false);
    assert.equal(still.checkAfterMs, 1);
    assert.equal(nextPeerState(still.next, { now: t0 + LOST_AFTER_MS, connected: false }).next.state, PeerState.Lost);
  });

  it("Unreachable and Lost peers come back Connected (Reconnected) on contact", () => {
    const connected = nextPeerState(undefined, { now: t0, connected: true }).next;
    const unreachable = nextPeerState(connected, { now: t0 + UNREACHABLE_AFTER_MS, connected: false }).next;
    const back = nextPeerState(unreachable, { now: t0 + UNREACHABLE_AFTER_MS + 1, connected: true });
    assert.equal(back.next.state, PeerState.Connected);
    assert.equal(back.next.reason, PeerStateReason.Reconnected);
    assert.equal(back.changed, true);
    const lost = nextPeerState(unreachable, { now: t0 + LOST_AFTER_MS, connected: false }).next;
    assert.equal(nextPeerState(lost, { now: t0 + LOST_AFTER_MS + 1, connected: true }).next.state, PeerState.Connected);
  });

  it("never asks to wait longer than one probe interval while not Lost", () => {
    const steps = run([false, true, false, false, false, false, true, false]);
    for (const s of steps) assert.ok(s.checkAfterMs >= 0 && s.checkAfterMs <= PROBE_INTERVAL_MS, JSON.stringify(s));
  });

  it("probes a peer never reached yet again within a second, then at the interval once Connected", () => {
    const discovered = nextPeerState(undefined, { now: t0, connected: false });
    assert.equal(discovered.next.state, PeerState.Discovered);
    assert.equal(discovered.checkAfterMs, FIRST_CONTACT_RETRY_MS);
    const connected = nextPeerState(discovered.next, { now: t0 + FIRST_CONTACT_RETRY_MS, connected: true });
    assert.equal(connected.next.state, PeerState.Connected);
    assert.equal(connected.checkAfterMs, PROBE_INTERVAL_MS);
    // Its Unreachable deadline still counts from its discovery, probed sooner or not.
    assert.equal(nextPeerState(discovered.next, { now: t0 + UNREACHABLE_AFTER_MS, connected: false }).next.state, PeerState.Unreachable);
  });

  it("uses injected timing", () => {
    const timing = { probeIntervalMs: 100, unreachableAfterMs: 300, lostAfterMs: 1_000, lostProbeIntervalMs: 500 };
    const connected = nextPeerState(undefined, { now: 0, connected: true }, timing).next;
    assert.equal(nextPeerState(connected, { now: 300, connected: false }, timing).next.state, PeerState.Unreachable);
  });
});
