// The AccessGrant controller against a real apiserver, a real PostgreSQL (hack/postgres) and a
// real S3 server (hack/s3): the credentials it issues work for what was granted and nothing more,
// stop working at expiry or deletion, survive a restart without a second role, and are readable
// by the grantee only.
import assert from "node:assert/strict";
import { CoreV1Api } from "@kubernetes/client-node";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import pg from "pg";
import { s3ClientFor } from "../../../operators/catalog/backends/s3Client.ts";
import { eventually, sharedCluster } from "../../support/cluster.ts";
import { type TestPostgres, startPostgres } from "../../support/postgres.ts";
import { type TestS3, startS3 } from "../../support/s3.ts";
import { type GrantWorld, grantWorld, readyOf } from "./accessGrantFixtures.ts";
import { allStarted } from "../../support/allStarted.ts";

const inOneHour = (): string => new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z");

async function pgError(config: pg.ClientConfig, sql: string): Promise<string | undefined> {
  const client = new pg.Client(config);
  try {
    await client.connect();
    await client.query(sql);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function pgRows(config: pg.ClientConfig, sql: string): Promise<unknown[]> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

function granteeConfig(secret: Record<string, string>): pg.ClientConfig {
  return { host: secret.host, port: Number(secret.port), database: secret.database, user: secret.username, password: secret.password };
}

async function s3PutStatus(secret: Record<string, string>, key: string): Promise<number> {
  const client = s3ClientFor(secret.endpoint ?? "", secret.region ?? "us-east-1", { accessKeyId: secret.accessKeyId ?? "", secretAccessKey: secret.secretAccessKey ?? "" });
  try {
    await client.send(new PutObjectCommand({ Bucket: secret.bucket, Key: key, Body: "result" }));
    return 200;
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
  } finally {
    client.destroy();
  }
}

describe("AccessGrant controller (manager process, real PostgreSQL and S3)", function () {
  this.timeout(180_000);
  let w: GrantWorld;
  let postgres: TestPostgres;
  let s3: TestS3;
  let admin: pg.ClientConfig;

  before(async function () {
    this.timeout(180_000);
    await allStarted([
      sharedCluster().then((c) => grantWorld(c, "access-grant")).then((x) => (w = x)),
      startPostgres(`it-access-grant-${process.pid}`).then((x) => (postgres = x)),
      startS3(`it-access-grant-${process.pid}`).then((x) => (s3 = x)),
    ]);
    admin = { host: postgres.host, port: postgres.port, database: postgres.database, user: postgres.superuser, password: postgres.password };
    await pgRows(admin, "CREATE TABLE public.observations (id int primary key, value text)");
    await pgRows(admin, "INSERT INTO public.observations VALUES (1, 'a'), (2, 'b')");
    // Before PostgreSQL 15 PUBLIC may create in schema public: the provider hardens its database.
    await pgRows(admin, "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    const client = s3ClientFor(s3.endpoint, s3.region, s3);
    await client.send(new CreateBucketCommand({ Bucket: "results" }));
    client.destroy();
    await w.createSecret("pg-admin", { username: postgres.superuser, password: postgres.password });
    await w.createSecret("s3-admin", { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    const pgConnection = { host: postgres.host, port: postgres.port, database: postgres.database, credentialsSecretRef: { name: "pg-admin" } };
    await w.createProvider("warehouse", { type: "data", data: { source: "postgres", postgres: pgConnection } });
    await w.createProvider("buckets", { type: "storage", storage: { backend: "s3", s3: { endpoint: s3.endpoint, region: s3.region, credentialsSecretRef: { name: "s3-admin" } } } });
    await w.createProvider("schemas", { type: "storage", storage: { backend: "postgres", postgres: pgConnection } });
    await w.createResource("observations", { providerRef: { name: "warehouse" }, type: "data", data: { postgres: { table: { name: "observations" } } } });
    await w.createResource("results", { providerRef: { name: "buckets" }, type: "storage", storage: { s3: { bucket: "results", prefix: "runs/" } } });
    await w.createResource("outputs", { providerRef: { name: "schemas" }, type: "storage", storage: { postgres: { schema: "pipeline_outputs" } } });
    await w.createResource("secret-table", { providerRef: { name: "warehouse" }, type: "data", visibility: "private", data: { postgres: { table: { name: "observations" } } } });
  });

  after(async function () {
    this.timeout(120_000);
    await w?.stop();
    await Promise.all([postgres?.stop(), s3?.stop()]);
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${w.manager().logFile}`);
  });

  it("postgres read: SELECT on the view works, writes and the base table are refused (42501); nothing secret in status or events", async () => {
    await w.createGrant("alice-reads", { resourceRef: { name: "observations" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt: inOneHour() });
    const g = await w.grantReady("alice-reads", { status: "True", reason: "Issued" });
    assert.equal(g.status?.secretRef?.name, "alice-reads-credentials");
    assert.equal(g.status?.observedGeneration, g.metadata?.generation);
    assert.ok(g.status?.access?.role?.startsWith("archipel_g_"));
    assert.equal(g.status?.access?.view, "data");
    const secret = await w.readSecret("alice-reads-credentials");
    assert.ok(secret?.password && secret.password.length >= 24);
    const creds = granteeConfig(secret);
    assert.deepEqual(await pgRows(creds, "SELECT id, value FROM data ORDER BY id"), [{ id: 1, value: "a" }, { id: 2, value: "b" }]);
    // The role's sessions default to read-only (25006; seen as 42501 in some runs), but a session
    // can switch that off: the privileges are what refuse the write (42501).
    assert.ok(["25006", "42501"].includes((await pgError(creds, "INSERT INTO data VALUES (3, 'c')")) ?? "none"));
    assert.equal(await pgError(creds, "BEGIN READ WRITE; INSERT INTO data VALUES (3, 'c')"), "42501");
    assert.equal(await pgError(creds, "SET default_transaction_read_only = off; UPDATE data SET value = 'x'"), "42501");
    assert.equal(await pgError(creds, "SELECT * FROM public.observations"), "42501");
    assert.equal(await pgError(creds, "BEGIN READ WRITE; CREATE TABLE public.sneaky (x int)"), "42501");
    assert.deepEqual(await pgRows(admin, "SELECT count(*)::int AS n FROM public.observations"), [{ n: 2 }]);
    const visible = JSON.stringify(g.status) + (await w.eventsText("alice-reads"));
    assert.ok(!visible.includes(secret.password), "the password must not appear in status or events");
    const logs = await import("node:fs/promises").then((fs) => fs.readFile(w.manager().logFile, "utf8"));
    assert.ok(!logs.includes(secret.password), "the password must not appear in the manager's log");
  });

  it("only the grantee may read the credentials Secret (alice yes, bob 403)", async () => {
    await w.grantReady("alice-reads", { status: "True", reason: "Issued" });
    const asUser = (user: "alice" | "bob"): CoreV1Api => w.cluster.kubeConfig(user).makeApiClient(CoreV1Api);
    const read = async (user: "alice" | "bob", name: string): Promise<number> =>
      asUser(user)
        .readNamespacedSecret({ namespace: w.ns.name, name })
        .then(() => 200)
        .catch((err: { code?: number }) => err.code ?? 0);
    assert.equal(await read("alice", "alice-reads-credentials"), 200);
    assert.equal(await read("bob", "alice-reads-credentials"), 403);
    assert.equal(await read("alice", "pg-admin"), 403, "the Role names the one Secret only");
  });

  it("a restart half-way converges: same role, same password, no second role", async () => {
    const before = await w.readSecret("alice-reads-credentials");
    await w.restartManager();
    await w.annotateGrant("alice-reads", { "test.archipel.io/poke": "1" });
    await w.grantReady("alice-reads", { status: "True", reason: "Issued" });
    await new Promise((r) => setTimeout(r, 1500));
    const after = await w.readSecret("alice-reads-credentials");
    assert.equal(after?.password, before?.password);
    const uid = (await w.getGrant("alice-reads"))?.metadata?.uid ?? "";
    const roles = await pgRows(admin, `SELECT rolname FROM pg_roles WHERE rolname LIKE 'archipel_g_%${uid.slice(0, 8)}%'`);
    assert.equal(roles.length, 1, `one role for the grant, got ${JSON.stringify(roles)}`);
    assert.deepEqual(await pgRows(granteeConfig(after ?? {}), "SELECT count(*)::int AS n FROM data"), [{ n: 2 }]);
  });

  it("deleting the grant drops the role (28P01) and the Secret", async () => {
    const secret = await w.readSecret("alice-reads-credentials");
    assert.ok(secret);
    const role = secret.username;
    await w.deleteGrant("alice-reads");
    await eventually("grant gone", async () => (await w.getGrant("alice-reads")) === undefined, 30_000);
    // Emptied by the controller, deleted with the grant by the garbage collector (the manager may not delete Secrets).
    await eventually("credentials Secret gone", async () => (await w.readSecret("alice-reads-credentials")) === undefined, 30_000);
    assert.equal(await pgError(granteeConfig(secret), "SELECT 1"), "28P01");
    assert.deepEqual(await pgRows(admin, `SELECT 1 FROM pg_roles WHERE rolname = '${role}'`), []);
  });

  it("at expiresAt the credentials stop working, the Secret is emptied, the grant stays Expired with revokedAt", async () => {
    const expiresAt = new Date(Date.now() + 8000).toISOString().replace(/\.\d+Z$/, "Z");
    await w.createGrant("short", { resourceRef: { name: "observations" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt });
    await w.grantReady("short", { status: "True", reason: "Issued" });
    const secret = await w.readSecret("short-credentials");
    assert.ok(secret);
    assert.deepEqual(await pgRows(granteeConfig(secret), "SELECT count(*)::int AS n FROM data"), [{ n: 2 }]);
    const g = await w.grantReady("short", { status: "False", reason: "Expired" }, 30_000);
    assert.ok(g.status?.revokedAt);
    assert.match(readyOf(g)?.message ?? "", /credentials revoked/);
    assert.deepEqual(await w.readSecret("short-credentials"), {});
    assert.equal(await pgError(granteeConfig(secret), "SELECT 1"), "28P01");
  });

  it("s3 write: inside the grant's prefix works, outside is 403; deleted grant → 403 and no Secret", async () => {
    await w.createGrant("writer", { resourceRef: { name: "results" }, grantee: { kind: "User", name: "alice" }, mode: "write", expiresAt: inOneHour() });
    const g = await w.grantReady("writer", { status: "True", reason: "Issued" });
    const secret = await w.readSecret("writer-credentials");
    assert.ok(secret?.secretAccessKey);
    assert.equal(g.status?.access?.bucket, "results");
    assert.match(g.status?.access?.prefix ?? "", /^runs\/grants\/.+\/$/);
    assert.ok(!JSON.stringify(g.status).includes(secret.secretAccessKey));
    assert.equal(await s3PutStatus(secret, `${secret.prefix}out.txt`), 200);
    assert.equal(await s3PutStatus(secret, "runs/other/out.txt"), 403);
    assert.equal(await s3PutStatus(secret, "elsewhere.txt"), 403);
    await w.deleteGrant("writer");
    await eventually("grant gone", async () => (await w.getGrant("writer")) === undefined, 30_000);
    await eventually("credentials Secret gone", async () => (await w.readSecret("writer-credentials")) === undefined, 30_000);
    assert.equal(await s3PutStatus(secret, `${secret.prefix}late.txt`), 403);
  });

  it("postgres storage write: the role writes tables in the Resource's schema only", async () => {
    await w.createGrant("out", { resourceRef: { name: "outputs" }, grantee: { kind: "User", name: "alice" }, mode: "write", expiresAt: inOneHour() });
    const g = await w.grantReady("out", { status: "True", reason: "Issued" });
    assert.equal(g.status?.access?.schema, "pipeline_outputs");
    const creds = granteeConfig((await w.readSecret("out-credentials")) ?? {});
    assert.equal(await pgError(creds, "CREATE TABLE pipeline_outputs.r (x int); INSERT INTO pipeline_outputs.r VALUES (1)"), undefined);
    assert.equal(await pgError(creds, "INSERT INTO public.observations VALUES (9, 'z')"), "42501");
  });

  it("UnsupportedGrant for read on storage; NotVisible for a peer on a private Resource", async () => {
    await w.createGrant("wrong-mode", { resourceRef: { name: "results" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt: inOneHour() });
    const u = await w.grantReady("wrong-mode", { status: "False", reason: "UnsupportedGrant" });
    assert.match(readyOf(u)?.message ?? "", /spec\.mode read is not supported on a storage Resource/);
    await w.createGrant("peer-private", { resourceRef: { name: "secret-table" }, grantee: { kind: "Peer", name: "cluster-b" }, mode: "read", expiresAt: inOneHour() });
    const n = await w.grantReady("peer-private", { status: "False", reason: "NotVisible" });
    assert.equal(await w.readSecret("peer-private-credentials"), undefined);
    assert.match(readyOf(n)?.message ?? "", /may not see Resource "secret-table"/);
  });
});
