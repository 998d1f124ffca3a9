import assert from "node:assert/strict";
import type { Peer } from "../schema/peer.ts";
import { type ClusterDescriptor, DescriptorReason } from "./descriptor.ts";
import { defaultPeerTiming } from "./peerState.ts";
import { statusDiffers } from "../runtime/status.ts";
import { type DescriptorCheck, LAST_SEEN_RESOLUTION_MS, type PeerObservations, planPeerStatus, previousReachability } from "./peerStatus.ts";

const t0 = Date.parse("2026-11-28T12:00:00.000Z");
const peerId = "12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const descriptor: ClusterDescriptor = {
  type: "archipel.io/cluster-descriptor/v1",
  clusterName: "bravo",
  displayName: "Bravo",
  apiEndpoint: "https://bravo.example:8443",
  publicKey: "A".repeat(43),
  networks: [{ name: "science", peerId }],
  issuedAt: "2026-11-28T11:00:00.000Z",
  expiresAt: "2026-11-29T11:00:00.000Z",
};
const verified: DescriptorCheck = { kind: "verified", cid: "bafkreibravo", descriptor };

function newPeer(approval: "Pending" | "Accepted" | "Rejected" = "Accepted"): Peer {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "Peer",
    metadata: { name: "science-abc", generation: 1, creationTimestamp: new Date(t0).toISOString() } as Peer["metadata"],
    spec: { peerId, networkRef: { name: "science" }, approval, origin: "Discovered" },
  };
}

function obs(now: number, extra: Partial<PeerObservations> = {}): PeerObservations {
  return { now, timing: defaultPeerTiming, reachable: true, ...extra };
}

/** Applies a plan to the peer as the API server would (status replaced). */
function applied(peer: Peer, o: PeerObservations): { peer: Peer; plan: ReturnType<typeof planPeerStatus> } {
  const plan = planPeerStatus(peer, o);
  return { peer: { ...peer, status: plan.status }, plan };
}

const cond = (p: Peer, type: string) => p.status?.conditions?.find((c) => c.type === type);

describe("peer status", () => {
  it("a first contact with a verified descriptor: Connected, Ready, descriptor pinned, one Connected event", () => {
    const { peer, plan } = applied(newPeer(), obs(t0, { descriptor: verified, api: { ok: true, url: "u", rttMs: 1.6 } }));
    assert.equal(peer.status?.reachability, "Connected");
    assert.equal(peer.status?.lastSeen, new Date(t0).toISOString());
    assert.equal(peer.status?.missedIntervals, 0);
    assert.equal(peer.status?.rttMilliseconds, 2);
    assert.equal(peer.status?.observedGeneration, 1);
    assert.deepEqual(peer.status?.descriptor, {
      cid: "bafkreibravo",
      clusterName: "bravo",
      displayName: "Bravo",
      apiEndpoint: "https://bravo.example:8443",
      publicKey: descriptor.publicKey,
      networks: ["science"],
      issuedAt: descriptor.issuedAt,
      expiresAt: descriptor.expiresAt,
    });
    assert.equal(cond(peer, "Ready")?.status, "True");
    assert.equal(cond(peer, "Ready")?.reason, "Connected");
    assert.equal(cond(peer, "DescriptorVerified")?.reason, "Verified");
    assert.equal(cond(peer, "ApiReachable")?.status, "True");
    assert.deepEqual(plan.events.map((e) => e.reason), ["Connected"]);
    // The next probe: nothing new to tell.
    const again = planPeerStatus(peer, obs(t0 + 5_000));
    assert.deepEqual(again.events, []);
    assert.equal(again.status.descriptor?.cid, "bafkreibravo", "kept without a new check");
  });

  it("connected without a verified descriptor is not Ready", () => {
    const { peer } = applied(newPeer(), obs(t0, { descriptor: { kind: "unavailable", message: "could not resolve" } }));
    assert.equal(cond(peer, "Ready")?.reason, "DescriptorNotVerified");
    assert.equal(cond(peer, "DescriptorVerified")?.status, "Unknown");
    assert.match(cond(peer, "DescriptorVerified")?.message ?? "", /could not resolve/);
    assert.equal(cond(peer, "ApiReachable")?.reason, "NoEndpoint");
  });

  it("a descriptor signed by another key is refused as KeyChanged; the pinned descriptor stays", () => {
    const first = applied(newPeer(), obs(t0, { descriptor: verified })).peer;
    const refused: DescriptorCheck = { kind: "refused", cid: "bafkreievil", reason: DescriptorReason.KeyMismatch, message: "signed by key X" };
    const { peer, plan } = applied(first, obs(t0 + 5_000, { descriptor: refused }));
    assert.deepEqual(peer.status?.descriptor, first.status?.descriptor);
    assert.equal(cond(peer, "DescriptorVerified")?.status, "False");
    assert.equal(cond(peer, "DescriptorVerified")?.reason, "KeyChanged");
    assert.equal(cond(peer, "Ready")?.reason, "DescriptorNotVerified");
    assert.ok(plan.events.some((e) => e.reason === "KeyChanged" && e.type === "Warning"));
    // A later failed fetch does not clear the refusal; a tampered one is refused with its own reason.
    assert.equal(cond(applied(peer, obs(t0 + 10_000, { descriptor: { kind: "unavailable", message: "timeout" } })).peer, "DescriptorVerified")?.reason, "KeyChanged");
    const bad = applied(peer, obs(t0 + 10_000, { descriptor: { kind: "refused", cid: "x", reason: DescriptorReason.BadSignature, message: "m" } })).peer;
    assert.equal(cond(bad, "DescriptorVerified")?.reason, DescriptorReason.BadSignature);
    assert.deepEqual(bad.status?.descriptor, first.status?.descriptor);
  });

  it("a pinned descriptor that expired without a newer one is no longer verified", () => {
    const first = applied(newPeer(), obs(t0, { descriptor: verified })).peer;
    const later = Date.parse(descriptor.expiresAt) + 1;
    const { peer } = applied(first, obs(later, { descriptor: { kind: "unavailable", message: "timeout" } }));
    assert.equal(cond(peer, "DescriptorVerified")?.reason, DescriptorReason.Expired);
    assert.equal(cond(peer, "Ready")?.status, "False");
  });

  it("silence: Unreachable after 3 missed intervals (one Warning event), Connected again on contact", () => {
    let peer = applied(newPeer(), obs(t0, { descriptor: verified })).peer;
    const events: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const r = applied(peer, obs(t0 + i * 5_000, { reachable: false, rememberedLastSeen: t0 }));
      peer = r.peer;
      events.push(...r.plan.events.map((e) => e.reason));
    }
    assert.equal(peer.status?.reachability, "Unreachable");
    assert.equal(peer.status?.missedIntervals, 3);
    assert.equal(peer.status?.lastSeen, new Date(t0).toISOString());
    assert.equal(cond(peer, "Reachable")?.reason, "MissedProbes");
    assert.equal(cond(peer, "Ready")?.reason, "NotConnected");
    assert.deepEqual(events, ["Unreachable"]);
    const back = applied(peer, obs(t0 + 20_000));
    assert.equal(back.peer.status?.reachability, "Connected");
    assert.equal(cond(back.peer, "Reachable")?.reason, "Reconnected");
    assert.deepEqual(back.plan.events.map((e) => e.reason), ["Connected"]);
  });

  it("rebuilds the previous reachability from status: the exact last contact from memory, else the latest the minute allows", () => {
    const peer = applied(newPeer(), obs(t0 + 1_000)).peer;
    assert.equal(peer.status?.lastSeen, new Date(t0).toISOString(), "to the minute");
    const remembered = previousReachability(peer, t0 + 1_000);
    assert.equal(remembered?.state, "Connected");
    assert.equal(remembered?.lastSeen, t0 + 1_000);
    assert.equal(remembered?.discoveredAt, t0);
    assert.equal(previousReachability(peer)?.lastSeen, t0 + LAST_SEEN_RESOLUTION_MS - 1, "after a restart: never earlier than it may have been");
    assert.equal(previousReachability(peer, t0 - 120_000)?.lastSeen, t0 + LAST_SEEN_RESOLUTION_MS - 1, "status of a later minute wins over an old memory");
    assert.equal(previousReachability(newPeer()), undefined);
  });

  it("a steady Connected peer plans the status it has: no write across many probes despite RTT jitter", () => {
    let { peer } = applied(newPeer(), obs(t0, { descriptor: verified, api: { ok: true, url: "u", rttMs: 3 } }));
    const written = peer.status;
    for (let i = 1; i <= 10; i++) {
      const now = t0 + i * 5_000;
      const plan = planPeerStatus(peer, obs(now, { rememberedLastSeen: now - 5_000, api: { ok: true, url: "u", rttMs: [2, 9, 4, 15][i % 4] ?? 3 } }));
      assert.equal(statusDiffers(peer.status, plan.status), false, `probe ${i} would write: ${JSON.stringify(plan.status)}`);
      assert.deepEqual(plan.events, []);
      peer = { ...peer, status: plan.status };
    }
    assert.deepEqual(peer.status, written);
    // The minute turns: lastSeen moves (one write a minute at most).
    const next = planPeerStatus(peer, obs(t0 + 60_000, { rememberedLastSeen: t0 + 55_000, api: { ok: true, url: "u", rttMs: 3 } }));
    assert.equal(statusDiffers(peer.status, next.status), true);
    assert.equal(next.status.lastSeen, new Date(t0 + 60_000).toISOString());
  });

  it("an RTT is written again when it changed significantly", () => {
    const { peer } = applied(newPeer(), obs(t0, { descriptor: verified, api: { ok: true, url: "u", rttMs: 3 } }));
    assert.equal(planPeerStatus(peer, obs(t0 + 5_000, { api: { ok: true, url: "u", rttMs: 20 } })).status.rttMilliseconds, 3);
    assert.equal(planPeerStatus(peer, obs(t0 + 5_000, { api: { ok: true, url: "u", rttMs: 80 } })).status.rttMilliseconds, 80);
    const slow = { ...peer, status: { ...peer.status, rttMilliseconds: 200 } };
    assert.equal(planPeerStatus(slow, obs(t0 + 5_000, { api: { ok: true, url: "u", rttMs: 260 } })).status.rttMilliseconds, 200);
    assert.equal(planPeerStatus(slow, obs(t0 + 5_000, { api: { ok: true, url: "u", rttMs: 90 } })).status.rttMilliseconds, 90);
    assert.equal(planPeerStatus(slow, obs(t0 + 5_000, { api: { ok: false, url: "u", message: "m" } })).status.rttMilliseconds, undefined);
  });

  it("after a restart (no memory) a silent Connected peer is not declared Unreachable early", () => {
    const peer = applied(newPeer(), obs(t0 + 30_000, { descriptor: verified })).peer; // lastSeen 12:00 (to the minute), really 12:00:30
    const soon = planPeerStatus(peer, obs(t0 + 50_000, { reachable: false }));
    assert.equal(soon.status.reachability, "Connected", "20 s after the real contact: within the grace period");
    const late = planPeerStatus(peer, obs(t0 + LAST_SEEN_RESOLUTION_MS + 15_000, { reachable: false }));
    assert.equal(late.status.reachability, "Unreachable");
  });

  it("a Lost peer stays Lost until it answers, and missedIntervals is refreshed when it doubles", () => {
    let peer = applied(newPeer(), obs(t0, { descriptor: verified })).peer;
    const missed: number[] = [];
    for (let i = 1; i <= 40; i++) {
      peer = applied(peer, obs(t0 + i * 5_000, { reachable: false, rememberedLastSeen: t0 })).peer;
      missed.push(peer.status?.missedIntervals ?? -1);
    }
    assert.equal(peer.status?.reachability, "Unreachable");
    assert.deepEqual([...new Set(missed)], [0, 3, 6, 12, 24], "0 while Connected, refreshed on the state change, then on doubling");
    const lost = applied(peer, obs(t0 + 600_000, { reachable: false, rememberedLastSeen: t0 })).peer;
    assert.equal(lost.status?.reachability, "Lost");
    assert.equal(planPeerStatus(lost, obs(t0 + 660_000, { reachable: false })).status.reachability, "Lost", "no memory after a restart: still Lost");
  });

  it("an API that does not answer: ApiReachable=False, no RTT, still Ready", () => {
    const { peer } = applied(newPeer(), obs(t0, { descriptor: verified, api: { ok: false, url: "https://bravo.example:8443/federation/v1/ping", message: "no answer within 2000 ms" } }));
    assert.equal(peer.status?.rttMilliseconds, undefined);
    assert.equal(cond(peer, "ApiReachable")?.reason, "NoAnswer");
    assert.equal(cond(peer, "Ready")?.status, "True");
  });

  it("Rejected: Ready=False Rejected once (one event), reachability left as it was, no RTT", () => {
    const connected = applied(newPeer(), obs(t0, { descriptor: verified, api: { ok: true, url: "u", rttMs: 1 } })).peer;
    const rejectedPeer: Peer = { ...connected, spec: { ...connected.spec!, approval: "Rejected" } };
    const first = applied(rejectedPeer, { now: t0 + 60_000, timing: defaultPeerTiming, refusalNote: "not filtered: 127.0.0.1 (this node listens on it)" });
    assert.equal(cond(first.peer, "Ready")?.reason, "Rejected");
    assert.match(cond(first.peer, "Ready")?.message ?? "", /127\.0\.0\.1/);
    assert.equal(first.peer.status?.reachability, "Connected", "not probed");
    assert.equal(first.peer.status?.rttMilliseconds, undefined);
    assert.deepEqual(first.plan.events.map((e) => e.reason), ["Rejected"]);
    const second = planPeerStatus(first.peer, { now: t0 + 65_000, timing: defaultPeerTiming, refusalNote: "not filtered: 127.0.0.1 (this node listens on it)" });
    assert.deepEqual(second.events, []);
  });
});
