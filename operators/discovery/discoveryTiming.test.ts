import assert from "node:assert/strict";
import { deferWake, discoveryIntervalMs, DISCOVERY_INTERVAL_MS, durationMs, nodeDownRetryMs, passIntervalMs, peerTimingFor, SWARM_CHANGED_RETRY_MS, swarmKeyOf } from "./discoveryTiming.ts";
import { defaultPeerTiming } from "./peerState.ts";

describe("discovery timing", () => {
  it("parses Go durations", () => {
    assert.equal(durationMs("5s"), 5_000);
    assert.equal(durationMs("1m30s"), 90_000);
    assert.equal(durationMs("250ms"), 250);
    assert.equal(durationMs("1.5h"), 5_400_000);
    assert.equal(durationMs("5"), undefined);
    assert.equal(durationMs("5s junk"), undefined);
    assert.equal(durationMs(undefined), undefined);
  });

  it("defaults to peerState's documented timing", () => {
    assert.equal(discoveryIntervalMs(undefined), DISCOVERY_INTERVAL_MS);
    assert.deepEqual(peerTimingFor(undefined), defaultPeerTiming);
    assert.deepEqual(peerTimingFor({}), defaultPeerTiming);
  });

  it("applies a Network's overrides: interval, missed intervals, lost after", () => {
    const t = peerTimingFor({ interval: "2s", unreachableAfterMissed: 4, lostAfter: "1m" });
    assert.equal(t.probeIntervalMs, 2_000);
    assert.equal(t.unreachableAfterMs, 8_000);
    assert.equal(t.lostAfterMs, 60_000);
    assert.equal(peerTimingFor({ interval: "2s" }).unreachableAfterMs, 6_000, "3 missed intervals by default");
  });

  it("keeps the timing sane: interval at least 500 ms, Lost after Unreachable", () => {
    assert.equal(discoveryIntervalMs({ interval: "1ms" }), 500);
    const t = peerTimingFor({ interval: "10s", lostAfter: "5s" });
    assert.ok(t.lostAfterMs > t.unreachableAfterMs);
  });
});

describe("deferWake", () => {
  it("runs the first pass, a pass on a changed spec, and a pass that is due", () => {
    assert.equal(deferWake(undefined, "1", 0), undefined);
    assert.equal(deferWake({ nextAt: 5_000, specKey: "1" }, "2", 0), undefined);
    assert.equal(deferWake({ nextAt: 5_000, specKey: "1" }, "1", 4_990), undefined);
  });

  it("defers an early wake on the same spec to the planned time", () => {
    assert.equal(deferWake({ nextAt: 5_000, specKey: "1" }, "1", 1_000), 4_000);
  });
});

describe("passIntervalMs", () => {
  it("looks again within a second while the swarm changes, at the interval once it is steady", () => {
    assert.equal(passIntervalMs(DISCOVERY_INTERVAL_MS, true), SWARM_CHANGED_RETRY_MS);
    assert.equal(passIntervalMs(DISCOVERY_INTERVAL_MS, false), DISCOVERY_INTERVAL_MS);
    assert.equal(passIntervalMs(500, true), 500, "never slower than a shorter interval");
  });

  it("compares swarms whatever the order and repetition of their peer IDs", () => {
    assert.equal(swarmKeyOf(["b", "a", "b"]), swarmKeyOf(["a", "b"]));
    assert.notEqual(swarmKeyOf(["a", "b"]), swarmKeyOf(["a", "b", "c"]));
  });
});

describe("nodeDownRetryMs", () => {
  it("asks a node that does not answer again each second a few times, then at the interval", () => {
    assert.equal(nodeDownRetryMs(1, DISCOVERY_INTERVAL_MS), 1_000);
    assert.equal(nodeDownRetryMs(10, DISCOVERY_INTERVAL_MS), 1_000);
    assert.equal(nodeDownRetryMs(11, DISCOVERY_INTERVAL_MS), DISCOVERY_INTERVAL_MS);
    // never slower than a Network's own shorter interval
    assert.equal(nodeDownRetryMs(1, 500), 500);
  });
});
