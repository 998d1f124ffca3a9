// The Grants API against a real apiserver, the AccessGrant controller and a real PostgreSQL:
// alice requests a grant for herself, reads its status and credentials; bob gets 403 on them.
import assert from "node:assert/strict";
import { RbacAuthorizationV1Api } from "@kubernetes/client-node";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import { registerGrantsRoutes } from "../../../operators/api/grantsRoutes.ts";
import { buildServer } from "../../../operators/api/server.ts";
import { eventually, sharedCluster } from "../../support/cluster.ts";
import { type TestPostgres, startPostgres } from "../../support/postgres.ts";
import { type ApiCaller, as, type RunningApi } from "../api/api-server.ts";
import { type GrantWorld, grantWorld } from "./accessGrantFixtures.ts";

describe("Grants API (real apiserver, AccessGrant controller, real PostgreSQL)", function () {
  this.timeout(180_000);
  let w: GrantWorld;
  let postgres: TestPostgres;
  let api: RunningApi;
  let alice: ApiCaller;
  let bob: ApiCaller;
  let base: string;

  before(async function () {
    this.timeout(180_000);
    [w, postgres] = await Promise.all([sharedCluster().then((c) => grantWorld(c, "grant-api")), startPostgres(`it-grant-api-${process.pid}`)]);
    const admin = new pg.Client({ host: postgres.host, port: postgres.port, database: postgres.database, user: postgres.superuser, password: postgres.password });
    await admin.connect();
    await admin.query("CREATE TABLE public.t (id int)");
    await admin.query("INSERT INTO public.t VALUES (1), (2), (3)");
    await admin.end();
    await w.createSecret("pg-admin", { username: postgres.superuser, password: postgres.password });
    await w.createProvider("warehouse", { type: "data", data: { source: "postgres", postgres: { host: postgres.host, port: postgres.port, database: postgres.database, credentialsSecretRef: { name: "pg-admin" } } } });
    await w.createResource("t", { providerRef: { name: "warehouse" }, type: "data", data: { postgres: { table: { name: "t" } } } });
    const rbac = w.cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const namespace = w.ns.name;
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name: "grant-requester" }, rules: [{ apiGroups: ["archipel.io"], resources: ["accessgrants"], verbs: ["create", "get"] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "grant-requester" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "grant-requester" },
        subjects: ["alice", "bob"].map((name) => ({ kind: "User", name, apiGroup: "rbac.authorization.k8s.io" })),
      },
    });
    const app: FastifyInstance = buildServer({ kubeConfig: w.cluster.kubeConfig("admin"), kinds: [], routes: [(a) => registerGrantsRoutes(a, { kubeConfig: w.cluster.kubeConfig("admin") })] });
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    api = { url, app, stop: () => app.close() };
    alice = as(api, w.cluster.userTokens.alice);
    bob = as(api, w.cluster.userTokens.bob);
    base = `/api/v1/namespaces/${namespace}/grants`;
  });

  after(async function () {
    this.timeout(120_000);
    await api?.stop();
    await w?.stop();
    await postgres?.stop();
  });

  const inOneHour = (): string => new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z");

  it("alice requests a grant (grantee defaults to her), reads status then credentials that work; bob gets 403", async () => {
    const created = await alice.post(base, { name: "alice-t", resource: "t", mode: "read", expiresAt: inOneHour() });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.spec.grantee, { kind: "User", name: "alice" });
    const status = await eventually("grant issued", async () => {
      const r = await alice.get(`${base}/alice-t`);
      const ready = (r.body?.status?.conditions ?? []).find((c: { type: string }) => c.type === "Ready");
      return ready?.status === "True" ? r : undefined;
    }, 30_000);
    const creds = await alice.get(`${base}/alice-t/credentials`);
    assert.equal(creds.status, 200, JSON.stringify(creds.body));
    assert.equal(creds.headers.get("cache-control"), "no-store");
    const data = creds.body.data as Record<string, string>;
    assert.ok(data.password);
    assert.ok(!JSON.stringify(status.body).includes(data.password), "status must not carry the password");
    const client = new pg.Client({ host: data.host, port: Number(data.port), database: data.database, user: data.username, password: data.password });
    await client.connect();
    assert.deepEqual((await client.query("SELECT count(*)::int AS n FROM data")).rows, [{ n: 3 }]);
    await client.end();
    const denied = await bob.get(`${base}/alice-t/credentials`);
    assert.equal(denied.status, 403);
    assert.ok(!JSON.stringify(denied.body).includes(data.password));
  });

  it("bad input → 400 naming the field; no token → 401", async () => {
    const badMode = await alice.post(base, { name: "x", resource: "t", mode: "delete", expiresAt: inOneHour() });
    assert.equal(badMode.status, 400);
    assert.match(JSON.stringify(badMode.body), /mode/);
    const noExpiry = await alice.post(base, { name: "x", resource: "t", mode: "read" });
    assert.equal(noExpiry.status, 400);
    assert.match(JSON.stringify(noExpiry.body), /expiresAt/);
    assert.equal((await as(api, undefined).get(`${base}/alice-t/credentials`)).status, 401);
  });
});
