import assert from "node:assert/strict";
import type { Peer } from "../schema/peer.ts";
import { checkClusterName, clusterNameConflict, holdersOf, peerForClusterName } from "./clusterNames.ts";
import type { DescriptorCheck } from "./peerStatus.ts";

const verified = { type: "DescriptorVerified", status: "True", reason: "Verified", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" };

function peer(name: string, clusterName: string | undefined, publicKey: string, opts: { approval?: string; conditions?: object[] } = {}): Peer {
  const { approval = "Accepted", conditions = [verified] } = opts;
  return {
    metadata: { name },
    spec: { peerId: `id-${name}`, networkRef: { name: "net" }, approval },
    ...(clusterName ? { status: { descriptor: { cid: "c", clusterName, apiEndpoint: "http://127.0.0.1:1", publicKey, issuedAt: "", expiresAt: "" }, conditions } } : {}),
  } as unknown as Peer;
}

function verifiedCheck(clusterName: string, publicKey: string): DescriptorCheck {
  return { kind: "verified", cid: "cid-new", descriptor: { clusterName, publicKey } as never };
}

describe("clusterNames: one cluster name, one key", () => {
  const bravo = peer("science-bravo", "bravo", "KEY-B");

  it("a descriptor claiming a name another Peer holds with another key is refused, naming the holder", () => {
    const check = checkClusterName(verifiedCheck("bravo", "KEY-M"), [bravo]);
    assert.equal(check.kind, "refused");
    assert.equal(check.kind === "refused" && check.reason, "ClusterNameTaken");
    assert.match(check.kind === "refused" ? check.message : "", /Peer science-bravo/);
  });

  it("the same key (the same cluster in another Network, or a re-publication) is no conflict", () => {
    assert.equal(checkClusterName(verifiedCheck("bravo", "KEY-B"), [bravo]).kind, "verified");
    assert.equal(checkClusterName(verifiedCheck("bravo", "KEY-B2"), [peer("p", "bravo", "KEY-B")], "p").kind, "verified", "a Peer never conflicts with itself");
  });

  it("a Rejected Peer, or one with no pinned descriptor yet, holds no name", () => {
    assert.equal(clusterNameConflict([peer("s", "bravo", "KEY-S", { approval: "Rejected" })], { clusterName: "bravo", publicKey: "KEY-B" }), undefined);
    assert.equal(clusterNameConflict([peer("new", undefined, "")], { clusterName: "bravo", publicKey: "KEY-B" }), undefined);
    assert.deepEqual(holdersOf([bravo, peer("s", "bravo", "KEY-S", { approval: "Rejected" })], "bravo"), [bravo]);
  });

  it("a Pending Peer, or one whose pinned descriptor is no longer verified, still holds its name", () => {
    const stale = peer("old", "bravo", "KEY-B", { conditions: [{ ...verified, status: "False", reason: "DescriptorExpired" }] });
    assert.ok(clusterNameConflict([stale], { clusterName: "bravo", publicKey: "KEY-M" }));
    assert.ok(clusterNameConflict([peer("p", "bravo", "KEY-B", { approval: "Pending" })], { clusterName: "bravo", publicKey: "KEY-M" }));
  });

  it("refusals and unavailable lookups pass through unchanged", () => {
    const unavailable: DescriptorCheck = { kind: "unavailable", message: "no answer" };
    assert.equal(checkClusterName(unavailable, [bravo]), unavailable);
  });

  it("lookup: none, found, and ambiguous when two non-Rejected Peers carry the name with different keys", () => {
    assert.deepEqual(peerForClusterName([bravo], "alpha"), { kind: "none" });
    assert.deepEqual(peerForClusterName([bravo], "bravo"), { kind: "found", peer: bravo });
    const impostor = peer("science-m", "bravo", "KEY-M");
    const result = peerForClusterName([bravo, impostor], "bravo");
    assert.equal(result.kind, "ambiguous");
    assert.deepEqual(result.kind === "ambiguous" && result.peers, ["science-bravo", "science-m"]);
    assert.equal(peerForClusterName([impostor, bravo], "bravo").kind, "ambiguous", "order of the cache does not matter");
  });

  it("lookup: a Rejected impostor does not shadow the member; the member's own key Rejected anywhere wins (fail closed)", () => {
    const rejectedImpostor = peer("science-m", "bravo", "KEY-M", { approval: "Rejected" });
    assert.deepEqual(peerForClusterName([rejectedImpostor, bravo], "bravo"), { kind: "found", peer: bravo });
    const rejectedElsewhere = peer("other-bravo", "bravo", "KEY-B", { approval: "Rejected" });
    assert.deepEqual(peerForClusterName([bravo, rejectedElsewhere], "bravo"), { kind: "found", peer: rejectedElsewhere });
    assert.deepEqual(peerForClusterName([rejectedImpostor], "bravo"), { kind: "found", peer: rejectedImpostor });
  });

  it("lookup: the same cluster in two Networks prefers the Accepted, verified Peer", () => {
    const pending = peer("manual-bravo", "bravo", "KEY-B", { approval: "Pending" });
    const unverified = peer("x-bravo", "bravo", "KEY-B", { conditions: [{ ...verified, status: "Unknown" }] });
    assert.deepEqual(peerForClusterName([pending, unverified, bravo], "bravo"), { kind: "found", peer: bravo });
    assert.deepEqual(peerForClusterName([pending], "bravo"), { kind: "found", peer: pending });
  });
});
