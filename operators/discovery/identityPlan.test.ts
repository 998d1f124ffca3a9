import assert from "node:assert/strict";
import { generateIdentityKey } from "../federation/keys.ts";
import type { Identity } from "../schema/identity.ts";
import type { Network } from "../schema/network.ts";
import { identityPrivateKeyField } from "./contracts.ts";
import { verifyDescriptor } from "./descriptor.ts";
import {
  checkIdentityKeySecret,
  currentIdentity,
  descriptorInput,
  descriptorLifetime,
  IdentityReason,
  identityKeyLocation,
  nextPassInMs,
  planDescriptor,
  publicationAction,
  PUBLICATION_CHECK_INTERVAL_MS,
  publishTargets,
  rawBlockCid,
  REPUBLISH_INTERVAL_MS,
} from "./identityPlan.ts";

const peerA = "12D3KooWAbCdEfGhJkLmNpQrStUvWxYz1234567891aBcDeFgHjK";
const peerB = "12D3KooWBbCdEfGhJkLmNpQrStUvWxYz1234567891aBcDeFgHjK";

function identity(name: string, created: string, spec: Partial<Identity["spec"]> = {}): Identity {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "Identity",
    metadata: { name, creationTimestamp: created },
    spec: { clusterName: "alpha", displayName: "Alpha", apiEndpoint: "https://alpha.example:8443", ...spec },
  } as Identity;
}

function network(name: string, peerId: string | undefined, reason = "NodeReady", mode: "external" | "managed" = "external"): Network {
  return {
    metadata: { name },
    spec: { ipfs: mode === "external" ? { mode, apiURL: `http://127.0.0.1:5${name.length}01` } : { mode }, approvalPolicy: "auto" },
    status: { ...(peerId ? { peerId } : {}), conditions: [{ type: "Ready", status: reason === "NodeReady" ? "True" : "False", reason, message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }] },
  } as Network;
}

describe("identityPlan", () => {
  const key = generateIdentityKey();
  const t0 = Date.parse("2026-03-01T10:00:00.000Z");

  it("the oldest Identity is the current one; equal times fall back to the name", () => {
    const a = identity("b-second", "2026-01-01T00:00:01Z");
    const b = identity("a-first", "2026-01-01T00:00:02Z");
    const c = identity("c-first", "2026-01-01T00:00:01Z");
    assert.equal(currentIdentity([b, a, c])?.metadata?.name, "b-second");
    assert.equal(currentIdentity([]), undefined);
  });

  it("the key Secret is spec.keySecretRef, else archipel-identity in the system namespace", () => {
    assert.deepEqual(identityKeyLocation(identity("x", "2026-01-01T00:00:00Z"), "sys"), { namespace: "sys", name: "archipel-identity" });
    assert.deepEqual(identityKeyLocation(identity("x", "2026-01-01T00:00:00Z", { keySecretRef: { namespace: "n", name: "k" } }), "sys"), { namespace: "n", name: "k" });
  });

  it("reads a key from a Secret, and refuses a missing or broken one without quoting it", () => {
    const loc = { namespace: "n", name: "k" };
    const ok = checkIdentityKeySecret(loc, { [identityPrivateKeyField]: Buffer.from(key.privateKeyPem).toString("base64") });
    assert.equal(ok.ok && ok.publicKey, key.publicKey);
    const missing = checkIdentityKeySecret(loc, {});
    assert.equal(!missing.ok && missing.reason, IdentityReason.KeySecretInvalid);
    assert.match(!missing.ok ? missing.message : "", /Secret n\/k has no data key private\.pem/);
    const broken = checkIdentityKeySecret(loc, { [identityPrivateKeyField]: Buffer.from("-----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n").toString("base64") });
    assert.equal(broken.ok, false);
    assert.doesNotMatch(!broken.ok ? broken.message : "", /SECRETSTUFF/);
  });

  it("descriptorValidity: default 24 h, bounded, named in the message", () => {
    assert.deepEqual(descriptorLifetime(identity("x", "2026-01-01T00:00:00Z")), { ok: true, lifetimeMs: 86_400_000 });
    assert.deepEqual(descriptorLifetime(identity("x", "2026-01-01T00:00:00Z", { descriptorValidity: "1h" })), { ok: true, lifetimeMs: 3_600_000 });
    const bad = descriptorLifetime(identity("x", "2026-01-01T00:00:00Z", { descriptorValidity: "1s" }));
    assert.match(!bad.ok ? bad.message : "", /spec\.descriptorValidity "1s"/);
  });

  it("publishes to networks with a peer ID, not to NodeInUse duplicates, sorted by name", () => {
    const targets = publishTargets([network("zeta", peerB), network("alpha", peerA), network("nopeer", undefined), network("dup", peerA, "NodeInUse")], "sys", "NodeInUse");
    assert.deepEqual(targets.map((t) => t.network), ["alpha", "zeta"]);
    const managed = publishTargets([network("m", peerA, "NodeReady", "managed")], "sys", "NodeInUse");
    assert.equal(managed[0]?.apiURL, "http://kubo-m.sys.svc:5001");
  });

  it("rawBlockCid is the CIDv1 raw sha2-256 base32 kubo computes", () => {
    // `echo -n hello | ipfs add --cid-version 1 --raw-leaves` (kubo 0.42)
    assert.equal(rawBlockCid("hello"), "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq");
  });

  it("keeps the descriptor of status while the content is the same, re-issues when it changes or at half its life", () => {
    const id = identity("x", "2026-01-01T00:00:00Z");
    const input = descriptorInput(id, key.publicKey, [{ network: "science", peerId: peerA, apiURL: "http://x" }]);
    const first = planDescriptor({ input, status: undefined, privateKeyPem: key.privateKeyPem, lifetimeMs: 86_400_000 }, t0);
    assert.equal(first.reissued, true);
    assert.equal(first.refreshAt, t0 + 43_200_000);
    const v = verifyDescriptor(first.text, t0, { peerId: peerA, publicKey: key.publicKey });
    assert.equal(v.ok, true);
    const status = { descriptorCID: first.cid, descriptorIssuedAt: first.descriptor.issuedAt, descriptorExpiresAt: first.descriptor.expiresAt };

    const again = planDescriptor({ input: input, status, privateKeyPem: key.privateKeyPem, lifetimeMs: 86_400_000 }, t0 + 60_000);
    assert.equal(again.reissued, false);
    assert.equal(again.cid, first.cid);

    const renamed = planDescriptor({ input: { ...input, displayName: "Alpha 2" }, status, privateKeyPem: key.privateKeyPem, lifetimeMs: 86_400_000 }, t0 + 60_000);
    assert.equal(renamed.reissued, true);
    assert.notEqual(renamed.cid, first.cid);
    assert.equal(renamed.descriptor.issuedAt, new Date(t0 + 60_000).toISOString());

    assert.equal(planDescriptor({ input: input, status, privateKeyPem: key.privateKeyPem, lifetimeMs: 86_400_000 }, t0 + 43_200_000).reissued, true, "half-life reached");
    assert.equal(planDescriptor({ input: input, status, privateKeyPem: key.privateKeyPem, lifetimeMs: 3_600_000 }, t0 + 60_000).reissued, true, "validity changed");
  });

  it("publication: publish when new, changed, moved to another node or old; otherwise check every 30 s", () => {
    const target = { network: "science", peerId: peerA, apiURL: "http://x" };
    const published = { network: "science", peerId: peerA, descriptorCID: "bafy1", publishedAt: new Date(t0).toISOString() };
    assert.equal(publicationAction(undefined, { peerId: target.peerId, cid: "bafy1" }, t0, undefined), "publish");
    assert.equal(publicationAction(published, { peerId: target.peerId, cid: "bafy2" }, t0, undefined), "publish");
    assert.equal(publicationAction(published, { peerId: peerB, cid: "bafy1" }, t0, undefined), "publish");
    assert.equal(publicationAction(published, { peerId: target.peerId, cid: "bafy1" }, t0 + REPUBLISH_INTERVAL_MS, t0), "publish");
    assert.equal(publicationAction(published, { peerId: target.peerId, cid: "bafy1" }, t0 + 1_000, undefined), "check");
    assert.equal(publicationAction(published, { peerId: target.peerId, cid: "bafy1" }, t0 + 1_000, t0), "none");
    assert.equal(publicationAction(published, { peerId: target.peerId, cid: "bafy1" }, t0 + PUBLICATION_CHECK_INTERVAL_MS, t0), "check");
  });

  it("the next pass comes at the refresh, the next check, or sooner after a failure", () => {
    assert.equal(nextPassInMs(t0, { refreshAt: t0 + 86_400_000, failed: false, nextCheckAt: t0 + PUBLICATION_CHECK_INTERVAL_MS }), PUBLICATION_CHECK_INTERVAL_MS);
    assert.equal(nextPassInMs(t0, { refreshAt: t0 + 86_400_000, failed: false, nextCheckAt: t0 + 7_000 }), 7_000);
    assert.equal(nextPassInMs(t0, { refreshAt: t0 + 86_400_000, failed: true, nextCheckAt: t0 + 7_000 }), 5_000);
    assert.equal(nextPassInMs(t0, { refreshAt: t0 + 2_000, failed: false, nextCheckAt: t0 + 7_000 }), 2_000);
    assert.equal(nextPassInMs(t0, { refreshAt: t0 + 86_400_000, failed: false }), 60_000, "no network: look again in a minute");
    assert.equal(nextPassInMs(t0, { refreshAt: t0 - 5, failed: false }), 1_000);
  });
});
