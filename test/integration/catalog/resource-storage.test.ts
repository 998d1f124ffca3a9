// The Resource controller on storage Resources: the endpoint answers with the provider's
// credentials (real SeaweedFS from hack/s3, real PostgreSQL from hack/postgres).
import assert from "node:assert/strict";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { s3ClientFor } from "../../../operators/catalog/backends/s3Client.ts";
import { sharedCluster } from "../../support/cluster.ts";
import { type TestPostgres, startPostgres } from "../../support/postgres.ts";
import { type TestS3, startS3 } from "../../support/s3.ts";
import { type CatalogWorld, catalogWorld, readyOf } from "./resourceFixtures.ts";
import { allStarted } from "../../support/allStarted.ts";

describe("Resource controller: storage Resources (manager process, real backends)", function () {
  this.timeout(180_000);
  let w: CatalogWorld;
  let s3: TestS3;
  let postgres: TestPostgres;

  before(async function () {
    this.timeout(180_000);
    await allStarted([
      sharedCluster().then((c) => catalogWorld(c, "resource-storage")).then((x) => (w = x)),
      startS3(`it-catalog-storage-${process.pid}`).then((x) => (s3 = x)),
      startPostgres(`it-catalog-storage-${process.pid}`).then((x) => (postgres = x)),
    ]);
    const client = s3ClientFor(s3.endpoint, s3.region, s3);
    await client.send(new CreateBucketCommand({ Bucket: "results" }));
    client.destroy();
    await w.createSecret("s3-admin", { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    await w.createSecret("s3-wrong", { accessKeyId: s3.accessKeyId, secretAccessKey: "not-the-secret" });
    await w.createSecret("pg-admin", { username: postgres.superuser, password: postgres.password });
    const s3Connection = (secret: string) => ({ endpoint: s3.endpoint, region: s3.region, credentialsSecretRef: { name: secret } });
    await w.createProvider("buckets", { type: "storage", storage: { backend: "s3", s3: s3Connection("s3-admin") } });
    await w.createProvider("buckets-wrong", { type: "storage", storage: { backend: "s3", s3: s3Connection("s3-wrong") } });
    await w.createProvider("schemas", { type: "storage", storage: { backend: "postgres", postgres: { host: postgres.host, port: postgres.port, database: postgres.database, credentialsSecretRef: { name: "pg-admin" } } } });
    await w.createProvider("schemas-down", { type: "storage", storage: { backend: "postgres", postgres: { host: "127.0.0.1", port: 9, database: "x", credentialsSecretRef: { name: "pg-admin" } } } });
  });

  after(async function () {
    this.timeout(120_000);
    await w?.stop();
    await Promise.all([s3?.stop(), postgres?.stop()]);
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${w.manager.logFile}`);
  });

  it("s3: Available for an existing bucket and for one a grant will create", async () => {
    await w.createResource("results", { providerRef: { name: "buckets" }, type: "storage", storage: { s3: { bucket: "results", prefix: "runs/" } } });
    assert.match(readyOf(await w.readyWith("results", { status: "True", reason: "Available" }))?.message ?? "", /bucket results exists/);
    await w.createResource("fresh", { providerRef: { name: "buckets" }, type: "storage", storage: { s3: { bucket: "fresh-results" } } });
    assert.match(readyOf(await w.readyWith("fresh", { status: "True", reason: "Available" }))?.message ?? "", /does not exist yet and is created by the first grant/);
  });

  it("s3: BackendUnreachable with wrong credentials; InvalidSpec for a prefix that would widen a policy", async () => {
    await w.createResource("denied", { providerRef: { name: "buckets-wrong" }, type: "storage", storage: { s3: { bucket: "results" } } });
    const d = await w.readyWith("denied", { status: "False", reason: "BackendUnreachable" });
    assert.match(readyOf(d)?.message ?? "", /Provider spec\.storage\.s3: .* refused HeadBucket results/);
    assert.doesNotMatch(JSON.stringify(d.status), /not-the-secret/);
    await w.createResource("wild", { providerRef: { name: "buckets" }, type: "storage", storage: { s3: { bucket: "results", prefix: "runs/*" } } });
    const p = await w.readyWith("wild", { status: "False", reason: "InvalidSpec" });
    assert.match(readyOf(p)?.message ?? "", /spec\.storage\.s3: S3 prefix "runs\/\*" must not contain '\*'/);
  });

  it("postgres: Available when the server answers; InvalidSpec for a system schema; BackendUnreachable when down", async () => {
    await w.createResource("outputs", { providerRef: { name: "schemas" }, type: "storage", storage: { postgres: { schema: "pipeline_outputs" } } });
    assert.match(readyOf(await w.readyWith("outputs", { status: "True", reason: "Available" }))?.message ?? "", /schema pipeline_outputs does not exist yet/);
    await w.createResource("catalog", { providerRef: { name: "schemas" }, type: "storage", storage: { postgres: { schema: "pg_catalog" } } });
    assert.match(readyOf(await w.readyWith("catalog", { status: "False", reason: "InvalidSpec" }))?.message ?? "", /spec\.storage\.postgres\.schema "pg_catalog" is a system schema/);
    await w.createResource("down", { providerRef: { name: "schemas-down" }, type: "storage", storage: { postgres: { schema: "x" } } });
    assert.match(readyOf(await w.readyWith("down", { status: "False", reason: "BackendUnreachable" }))?.message ?? "", /cannot connect to 127\.0\.0\.1:9\/x/);
  });
});
