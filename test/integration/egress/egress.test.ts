// The egress policy end to end, with the manager as a process: a loopback listener of this test's
// own (a raw TCP server counting accepted connections) is the only target. With the default
// policy (the manager started with an empty --egress-allow-cidrs) every data source pointing at it
// — a URL by address and by name, a STAC API, an S3 endpoint, a PostgreSQL host — is
// EgressRefused and the listener accepts nothing; with loopback allowed (the suite's setting)
// the same URL is Available. Refusal of link-local or private addresses is proven by the pure
// tests of operators/runtime/egress.test.ts only: nothing here connects anywhere but loopback.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { sharedCluster } from "../../support/cluster.ts";
import { type CatalogWorld, catalogWorld, readyOf } from "../catalog/resourceFixtures.ts";

interface CountingListener {
  port: number;
  accepted: number;
  requests: string[];
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 serving /file.txt (and redirecting /to-other to 127.0.0.2). */
async function countingListener(): Promise<CountingListener> {
  const server = http.createServer((req, res) => {
    l.requests.push(`${req.method} ${req.url}`);
    if (req.url === "/to-other") res.writeHead(302, { location: `http://127.0.0.2:${l.port}/file.txt` }).end();
    else res.writeHead(200, { "content-length": 6 }).end(req.method === "HEAD" ? undefined : "hello\n");
  });
  const l: CountingListener = {
    port: 0,
    accepted: 0,
    requests: [],
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  server.on("connection", () => l.accepted++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  l.port = (server.address() as AddressInfo).port;
  return l;
}

describe("egress policy (manager process, loopback listener of its own)", function () {
  this.timeout(180_000);
  let listener: CountingListener;

  before(async () => {
    listener = await countingListener();
  });
  after(async () => listener?.close());

  describe("the default policy", () => {
    let w: CatalogWorld;

    before(async function () {
      this.timeout(120_000);
      const cluster = await sharedCluster();
      // Flags win over the loopback allow-list the test support puts in the environment.
      w = await catalogWorld(cluster, "egress-default", async () => ({ kubeconfigPath: cluster.kubeconfigPath, extraArgs: ["--egress-allow-cidrs="] }));
      await w.createSecret("creds", { accessKeyId: "a", secretAccessKey: "b", username: "u", password: "p", token: "t" });
      const at = `127.0.0.1:${listener.port}`;
      await Promise.all([
        w.createProvider("files", { type: "data", data: { source: "url", url: {} } }),
        w.createProvider("stac", { type: "data", data: { source: "stac", stac: { apiURL: `http://${at}/stac` } } }),
        w.createProvider("objects", { type: "data", data: { source: "s3", s3: { endpoint: `http://localhost:${listener.port}`, region: "us-east-1", forcePathStyle: true, credentialsSecretRef: { name: "creds" } } } }),
        w.createProvider("db", { type: "data", data: { source: "postgres", postgres: { host: "localhost", port: listener.port, database: "d", credentialsSecretRef: { name: "creds" } } } }),
      ]);
    });

    after(async function () {
      this.timeout(120_000);
      await w?.stop();
    });

    afterEach(function () {
      if (this.currentTest?.state === "failed") console.log(`    manager log: ${w.manager.logFile}`);
    });

    it("a URL on loopback, by address or by name, is EgressRefused naming the host and the rule; nothing connects", async () => {
      await w.createResource("by-address", { providerRef: { name: "files" }, type: "data", data: { url: { url: `http://127.0.0.1:${listener.port}/file.txt` } } });
      await w.createResource("by-name", { providerRef: { name: "files" }, type: "data", data: { url: { url: `http://localhost:${listener.port}/file.txt` } } });
      const a = await w.readyWith("by-address", { status: "False", reason: "EgressRefused" });
      assert.match(readyOf(a)?.message ?? "", /spec\.data\.url\.url: egress to 127\.0\.0\.1:\d+ refused: 127\.0\.0\.1 is in a loopback range \(127\.0\.0\.0\/8\)/);
      const n = await w.readyWith("by-name", { status: "False", reason: "EgressRefused" });
      assert.match(readyOf(n)?.message ?? "", /egress to localhost refused: .* is in a loopback range/);
      assert.equal(listener.accepted, 0);
    });

    it("a STAC API, an S3 endpoint and a PostgreSQL host on loopback are EgressRefused too; nothing connects", async () => {
      await w.createResource("scenes", { providerRef: { name: "stac" }, type: "data", data: { stac: { collection: "s2" } } });
      await w.createResource("object", { providerRef: { name: "objects" }, type: "data", data: { s3: { bucket: "imagery", key: "t1.tif" } } });
      await w.createResource("table", { providerRef: { name: "db" }, type: "data", data: { postgres: { table: { name: "stations" } } } });
      const s = await w.readyWith("scenes", { status: "False", reason: "EgressRefused" });
      assert.match(readyOf(s)?.message ?? "", /Provider spec\.data\.stac\.apiURL: egress to 127\.0\.0\.1:\d+ refused: .*loopback/);
      const o = await w.readyWith("object", { status: "False", reason: "EgressRefused" });
      assert.match(readyOf(o)?.message ?? "", /spec\.data\.s3.*egress to localhost.* refused: .*loopback/);
      const t = await w.readyWith("table", { status: "False", reason: "EgressRefused" });
      assert.match(readyOf(t)?.message ?? "", /Provider spec\.data\.postgres\.host: egress to localhost refused: .*loopback/);
      assert.equal(listener.accepted, 0);
    });
  });

  describe("loopback allowed by configuration (the test suite's setting)", () => {
    let w: CatalogWorld;

    before(async function () {
      this.timeout(120_000);
      const cluster = await sharedCluster();
      // Only 127.0.0.1: a redirect to 127.0.0.2 (loopback too) must still be refused at that hop.
      w = await catalogWorld(cluster, "egress-allowed", async () => ({ kubeconfigPath: cluster.kubeconfigPath, extraArgs: ["--egress-allow-cidrs=127.0.0.1/32"] }));
      await w.createProvider("files", { type: "data", data: { source: "url", url: {} } });
    });

    after(async function () {
      this.timeout(120_000);
      await w?.stop();
    });

    it("the same URL is Available, through the listener", async () => {
      const before = listener.accepted;
      await w.createResource("allowed", { providerRef: { name: "files" }, type: "data", data: { url: { url: `http://127.0.0.1:${listener.port}/file.txt` } } });
      const r = await w.readyWith("allowed", { status: "True", reason: "Available" });
      assert.equal(r.status?.data?.sizeBytes, 6);
      assert.ok(listener.accepted > before);
    });

    it("a redirect to an address outside the allow-list is refused at that hop", async () => {
      await w.createResource("redirected", { providerRef: { name: "files" }, type: "data", data: { url: { url: `http://127.0.0.1:${listener.port}/to-other` } } });
      const r = await w.readyWith("redirected", { status: "False", reason: "EgressRefused" });
      assert.match(readyOf(r)?.message ?? "", /egress to 127\.0\.0\.2:\d+ refused: 127\.0\.0\.2 is in a loopback range/);
    });
  });
});
