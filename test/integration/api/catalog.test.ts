// The Catalog API against a real apiserver: local search as alice (project member) and bob,
// pagination, 400s naming the parameter; private Resources only for callers RBAC lets list
// Resources in their namespace; the signed federation endpoint (unsigned and replayed requests
// refused, a peer sees public only, a project claim counts only when signed); the federated
// search, a right of its own (ClusterRole archipel-catalog-user from config/rbac), fanning out
// (to this same server, declared as a Peer by hand, and to a dead peer whose error comes back in
// time); and "no LIST per request": searches are still answered while the apiserver is frozen.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api, type V1ClusterRole } from "@kubernetes/client-node";
import { loadAll } from "js-yaml";
import type { FastifyInstance } from "fastify";
import { catalogRuntime, type CatalogRuntime, registerCatalogRoutes } from "../../../operators/api/catalogRoutes.ts";
import { buildServer } from "../../../operators/api/server.ts";
import { defaultIdentityKeySecret, federationCatalogPath, identityPrivateKeyField } from "../../../operators/discovery/contracts.ts";
import { generateIdentityKey, publicKeyOf } from "../../../operators/federation/keys.ts";
import { signRequest } from "../../../operators/federation/requestSigning.ts";
import { newNonce } from "../../../operators/federation/client.ts";
import { eventually, freshNamespace, repoRoot, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { loopbackEgress } from "../../support/egress.ts";
import { apiKubeConfig } from "./api-server.ts";

const group = "archipel.io";
const version = "v1alpha1";
const peerIdA = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";
const alphaKey = generateIdentityKey();

describe("Catalog API (real apiserver)", function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let runtime: CatalogRuntime;
  let app: FastifyInstance;
  let url: string;
  let self: string;
  let selfKey: string;
  const objects = (): CustomObjectsApi => cluster.kubeConfig().makeApiClient(CustomObjectsApi);

  async function ensureIdentity(): Promise<void> {
    // Right after start, CRD storage may answer 429 "(re)initializing" for a moment.
    const list = (await eventually("identities can be listed", () => objects().listClusterCustomObject({ group, version, plural: "identities" }).catch(() => undefined))) as { items: { spec: { clusterName: string; keySecretRef?: { namespace: string; name: string } } }[] };
    const existing = list.items[0];
    const ref = existing?.spec.keySecretRef ?? defaultIdentityKeySecret;
    self = existing?.spec.clusterName ?? "beta";
    if (!existing) {
      await objects().createClusterCustomObject({ group, version, plural: "identities", body: { apiVersion: `${group}/${version}`, kind: "Identity", metadata: { name: "self" }, spec: { clusterName: self, displayName: "Beta", apiEndpoint: "http://127.0.0.1:1" } } });
    }
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ref.namespace } } }).catch(() => undefined);
    const secret = await core.readNamespacedSecret({ namespace: ref.namespace, name: ref.name }).catch(() => undefined);
    const pem = secret?.data?.[identityPrivateKeyField];
    if (pem) {
      selfKey = Buffer.from(pem, "base64").toString("utf8");
      return;
    }
    selfKey = generateIdentityKey().privateKeyPem;
    await core.createNamespacedSecret({ namespace: ref.namespace, body: { metadata: { name: ref.name }, stringData: { [identityPrivateKeyField]: selfKey } } });
  }

  // As the discovery controller leaves a Peer whose descriptor it verified.
  const verifiedCondition = { type: "DescriptorVerified", status: "True", reason: "Verified", message: "verified by the test", lastTransitionTime: "2026-01-01T00:00:00Z" };

  async function declarePeer(name: string, clusterName: string, publicKey: string, apiEndpoint: string): Promise<void> {
    const approval = "Accepted";
    await objects().createClusterCustomObject({ group, version, plural: "peers", body: { apiVersion: `${group}/${version}`, kind: "Peer", metadata: { name }, spec: { peerId: peerIdA, networkRef: { name: "net" }, approval, origin: "Declared" } } });
    const descriptor = { cid: "bafy-test", clusterName, apiEndpoint, publicKey, issuedAt: "2026-01-01T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z" };
    const current = (await objects().getClusterCustomObject({ group, version, plural: "peers", name })) as Record<string, unknown>;
    await objects().replaceClusterCustomObjectStatus({ group, version, plural: "peers", name, body: { ...current, status: { descriptor, conditions: [verifiedCondition] } } });
  }

  async function resource(name: string, visibility: string, extra: Record<string, unknown> = {}): Promise<void> {
    await objects().createNamespacedCustomObject({
      group, version, namespace: ns.name, plural: "resources",
      body: { apiVersion: `${group}/${version}`, kind: "Resource", metadata: { name }, spec: { providerRef: { name: "files" }, type: "data", title: `Title ${name}`, data: { url: { url: `http://127.0.0.1:9/${name}` } }, visibility, ...extra } },
    });
  }

  async function get(path: string, token: string | undefined): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await fetch(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: await res.json() };
  }

  function signedAsAlpha(body: string, opts: { nonce?: string; project?: string } = {}): Record<string, string> {
    const { nonce = newNonce(), project } = opts;
    return { "content-type": "application/json", ...signRequest({ method: "POST", target: federationCatalogPath, body, keyId: "alpha", audience: self, now: Date.now(), nonce, ...(project ? { project } : {}) }, alphaKey.privateKeyPem) };
  }

  // The shipped ClusterRole archipel-catalog-user (config/rbac/user_roles.yaml), under a name of
  // this run: bound cluster-wide to alice and bob; carol gets nothing (then a RoleBinding here).
  let catalogUserRole = "";
  async function bindCatalogUser(): Promise<void> {
    const docs = loadAll(readFileSync(path.join(repoRoot, "config/rbac/user_roles.yaml"), "utf8")) as V1ClusterRole[];
    const role = docs.find((d) => d.metadata?.name === "archipel-catalog-user");
    assert.ok(role, "config/rbac/user_roles.yaml defines archipel-catalog-user");
    const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    catalogUserRole = `archipel-catalog-user-${ns.name}`;
    await rbac.createClusterRole({ body: { ...role, metadata: { name: catalogUserRole, labels: { "archipel.io/test": "true" } } } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: catalogUserRole, labels: { "archipel.io/test": "true" } },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: catalogUserRole },
        subjects: ["alice", "bob"].map((name) => ({ kind: "User", name, apiGroup: "rbac.authorization.k8s.io" })),
      },
    });
  }

  before(async () => {
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "catalog");
    await ensureIdentity();
    const suffix = ns.name.slice(-8);
    await objects().createClusterCustomObject({ group, version, plural: "projects", body: { apiVersion: `${group}/${version}`, kind: "Project", metadata: { name: `ocean-${suffix}` }, spec: { displayName: "Ocean", members: { users: ["alice"], clusters: ["alpha"] } } } });
    await resource("pub", "public", { tags: ["sentinel"], description: "Sentinel-2 over Brittany" });
    await resource("priv", "private");
    await resource("ocean", "restricted", { projects: [`ocean-${suffix}`] });
    for (let i = 0; i < 12; i++) await resource(`bulk-${String(i).padStart(2, "0")}`, "public", { tags: ["bulk"] });
    await bindCatalogUser();
    runtime = await catalogRuntime(await apiKubeConfig(cluster), loopbackEgress);
    app = buildServer({ kubeConfig: runtime.deps.kubeConfig, kinds: [], routes: [(a) => registerCatalogRoutes(a, runtime.deps)] });
    url = await app.listen({ port: 0, host: "127.0.0.1" });
    await declarePeer(`alpha-${suffix}`, "alpha", alphaKey.publicKey, "http://127.0.0.1:9");
    await declarePeer(`self-${suffix}`, self, publicKeyOf(selfKey), url);
    await eventually("the caches hold the Resources and both Peers' descriptors", async () => {
      const peers = runtime.deps.caches.peers.list().filter((p) => p.status?.descriptor?.clusterName === "alpha" || p.metadata.name === `self-${suffix}`);
      return peers.every((p) => p.status?.descriptor) && peers.length === 2 && runtime.deps.caches.resources.list().filter((x) => x.metadata.namespace === ns.name).length === 15;
    });
  });

  after(async () => {
    await app?.close();
    await runtime?.stop();
    const rbac = cluster?.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await rbac?.deleteClusterRoleBinding({ name: catalogUserRole }).catch(() => undefined);
    await rbac?.deleteClusterRole({ name: catalogUserRole }).catch(() => undefined);
    await ns?.cleanup();
  });

  const mine = (body: { items: { namespace: string; name: string }[] }): string[] => body.items.filter((i) => i.namespace === ns.name).map((i) => i.name);

  it("alice (project member) sees public, private and her project's restricted; bob not the restricted one", async () => {
    const alice = await get("/api/v1/catalog?tag=sentinel", cluster.userTokens.alice);
    assert.deepEqual(mine(alice.body), ["pub"]);
    const all = await get("/api/v1/catalog?limit=500", cluster.userTokens.alice);
    assert.ok(mine(all.body).includes("ocean") && mine(all.body).includes("priv"));
    const bob = await get("/api/v1/catalog?limit=500", cluster.userTokens.bob);
    assert.ok(!mine(bob.body).includes("ocean"));
    assert.ok(mine(bob.body).includes("priv"));
  });

  it("a private Resource is shown only to callers RBAC lets list Resources in its namespace", async () => {
    const before = await get("/api/v1/catalog?limit=500", cluster.userTokens.carol);
    assert.equal(before.status, 200);
    assert.ok(mine(before.body).includes("pub"));
    assert.ok(!mine(before.body).includes("priv"), "carol may not list Resources here: no private Resource");
    const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: { metadata: { name: "carol-catalog" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: catalogUserRole }, subjects: [{ kind: "User", name: "carol", apiGroup: "rbac.authorization.k8s.io" }] },
    });
    // Access reviews are remembered 10 s per token: the binding shows within that.
    await eventually("carol sees the private Resource once bound in its namespace", async () => mine((await get("/api/v1/catalog?limit=500", cluster.userTokens.carol)).body).includes("priv"), 15_000, 500);
  });

  it("needs a token; bad parameters are 400s naming them", async () => {
    assert.equal((await get("/api/v1/catalog", undefined)).status, 401);
    const bad = await get("/api/v1/catalog?limit=0", cluster.userTokens.bob);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, "limit");
    const token = await get("/api/v1/catalog?continue=xyz", cluster.userTokens.bob);
    assert.equal(token.status, 400);
    assert.equal(token.body.error.field, "continue");
  });

  it("pages through 12 items 5 at a time with the continue token", async () => {
    const seen: string[] = [];
    let next: string | undefined;
    do {
      const page = await get(`/api/v1/catalog?tag=bulk&limit=5${next ? `&continue=${encodeURIComponent(next)}` : ""}`, cluster.userTokens.bob);
      assert.equal(page.status, 200);
      seen.push(...mine(page.body));
      next = page.body.continue;
    } while (next);
    assert.equal(seen.length, 12);
    assert.deepEqual(seen, [...seen].sort());
  });

  it("the federation endpoint serves a signed Accepted peer public items only, and refuses unsigned and replayed requests", async () => {
    const body = JSON.stringify({ limit: 500 });
    const headers = signedAsAlpha(body);
    const ok = await fetch(`${url}${federationCatalogPath}`, { method: "POST", headers, body });
    assert.equal(ok.status, 200);
    const names = mine((await ok.json()) as never);
    assert.ok(names.includes("pub") && !names.includes("priv") && !names.includes("ocean"));

    const replay = await fetch(`${url}${federationCatalogPath}`, { method: "POST", headers, body });
    assert.equal(replay.status, 401);
    assert.equal(((await replay.json()) as { error: { code: string } }).error.code, "NonceReplayed");

    const unsigned = await fetch(`${url}${federationCatalogPath}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal(unsigned.status, 401);
    assert.equal(((await unsigned.json()) as { error: { code: string } }).error.code, "MissingSignatureHeader");
  });

  it("a peer acting for a project that lists its cluster sees that project's restricted Resource (the claim is signed)", async () => {
    const body = JSON.stringify({ limit: 500 });
    const headers = signedAsAlpha(body, { project: `ocean-${ns.name.slice(-8)}` });
    const res = await fetch(`${url}${federationCatalogPath}`, { method: "POST", headers, body });
    assert.equal(res.status, 200);
    assert.ok(mine((await res.json()) as never).includes("ocean"));
  });

  it("a project claim added after signing is refused (401 BadSignature), and so is one changed", async () => {
    const body = JSON.stringify({ limit: 500 });
    const project = `ocean-${ns.name.slice(-8)}`;
    const added = await fetch(`${url}${federationCatalogPath}`, { method: "POST", headers: { ...signedAsAlpha(body), "x-archipel-project": project }, body });
    assert.equal(added.status, 401);
    const addedBody = (await added.json()) as { error: { code: string }; items?: unknown };
    assert.equal(addedBody.error.code, "BadSignature");
    assert.equal(addedBody.items, undefined);
    const changed = await fetch(`${url}${federationCatalogPath}`, { method: "POST", headers: { ...signedAsAlpha(body, { project: "another" }), "x-archipel-project": project }, body });
    assert.equal(changed.status, 401);
  });

  it("federated search: signed fan-out returns results plus the dead peer's error within the deadline", async () => {
    const started = Date.now();
    const res = await get("/api/v1/catalog/federated?tag=sentinel&deadlineMs=1500", cluster.userTokens.bob);
    assert.ok(Date.now() - started < 3_000);
    assert.equal(res.status, 200);
    const origins = res.body.items.filter((i: { namespace: string }) => i.namespace === ns.name).map((i: { origin: string; name: string }) => `${i.origin}/${i.name}`);
    assert.deepEqual(origins, [`${self}/pub`]);
    const alphaError = res.body.errors.find((e: { cluster: string }) => e.cluster === "alpha");
    assert.ok(alphaError, JSON.stringify(res.body.errors));
    assert.ok(!res.body.errors.some((e: { cluster: string }) => e.cluster === self), JSON.stringify(res.body.errors));
  });

  it("federated search is a right of its own: carol (no binding) and a pod's ServiceAccount token get 403, nothing is signed", async () => {
    const carol = await get("/api/v1/catalog/federated?tag=sentinel&deadlineMs=500", cluster.userTokens.carol);
    assert.equal(carol.status, 403, JSON.stringify(carol.body));
    assert.match(carol.body.error.message, /catalog\/federated/);
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: "some-pod" } } });
    const token = (await core.createNamespacedServiceAccountToken({ namespace: ns.name, name: "some-pod", body: { spec: { audiences: [], expirationSeconds: 600 } } })).status?.token ?? "";
    const pod = await get("/api/v1/catalog/federated?tag=sentinel&deadlineMs=500", token);
    assert.equal(pod.status, 403, JSON.stringify(pod.body));
    // Its local search still works, without this namespace's private Resources.
    const local = await get("/api/v1/catalog?limit=500", token);
    assert.equal(local.status, 200);
    assert.ok(mine(local.body).includes("pub") && !mine(local.body).includes("priv"));
  });

  it("federated search for a project: only its members here may make the claim (403 naming query.project)", async () => {
    const project = `ocean-${ns.name.slice(-8)}`;
    const bob = await get(`/api/v1/catalog/federated?tag=sentinel&deadlineMs=500&project=${project}`, cluster.userTokens.bob);
    assert.equal(bob.status, 403, JSON.stringify(bob.body));
    assert.equal(bob.body.error.field, "project");
    const alice = await get(`/api/v1/catalog/federated?tag=sentinel&deadlineMs=500&project=${project}`, cluster.userTokens.alice);
    assert.equal(alice.status, 200, JSON.stringify(alice.body));
  });

  it("searches are served while the apiserver is frozen: no LIST per request", async function () {
    const pid = apiserverPid(cluster);
    if (!pid) this.skip();
    await get("/api/v1/catalog?tag=bulk", cluster.userTokens.bob); // warms bob's identity
    process.kill(pid, "SIGSTOP");
    try {
      const started = Date.now();
      const res = await get("/api/v1/catalog?tag=bulk&limit=500", cluster.userTokens.bob);
      assert.equal(res.status, 200);
      assert.equal(mine(res.body).length, 12);
      assert.ok(Date.now() - started < 1_000);
    } finally {
      process.kill(pid, "SIGCONT");
    }
  });
});

function apiserverPid(cluster: TestCluster): number | undefined {
  try {
    return Number(readFileSync(path.join(cluster.dir, "pids", "kube-apiserver"), "utf8").trim()) || undefined;
  } catch {
    return undefined;
  }
}
