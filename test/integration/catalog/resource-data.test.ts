// The Resource controller on data Resources, end to end: the manager runs as a child process
// against a real kube-apiserver; the backends are real (a loopback HTTP file server, the STAC
// server of test/support/stac.ts, SeaweedFS from hack/s3, PostgreSQL from hack/postgres).
import assert from "node:assert/strict";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import pg from "pg";
import { s3ClientFor } from "../../../operators/catalog/backends/s3Client.ts";
import { eventually, sharedCluster } from "../../support/cluster.ts";
import { type TestPostgres, startPostgres } from "../../support/postgres.ts";
import { type TestS3, startS3 } from "../../support/s3.ts";
import { type StacServer, startStacServer } from "../../support/stac.ts";
import { type CatalogWorld, catalogWorld, type FileServer, readyOf, sha256, startFileServer } from "./resourceFixtures.ts";
import { allStarted } from "../../support/allStarted.ts";

describe("Resource controller: data Resources (manager process, real backends)", function () {
  this.timeout(180_000);
  let w: CatalogWorld;
  let files: FileServer;
  let stac: StacServer;
  let s3: TestS3;
  let postgres: TestPostgres;
  const tile = Buffer.alloc(300_000, 7);

  before(async function () {
    this.timeout(180_000);
    const cluster = await sharedCluster();
    await allStarted([
      catalogWorld(cluster, "resource-data").then((x) => (w = x)),
      startFileServer({ "/tiles/t1.tif": tile, "/no-head/t1.tif": tile, "/readme.txt": "hello\n" }).then((x) => (files = x)),
      startStacServer().then((x) => (stac = x)),
      startS3(`it-catalog-resource-${process.pid}`).then((x) => (s3 = x)),
      startPostgres(`it-catalog-resource-${process.pid}`).then((x) => (postgres = x)),
    ]);
    const client = s3ClientFor(s3.endpoint, s3.region, s3);
    await client.send(new CreateBucketCommand({ Bucket: "imagery" }));
    await client.send(new PutObjectCommand({ Bucket: "imagery", Key: "s2/t1.tif", Body: tile }));
    client.destroy();
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    await db.query("CREATE TABLE IF NOT EXISTS stations (id int PRIMARY KEY, name text, elevation_m int)");
    await db.end();
    await w.createSecret("s3-admin", { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    await w.createSecret("pg-admin", { username: postgres.superuser, password: postgres.password });
    await Promise.all([
      w.createProvider("files", { type: "data", data: { source: "url", url: {} } }),
      w.createProvider("stac", { type: "data", data: { source: "stac", stac: { apiURL: stac.url } } }),
      w.createProvider("objects", { type: "data", data: { source: "s3", s3: { endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentialsSecretRef: { name: "s3-admin" } } } }),
      w.createProvider("db", { type: "data", data: { source: "postgres", postgres: { host: postgres.host, port: postgres.port, database: postgres.database, credentialsSecretRef: { name: "pg-admin" } } } }),
    ]);
  });

  after(async function () {
    this.timeout(120_000);
    await w?.stop();
    await Promise.all([files?.close(), stac?.close(), s3?.stop(), postgres?.stop()]);
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${w.manager.logFile}`);
  });

  describe("the provider gate", () => {
    it("ProviderNotFound until the Provider exists, then follows it (a Provider change wakes its Resources)", async () => {
      await w.createResource("early", { providerRef: { name: "later" }, type: "data", data: { url: { url: `${files.url}/readme.txt` } } });
      const r = await w.readyWith("early", { status: "False", reason: "ProviderNotFound" });
      assert.match(readyOf(r)?.message ?? "", /spec\.providerRef\.name: Provider "later" does not exist/);
      await w.createProvider("later", { type: "data", data: { source: "url", url: {} } });
      const ok = await w.readyWith("early", { status: "True", reason: "Available" });
      assert.equal(ok.status?.data?.sizeBytes, 6);
    });

    it("ProviderTypeMismatch and SourceMismatch name the fields", async () => {
      await w.createProvider("cpu", { type: "compute", compute: { capacity: { cpu: "1", memory: "1Gi" } } });
      await w.createResource("wrong-type", { providerRef: { name: "cpu" }, type: "data", data: { url: { url: `${files.url}/readme.txt` } } });
      const t = await w.readyWith("wrong-type", { status: "False", reason: "ProviderTypeMismatch" });
      assert.match(readyOf(t)?.message ?? "", /spec\.type is "data" but Provider "cpu" offers "compute"/);
      await w.createResource("wrong-source", { providerRef: { name: "files" }, type: "data", data: { s3: { bucket: "imagery", key: "s2/t1.tif" } } });
      const s = await w.readyWith("wrong-source", { status: "False", reason: "SourceMismatch" });
      assert.match(readyOf(s)?.message ?? "", /spec\.data\.s3 is set but Provider "files" serves data from "url"/);
    });

    it("ProviderNotReady while the Provider is invalid", async () => {
      // CEL refuses most invalid Providers at admission; this one passes CEL and fails readiness.
      await w.createProvider("broken", { type: "service", service: {} });
      await w.createResource("on-broken", { providerRef: { name: "broken" }, type: "service", service: { image: "busybox", cwl: { document: { cwlVersion: "v1.2", class: "CommandLineTool", baseCommand: "true", inputs: [], outputs: [] } } } });
      const r = await w.readyWith("on-broken", { status: "False", reason: "ProviderNotReady", message: /MissingField/ });
      assert.match(readyOf(r)?.message ?? "", /Provider "broken" is not Ready \(MissingField: spec\.service\.defaultImage or spec\.service\.registry\.server is required/);
    });
  });

  describe("url", () => {
    it("reads the size with HEAD and verifies a declared checksum by streaming the content", async () => {
      await w.createResource("tile", {
        providerRef: { name: "files" },
        type: "data",
        data: { url: { url: `${files.url}/tiles/t1.tif`, sizeBytes: tile.length, checksum: { algorithm: "sha256", value: sha256(tile) } } },
      });
      const r = await w.readyWith("tile", { status: "True", reason: "Available" });
      assert.equal(r.status?.data?.sizeBytes, tile.length);
      assert.ok(r.status?.data?.checkedAt);
      assert.match(readyOf(r)?.message ?? "", /300000 bytes, sha256 verified/);
      assert.ok(files.requests.includes("HEAD /tiles/t1.tif"));
      assert.ok(files.requests.includes("GET /tiles/t1.tif"));
    });

    it("falls back to a ranged GET when HEAD is refused", async () => {
      await w.createResource("no-head", { providerRef: { name: "files" }, type: "data", data: { url: { url: `${files.url}/no-head/t1.tif` } } });
      const r = await w.readyWith("no-head", { status: "True", reason: "Available" });
      assert.equal(r.status?.data?.sizeBytes, tile.length);
    });

    it("ChecksumMismatch and SizeMismatch name the field", async () => {
      await w.createResource("bad-sum", {
        providerRef: { name: "files" },
        type: "data",
        data: { url: { url: `${files.url}/readme.txt`, checksum: { algorithm: "sha256", value: "0".repeat(64) } } },
      });
      const c = await w.readyWith("bad-sum", { status: "False", reason: "ChecksumMismatch" });
      assert.match(readyOf(c)?.message ?? "", new RegExp(`spec\\.data\\.url\\.checksum\\.value does not match: the content's sha256 is ${sha256("hello\n")}`));
      await w.createResource("bad-size", { providerRef: { name: "files" }, type: "data", data: { url: { url: `${files.url}/readme.txt`, sizeBytes: 7 } } });
      const s = await w.readyWith("bad-size", { status: "False", reason: "SizeMismatch" });
      assert.match(readyOf(s)?.message ?? "", /spec\.data\.url\.sizeBytes is 7 but the source has 6 bytes/);
      // The Event is written after the status (best effort): it may land a moment later.
      const events = await eventually("a SizeMismatch Event", async () => {
        const list = await w.eventsFor("bad-size");
        return list.some((e) => e.reason === "SizeMismatch") ? list : undefined;
      }, 10_000, 200);
      assert.equal(events.filter((e) => e.reason === "SizeMismatch").length, 1);
      assert.equal(events[0]?.type, "Warning");
    });

    it("ObjectNotFound for a 404 and SourceUnreachable for a closed port", async () => {
      await w.createResource("missing", { providerRef: { name: "files" }, type: "data", data: { url: { url: `${files.url}/nothing.tif` } } });
      const m = await w.readyWith("missing", { status: "False", reason: "ObjectNotFound" });
      assert.match(readyOf(m)?.message ?? "", /spec\.data\.url\.url: .*nothing\.tif answered 404/);
      await w.createResource("down", { providerRef: { name: "files" }, type: "data", data: { url: { url: "http://127.0.0.1:9/file" } } });
      const d = await w.readyWith("down", { status: "False", reason: "SourceUnreachable" });
      assert.match(readyOf(d)?.message ?? "", /spec\.data\.url\.url: http:\/\/127\.0\.0\.1:9\/file is unreachable/);
    });
  });

  describe("url retries", () => {
    it("retries an unavailable source with back-off and becomes Available without any edit", async () => {
      files.unavailable.add("/readme.txt");
      await w.createResource("flaky", { providerRef: { name: "files" }, type: "data", data: { url: { url: `${files.url}/readme.txt` } } });
      const down = await w.readyWith("flaky", { status: "False", reason: "SourceUnreachable" });
      assert.match(readyOf(down)?.message ?? "", /spec\.data\.url\.url: .*readme\.txt answered 503/);
      const asked = (): number => files.requests.filter((r) => r === "HEAD /readme.txt").length;
      const first = asked();
      await new Promise((r) => setTimeout(r, 7_000));
      const retries = asked() - first;
      // Back-off: 5 s after the first failure, then longer; never a tight loop.
      assert.ok(retries >= 1 && retries <= 2, `retried ${retries} time(s) in 7 s`);
      files.unavailable.delete("/readme.txt");
      const up = await w.readyWith("flaky", { status: "True", reason: "Available" }, 30_000);
      assert.equal(up.status?.data?.sizeBytes, 6);
      assert.equal(up.metadata?.generation, 1, "no spec edit was needed");
    });
  });

  describe("url bounds", () => {
    it("refuses a URL outside the Provider's baseURL, naming both", async () => {
      await w.createProvider("tiles-only", { type: "data", data: { source: "url", url: { baseURL: `${files.url}/tiles/` } } });
      await w.createResource("outside", { providerRef: { name: "tiles-only" }, type: "data", data: { url: { url: `${files.url}/readme.txt` } } });
      const r = await w.readyWith("outside", { status: "False", reason: "InvalidSpec" });
      assert.match(readyOf(r)?.message ?? "", /spec\.data\.url\.url must start with the Provider's baseURL http:\/\/127\.0\.0\.1:\d+\/tiles\//);
      await w.createResource("inside", { providerRef: { name: "tiles-only" }, type: "data", data: { url: { url: `${files.url}/tiles/t1.tif` } } });
      await w.readyWith("inside", { status: "True", reason: "Available" });
    });
  });

  describe("s3", () => {
    it("HeadObject with the provider's credentials gives the size; the checksum is verified", async () => {
      await w.createResource("object", {
        providerRef: { name: "objects" },
        type: "data",
        data: { s3: { bucket: "imagery", key: "s2/t1.tif", checksum: { algorithm: "sha256", value: sha256(tile) } } },
      });
      const r = await w.readyWith("object", { status: "True", reason: "Available" });
      assert.equal(r.status?.data?.sizeBytes, tile.length);
    });

    it("ObjectNotFound names the object; a prefix with objects under it is Available", async () => {
      await w.createResource("no-object", { providerRef: { name: "objects" }, type: "data", data: { s3: { bucket: "imagery", key: "s2/none.tif" } } });
      const r = await w.readyWith("no-object", { status: "False", reason: "ObjectNotFound" });
      assert.match(readyOf(r)?.message ?? "", /spec\.data\.s3: s3:\/\/imagery\/s2\/none\.tif does not exist/);
      await w.createResource("prefix", { providerRef: { name: "objects" }, type: "data", data: { s3: { bucket: "imagery", key: "s2/" } } });
      await w.readyWith("prefix", { status: "True", reason: "Available" });
    });
  });

  describe("stac", () => {
    it("counts the items matching collection, bbox, datetime and cloud cover", async () => {
      const filters = {
        collection: "sentinel-2-l2a",
        bbox: { west: "5.5", south: "43", east: "7.25", north: "44.5" },
        datetime: { start: "2026-06-01T00:00:00Z", end: "2026-07-01T00:00:00Z" },
      };
      await w.createResource("provence-june", { providerRef: { name: "stac" }, type: "data", data: { stac: filters } });
      await w.createResource("provence-june-clear", { providerRef: { name: "stac" }, type: "data", data: { stac: { ...filters, maxCloudCover: 20 } } });
      await w.createResource("provence-june-two", { providerRef: { name: "stac" }, type: "data", data: { stac: { ...filters, limit: 2 } } });
      assert.equal((await w.readyWith("provence-june", { status: "True", reason: "Available" })).status?.data?.itemCount, 4);
      assert.equal((await w.readyWith("provence-june-clear", { status: "True", reason: "Available" })).status?.data?.itemCount, 3);
      assert.equal((await w.readyWith("provence-june-two", { status: "True", reason: "Available" })).status?.data?.itemCount, 2);
      assert.ok(stac.requests.includes("POST /search"));
    });

    it("CollectionNotFound names the collection", async () => {
      await w.createResource("landsat", { providerRef: { name: "stac" }, type: "data", data: { stac: { collection: "landsat-c2-l2" } } });
      const r = await w.readyWith("landsat", { status: "False", reason: "CollectionNotFound" });
      assert.match(readyOf(r)?.message ?? "", /spec\.data\.stac\.collection: the STAC API at .* has no collection "landsat-c2-l2"/);
    });

    it("uses GET /search when the API refuses POST", async () => {
      stac.refusePost = true;
      try {
        await w.createResource("brittany", { providerRef: { name: "stac" }, type: "data", data: { stac: { collection: "sentinel-2-l2a", bbox: { west: "-5", south: "47", east: "-3", north: "49" } } } });
        const r = await w.readyWith("brittany", { status: "True", reason: "Available" });
        assert.equal(r.status?.data?.itemCount, 1);
        assert.ok(stac.requests.includes("GET /search"));
      } finally {
        stac.refusePost = false;
      }
    });
  });

  describe("postgres", () => {
    it("a table with its listed columns, and a valid single SELECT, are Available", async () => {
      await w.createResource("stations", { providerRef: { name: "db" }, type: "data", data: { postgres: { table: { name: "stations", columns: ["id", "name"] } } } });
      await w.createResource("high", { providerRef: { name: "db" }, type: "data", data: { postgres: { query: "SELECT id, name FROM stations WHERE elevation_m > 1000" } } });
      await w.readyWith("stations", { status: "True", reason: "Available" });
      const q = await w.readyWith("high", { status: "True", reason: "Available" });
      assert.match(readyOf(q)?.message ?? "", /valid SELECT of 2 column/);
    });

    it("TableNotFound, ColumnNotFound and InvalidQuery carry the field and a message of ours (never the database's text)", async () => {
      await w.createResource("no-table", { providerRef: { name: "db" }, type: "data", data: { postgres: { table: { name: "nope" } } } });
      await w.createResource("no-column", { providerRef: { name: "db" }, type: "data", data: { postgres: { table: { name: "stations", columns: ["id", "altitude"] } } } });
      await w.createResource("bad-sql", { providerRef: { name: "db" }, type: "data", data: { postgres: { query: "SELECT id FROM stations WHERE colour = 'red'" } } });
      await w.createResource("two-sql", { providerRef: { name: "db" }, type: "data", data: { postgres: { query: "SELECT 1; DROP TABLE stations" } } });
      await w.createResource("write-sql", { providerRef: { name: "db" }, type: "data", data: { postgres: { query: "WITH d AS (DELETE FROM stations RETURNING id) SELECT id FROM d" } } });
      assert.match(readyOf(await w.readyWith("no-table", { status: "False", reason: "TableNotFound" }))?.message ?? "", /spec\.data\.postgres\.table: "public"\."nope" does not exist/);
      assert.match(readyOf(await w.readyWith("no-column", { status: "False", reason: "ColumnNotFound" }))?.message ?? "", /spec\.data\.postgres\.table\.columns: altitude not in/);
      assert.match(readyOf(await w.readyWith("bad-sql", { status: "False", reason: "InvalidQuery" }))?.message ?? "", /spec\.data\.postgres\.query: the database refused it at character \d+: a column it names does not exist \(SQLSTATE 42703\)$/);
      assert.match(readyOf(await w.readyWith("two-sql", { status: "False", reason: "InvalidQuery" }))?.message ?? "", /spec\.data\.postgres\.query: must be a single statement/);
      assert.match(readyOf(await w.readyWith("write-sql", { status: "False", reason: "InvalidQuery" }))?.message ?? "", /spec\.data\.postgres\.query: must only read: DELETE/);
      const db = new pg.Client({ connectionString: postgres.url });
      await db.connect();
      const exists = await db.query("SELECT to_regclass('public.stations') AS t");
      await db.end();
      assert.equal(exists.rows[0]?.t, "stations", "the check never writes");
    });

    it("CredentialsNotFound names the Provider's Secret reference", async () => {
      await w.createProvider("db-nocreds", { type: "data", data: { source: "postgres", postgres: { host: postgres.host, port: postgres.port, database: postgres.database, credentialsSecretRef: { name: "absent" } } } });
      await w.createResource("nocreds", { providerRef: { name: "db-nocreds" }, type: "data", data: { postgres: { table: { name: "stations" } } } });
      const r = await w.readyWith("nocreds", { status: "False", reason: "CredentialsNotFound" });
      assert.match(readyOf(r)?.message ?? "", /Provider spec\.data\.postgres\.credentialsSecretRef: Secret "absent" does not exist/);
      assert.doesNotMatch(JSON.stringify(r.status), new RegExp(postgres.password));
    });
  });

  describe("idempotency", () => {
    it("is idempotent: a Provider edit that does not touch its backend re-runs every Resource, which writes nothing and asks no backend", async () => {
      const names = ["tile", "object", "provence-june", "stations", "bad-size"];
      const before = await Promise.all(names.map((n) => w.getResource(n)));
      const requestsBefore = { files: files.requests.length, stac: stac.requests.length };
      const reconcilesBefore = await w.resourceReconciles();
      await Promise.all(["files", "objects", "stac", "db"].map((p) => w.patchProviderSpec(p, { displayName: `edited ${Date.now()}` })));
      // A new generation is a relevant Provider change: it enqueues that Provider's Resources.
      const { eventually } = await import("../../support/eventually.ts");
      await eventually("the Resources reconciled again", async () => (await w.resourceReconciles()) >= reconcilesBefore + names.length);
      await new Promise((r) => setTimeout(r, 1000));
      const after = await Promise.all(names.map((n) => w.getResource(n)));
      assert.deepEqual(after.map((r) => r.metadata?.resourceVersion), before.map((r) => r.metadata?.resourceVersion), "no status write");
      assert.equal(files.requests.length, requestsBefore.files, "no HTTP request to the file server");
      assert.equal(stac.requests.length, requestsBefore.stac, "no STAC request");
      // A status-only or metadata-only Provider event wakes no Resource at all.
      const settled = await w.resourceReconciles();
      await Promise.all(["files", "stac"].map((p) => w.annotateProvider(p, { "example.com/touched": "1" })));
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await w.resourceReconciles(), settled, "an annotation on a Provider reconciles no Resource");
    });
  });
});
