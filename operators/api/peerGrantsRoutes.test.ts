import assert from "node:assert/strict";
import { FederationRequestError } from "../federation/client.ts";
import type { Peer } from "../schema/peer.ts";
import { ApiError } from "./errors.ts";
import { accessGrantKind } from "../schema/accessGrant.ts";
import { kindSchemas } from "./kind-schemas.ts";
import { checkedPeerBody, grantTarget, peerAnswer, peerFailure } from "./peerGrantsRoutes.ts";

const verified = { type: "DescriptorVerified", status: "True", reason: "Verified", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" };

function peer(name: string, cluster: string, approval: string, conditions = [verified]): Peer {
  const descriptor = { cid: "cid", clusterName: cluster, apiEndpoint: `https://${cluster}.example:8443`, publicKey: "k", issuedAt: "2026-01-01T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z" };
  return { metadata: { name }, spec: { peerId: "p", networkRef: { name: "net" }, approval }, status: { descriptor, conditions } } as unknown as Peer;
}

const peers = [peer("peer-a1", "alpha", "Accepted"), peer("peer-g1", "gamma", "Pending"), peer("peer-d1", "delta", "Accepted", [{ ...verified, status: "False", reason: "KeyChanged" }])];

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    return err;
  }
  assert.fail("expected an ApiError");
}

describe("peerGrantsRoutes: which peer, and what its answer means", () => {
  it("finds the Peer object of a cluster name, with the endpoint its verified descriptor names", () => {
    assert.deepEqual(grantTarget(peers, "alpha"), { peerName: "peer-a1", cluster: "alpha", endpoint: "https://alpha.example:8443" });
  });

  it("refuses unknown (404 naming the path field), Pending (409) and unverified (409) peers", () => {
    const unknown = refusal(() => grantTarget(peers, "omega"));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.field, "cluster");
    const pending = refusal(() => grantTarget(peers, "gamma"));
    assert.deepEqual([pending.status, pending.code], [409, "PeerNotAccepted"]);
    assert.match(pending.message, /Pending/);
    const unverified = refusal(() => grantTarget(peers, "delta"));
    assert.deepEqual([unverified.status, unverified.code], [409, "PeerNotVerified"]);
  });

  it("passes a 2xx body through and the peer's verdict on the request on, naming the peer and the field", () => {
    assert.deepEqual(peerAnswer("alpha", 201, { metadata: { name: "g" } }), { metadata: { name: "g" } });
    const bad = refusal(() => peerAnswer("alpha", 400, { error: { code: "BadRequest", message: "body.mode must be read or write", field: "body.mode" } }));
    assert.deepEqual([bad.status, bad.code, bad.field], [400, "BadRequest", "body.mode"]);
    assert.match(bad.message, /^peer alpha: body\.mode/);
    assert.equal(refusal(() => peerAnswer("alpha", 404, undefined)).status, 404);
  });

  it("a peer refusing this cluster's signature, or failing, is a 502; a timeout a 504", () => {
    const refused = refusal(() => peerAnswer("alpha", 401, { error: { code: "PeerPending", message: "not approved" } }));
    assert.deepEqual([refused.status, refused.code], [502, "PeerRefusedCluster"]);
    assert.equal(refusal(() => peerAnswer("alpha", 500, "oops")).status, 502);
    assert.equal(peerFailure(new FederationRequestError("Timeout", "alpha did not answer within 10 ms"), "alpha").status, 504);
    assert.deepEqual([peerFailure(new FederationRequestError("Unreachable", "x"), "alpha").code], ["PeerUnreachable"]);
    assert.equal(peerFailure(new Error("boom"), "alpha").status, 502);
  });

  it("relays a 2xx answer only when it is the documented object; anything else is a 502 and nothing of it is relayed", () => {
    const schema = kindSchemas(accessGrantKind).object;
    const grant = {
      apiVersion: "archipel.io/v1alpha1",
      kind: "AccessGrant",
      metadata: { name: "g1", namespace: "sat", uid: "u", resourceVersion: "7", creationTimestamp: "2026-01-01T00:00:00Z" },
      spec: { resourceRef: { name: "tiles" }, grantee: { kind: "Peer", name: "beta" }, mode: "read", expiresAt: "2026-02-01T00:00:00Z" },
      status: { conditions: [{ type: "Ready", status: "True", reason: "Issued", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }] },
    };
    assert.equal(checkedPeerBody("alpha", schema, grant), grant);
    for (const bad of [undefined, "<html>", { items: [] }, { ...grant, kind: "Secret" }, { ...grant, spec: { ...grant.spec, mode: 7 } }]) {
      const e = refusal(() => checkedPeerBody("alpha", schema, bad));
      assert.equal(e.status, 502);
      assert.equal(e.code, "PeerBadResponse");
      assert.match(e.message, /peer alpha answered with a body that is not the documented object/);
    }
  });

  it("an oversized or egress-refused peer answer is a 502 naming why", () => {
    const big = peerFailure(new FederationRequestError("TooLarge", "alpha: the answer is more than the 1048576 bytes accepted"), "alpha");
    assert.deepEqual([big.status, big.code], [502, "PeerTooLarge"]);
    const egress = peerFailure(new FederationRequestError("EgressRefused", "alpha: egress to 127.0.0.1:1 refused: loopback"), "alpha");
    assert.deepEqual([egress.status, egress.code], [502, "PeerEgressRefused"]);
  });
});
