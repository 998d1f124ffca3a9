import assert from "node:assert/strict";
import { checkPeerGrant, peerGrantMaxLifetimeAnnotation, peerGrantsLabel } from "./peerGrantPolicy.ts";

const now = Date.parse("2026-12-02T10:00:00Z");
const day = 24 * 3_600_000;
const open = { labels: { [peerGrantsLabel]: "true" } };
const opts = { now, maxLifetimeMs: 7 * day };
const inDays = (d: number): string => new Date(now + d * day).toISOString();

describe("peerGrantPolicy.checkPeerGrant", () => {
  it("allows a grant in an open namespace within the maximum lifetime", () => {
    assert.equal(checkPeerGrant({ namespace: "data", expiresAt: inDays(7) }, open, opts), undefined);
  });

  it("refuses a namespace that is not open, or does not exist, with the same 403 naming body.namespace", () => {
    const closed = checkPeerGrant({ namespace: "data", expiresAt: inDays(1) }, { labels: { [peerGrantsLabel]: "yes" } }, opts);
    const missing = checkPeerGrant({ namespace: "data", expiresAt: inDays(1) }, undefined, opts);
    assert.deepEqual(closed, missing);
    assert.equal(closed?.status, 403);
    assert.equal(closed?.code, "NamespaceNotOpenToPeers");
    assert.equal(closed?.field, "body.namespace");
  });

  it("refuses an expiresAt beyond the maximum lifetime (400 naming body.expiresAt), in the past, or not a date", () => {
    const long = checkPeerGrant({ namespace: "data", expiresAt: inDays(8) }, open, opts);
    assert.equal(long?.status, 400);
    assert.equal(long?.code, "LifetimeTooLong");
    assert.equal(long?.field, "body.expiresAt");
    assert.match(long?.message ?? "", /168h/);
    assert.equal(checkPeerGrant({ namespace: "data", expiresAt: inDays(-1) }, open, opts)?.field, "body.expiresAt");
    assert.equal(checkPeerGrant({ namespace: "data", expiresAt: "soon" }, open, opts)?.field, "body.expiresAt");
  });

  it("a namespace annotation lowers the maximum lifetime, never raises it", () => {
    const short = { ...open, annotations: { [peerGrantMaxLifetimeAnnotation]: "24h" } };
    assert.equal(checkPeerGrant({ namespace: "data", expiresAt: inDays(1) }, short, opts), undefined);
    assert.match(checkPeerGrant({ namespace: "data", expiresAt: inDays(2) }, short, opts)?.message ?? "", /24h/);
    const longer = { ...open, annotations: { [peerGrantMaxLifetimeAnnotation]: "720h" } };
    assert.equal(checkPeerGrant({ namespace: "data", expiresAt: inDays(8) }, longer, opts)?.code, "LifetimeTooLong");
    const garbage = { ...open, annotations: { [peerGrantMaxLifetimeAnnotation]: "a week" } };
    assert.equal(checkPeerGrant({ namespace: "data", expiresAt: inDays(7) }, garbage, opts), undefined, "unparsable: the cluster maximum applies");
  });
});
