// The Grants API against a real apiserver, the AccessGrant controller and a real PostgreSQL:
// alice requests a grant for herself, reads its status and credentials; bob gets 403 on them.
import assert from "node:assert/strict";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions } from "@kubernetes/client-node";
import { peerGrantsLabel } from "../../../operators/api/peerGrantPolicy.ts";
import { federationGrantsPath } from "../../../operators/discovery/contracts.ts";
import { signedFetch } from "../../../operators/federation/client.ts";
import { loopbackEgress } from "../../support/egress.ts";
import { generateIdentityKey } from "../../../operators/federation/keys.ts";
import { MemoryNonceCache } from "../../../operators/federation/requestSigning.ts";
import type { Peer } from "../../../operators/schema/peer.ts";
import type { Project } from "../../../operators/schema/project.ts";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import { peerFinder } from "../../../operators/api/federationAuth.ts";
import { registerFederationGrantsRoutes, registerGrantsRoutes } from "../../../operators/api/grantsRoutes.ts";
import { registerPeerGrantsRoutes } from "../../../operators/api/peerGrantsRoutes.ts";
import { buildServer } from "../../../operators/api/server.ts";
import { eventually, sharedCluster } from "../../support/cluster.ts";
import { type TestPostgres, startPostgres } from "../../support/postgres.ts";
import { type ApiCaller, apiKubeConfig, as, type RunningApi } from "../api/api-server.ts";
import { type GrantWorld, grantWorld } from "./accessGrantFixtures.ts";
import { allStarted } from "../../support/allStarted.ts";

describe("Grants API (real apiserver, AccessGrant controller, real PostgreSQL)", function () {
  this.timeout(180_000);
  let w: GrantWorld;
  let postgres: TestPostgres;
  let api: RunningApi;
  let alice: ApiCaller;
  let bob: ApiCaller;
  let base: string;
  let peerName: string;
  const gamma = generateIdentityKey();
  const beta = generateIdentityKey();
  const stranger = generateIdentityKey();
  let peers: Peer[];
  let selfPeerName: string;
  // Project sea: alice is a member here; on the receiving side it lists gamma (the Peer object's name stands for its cluster: it has no descriptor there).
  const sea = `sea-${process.pid}`;
  let projects: Project[] = [];

  before(async function () {
    this.timeout(180_000);
    await allStarted([
      sharedCluster().then((c) => grantWorld(c, "grant-api")).then((x) => (w = x)),
      startPostgres(`it-grant-api-${process.pid}`).then((x) => (postgres = x)),
    ]);
    const admin = new pg.Client({ host: postgres.host, port: postgres.port, database: postgres.database, user: postgres.superuser, password: postgres.password });
    await admin.connect();
    await admin.query("CREATE TABLE public.t (id int)");
    await admin.query("INSERT INTO public.t VALUES (1), (2), (3)");
    await admin.end();
    await w.createSecret("pg-admin", { username: postgres.superuser, password: postgres.password });
    await w.createProvider("warehouse", { type: "data", data: { source: "postgres", postgres: { host: postgres.host, port: postgres.port, database: postgres.database, credentialsSecretRef: { name: "pg-admin" } } } });
    await w.createResource("t", { providerRef: { name: "warehouse" }, type: "data", data: { postgres: { table: { name: "t" } } } });
    await w.createResource("rt", { providerRef: { name: "warehouse" }, type: "data", visibility: "restricted", projects: [sea], data: { postgres: { table: { name: "t" } } } });
    const rbac = w.cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const namespace = w.ns.name;
    // Peers may ask for grants here (the admin opened this namespace to peers).
    await w.cluster.kubeConfig().makeApiClient(CoreV1Api).patchNamespace({ name: namespace, body: { metadata: { labels: { [peerGrantsLabel]: "true" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name: "grant-requester" }, rules: [{ apiGroups: ["archipel.io"], resources: ["accessgrants"], verbs: ["create", "get"] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "grant-requester" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "grant-requester" },
        subjects: ["alice", "bob"].map((name) => ({ kind: "User", name, apiGroup: "rbac.authorization.k8s.io" })),
      },
    });
    // A peer "gamma" as discovery would have it: an Accepted Peer object (its name is what the
    // grant names) whose published descriptor carries gamma's public key.
    peerName = `gamma-${process.pid}`;
    await w.cluster.kubeConfig().makeApiClient(CustomObjectsApi).createClusterCustomObject({
      group: "archipel.io",
      version: "v1alpha1",
      plural: "peers",
      body: { apiVersion: "archipel.io/v1alpha1", kind: "Peer", metadata: { name: peerName }, spec: { peerId: "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo", networkRef: { name: "net" }, approval: "Accepted" } },
    });
    const descriptor = { cid: "cid", clusterName: "gamma", apiEndpoint: "http://127.0.0.1:1", publicKey: gamma.publicKey, issuedAt: "2026-01-01T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z" };
    const verified = { type: "DescriptorVerified", status: "True", reason: "Verified", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" };
    peers = [{ metadata: { name: peerName }, spec: { approval: "Accepted" }, status: { descriptor, conditions: [verified] } } as unknown as Peer];
    const kubeConfig = await apiKubeConfig(w.cluster);
    const app: FastifyInstance = buildServer({
      kubeConfig,
      kinds: [],
      routes: [
        (a) => registerGrantsRoutes(a, { kubeConfig }),
        (a) => registerFederationGrantsRoutes(a, { kubeConfig, peers: () => peers, auth: { audience: () => "beta", peerByCluster: peerFinder(() => peers), nonces: new MemoryNonceCache() } }),
        // The requesting side, looped back: this server signs as gamma and knows "beta" (itself,
        // the receiving side above) as a Peer, so a forwarded request lands on its own federation routes.
        (a) => registerPeerGrantsRoutes(a, { kubeConfig, peers: () => peers, signingIdentity: async () => ({ clusterName: "gamma", privateKeyPem: gamma.privateKeyPem }), deadlineMs: 5000, egress: loopbackEgress, projects: () => projects }),
      ],
    });
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    selfPeerName = `beta-self-${process.pid}`;
    peers.push({ metadata: { name: selfPeerName }, spec: { approval: "Accepted" }, status: { descriptor: { ...descriptor, clusterName: "beta", apiEndpoint: url, publicKey: beta.publicKey }, conditions: [verified] } } as unknown as Peer);
    await rbac.createClusterRole({ body: { metadata: { name: selfPeerName }, rules: [{ apiGroups: ["archipel.io"], resources: ["peers/grants"], resourceNames: [selfPeerName], verbs: ["create", "get"] }] } });
    await rbac.createClusterRoleBinding({
      body: { metadata: { name: selfPeerName }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: selfPeerName }, subjects: [{ kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" }] },
    });
    const project = { apiVersion: "archipel.io/v1alpha1", kind: "Project", metadata: { name: sea }, spec: { displayName: sea, members: { users: ["alice"], clusters: [peerName] } } };
    await w.cluster.kubeConfig().makeApiClient(CustomObjectsApi).createClusterCustomObject({ group: "archipel.io", version: "v1alpha1", plural: "projects", body: project });
    const lake = { ...project, metadata: { name: `lake-${process.pid}` }, spec: { displayName: "lake", members: { users: ["bob"], clusters: [peerName] } } };
    projects = [project as unknown as Project, lake as unknown as Project];
    api = { url, app, stop: () => app.close() };
    alice = as(api, w.cluster.userTokens.alice);
    bob = as(api, w.cluster.userTokens.bob);
    base = `/api/v1/namespaces/${namespace}/grants`;
  });

  after(async function () {
    this.timeout(120_000);
    await api?.stop();
    const rbac = w?.cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await rbac?.deleteClusterRoleBinding({ name: selfPeerName }).catch(() => undefined);
    await rbac?.deleteClusterRole({ name: selfPeerName }).catch(() => undefined);
    await w?.cluster.kubeConfig().makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ group: "archipel.io", version: "v1alpha1", plural: "peers", name: peerName }).catch(() => undefined);
    await w?.cluster.kubeConfig().makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ group: "archipel.io", version: "v1alpha1", plural: "projects", name: sea }).catch(() => undefined);
    await w?.stop();
    await postgres?.stop();
  });

  const grantNamesHere = async (): Promise<string[]> =>
    ((await w.cluster.kubeConfig().makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: "archipel.io", version: "v1alpha1", namespace: w.ns.name, plural: "accessgrants" })) as { items: { metadata: { name: string } }[] }).items.map((g) => g.metadata.name);
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

  it("a caller naming another grantee through the API (Group system:authenticated, another user) gets 403 naming accessgrants/on-behalf; nothing created", async () => {
    const everyone = await eventually("policy in force", async () => {
      const r = await bob.post(base, { name: "bob-for-all", resource: "t", mode: "read", expiresAt: inOneHour(), grantee: { kind: "Group", name: "system:authenticated" } });
      return r.status === 403 ? r : undefined;
    }, 30_000, 500);
    assert.match(JSON.stringify(everyone.body), /accessgrants\/on-behalf/);
    const forAlice = await bob.post(base, { name: "bob-for-alice", resource: "t", mode: "read", expiresAt: inOneHour(), grantee: { kind: "User", name: "alice" } });
    assert.equal(forAlice.status, 403, JSON.stringify(forAlice.body));
    assert.equal((await alice.get(`${base}/bob-for-all`)).status, 404);
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

  it("federation: a signed request from an Accepted peer creates a Peer grant; the credentials go only to that peer", async () => {
    const send = (key: { clusterName: string; privateKeyPem: string }, method: "GET" | "POST", target: string, body?: unknown) =>
      signedFetch(key, { endpoint: api.url, audience: "beta", method, target, ...(body ? { body } : {}), deadlineMs: 5000, egress: loopbackEgress });
    const asGamma = { clusterName: "gamma", privateKeyPem: gamma.privateKeyPem };
    const created = await send(asGamma, "POST", federationGrantsPath, { namespace: w.ns.name, name: "t", resource: "t", mode: "read", expiresAt: inOneHour() });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const grantName = `${peerName}-t`;
    assert.deepEqual((created.body as { spec: { grantee: unknown } }).spec.grantee, { kind: "Peer", name: peerName });
    const target = `${federationGrantsPath}/${w.ns.name}/${grantName}`;
    const issued = await eventually("peer grant issued", async () => {
      const r = await send(asGamma, "GET", target);
      return (r.body as { credentials?: Record<string, string> }).credentials ? r : undefined;
    }, 30_000);
    const creds = (issued.body as { credentials: Record<string, string> }).credentials;
    // In a deployment the API reads a Peer's credentials with its own ServiceAccount, bound by the
    // controller to this one Secret only (here the API runs as admin).
    const reader = await w.cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api).readNamespacedRoleBinding({ namespace: w.ns.name, name: `${grantName}-credentials-reader` });
    assert.deepEqual(reader.subjects?.map((x) => ({ ...x })), [{ kind: "ServiceAccount", name: "archipel-api", namespace: "archipel-system" }]);
    const client = new pg.Client({ host: creds.host, port: Number(creds.port), database: creds.database, user: creds.username, password: creds.password });
    await client.connect();
    assert.deepEqual((await client.query("SELECT count(*)::int AS n FROM data")).rows, [{ n: 3 }]);
    await client.end();
    const unsigned = await fetch(`${api.url}${target}`);
    assert.equal(unsigned.status, 401);
    const forged = await send({ clusterName: "gamma", privateKeyPem: stranger.privateKeyPem }, "GET", target);
    assert.equal(forged.status, 401);
    assert.ok(!JSON.stringify(forged.body).includes(creds.password ?? "none"));
  });

  it("forwarding: alice (RBAC create/get peers/grants) asks a peer for a grant signed as this cluster and reads its credentials; bob gets 403", async () => {
    const base = "/api/v1/peers/beta/grants";
    const request = { namespace: w.ns.name, name: "fwd", resource: "t", mode: "read", expiresAt: inOneHour() };
    const denied = await bob.post(base, request);
    assert.equal(denied.status, 403, JSON.stringify(denied.body));
    assert.match(denied.body.error.message, /peers\/grants/);
    const created = await alice.post(base, request);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // On the peer the grantee is this cluster (gamma's Peer object there), not alice.
    assert.deepEqual(created.body.spec.grantee, { kind: "Peer", name: peerName });
    const grantName = created.body.metadata.name as string;
    assert.equal(grantName, `${peerName}-fwd`);
    const issued = await eventually("forwarded grant issued", async () => {
      const r = await alice.get(`${base}/${w.ns.name}/${grantName}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.credentials ? r : undefined;
    }, 30_000);
    assert.equal(issued.headers.get("cache-control"), "no-store");
    const creds = issued.body.credentials as Record<string, string>;
    const client = new pg.Client({ host: creds.host, port: Number(creds.port), database: creds.database, user: creds.username, password: creds.password });
    await client.connect();
    assert.deepEqual((await client.query("SELECT count(*)::int AS n FROM data")).rows, [{ n: 3 }]);
    await client.end();
    const bobReads = await bob.get(`${base}/${w.ns.name}/${grantName}`);
    assert.equal(bobReads.status, 403);
    assert.ok(!JSON.stringify(bobReads.body).includes(creds.password ?? "none"));
  });

  it("forwarding for a project: a member's signed claim lets the peer grant its restricted data; without the claim it is refused; a non-member may not claim it (403 naming query.project, nothing sent)", async () => {
    const base = "/api/v1/peers/beta/grants";
    const request = (name: string): Record<string, unknown> => ({ namespace: w.ns.name, name, resource: "rt", mode: "read", expiresAt: inOneHour() });
    // alice may request grants on the peer (RBAC), but is not a member of project lake here.
    const notMember = await alice.post(`${base}?project=lake-${process.pid}`, request("lake"));
    assert.equal(notMember.status, 403, JSON.stringify(notMember.body));
    assert.equal(notMember.body.error.code, "NotProjectMember");
    assert.equal(notMember.body.error.field, "project");
    assert.ok(!(await grantNamesHere()).includes(`${peerName}-lake`), "nothing was sent to the peer");
    const claimed = await alice.post(`${base}?project=${sea}`, request("sea"));
    assert.equal(claimed.status, 201, JSON.stringify(claimed.body));
    assert.deepEqual(claimed.body.spec.grantee, { kind: "Peer", name: peerName, project: sea });
    const unclaimed = await alice.post(base, request("no-claim"));
    assert.equal(unclaimed.status, 201, JSON.stringify(unclaimed.body));
    const issued = await eventually("the claimed grant is issued", async () => {
      const r = await alice.get(`${base}/${w.ns.name}/${claimed.body.metadata.name as string}`);
      return r.body.credentials ? r : undefined;
    }, 30_000);
    assert.ok((issued.body.credentials as Record<string, string>).password);
    const refused = await eventually("the grant without a claim is refused", async () => {
      const r = await alice.get(`${base}/${w.ns.name}/${unclaimed.body.metadata.name as string}`);
      const ready = (r.body.grant?.status?.conditions ?? []).find((c: { type: string }) => c.type === "Ready");
      return ready?.status === "False" && ready.reason === "NotVisible" ? { r, ready } : undefined;
    }, 30_000);
    assert.match(refused.ready.message, /a restricted resource needs a request made for one of its projects/);
    assert.equal(refused.r.body.credentials, undefined);
  });

  it("forwarding: unknown peer 404 naming the path field, bad body 400 naming the field (nothing sent), no token 401", async () => {
    const unknown = await alice.post("/api/v1/peers/omega/grants", { namespace: w.ns.name, name: "x", resource: "t", mode: "read", expiresAt: inOneHour() });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.field, "cluster");
    const bad = await alice.post("/api/v1/peers/beta/grants", { namespace: w.ns.name, name: "x", resource: "t", mode: "delete", expiresAt: inOneHour() });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /mode/);
    assert.equal((await as(api, undefined).post("/api/v1/peers/beta/grants", {})).status, 401);
  });
});
