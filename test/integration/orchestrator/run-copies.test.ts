// What the orchestrator copies for a run, against a real S3 server (hack/s3, SeaweedFS with its IAM
// API), as grantees whose policies are the catalog's own: a data input into the run's inputs in the
// artifact repository (a File's object, or every object under a Directory's prefix at its path
// below it: nested, folder markers left out, one object larger than a read buffer; an empty prefix
// and objects outside the grant refused, naming them), and an output from the repository into a
// storage Resource (a File, and a Directory object by object, nothing of a look-alike sibling).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { applyS3Grant, issueS3AccessKey, s3ClientFor } from "../../../operators/catalog/backends/s3Client.ts";
import { s3GrantNames } from "../../../operators/catalog/backends/s3Grant.ts";
import type { ArtifactStore } from "../../../operators/orchestrator/artifactStore.ts";
import type { DataInput } from "../../../operators/orchestrator/dataAccess.ts";
import { stageData } from "../../../operators/orchestrator/dataStaging.ts";
import { repositorySource } from "../../../operators/orchestrator/runAccess.ts";
import { type TestS3, startS3 } from "../../support/s3.ts";

const inputsKey = "pipelineruns/team-a/run-1/inputs";

describe("a run's data inputs and storage outputs copied (real S3 with IAM)", function () {
  this.timeout(120_000);
  let s3: TestS3;
  let admin: S3Client;
  let store: ArtifactStore;
  const clients: S3Client[] = [];
  const big = randomBytes(3 * 1024 * 1024 + 17);

  /** A client with the catalog's read grant on `key` of bucket datasets (an object, or a prefix ending in "/"). */
  async function grantee(name: string, key: string, on: { bucket: string; mode: "read" | "write" } = { bucket: "datasets", mode: "read" }): Promise<S3Client> {
    const adminIdentity = { endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
    const names = s3GrantNames(`team-a/${name}`, { kind: "exact", bucket: on.bucket, prefix: key });
    await applyS3Grant(adminIdentity, names, on.mode);
    const issued = await issueS3AccessKey(adminIdentity, names);
    const client = s3ClientFor(s3.endpoint, s3.region, { accessKeyId: issued.accessKeyId, secretAccessKey: issued.secretAccessKey });
    clients.push(client);
    return client;
  }

  const input = (key: string, kind: DataInput["kind"]): DataInput => ({ input: "scenes", at: "spec.inputs[0].resourceRef", resource: "s2", bucket: "datasets", key, kind, grant: "g", mode: "read" });
  const text = async (key: string): Promise<Buffer> => Buffer.from((await (await admin.send(new GetObjectCommand({ Bucket: "argo-artifacts", Key: key }))).Body?.transformToByteArray()) ?? []);
  const staged = async (prefix: string): Promise<string[]> => ((await admin.send(new ListObjectsV2Command({ Bucket: "argo-artifacts", Prefix: prefix }))).Contents ?? []).map((o) => o.Key ?? "").sort();

  before(async function () {
    s3 = await startS3("data-staging-it");
    admin = s3ClientFor(s3.endpoint, s3.region, { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    for (const bucket of ["datasets", "argo-artifacts", "results"]) {
      await admin.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: { name?: string }) => {
        if (err.name !== "BucketAlreadyOwnedByYou") throw err;
      });
    }
    const put = (Key: string, Body: string | Buffer): Promise<unknown> => admin.send(new PutObjectCommand({ Bucket: "datasets", Key, Body }));
    await put("tiles/a.txt", "alpha");
    await put("tiles/sub/", "");
    await put("tiles/sub/b.bin", big);
    await put("tiles2/not-mine.txt", "outside the prefix");
    await put("single/readme.txt", "just one");
    await put("empty/", "");
    // A succeeded run's outputs in the repository: a Directory (nested) and a File, and a look-alike sibling.
    const output = (Key: string, Body: string | Buffer): Promise<unknown> => admin.send(new PutObjectCommand({ Bucket: "argo-artifacts", Key, Body }));
    await output("pipelineruns/team-a/run-1/main/split/parts/1/line.txt", "first");
    await output("pipelineruns/team-a/run-1/main/split/parts/2/line.bin", big);
    await output("pipelineruns/team-a/run-1/main/split/parts2/other.txt", "not part of it");
    await output("pipelineruns/team-a/run-1/main/split/summary.txt", "two lines");
    const host = new URL(s3.endpoint).host;
    const repository = { endpoint: host, bucket: "argo-artifacts", keyPrefix: "pipelineruns", insecure: true, accessKeySecret: { name: "x", key: "a" }, secretKeySecret: { name: "x", key: "s" } };
    store = { repository, s3: admin, admin: { endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
  });

  it("copies a Directory output into storage object by object, and a File output, as the write grant's grantee", async () => {
    const writer = await grantee("results", "runs/", { bucket: "results", mode: "write" });
    const source = repositorySource({ ...store, s3: s3ClientFor(s3.endpoint, s3.region, { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }) }, { prefix: "pipelineruns/team-a/run-1/", ms: 10_000 });
    const to = { s3: writer, bucket: "results" };
    try {
      const copy = (location: string, directory: boolean, key: string): Promise<{ directory: boolean }> => source.copy("out", { location: `s3://argo-artifacts/${location}`, directory }, to, key);
      assert.deepEqual(await copy("pipelineruns/team-a/run-1/main/split/parts", true, "runs/trees/parts"), { directory: true });
      assert.deepEqual(await copy("pipelineruns/team-a/run-1/main/split/summary.txt", false, "runs/trees/summary.txt"), { directory: false });
      // Another run's object, or a path climbing out of this run's area: refused before any read.
      await assert.rejects(copy("pipelineruns/team-a/run-2/main/x.txt", false, "runs/trees/x.txt"), /is not in the run's area of the artifact repository \(s3:\/\/argo-artifacts\/pipelineruns\/team-a\/run-1\/\)/);
      await assert.rejects(copy("pipelineruns/team-a/run-1/../run-2/main", true, "runs/trees/y"), /is not in the run's area/);
      await assert.rejects(source.copy("out", { location: "s3://datasets/single/readme.txt", directory: false }, to, "runs/trees/z.txt"), /is not in the run's area/);
      // Outside the write grant's area: refused by the storage, nothing written.
      await assert.rejects(copy("pipelineruns/team-a/run-1/main/split/summary.txt", false, "elsewhere/summary.txt"), (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode === 403);
    } finally {
      source.close();
    }
    const keys = ((await admin.send(new ListObjectsV2Command({ Bucket: "results" }))).Contents ?? []).map((o) => o.Key ?? "").sort();
    assert.deepEqual(keys, ["runs/trees/parts/1/line.txt", "runs/trees/parts/2/line.bin", "runs/trees/summary.txt"]);
    const body = async (key: string): Promise<Buffer> => Buffer.from((await (await admin.send(new GetObjectCommand({ Bucket: "results", Key: key }))).Body?.transformToByteArray()) ?? []);
    assert.ok((await body("runs/trees/parts/2/line.bin")).equals(big));
    assert.equal((await body("runs/trees/parts/1/line.txt")).toString(), "first");
  });

  after(async function () {
    for (const c of clients) c.destroy();
    admin?.destroy();
    await s3?.stop();
  });

  it("copies every object under a Directory's prefix, at its path below it, as the grantee; nothing of a look-alike prefix", async () => {
    const source = await grantee("tiles", "tiles/");
    const bytes = await stageData(source, input("tiles/", "Directory"), { store, inputsKey }, 10_000);
    assert.equal(bytes, 5 + big.length);
    assert.deepEqual(await staged(`${inputsKey}/`), [`${inputsKey}/data.scenes/tiles/a.txt`, `${inputsKey}/data.scenes/tiles/sub/b.bin`]);
    assert.equal((await text(`${inputsKey}/data.scenes/tiles/a.txt`)).toString(), "alpha");
    assert.ok((await text(`${inputsKey}/data.scenes/tiles/sub/b.bin`)).equals(big), "the large object arrives whole and in order");
  });

  it("copies a File's object under its own name", async () => {
    const source = await grantee("single", "single/readme.txt");
    assert.equal(await stageData(source, input("single/readme.txt", "File"), { store, inputsKey: `${inputsKey}-file` }, 10_000), 8);
    assert.equal((await text(`${inputsKey}-file/data.scenes/readme.txt`)).toString(), "just one");
  });

  it("refuses an empty prefix, and reading outside the grant, naming the data", async () => {
    const empty = await grantee("empty", "empty/");
    await assert.rejects(stageData(empty, input("empty/", "Directory"), { store, inputsKey: `${inputsKey}-empty` }, 10_000), /no object under s3:\/\/datasets\/empty\/ \(an empty Directory is not copied\)/);
    // The grant is the catalog's: its user lists and reads tiles/ only.
    const tilesOnly = await grantee("tiles-only", "tiles/");
    await assert.rejects(stageData(tilesOnly, input("tiles2/", "Directory"), { store, inputsKey: `${inputsKey}-other` }, 10_000), (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode === 403);
    assert.deepEqual(await staged(`${inputsKey}-other/`), []);
  });
});
