import assert from "node:assert/strict";
import { afterFailure, dialableAddresses, discoveredPeerObject, dueCandidates, isDue, nextPassAfterMs, peerIdOfMultiaddr, selectCandidates } from "./candidates.ts";
import { discoveredPeerName, peerLabels } from "./contracts.ts";
import type { ClusterDescriptor } from "./descriptor.ts";
import { FAST_RETRIES, UNRESOLVED_RETRY_MS } from "./discoveryTiming.ts";

const own = "12D3KooWOwnOwnOwnOwnOwnOwnOwnOwnOwnOwnOwnOwnOwnOwn1";
const b = "12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const c = "12D3KooWCccccccccccccccccccccccccccccccccccccccccc";
const d = "12D3KooWDddddddddddddddddddddddddddddddddddddddddd";

describe("discovery candidates", () => {
  it("takes swarm peers, announcements and bootstrap peer IDs, each once, without this node or known peers", () => {
    const got = selectCandidates({
      ownPeerId: own,
      swarmPeerIds: [own, b, c, b],
      announced: new Map([[d, "bafkreiexample"], [c, "bafkreiother"]]),
      bootstrap: [`/ip4/127.0.0.1/tcp/4001/p2p/${b}`, `/ip4/127.0.0.1/tcp/4001/p2p/${own}`, "/dns4/no-peer-id.example/tcp/4001"],
      known: new Set([c]),
    });
    assert.deepEqual(got, [{ peerId: b }, { peerId: d, cidHint: "bafkreiexample" }]);
  });

  it("a bootstrap-only peer is a candidate too (pubsub is never the only path)", () => {
    const got = selectCandidates({ ownPeerId: own, swarmPeerIds: [], announced: new Map(), bootstrap: [`/ip4/10.0.0.1/tcp/4001/p2p/${d}`], known: new Set() });
    assert.deepEqual(got, [{ peerId: d }]);
  });

  it("reads the peer ID at the end of a multiaddr", () => {
    assert.equal(peerIdOfMultiaddr(`/ip4/1.2.3.4/tcp/1/p2p/${b}`), b);
    assert.equal(peerIdOfMultiaddr(`/ip4/1.2.3.4/tcp/1/ipfs/${b}`), b);
    assert.equal(peerIdOfMultiaddr("/ip4/1.2.3.4/tcp/1"), undefined);
  });

  it("retries an unresolved candidate fast, then at the discovery interval", () => {
    let attempts;
    for (let i = 1; i < FAST_RETRIES; i++) {
      attempts = afterFailure(attempts, 1000 * i, 5_000);
      assert.equal(attempts.nextAttemptAt, 1000 * i + UNRESOLVED_RETRY_MS);
    }
    attempts = afterFailure(attempts, 100_000, 5_000);
    assert.equal(attempts.failures, FAST_RETRIES);
    assert.equal(attempts.nextAttemptAt, 105_000);
    assert.equal(isDue(attempts, 104_999), false);
    assert.equal(isDue(attempts, 105_000), true);
    assert.equal(isDue(undefined, 0), true);
  });

  it("a pass examines a candidate that came due while it examined others, once per pass", () => {
    const found = [{ peerId: "12D3A" }, { peerId: "12D3B" }, { peerId: "12D3C" }];
    const attempts = new Map([["12D3B", { failures: 1, nextAttemptAt: 1_500 }]]);
    const examined = new Set<string>();
    const first = dueCandidates(found, attempts, examined, 1_000);
    assert.deepEqual(first.map((c) => c.peerId), ["12D3A", "12D3C"], "B is not due yet");
    for (const c of first) examined.add(c.peerId);
    // A failed meanwhile (due again later), C was verified; B came due while they were examined.
    attempts.set("12D3A", { failures: 1, nextAttemptAt: 4_000 });
    assert.deepEqual(dueCandidates(found, attempts, examined, 2_300).map((c) => c.peerId), ["12D3B"]);
    examined.add("12D3B");
    assert.deepEqual(dueCandidates(found, attempts, examined, 5_000), [], "each at most once per pass, even when due again");
  });

  it("the next pass comes when the soonest pending candidate is due, else at the interval", () => {
    assert.equal(nextPassAfterMs([], 0, 5_000), 5_000);
    assert.equal(nextPassAfterMs([{ failures: 1, nextAttemptAt: 2_000 }, { failures: 12, nextAttemptAt: 5_000 }], 0, 5_000), 2_000);
    assert.equal(nextPassAfterMs([{ failures: 1, nextAttemptAt: 10 }], 0, 5_000), 200, "never a busy loop");
    assert.equal(nextPassAfterMs([{ failures: 1, nextAttemptAt: 60_000 }], 0, 5_000), 5_000);
  });

  it("keeps dialable addresses only, each with this peer's /p2p/ suffix", () => {
    const got = dialableAddresses(b, [
      "/ip4/127.0.0.5/tcp/4001",
      `/ip4/127.0.0.5/tcp/4001/p2p/${b}`,
      "/ip4/0.0.0.0/tcp/4001",
      `/ip4/127.0.0.9/tcp/4001/p2p/${c}/p2p-circuit`,
      `/ip4/127.0.0.9/tcp/4001/p2p/${c}`,
    ]);
    assert.deepEqual(got, [`/ip4/127.0.0.5/tcp/4001/p2p/${b}`]);
  });

  it("builds the discovered Peer: deterministic name, labels, approval from the policy", () => {
    const descriptor = { clusterName: "bravo" } as ClusterDescriptor;
    const auto = discoveredPeerObject({ networkName: "science", peerId: b, addresses: ["/ip4/127.0.0.5/tcp/4001"], descriptor, approvalPolicy: "auto" });
    assert.equal(auto.metadata.name, discoveredPeerName("science", b));
    assert.deepEqual(auto.metadata.labels, { [peerLabels.network]: "science", [peerLabels.clusterName]: "bravo" });
    assert.deepEqual(auto.spec, { peerId: b, networkRef: { name: "science" }, addresses: [`/ip4/127.0.0.5/tcp/4001/p2p/${b}`], origin: "Discovered", approval: "Accepted" });
    assert.equal(discoveredPeerObject({ networkName: "science", peerId: b, addresses: [], descriptor, approvalPolicy: "manual" }).spec.approval, "Pending");
    assert.equal(discoveredPeerObject({ networkName: "science", peerId: b, addresses: [], descriptor, approvalPolicy: undefined }).spec.approval, "Pending");
  });
});
