import assert from "node:assert/strict";
import type { Network } from "../schema/network.ts";
import { swarmKeyField } from "./contracts.ts";
import { checkSwarmKeySecret, NetworkReason, networkChanged, networkStatusFields, nodeInUseBy, peerIdOfAddr, planBootstrap, swarmKeySource } from "./networkPlan.ts";
import { isReadyTransition } from "./readyTransition.ts";
import { generateSwarmKey } from "./swarmKey.ts";

const peerA = "12D3KooWAbCdEfGhJkLmNpQrStUvWxYz1234567891aBcDeFgHjK";
const peerB = "12D3KooWBbCdEfGhJkLmNpQrStUvWxYz1234567891aBcDeFgHjK";
const peerC = "12D3KooWCbCdEfGhJkLmNpQrStUvWxYz1234567891aBcDeFgHjK";

function net(name: string, created: string, spec: Partial<Network["spec"]>, peerId?: string): Network {
  return { metadata: { name, creationTimestamp: created }, spec: { approvalPolicy: "auto", ipfs: { mode: "managed" }, ...spec }, status: peerId ? { peerId } : {} } as Network;
}

const b64 = (s: string): string => Buffer.from(s).toString("base64");

describe("networkPlan", () => {
  it("the swarm key: given ref, or a generated Secret for managed nodes only", () => {
    assert.deepEqual(swarmKeySource(net("sci", "2026-01-01T00:00:00Z", {}), "sys"), { source: { namespace: "sys", name: "kubo-sci-swarm-key" }, generated: true });
    assert.deepEqual(swarmKeySource(net("sci", "2026-01-01T00:00:00Z", { swarmKeySecretRef: { namespace: "n", name: "k" } }), "sys"), { source: { namespace: "n", name: "k" }, generated: false });
    assert.equal(swarmKeySource(net("sci", "2026-01-01T00:00:00Z", { ipfs: { mode: "external", apiURL: "http://x" } }), "sys"), undefined);
  });

  it("a missing or invalid swarm key names spec.swarmKeySecretRef, never the key", () => {
    const loc = { namespace: "n", name: "k" };
    const missing = checkSwarmKeySecret(loc, undefined);
    assert.equal(!missing.ok && missing.reason, NetworkReason.SwarmKeyMissing);
    assert.match(!missing.ok ? missing.message : "", /spec\.swarmKeySecretRef \(Secret n\/k\) does not exist/);
    assert.equal(!checkSwarmKeySecret(loc, {}).ok && NetworkReason.SwarmKeyMissing, NetworkReason.SwarmKeyMissing);
    const secretDigits = "ab".repeat(31);
    const bad = checkSwarmKeySecret(loc, { [swarmKeyField]: b64(`/key/swarm/psk/1.0.0/\n/base16/\n${secretDigits}\n`) });
    assert.equal(!bad.ok && bad.reason, NetworkReason.SwarmKeyInvalid);
    assert.match(!bad.ok ? bad.message : "", /spec\.swarmKeySecretRef .* line 3 must be 64 hexadecimal digits/);
    assert.doesNotMatch(!bad.ok ? bad.message : "", new RegExp(secretDigits));
    const key = generateSwarmKey();
    const ok = checkSwarmKeySecret(loc, { [swarmKeyField]: b64(key.replace(/\n/g, "\r\n")) });
    assert.equal(ok.ok && ok.keyText, key);
  });

  it("the younger of two Networks on one node (same URL or same peer ID) is the one in use", () => {
    const urlOf = (n: Network): string | undefined => n.spec?.ipfs?.apiURL;
    const old = net("old", "2026-01-01T00:00:00Z", { ipfs: { mode: "external", apiURL: "http://127.0.0.1:5001/" } }, peerA);
    const young = net("young", "2026-01-02T00:00:00Z", { ipfs: { mode: "external", apiURL: "http://127.0.0.1:5001" } });
    const other = net("other", "2026-01-03T00:00:00Z", { ipfs: { mode: "external", apiURL: "http://127.0.0.1:6001" } });
    assert.equal(nodeInUseBy(young, [other, young, old], { url: "http://127.0.0.1:5001", peerId: undefined }, urlOf)?.metadata?.name, "old");
    assert.equal(nodeInUseBy(old, [other, young, old], { url: "http://127.0.0.1:5001/", peerId: peerA }, urlOf), undefined);
    assert.equal(nodeInUseBy(other, [other, young, old], { url: "http://127.0.0.1:6001", peerId: peerA }, urlOf)?.metadata?.name, "old", "same peer ID through another URL");
    assert.equal(nodeInUseBy(other, [other, young, old], { url: "http://127.0.0.1:6001", peerId: peerB }, urlOf), undefined);
  });

  it("reads the peer ID of a full multiaddr", () => {
    assert.equal(peerIdOfAddr(`/ip4/127.0.0.1/tcp/4001/p2p/${peerA}`), peerA);
    assert.equal(peerIdOfAddr("/ip4/127.0.0.1/tcp/4001"), undefined);
  });

  it("bootstrap peers are added to peering and dialled, never this node nor a Rejected peer, and nothing is removed", () => {
    const a1 = `/ip4/127.0.0.2/tcp/4001/p2p/${peerA}`;
    const b1 = `/ip4/127.0.0.3/tcp/4001/p2p/${peerB}`;
    const c1 = `/ip4/127.0.0.4/tcp/4001/p2p/${peerC}`;
    const plan = planBootstrap([a1, b1, c1, "/ip4/1.2.3.4/tcp/1"], { ownPeerId: peerC, peering: [{ peerId: "12D3KooWOtherPeerKeptByThePeerController1234567", addrs: ["/ip4/9.9.9.9/tcp/1"] }], connected: new Set([peerB]) }, new Set());
    assert.deepEqual(plan.add, [[a1], [b1]]);
    assert.deepEqual(plan.connect, [a1]);
    assert.deepEqual(plan.invalid, ["/ip4/1.2.3.4/tcp/1"]);
    const again = planBootstrap([a1, b1], { ownPeerId: peerC, peering: [{ peerId: peerA, addrs: ["/ip4/127.0.0.2/tcp/4001"] }, { peerId: peerB, addrs: [b1] }], connected: new Set([peerA, peerB]) }, new Set());
    assert.deepEqual(again, { add: [], connect: [], invalid: [] });
    assert.deepEqual(planBootstrap([a1], { ownPeerId: peerC, peering: [], connected: new Set() }, new Set([peerA])), { add: [], connect: [], invalid: [] });
  });

  it("status: a node that does not answer keeps its last identity; a node in use by another Network shows none", () => {
    const previous = { peerId: peerA, addresses: [`/ip4/127.0.0.2/tcp/4001/p2p/${peerA}`], connectedPeers: 2 };
    const ready = (reason: string): { type: string; status: "True" | "False"; reason: string; message: string } => ({ type: "Ready", status: reason === "NodeReady" ? "True" : "False", reason, message: "" });
    const node = { peerId: peerB, addresses: ["/ip4/127.0.0.3/tcp/4001"], agentVersion: "kubo" };
    assert.deepEqual(networkStatusFields(previous, { ready: ready("NodeReady"), node, connectedPeers: 1 }), { swarmKeySecretRef: undefined, peerId: peerB, addresses: node.addresses, connectedPeers: 1 });
    assert.deepEqual(networkStatusFields(previous, { ready: ready("NodeUnreachable") }), { swarmKeySecretRef: undefined, peerId: peerA, addresses: previous.addresses, connectedPeers: 0 });
    assert.equal(networkStatusFields(previous, { ready: ready("NodeInUse") }).peerId, undefined);
    assert.equal(networkStatusFields(previous, { ready: ready("SwarmKeyInvalid") }).connectedPeers, undefined);
  });

  it("an Event is worth it when Ready's status or reason changes, not its message", () => {
    const c = [{ type: "Ready", status: "True" as const, reason: "NodeReady", message: "a", lastTransitionTime: "2026-01-01T00:00:00Z" }];
    assert.equal(isReadyTransition(c, { type: "Ready", status: "True", reason: "NodeReady", message: "b" }), false);
    assert.equal(isReadyTransition(c, { type: "Ready", status: "False", reason: "NodeUnreachable", message: "b" }), true);
    assert.equal(isReadyTransition(undefined, { type: "Ready", status: "True", reason: "NodeReady", message: "b" }), true);
  });

  describe("networkChanged (what wakes the Peers and the Identity of a Network)", () => {
    const ready = (status: "True" | "False", reason: string) => [{ type: "Ready", status, reason, message: "", lastTransitionTime: "2026-12-03T10:00:00Z" }];
    const base: Network = { apiVersion: "archipel.io/v1alpha1", kind: "Network", metadata: { name: "science", generation: 1 }, spec: {}, status: { peerId: "12D3A", connectedPeers: 2, conditions: ready("True", "NodeReady") } } as Network;
    const withStatus = (status: Partial<NonNullable<Network["status"]>>): Network => ({ ...base, status: { ...base.status, ...status } });

    it("is false for a new count of connected peers, which every pass of a forming swarm rewrites", () => {
      assert.equal(networkChanged(base, withStatus({ connectedPeers: 9 })), false);
    });

    it("is true for a spec, a node, a readiness or a deletion", () => {
      assert.equal(networkChanged(base, { ...base, metadata: { ...base.metadata, generation: 2 } }), true);
      assert.equal(networkChanged(base, withStatus({ peerId: "12D3B" })), true);
      assert.equal(networkChanged(base, withStatus({ conditions: ready("False", "NodeUnreachable") })), true);
      assert.equal(networkChanged(base, withStatus({ conditions: ready("False", "NodeInUse") })), true);
      assert.equal(networkChanged(base, { ...base, metadata: { ...base.metadata, deletionTimestamp: "2026-12-03T10:00:00Z" } }), true);
    });
  });
});
