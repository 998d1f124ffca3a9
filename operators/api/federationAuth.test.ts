import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import { signedFetch } from "../federation/client.ts";
import { loopbackEgress } from "../../test/support/egress.ts";
import { generateIdentityKey } from "../federation/keys.ts";
import { MemoryNonceCache, type ReceivedRequest, signRequest } from "../federation/requestSigning.ts";
import type { Peer } from "../schema/peer.ts";
import { testApp } from "../../test/support/fastifyApp.ts";
import { authenticatePeer, captureRawBody, type PeerAuthContext, peerFinder, projectHeader, requirePeer } from "./federationAuth.ts";

const alpha = generateIdentityKey();
const gamma = generateIdentityKey();
const mallory = generateIdentityKey();
const now = 1_790_000_000_000;

const verified = { type: "DescriptorVerified", status: "True", reason: "Verified", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" };

function peer(clusterName: string, publicKey: string, approval: "Accepted" | "Pending" | "Rejected", conditions = [verified]): Peer {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "Peer",
    metadata: { name: `peer-${clusterName}` },
    spec: { peerId: "12D3KooWtest", networkRef: { name: "net" }, approval },
    status: {
      descriptor: { cid: "cid", clusterName, apiEndpoint: "http://127.0.0.1:1", publicKey, issuedAt: "2026-01-01T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z" },
      conditions,
    },
  } as Peer;
}

const keyChanged = { ...verified, status: "False", reason: "KeyChanged" };
const delta = generateIdentityKey();
const peers = [peer("alpha", alpha.publicKey, "Accepted"), peer("gamma", gamma.publicKey, "Pending"), peer("delta", delta.publicKey, "Accepted", [keyChanged])];

function ctx(nonces = new MemoryNonceCache()): PeerAuthContext {
  return { audience: "beta", peerByCluster: peerFinder(() => peers), nonces, now };
}

function signed(keyId: string, key: string, extra: Record<string, string> = {}, opts: { body?: string; project?: string } = {}): ReceivedRequest {
  const { body = '{"q":"x"}', project } = opts;
  const nonce = Buffer.from(`${keyId}-${Math.random()}-nonce-padding`).toString("base64url").slice(0, 40);
  const headers = signRequest({ method: "POST", target: "/federation/v1/catalog", body, keyId, audience: "beta", now, nonce, ...(project ? { project } : {}) }, key);
  return { method: "POST", target: "/federation/v1/catalog", body, headers: { ...headers, ...extra } };
}

describe("federationAuth.authenticatePeer", () => {
  it("an Accepted peer's signed request becomes a verified peer caller, with its signed project claim", () => {
    const result = authenticatePeer(signed("alpha", alpha.privateKeyPem, {}, { project: "ocean" }), ctx());
    assert.deepEqual(result, { ok: true, caller: { kind: "peer", cluster: "alpha", approval: "Accepted", project: "ocean", signature: "Verified" } });
  });

  it("refuses a project claim added after signing (BadSignature)", () => {
    const result = authenticatePeer(signed("alpha", alpha.privateKeyPem, { [projectHeader]: "ocean" }), ctx());
    assert.equal(!result.ok && result.reason, "BadSignature");
    assert.equal(result.caller.project, undefined);
  });

  it("refuses a cluster name two Peers claim with different keys, whichever key signs (AmbiguousClusterName)", () => {
    const impostor = { ...peer("alpha", mallory.publicKey, "Accepted"), metadata: { name: "peer-alpha-impostor" } } as Peer;
    const both = { ...ctx(), peerByCluster: peerFinder(() => [...peers, impostor]) };
    for (const key of [alpha.privateKeyPem, mallory.privateKeyPem]) {
      const result = authenticatePeer(signed("alpha", key), both);
      assert.equal(!result.ok && result.reason, "AmbiguousClusterName");
    }
  });

  it("refuses an Accepted peer whose descriptor is no longer verified (e.g. it now publishes another key)", () => {
    const result = authenticatePeer(signed("delta", delta.privateKeyPem), ctx());
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, "PeerNotVerified");
    assert.equal(authenticatePeer(signed("alpha", alpha.privateKeyPem), ctx()).ok, true);
  });

  it("refuses an unsigned request as Missing", () => {
    const result = authenticatePeer({ method: "POST", target: "/federation/v1/catalog", body: "", headers: {} }, ctx());
    assert.equal(result.ok, false);
    assert.equal(result.caller.signature, "Missing");
    assert.equal(!result.ok && result.reason, "MissingSignatureHeader");
  });

  it("refuses a replayed request (same nonce twice)", () => {
    const nonces = new MemoryNonceCache();
    const req = signed("alpha", alpha.privateKeyPem);
    assert.equal(authenticatePeer(req, ctx(nonces)).ok, true);
    const again = authenticatePeer(req, ctx(nonces));
    assert.equal(again.ok, false);
    assert.equal(again.caller.signature, "Replayed");
  });

  it("refuses a signature by another key than the peer published", () => {
    const result = authenticatePeer(signed("alpha", mallory.privateKeyPem), ctx());
    assert.equal(!result.ok && result.reason, "BadSignature");
    assert.equal(result.caller.signature, "Invalid");
  });

  it("refuses a validly signed Pending peer, naming the approval", () => {
    const result = authenticatePeer(signed("gamma", gamma.privateKeyPem), ctx());
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, "PeerPending");
    assert.equal(result.caller.approval, "Pending");
    assert.equal(result.caller.signature, "Verified");
  });

  it("refuses an unknown sender as UnknownKey", () => {
    const result = authenticatePeer(signed("mallory", mallory.privateKeyPem), ctx());
    assert.equal(!result.ok && result.reason, "UnknownKey");
    assert.equal(result.caller.approval, "Unknown");
  });

  it("refuses everything while this cluster has no Identity", () => {
    const result = authenticatePeer(signed("alpha", alpha.privateKeyPem), { ...ctx(), audience: undefined });
    assert.equal(!result.ok && result.reason, "NoIdentity");
  });
});

describe("federationAuth over HTTP with federation/client.signedFetch", () => {
  let app: FastifyInstance;
  let endpoint: string;
  const nonces = new MemoryNonceCache();

  before(async () => {
    // The /slow handler outlives its aborted client: close must not wait for it (testApp).
    app = testApp();
    await app.register(async (scope) => {
      captureRawBody(scope);
      scope.post("/federation/v1/catalog", async (request) => {
        const caller = requirePeer(request, { audience: () => "beta", peerByCluster: peerFinder(() => peers), nonces });
        return { caller, echo: request.body };
      });
      scope.get("/slow", async () => new Promise((resolve) => setTimeout(() => resolve({}), 2_000)));
    });
    endpoint = await app.listen({ port: 0, host: "127.0.0.1" });
  });

  after(async () => app.close());

  it("a signed request from an Accepted peer is authenticated end to end", async () => {
    const res = await signedFetch(
      { clusterName: "alpha", privateKeyPem: alpha.privateKeyPem },
      { endpoint, audience: "beta", method: "POST", target: "/federation/v1/catalog", body: { q: "sentinel" }, deadlineMs: 2_000, egress: loopbackEgress },
    );
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { caller: { kind: "peer", cluster: "alpha", approval: "Accepted", signature: "Verified" }, echo: { q: "sentinel" } });
  });

  it("signedFetch signs the project claim; a claim only in the extra headers is refused", async () => {
    const identity = { clusterName: "alpha", privateKeyPem: alpha.privateKeyPem };
    const base = { endpoint, audience: "beta", method: "POST" as const, target: "/federation/v1/catalog", body: {}, deadlineMs: 2_000, egress: loopbackEgress };
    const signedClaim = await signedFetch(identity, { ...base, project: "ocean" });
    assert.equal(signedClaim.status, 200);
    assert.equal((signedClaim.body as { caller: { project?: string } }).caller.project, "ocean");
    const unsignedClaim = await signedFetch(identity, { ...base, headers: { [projectHeader]: "ocean" } });
    assert.equal(unsignedClaim.status, 401);
  });

  it("an unsigned request gets 401 naming the reason", async () => {
    const res = await fetch(`${endpoint}/federation/v1/catalog`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(res.status, 401);
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, "MissingSignatureHeader");
  });

  it("a request signed for another audience is refused", async () => {
    const res = await signedFetch(
      { clusterName: "alpha", privateKeyPem: alpha.privateKeyPem },
      { endpoint, audience: "delta", method: "POST", target: "/federation/v1/catalog", body: {}, deadlineMs: 2_000, egress: loopbackEgress },
    );
    assert.equal(res.status, 401);
    assert.equal((res.body as { error: { code: string } }).error.code, "WrongAudience");
  });

  it("the client gives up at its deadline with a Timeout error", async () => {
    const started = Date.now();
    await assert.rejects(
      signedFetch({ clusterName: "alpha", privateKeyPem: alpha.privateKeyPem }, { endpoint, audience: "beta", method: "GET", target: "/slow", deadlineMs: 200, egress: loopbackEgress }),
      (err: Error & { code?: string }) => err.code === "Timeout",
    );
    assert.ok(Date.now() - started < 1_500);
  });

  it("an unreachable peer is an Unreachable error", async () => {
    await assert.rejects(
      signedFetch({ clusterName: "alpha", privateKeyPem: alpha.privateKeyPem }, { endpoint: "http://127.0.0.1:9", audience: "beta", method: "GET", target: "/x", deadlineMs: 1_000, egress: loopbackEgress }),
      (err: Error & { code?: string }) => err.code === "Unreachable",
    );
  });
});
