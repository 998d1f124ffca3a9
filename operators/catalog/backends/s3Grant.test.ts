import assert from "node:assert/strict";
import { checkBucketName, s3GrantNames, s3PolicyDocument, storageObjectActions } from "./s3Grant.ts";

describe("s3GrantNames", () => {
  it("gives a bucket-scoped grant its own valid bucket and an IAM user, deterministically", () => {
    const names = s3GrantNames("team-a/Results_2026", { kind: "bucket" });
    assert.deepEqual(names, s3GrantNames("team-a/Results_2026", { kind: "bucket" }));
    assert.match(names.bucket, /^archipel-team-a-results-2026-[0-9a-f]{12}$/);
    assert.match(names.user, /^archipel-g-team-a-results-2026-[0-9a-f]{12}$/);
    assert.equal(names.prefix, "");
    assert.equal(names.policyName, "archipel-storage");
  });

  it("gives a prefix-scoped grant a prefix of its own inside the provider's bucket", () => {
    const names = s3GrantNames("team-a/run-1", { kind: "prefix", bucket: "shared-results" });
    assert.equal(names.bucket, "shared-results");
    assert.match(names.prefix, /^grants\/team-a-run-1-[0-9a-f]{12}\/$/);
  });

  it("keeps names within S3 and IAM limits and distinct for keys whose slugs collide", () => {
    const long = s3GrantNames(`ns/${"x".repeat(300)}`, { kind: "bucket" });
    assert.ok(long.bucket.length <= 63 && long.user.length <= 64, JSON.stringify(long));
    checkBucketName(long.bucket);
    assert.notEqual(s3GrantNames("a/b-c", { kind: "bucket" }).bucket, s3GrantNames("a/b_c", { kind: "bucket" }).bucket);
    assert.notEqual(s3GrantNames("a/b-c", { kind: "bucket" }).user, s3GrantNames("a/b_c", { kind: "bucket" }).user);
    assert.match(s3GrantNames("--", { kind: "bucket" }).bucket, /^archipel-[0-9a-f]{12}$/);
    assert.throws(() => s3GrantNames("", { kind: "bucket" }), /must not be empty/);
  });

  it("refuses a provider bucket that breaks S3's naming rules", () => {
    for (const bad of ["ab", "Upper", "-lead", "trail-", "a..b", "192.168.0.1", "xn--abc", "x-s3alias", "under_score"]) {
      assert.throws(() => s3GrantNames("ns/g", { kind: "prefix", bucket: bad }), /bucket name/, bad);
    }
  });
});

describe("s3PolicyDocument", () => {
  it("confines a bucket grant to its bucket's objects and listing", () => {
    const names = s3GrantNames("ns/g", { kind: "bucket" });
    assert.deepEqual(s3PolicyDocument(names), {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: storageObjectActions, Resource: [`arn:aws:s3:::${names.bucket}/*`] },
        { Effect: "Allow", Action: ["s3:ListBucket"], Resource: [`arn:aws:s3:::${names.bucket}`] },
      ],
    });
  });

  it("confines a prefix grant to its prefix, listing included (by an s3:prefix Condition)", () => {
    const names = s3GrantNames("ns/g", { kind: "prefix", bucket: "shared" });
    assert.deepEqual(s3PolicyDocument(names).Statement, [
      { Effect: "Allow", Action: storageObjectActions, Resource: [`arn:aws:s3:::shared/${names.prefix}*`] },
      { Effect: "Allow", Action: ["s3:ListBucket"], Resource: ["arn:aws:s3:::shared"], Condition: { StringLike: { "s3:prefix": [`${names.prefix}*`] } } },
    ]);
  });

  it("never grants bucket administration or a wildcard resource", () => {
    const names = s3GrantNames("ns/g", { kind: "prefix", bucket: "shared" });
    const doc = s3PolicyDocument(names);
    const actions = doc.Statement.flatMap((s) => s.Action);
    assert.ok(!actions.some((a) => a.includes("*") || /Bucket(Policy|Acl)|DeleteBucket|CreateBucket/.test(a)), actions.join());
    assert.ok(!doc.Statement.flatMap((s) => s.Resource).some((r) => r === "*" || r === "arn:aws:s3:::*"));
  });
});
