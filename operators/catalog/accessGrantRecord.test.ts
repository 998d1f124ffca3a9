import assert from "node:assert/strict";
import type { GrantAction } from "./accessGrantPlan.ts";
import { backendFailure, canonicalJson, issuedRecordOf, PeerApprovalTracker, planHash, sameTarget } from "./accessGrantRecord.ts";

const pg = { host: "db", port: 5433, database: "d", credentialsSecretRef: { name: "pg-admin" } };
const read: GrantAction = { kind: "postgres-read", connection: pg, source: { kind: "table", schema: "public", table: "t" } };
const write: GrantAction = { kind: "s3-write", connection: { endpoint: "http://s3", credentialsSecretRef: { name: "s3-admin" } }, scope: { kind: "prefix", bucket: "bkt", under: "runs/" } };

describe("accessGrantRecord", () => {
  it("the record names where the grant lives and the admin Secret to revoke with, no secret", () => {
    const r = issuedRecordOf(read, "g-uid-1");
    assert.equal(r.backend, "postgres-read");
    assert.deepEqual(r.adminSecretRef, { name: "pg-admin" });
    assert.equal(r.postgres?.host, "db");
    assert.equal(r.postgres?.port, 5433);
    assert.match(r.postgres?.role ?? "", /^archipel_g_/);
    assert.equal(r.postgres?.view, "data");
    const s = issuedRecordOf(write, "g-uid-1");
    assert.equal(s.s3?.bucket, "bkt");
    assert.match(s.s3?.prefix ?? "", /^runs\/grants\/.+\/$/);
    assert.equal(s.s3?.owned, true);
    assert.equal(s.s3?.region, "us-east-1");
  });

  it("sameTarget ignores the plan hash and key id, not the endpoint or role", () => {
    const r = issuedRecordOf(read, "g-1");
    assert.ok(sameTarget(r, { ...r, planHash: "x" }));
    const s = issuedRecordOf(write, "g-1");
    assert.ok(sameTarget(s, { ...s, s3: { ...s.s3!, keyId: "AK" } }));
    assert.ok(!sameTarget(r, issuedRecordOf({ ...read, connection: { ...pg, host: "other" } }, "g-1")));
    assert.ok(!sameTarget(r, issuedRecordOf(read, "g-2")));
  });

  it("planHash: equal for an unchanged grant (whatever the key order), different when anything the backend derives from changes", () => {
    const record = issuedRecordOf(read, "g-1");
    const base = { action: read, record, expiresAt: "2030-01-01T00:00:00Z" };
    const reordered = { action: { source: read.source, connection: { database: "d", credentialsSecretRef: { name: "pg-admin" }, port: 5433, host: "db" }, kind: "postgres-read" } as GrantAction, record, expiresAt: base.expiresAt };
    assert.equal(planHash(base), planHash(reordered));
    assert.equal(planHash(base), planHash({ ...base, record: { ...record, planHash: "old" } }));
    assert.notEqual(planHash(base), planHash({ ...base, expiresAt: "2031-01-01T00:00:00Z" }));
    assert.notEqual(planHash(base), planHash({ ...base, action: { ...read, source: { kind: "query", sql: "SELECT 1" } } }));
    assert.notEqual(planHash(base), planHash({ ...base, reissue: "1" }));
    assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] }), '{"a":[{"d":2}],"b":1}');
  });

  it("PeerApprovalTracker: a heartbeat is no change; approval, appearance and disappearance are", () => {
    const t = new PeerApprovalTracker();
    assert.equal(t.changed("b", "Accepted"), true, "first seen");
    assert.equal(t.changed("b", "Accepted"), false, "heartbeat (old version)");
    assert.equal(t.changed("b", "Accepted"), false, "heartbeat (new version)");
    assert.equal(t.changed("b", "Rejected"), true);
    assert.equal(t.changed("b", undefined), true, "deleted");
    assert.equal(t.changed("b", undefined), false);
    assert.equal(t.changed("c", undefined), false, "never seen, not there");
  });

  it("backendFailure keeps a code, never the server's text", () => {
    const pgErr = Object.assign(new Error('permission denied for table "secret_stuff"'), { code: "42501" });
    assert.equal(backendFailure(pgErr), "PostgreSQL error 42501");
    assert.equal(backendFailure(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })), "cannot reach the backend (ECONNREFUSED)");
    assert.equal(backendFailure(Object.assign(new Error("body"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } })), "S3/IAM error AccessDenied (HTTP 403)");
    assert.equal(backendFailure(new Error("password authentication failed for user x: hunter2")), "the backend call failed");
  });
});
