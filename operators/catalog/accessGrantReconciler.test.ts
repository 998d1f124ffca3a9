import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ReconcileContext } from "../runtime/index.ts";
import type { AccessGrant } from "../schema/accessGrant.ts";
import { peerGrantKeys } from "./accessGrantReconciler.ts";

function grant(name: string, grantee: AccessGrant["spec"]["grantee"]): AccessGrant {
  return { metadata: { name, namespace: "ns" }, spec: { resourceRef: { name: "r" }, grantee, mode: "read", expiresAt: "2030-01-01T00:00:00Z" } } as AccessGrant;
}

describe("accessGrantReconciler: peerGrantKeys (the Peer watch)", () => {
  const grants = [grant("for-b", { kind: "Peer", name: "b" }), grant("for-c", { kind: "Peer", name: "c" }), grant("for-alice", { kind: "User", name: "alice" })];
  let cached: KubernetesObject | undefined;
  const cache = (() => ({ get: () => cached })) as unknown as ReconcileContext["cache"];
  const peer = (approval: string, lastSeen: string): KubernetesObject => ({ metadata: { name: "b" }, spec: { approval }, status: { lastSeen } }) as KubernetesObject;

  it("enqueues only that Peer's grants, and only when its approval changes: heartbeats enqueue nothing", () => {
    const map = peerGrantKeys(() => cache, () => grants);
    cached = peer("Accepted", "t0");
    assert.deepEqual(map(cached), [{ namespace: "ns", name: "for-b" }], "first seen");
    // An update calls the map with the old and the new version; the cache holds the new one.
    const old = cached;
    cached = peer("Accepted", "t1");
    assert.deepEqual([...map(old), ...map(cached)], [], "heartbeat");
    cached = peer("Rejected", "t2");
    assert.deepEqual([...map(old), ...map(cached)], [{ namespace: "ns", name: "for-b" }], "approval changed");
    const last = cached;
    cached = undefined;
    assert.deepEqual(map(last), [{ namespace: "ns", name: "for-b" }], "deleted (gone from the cache)");
  });
});
