// The AccessGrant controller (manager process, real apiserver and PostgreSQL) reports a backend's
// failure as a reason of its own and a short message of ours: the server's text stays out of the
// grant's status and Events (it is in the manager's debug log only), and a silent host fails the
// pass with BackendTimeout instead of holding a worker.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import net from "node:net";
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { sharedCluster } from "../../support/cluster.ts";
import { type TestPostgres, startPostgres } from "../../support/postgres.ts";
import { type GrantWorld, grantWorld, readyOf } from "./accessGrantFixtures.ts";
import { allStarted } from "../../support/allStarted.ts";

const inOneHour = (): string => new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z");

describe("AccessGrant backend failures (manager process, real PostgreSQL)", function () {
  this.timeout(180_000);
  let w: GrantWorld;
  let postgres: TestPostgres;
  const sockets: net.Socket[] = [];
  let silent: net.Server;

  before(async function () {
    this.timeout(180_000);
    await allStarted([
      sharedCluster().then((c) => grantWorld(c, "grant-errors")).then((x) => (w = x)),
      startPostgres(`it-grant-errors-${process.pid}`).then((x) => (postgres = x)),
    ]);
    silent = net.createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    await w.createSecret("pg-admin", { username: postgres.superuser, password: postgres.password });
    await w.createProvider("warehouse", { type: "data", data: { source: "postgres", postgres: { host: postgres.host, port: postgres.port, database: postgres.database, credentialsSecretRef: { name: "pg-admin" } } } });
    await w.createProvider("silent", { type: "data", data: { source: "postgres", postgres: { host: "127.0.0.1", port: silentPort, database: "x", credentialsSecretRef: { name: "pg-admin" } } } });
    await w.createResource("hidden", { providerRef: { name: "warehouse" }, type: "data", data: { postgres: { table: { name: "nope_hidden_table" } } } });
    await w.createResource("catalog", { providerRef: { name: "warehouse" }, type: "data", data: { postgres: { table: { schema: "pg_catalog", name: "pg_authid" } } } });
    await w.createResource("far", { providerRef: { name: "silent" }, type: "data", data: { postgres: { table: { name: "t" } } } });
  });

  after(async function () {
    this.timeout(120_000);
    // The silent host's grant can never be revoked there (its record names that host), so it
    // would keep its finalizer (RevokeFailed) and the namespace with it: the test lets it go.
    // Deleted first, then its finalizers cleared: cleared on a live grant, the manager's next
    // pass would add the finalizer back, and the teardown would wait out every revoke attempt.
    if (w) {
      const api = w.cluster.kubeConfig().makeApiClient(CustomObjectsApi);
      const stuck = { group: "archipel.io", version: "v1alpha1", namespace: w.ns.name, plural: "accessgrants", name: "stuck" };
      await api.deleteNamespacedCustomObject(stuck).catch(() => undefined);
      await api.patchNamespacedCustomObject({ ...stuck, body: [{ op: "replace", path: "/metadata/finalizers", value: [] }] }, setHeaderOptions("Content-Type", PatchStrategy.JsonPatch)).catch(() => undefined);
    }
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent?.close(resolve));
    await w?.stop();
    await postgres?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${w.manager().logFile}`);
  });

  it("a missing table is BackendObjectMissing with our message; the server's text is in the debug log only", async () => {
    await w.createGrant("missing", { resourceRef: { name: "hidden" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt: inOneHour() });
    const g = await w.grantReady("missing", { status: "False", reason: "BackendObjectMissing" });
    assert.equal(readyOf(g)?.message, "issuing the grant: a table or view it names does not exist (SQLSTATE 42P01)");
    const visible = JSON.stringify(g.status) + (await w.eventsText("missing"));
    assert.match(visible, /BackendObjectMissing/);
    assert.doesNotMatch(visible, /nope_hidden_table|relation/);
    const log = await readFile(w.manager().logFile, "utf8");
    const kept = log.split("\n").filter((line) => line.includes('"access grant backend failure"'));
    assert.ok(kept.some((line) => line.includes("nope_hidden_table") && line.includes('"level":"debug"')), "the server's text is kept at debug");
  });

  it("a Resource on a system schema is refused as InvalidSpec, naming the field", async () => {
    await w.createGrant("authid", { resourceRef: { name: "catalog" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt: inOneHour() });
    const g = await w.grantReady("authid", { status: "False", reason: "InvalidSpec" });
    assert.match(readyOf(g)?.message ?? "", /^spec\.data\.postgres\.table\.schema: "pg_catalog" is a system schema/);
  });

  it("a host that accepts and never answers fails the pass with BackendTimeout", async () => {
    await w.createGrant("stuck", { resourceRef: { name: "far" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt: inOneHour() });
    const g = await w.grantReady("stuck", { status: "False", reason: "BackendTimeout" }, 60_000);
    assert.equal(readyOf(g)?.message, "issuing the grant: the database did not answer in time");
    assert.ok(sockets.length >= 1, "the manager did reach the silent listener");
  });
});
