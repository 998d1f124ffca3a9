// Read and storage grants on a real S3 server (SeaweedFS via hack/s3): what the server itself allows the
// granted keys to do.
import assert from "node:assert/strict";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  type S3Admin,
  type S3GrantCredentials,
  applyS3Grant,
  issueS3AccessKey,
  revokeS3Grant,
  s3ClientFor,
} from "../../../operators/catalog/backends/s3Client.ts";
import { type S3GrantNames, s3GrantNames } from "../../../operators/catalog/backends/s3Grant.ts";
import { eventually } from "../../support/cluster.ts";
import { type TestS3, startS3 } from "../../support/s3.ts";

function clientOf(c: S3GrantCredentials): S3Client {
  return s3ClientFor(c.endpoint, c.region, c);
}

async function put(client: S3Client, bucket: string, key: string, body = "x"): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

async function read(client: S3Client, bucket: string, key: string): Promise<string> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await res.Body?.transformToString()) ?? "";
}

function denied(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  assert.equal(e.$metadata?.httpStatusCode, 403, `expected 403 AccessDenied, got ${e.name}: ${String(err)}`);
  return true;
}

describe("S3 grants (real SeaweedFS server)", function () {
  this.timeout(60_000);
  let server: TestS3;
  let admin: S3Admin;
  let adminClient: S3Client;

  async function grant(key: string, names: S3GrantNames): Promise<S3GrantCredentials> {
    await applyS3Grant(admin, names, "write");
    const creds = await issueS3AccessKey(admin, names);
    // SeaweedFS applies IAM changes to its S3 gateway asynchronously (through its filer).
    await eventually(`grant ${key} usable`, async () => {
      await put(clientOf(creds), names.bucket, `${names.prefix}.probe`);
      return true;
    }, 15_000, 200);
    return creds;
  }

  async function readGrant(key: string, names: S3GrantNames, probeKey: string): Promise<S3GrantCredentials> {
    await applyS3Grant(admin, names, "read");
    const creds = await issueS3AccessKey(admin, names);
    await eventually(`read grant ${key} usable`, async () => {
      await read(clientOf(creds), names.bucket, probeKey);
      return true;
    }, 15_000, 200);
    return creds;
  }

  before(async function () {
    this.timeout(120_000);
    server = await startS3(`it-backends-${process.pid}`);
    admin = { endpoint: server.endpoint, region: server.region, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey };
    adminClient = s3ClientFor(server.endpoint, server.region, server);
    await adminClient.send(new CreateBucketCommand({ Bucket: "shared-results" }));
    await adminClient.send(new CreateBucketCommand({ Bucket: "provider-private" }));
    await put(adminClient, "provider-private", "secret.txt", "not yours");
    await put(adminClient, "shared-results", "outside/secret.txt", "not yours either");
    await adminClient.send(new CreateBucketCommand({ Bucket: "imagery" }));
    await put(adminClient, "imagery", "s2/tile-1.tif", "tile 1");
    await put(adminClient, "imagery", "s2/tile-2.tif", "tile 2");
    await put(adminClient, "imagery", "landsat/scene.tif", "scene");
  });

  after(async function () {
    this.timeout(60_000);
    await server?.stop();
  });

  it("rejects wrong admin keys (the server really authenticates)", async () => {
    const wrong = s3ClientFor(server.endpoint, server.region, { accessKeyId: server.accessKeyId, secretAccessKey: "wrong-secret" });
    await assert.rejects(wrong.send(new ListObjectsV2Command({ Bucket: "shared-results" })), denied);
  });

  describe("read grants on the Resource's own objects (data provider)", () => {
    it("a prefix read grant can get and list under the prefix, and write nothing", async () => {
      const names = s3GrantNames("team-d/s2-read", { kind: "exact", bucket: "imagery", prefix: "s2/" });
      const c = clientOf(await readGrant("team-d/s2-read", names, "s2/tile-1.tif"));
      assert.equal(await read(c, "imagery", "s2/tile-2.tif"), "tile 2");
      const listed = await c.send(new ListObjectsV2Command({ Bucket: "imagery", Prefix: "s2/" }));
      assert.deepEqual(listed.Contents?.map((o) => o.Key).sort(), ["s2/tile-1.tif", "s2/tile-2.tif"]);
      await assert.rejects(put(c, "imagery", "s2/tile-3.tif"), denied);
      await assert.rejects(read(c, "imagery", "landsat/scene.tif"), denied);
      await assert.rejects(c.send(new ListObjectsV2Command({ Bucket: "imagery" })), denied);
      await assert.rejects(revokeS3Grant(admin, names, { removeData: true }), /shared by the Resource's grantees/);
      await revokeS3Grant(admin, names);
      assert.equal(await read(adminClient, "imagery", "s2/tile-1.tif"), "tile 1", "the Resource's data stays");
    });

    it("an object read grant can get that one object only", async () => {
      const names = s3GrantNames("team-d/one-tile", { kind: "exact", bucket: "imagery", prefix: "s2/tile-1.tif" });
      const c = clientOf(await readGrant("team-d/one-tile", names, "s2/tile-1.tif"));
      assert.equal(await read(c, "imagery", "s2/tile-1.tif"), "tile 1");
      await assert.rejects(read(c, "imagery", "s2/tile-2.tif"), denied);
      await assert.rejects(put(c, "imagery", "s2/tile-1.tif", "overwritten"), denied);
      assert.equal(await read(adminClient, "imagery", "s2/tile-1.tif"), "tile 1");
    });

    it("a grant on a bucket that does not exist fails instead of creating the provider's bucket", async () => {
      const names = s3GrantNames("team-d/missing", { kind: "exact", bucket: "no-such-bucket", prefix: "x/" });
      await assert.rejects(applyS3Grant(admin, names, "read"), (err: unknown) => (err as { reason?: string }).reason === "BackendObjectMissing");
    });
  });

  describe("a bucket of its own", () => {
    let names: S3GrantNames;
    let creds: S3GrantCredentials;
    before(async () => {
      names = s3GrantNames("team-a/results", { kind: "bucket" });
      creds = await grant("team-a/results", names);
    });

    it("creates the bucket and lets the keys write, read and list it", async () => {
      const c = clientOf(creds);
      await put(c, names.bucket, "run-1/out.csv", "a,b\n1,2\n");
      assert.equal(await read(c, names.bucket, "run-1/out.csv"), "a,b\n1,2\n");
      const listed = await c.send(new ListObjectsV2Command({ Bucket: names.bucket }));
      assert.ok(listed.Contents?.some((o) => o.Key === "run-1/out.csv"));
      assert.equal(await read(adminClient, names.bucket, "run-1/out.csv"), "a,b\n1,2\n", "the provider sees what was written");
    });

    it("denies writes and reads in any other bucket, and bucket creation", async () => {
      const c = clientOf(creds);
      await assert.rejects(put(c, "provider-private", "mine.txt"), denied);
      await assert.rejects(put(c, "shared-results", "mine.txt"), denied);
      await assert.rejects(read(c, "provider-private", "secret.txt"), denied);
      await assert.rejects(c.send(new ListObjectsV2Command({ Bucket: "provider-private" })), denied);
      await assert.rejects(c.send(new CreateBucketCommand({ Bucket: "grab-a-bucket" })), denied);
    });
  });

  describe("a prefix of a shared bucket", () => {
    let names: S3GrantNames;
    let creds: S3GrantCredentials;
    let neighbour: S3GrantNames;
    before(async () => {
      names = s3GrantNames("team-b/run-7", { kind: "prefix", bucket: "shared-results" });
      neighbour = s3GrantNames("team-c/run-8", { kind: "prefix", bucket: "shared-results" });
      creds = await grant("team-b/run-7", names);
      await grant("team-c/run-8", neighbour);
      await put(adminClient, "shared-results", `${neighbour.prefix}result.txt`, "neighbour's");
    });

    it("lets the keys write, read and list under the prefix", async () => {
      const c = clientOf(creds);
      await put(c, "shared-results", `${names.prefix}step-1/out.txt`, "hello");
      assert.equal(await read(c, "shared-results", `${names.prefix}step-1/out.txt`), "hello");
      const listed = await c.send(new ListObjectsV2Command({ Bucket: "shared-results", Prefix: names.prefix }));
      assert.deepEqual(listed.Contents?.map((o) => o.Key).sort(), [`${names.prefix}.probe`, `${names.prefix}step-1/out.txt`]);
    });

    it("denies writes, reads and listings outside the prefix, the neighbour's prefix included", async () => {
      const c = clientOf(creds);
      await assert.rejects(put(c, "shared-results", "elsewhere.txt"), denied);
      await assert.rejects(put(c, "shared-results", `${neighbour.prefix}overwrite.txt`), denied);
      await assert.rejects(read(c, "shared-results", `${neighbour.prefix}result.txt`), denied);
      await assert.rejects(read(c, "shared-results", "outside/secret.txt"), denied);
      await assert.rejects(c.send(new ListObjectsV2Command({ Bucket: "shared-results" })), denied);
      await assert.rejects(c.send(new ListObjectsV2Command({ Bucket: "shared-results", Prefix: neighbour.prefix })), denied);
      await assert.rejects(c.send(new ListObjectsV2Command({ Bucket: "shared-results", Prefix: "grants/" })), denied);
      await assert.rejects(c.send(new ListObjectsV2Command({ Bucket: "shared-results", Prefix: names.prefix.slice(0, -1) })), denied);
      assert.equal(await read(adminClient, "shared-results", `${neighbour.prefix}result.txt`), "neighbour's");
    });

    it("re-issuing a key rotates it: the old key stops working, the new one works", async () => {
      const old = creds;
      creds = await issueS3AccessKey(admin, names);
      await eventually("old key refused", async () => {
        try {
          await put(clientOf(old), "shared-results", `${names.prefix}old.txt`);
          return false;
        } catch (err) {
          return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403;
        }
      }, 15_000, 200);
      await eventually("new key accepted", async () => {
        await put(clientOf(creds), "shared-results", `${names.prefix}new.txt`);
        return true;
      }, 15_000, 200);
    });

    it("revoking deletes the user: the keys stop working, the data stays", async () => {
      await revokeS3Grant(admin, names);
      await eventually("revoked key refused", async () => {
        try {
          await put(clientOf(creds), "shared-results", `${names.prefix}after.txt`);
          return false;
        } catch (err) {
          return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403;
        }
      }, 15_000, 200);
      assert.equal(await read(adminClient, "shared-results", `${names.prefix}step-1/out.txt`), "hello");
      await revokeS3Grant(admin, names); // idempotent
    });

    it("revoking with removeData deletes the grant's objects, and only those", async () => {
      await revokeS3Grant(admin, neighbour, { removeData: true });
      const left = await adminClient.send(new ListObjectsV2Command({ Bucket: "shared-results", Prefix: neighbour.prefix }));
      assert.equal(left.KeyCount ?? 0, 0);
      assert.equal(await read(adminClient, "shared-results", "outside/secret.txt"), "not yours either");
    });
  });
});
