import assert from "node:assert/strict";
import type { Peer } from "../schema/peer.ts";
import { type ClusterDescriptor, DescriptorReason } from "./descriptor.ts";
import { defaultPeerTiming } from "./peerState.ts";
import { type DescriptorCheck, type PeerObservations, planPeerStatus, previousReachability } from "./peerStatus.ts";

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
      const r = applied(peer, obs(t0 + i * 5_000, { reachable: false }));
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

  it("rebuilds the previous reachability from status", () => {
    const peer = applied(newPeer(), obs(t0 + 1_000)).peer;
    const prev = previousReachability(peer);
    assert.equal(prev?.state, "Connected");
    assert.equal(prev?.lastSeen, t0 + 1_000);
    assert.equal(prev?.discoveredAt, t0);
    assert.equal(previousReachability(newPeer()), undefined);
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
