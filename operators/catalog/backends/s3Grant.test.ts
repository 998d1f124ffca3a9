import assert from "node:assert/strict";
import { checkBucketName, checkKeyPrefix, readObjectActions, s3GrantNames, s3PolicyDocument, writeObjectActions } from "./s3Grant.ts";

describe("s3GrantNames", () => {
  it("gives a bucket-scoped grant its own valid bucket and an IAM user, deterministically", () => {
    const names = s3GrantNames("team-a/Results_2026", { kind: "bucket" });
    assert.deepEqual(names, s3GrantNames("team-a/Results_2026", { kind: "bucket" }));
    assert.match(names.bucket, /^archipel-team-a-results-2026-[0-9a-f]{12}$/);
    assert.match(names.user, /^archipel-g-team-a-results-2026-[0-9a-f]{12}$/);
    assert.equal(names.prefix, "");
    assert.equal(names.owned, true);
    assert.equal(names.policyName, "archipel-grant");
  });

  it("gives a prefix-scoped grant a prefix of its own inside the provider's bucket, under the Resource's prefix", () => {
    const names = s3GrantNames("team-a/run-1", { kind: "prefix", bucket: "shared-results" });
    assert.equal(names.bucket, "shared-results");
    assert.match(names.prefix, /^grants\/team-a-run-1-[0-9a-f]{12}\/$/);
    assert.equal(names.owned, true);
    const under = s3GrantNames("team-a/run-1", { kind: "prefix", bucket: "shared-results", under: "ocean/" });
    assert.equal(under.prefix, `ocean/${names.prefix}`);
    assert.throws(() => s3GrantNames("g", { kind: "prefix", bucket: "b-1", under: "ocean" }), /must end with '\/'/);
  });

  it("gives an exact-scoped grant the Resource's own bucket and prefix or object, not owned", () => {
    assert.deepEqual(
      { ...s3GrantNames("ns/g", { kind: "exact", bucket: "imagery", prefix: "s2/tiles/" }), user: "" },
      { user: "", policyName: "archipel-grant", bucket: "imagery", prefix: "s2/tiles/", owned: false },
    );
    assert.equal(s3GrantNames("ns/g", { kind: "exact", bucket: "imagery" }).prefix, "");
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

describe("checkKeyPrefix", () => {
  it("accepts plain prefixes and object keys", () => {
    for (const ok of ["", "a/", "a/b/", "tiles/2026-01-01/x.tif", "é/ü/"]) assert.equal(checkKeyPrefix(ok), ok);
  });

  it("refuses what would widen a policy or escape the prefix", () => {
    for (const bad of ["*", "a/*", "a?/", "${aws:username}/", "/abs/", "a//b/", "a/../b/", "./a/", "a\n/"]) {
      assert.throws(() => checkKeyPrefix(bad), /S3 prefix/, bad);
    }
    assert.throws(() => s3GrantNames("g", { kind: "exact", bucket: "b-1", prefix: "data/*" }), /must not contain '\*'/);
  });
});

describe("s3PolicyDocument", () => {
  it("confines a bucket grant to its bucket's objects and listing", () => {
    const names = s3GrantNames("ns/g", { kind: "bucket" });
    assert.deepEqual(s3PolicyDocument(names, "write"), {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: writeObjectActions, Resource: [`arn:aws:s3:::${names.bucket}/*`] },
        { Effect: "Allow", Action: ["s3:ListBucket"], Resource: [`arn:aws:s3:::${names.bucket}`] },
      ],
    });
  });

  it("confines a prefix grant to its prefix, listing included (by an s3:prefix Condition)", () => {
    const names = s3GrantNames("ns/g", { kind: "prefix", bucket: "shared" });
    assert.deepEqual(s3PolicyDocument(names, "write").Statement, [
      { Effect: "Allow", Action: writeObjectActions, Resource: [`arn:aws:s3:::shared/${names.prefix}*`] },
      { Effect: "Allow", Action: ["s3:ListBucket"], Resource: ["arn:aws:s3:::shared"], Condition: { StringLike: { "s3:prefix": [`${names.prefix}*`] } } },
    ]);
  });

  it("gives a read grant GetObject only, and on one object key exactly that object", () => {
    const names = s3GrantNames("ns/g", { kind: "exact", bucket: "imagery", prefix: "s2/tile.tif" });
    assert.deepEqual(s3PolicyDocument(names, "read").Statement, [
      { Effect: "Allow", Action: readObjectActions, Resource: ["arn:aws:s3:::imagery/s2/tile.tif"] },
      { Effect: "Allow", Action: ["s3:ListBucket"], Resource: ["arn:aws:s3:::imagery"], Condition: { StringLike: { "s3:prefix": ["s2/tile.tif"] } } },
    ]);
    assert.deepEqual(readObjectActions, ["s3:GetObject"]);
  });

  it("never grants bucket administration or a wildcard resource", () => {
    for (const access of ["read", "write"] as const) {
      const doc = s3PolicyDocument(s3GrantNames("ns/g", { kind: "prefix", bucket: "shared" }), access);
      const actions = doc.Statement.flatMap((s) => s.Action);
      assert.ok(!actions.some((a) => a.includes("*") || /Bucket(Policy|Acl)|DeleteBucket|CreateBucket/.test(a)), actions.join());
      assert.ok(!doc.Statement.flatMap((s) => s.Resource).some((r) => r === "*" || r === "arn:aws:s3:::*"));
    }
  });

  it("re-checks names it did not build", () => {
    const forged = { user: "u", policyName: "p", bucket: "shared", prefix: "x/*", owned: true };
    assert.throws(() => s3PolicyDocument(forged, "write"), /must not contain '\*'/);
  });
});
