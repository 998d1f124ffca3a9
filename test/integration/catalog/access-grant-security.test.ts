// The AccessGrant controller as an attacker would try it, against a real apiserver and a real
// PostgreSQL, with the manager running as a ServiceAccount bound to nothing but the shipped
// config/rbac/catalog_role.yaml and the shipped grantee admission policy installed:
// - a grant never adopts a Secret, Role or RoleBinding it does not control (NameTaken), and long
//   grant names do not overflow its children's names;
// - revocation works from the record in status when the Resource and Provider are gone, and a
//   revocation that cannot happen keeps the finalizer (RevokeFailed) until it can;
// - a caller names only themselves as grantee unless RBAC allows accessgrants/on-behalf;
// - an unchanged grant is not re-issued (no ALTER ROLE) on restart, poke or Peer heartbeat (first:
//   the only grant of the namespace then, so the restarted manager's first pass is its own).
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { AuthorizationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type V1ClusterRole } from "@kubernetes/client-node";
import { load as loadYaml } from "js-yaml";
import pg from "pg";
import { eventually, repoRoot, sharedCluster, type TestCluster } from "../../support/cluster.ts";
import { type TestPostgres, startPostgres } from "../../support/postgres.ts";
import { type GrantWorld, grantWorld, readyOf } from "./accessGrantFixtures.ts";
import type { ManagerIdentity } from "./resourceFixtures.ts";
import { allStarted } from "../../support/allStarted.ts";

const inOneHour = (): string => new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
const managerSa = "grant-manager";

async function pgRows(config: pg.ClientConfig, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

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

function granteeConfig(secret: Record<string, string>): pg.ClientConfig {
  return { host: secret.host, port: Number(secret.port), database: secret.database, user: secret.username, password: secret.password };
}

/** A ServiceAccount bound (cluster-wide) to the shipped catalog role only; no leader election. */
async function catalogServiceAccount(cluster: TestCluster, namespace: string): Promise<ManagerIdentity> {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
  const role = loadYaml(await readFile(path.join(repoRoot, "config/rbac/catalog_role.yaml"), "utf8")) as V1ClusterRole;
  const name = `archipel-catalog-${namespace}`;
  await rbac.createClusterRole({ body: { ...role, metadata: { name, labels: { "archipel.io/test": "true" } } } });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: managerSa } } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name, labels: { "archipel.io/test": "true" } },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects: [{ kind: "ServiceAccount", name: managerSa, namespace }],
    },
  });
  const token = await core.createNamespacedServiceAccountToken({ namespace, name: managerSa, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: cluster.server, caFile: cluster.caFile }],
    users: [{ name: managerSa, token: token.status?.token ?? "" }],
    contexts: [{ name: managerSa, cluster: "c", user: managerSa, namespace }],
    currentContext: managerSa,
  });
  const kubeconfigPath = path.join(cluster.dir, `grant-manager-${namespace}.kubeconfig`);
  await writeFile(kubeconfigPath, kc.exportConfig(), { mode: 0o600 });
  return { kubeconfigPath, extraArgs: ["--leader-elect=false"] };
}

/** The manager's finished access-grant reconciles (every result). */
function reconciles(metrics: string): number {
  return metrics
    .split("\n")
    .filter((l) => l.startsWith("controller_runtime_reconcile_total{") && l.includes('controller="access-grant"'))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
}

describe("AccessGrant security (manager under the shipped catalog role, real PostgreSQL)", function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let w: GrantWorld;
  let postgres: TestPostgres;
  let admin: pg.ClientConfig;
  let pgConnection: { host: string; port: number; database: string };
  const peerName = `sec-peer-${process.pid}`;
  const group = "archipel.io";
  const version = "v1alpha1";

  const rolpassword = async (role: string): Promise<unknown> => (await pgRows(admin, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", [role]))[0]?.rolpassword;
  const roleExists = async (role: string): Promise<boolean> => (await pgRows(admin, "SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).length === 1;

  before(async function () {
    this.timeout(180_000);
    cluster = await sharedCluster();
    await allStarted([
      grantWorld(cluster, "grant-sec", (ns) => catalogServiceAccount(cluster, ns)).then((x) => (w = x)),
      startPostgres(`it-grant-sec-${process.pid}`).then((x) => (postgres = x)),
    ]);
    admin = { host: postgres.host, port: postgres.port, database: postgres.database, user: postgres.superuser, password: postgres.password };
    await pgRows(admin, "CREATE TABLE public.t (id int)");
    await pgRows(admin, "INSERT INTO public.t VALUES (1), (2)");
    await w.createSecret("pg-admin", { username: postgres.superuser, password: postgres.password });
    pgConnection = { host: postgres.host, port: postgres.port, database: postgres.database };
    await w.createProvider("warehouse", { type: "data", data: { source: "postgres", postgres: { ...pgConnection, credentialsSecretRef: { name: "pg-admin" } } } });
    await w.createResource("t", { providerRef: { name: "warehouse" }, type: "data", data: { postgres: { table: { name: "t" } } } });
    const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({ namespace: w.ns.name, body: { metadata: { name: "requester" }, rules: [{ apiGroups: [group], resources: ["accessgrants"], verbs: ["create", "get"] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace: w.ns.name,
      body: {
        metadata: { name: "requester" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "requester" },
        subjects: ["alice", "bob"].map((name) => ({ kind: "User", name, apiGroup: "rbac.authorization.k8s.io" })),
      },
    });
  });

  after(async function () {
    this.timeout(120_000);
    await w?.stop();
    await postgres?.stop();
    const rbac = cluster?.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const name = `archipel-catalog-${w?.ns.name}`;
    await rbac?.deleteClusterRoleBinding({ name }).catch(() => undefined);
    await rbac?.deleteClusterRole({ name }).catch(() => undefined);
    await cluster?.kubeConfig().makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ group, version, plural: "peers", name: peerName }).catch(() => undefined);
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${w.manager().logFile}`);
  });

  describe("an unchanged grant is not re-issued", () => {
    it("restart, poke and Peer heartbeats run no ALTER ROLE (same SCRAM verifier); archipel.io/reissue forces one", async () => {
      const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
      await api.createClusterCustomObject({
        group,
        version,
        plural: "peers",
        body: { apiVersion: `${group}/${version}`, kind: "Peer", metadata: { name: peerName }, spec: { peerId: "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo", networkRef: { name: "net" }, approval: "Accepted" } },
      });
      await w.createGrant("steady", { resourceRef: { name: "t" }, grantee: { kind: "Peer", name: peerName }, mode: "read", expiresAt: inOneHour() });
      const g = await w.grantReady("steady", { status: "True", reason: "Issued" });
      const secret = await w.readSecret("steady-credentials");
      const role = secret?.username ?? "";
      const verifier = await rolpassword(role);
      assert.ok(verifier);
      const before = secret?.password;

      await w.restartManager();
      await eventually("the restarted manager's first pass", async () => reconciles(await w.metrics()) >= 1, 30_000, 200);
      const heartbeat = async (i: number): Promise<void> => {
        await api.patchClusterCustomObjectStatus(
          { group, version, plural: "peers", name: peerName, body: { status: { lastSeen: new Date(Date.now() + i * 1000).toISOString().replace(/\.\d+Z$/, "Z") } } },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
      };
      for (const i of [1, 2, 3]) await heartbeat(i);
      const beforePoke = reconciles(await w.metrics());
      await w.annotateGrant("steady", { "test.archipel.io/poke": "1" });
      await eventually("the poke was reconciled", async () => reconciles(await w.metrics()) > beforePoke, 30_000, 200);
      assert.equal(await rolpassword(role), verifier, "no ALTER ROLE: the verifier (random salt) is the one issued");
      assert.equal((await w.readSecret("steady-credentials"))?.password, before);

      await w.annotateGrant("steady", { "archipel.io/reissue": "1" });
      await eventually("reissue applied", async () => (await rolpassword(role)) !== verifier, 30_000, 200);
      assert.equal((await w.readSecret("steady-credentials"))?.password, before, "re-issue keeps the password");
      assert.equal(g.status?.issued?.postgres?.role, role);
    });
  });
  describe("a grant never adopts what it does not own", () => {
    it("a Secret already named <grant>-credentials: NameTaken naming it, the Secret untouched, nothing bound or issued", async () => {
      await w.createSecret("victim-credentials", { username: "postgres", password: "the-admin-password" });
      const created = await w.createGrant("victim", { resourceRef: { name: "t" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt: inOneHour() });
      const g = await w.grantReady("victim", { status: "False", reason: "NameTaken" });
      assert.match(readyOf(g)?.message ?? "", /Secret "victim-credentials"/);
      assert.equal(g.status?.issued, undefined, "nothing recorded, nothing issued");
      const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
      const secret = await core.readNamespacedSecret({ namespace: w.ns.name, name: "victim-credentials" });
      assert.equal(secret.metadata?.ownerReferences, undefined);
      assert.deepEqual(await w.readSecret("victim-credentials"), { username: "postgres", password: "the-admin-password" });
      const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
      const role = await rbac.readNamespacedRole({ namespace: w.ns.name, name: "victim-credentials-reader" }).then(() => 200, (e: { code?: number }) => e.code);
      assert.equal(role, 404);
      const aliceReads = await cluster.kubeConfig("alice").makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: w.ns.name, name: "victim-credentials" }).then(() => 200, (e: { code?: number }) => e.code);
      assert.equal(aliceReads, 403);
      const uid = created.metadata?.uid ?? "";
      assert.deepEqual(await pgRows(admin, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [`%${uid.slice(0, 8)}%`]), []);
      await w.deleteGrant("victim");
      await eventually("grant gone", async () => (await w.getGrant("victim")) === undefined, 30_000);
      assert.deepEqual(await w.readSecret("victim-credentials"), { username: "postgres", password: "the-admin-password" }, "revocation leaves a Secret it does not own alone");
    });

    it("a RoleBinding already named <grant>-credentials-reader: NameTaken naming it, no credentials Secret written", async () => {
      const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
      await rbac.createNamespacedRoleBinding({
        namespace: w.ns.name,
        body: { metadata: { name: "rb-credentials-reader" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "requester" }, subjects: [{ kind: "User", name: "carol", apiGroup: "rbac.authorization.k8s.io" }] },
      });
      await w.createGrant("rb", { resourceRef: { name: "t" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt: inOneHour() });
      const g = await w.grantReady("rb", { status: "False", reason: "NameTaken" });
      assert.match(readyOf(g)?.message ?? "", /RoleBinding "rb-credentials-reader"/);
      assert.equal(await w.readSecret("rb-credentials"), undefined);
      const binding = await rbac.readNamespacedRoleBinding({ namespace: w.ns.name, name: "rb-credentials-reader" });
      assert.deepEqual(binding.subjects?.map((x) => x.name), ["carol"]);
    });

    it("a 253-character grant name: its Secret, Role and label fit (cut + hash) and the grantee reads the credentials", async () => {
      const name = `${"long-".repeat(50)}abc`;
      assert.equal(name.length, 253);
      await w.createGrant(name, { resourceRef: { name: "t" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt: inOneHour() });
      const g = await w.grantReady(name, { status: "True", reason: "Issued" });
      const secretName = g.status?.secretRef?.name ?? "";
      assert.ok(secretName.length <= 253 && secretName.endsWith("-credentials"), secretName);
      const core = cluster.kubeConfig("alice").makeApiClient(CoreV1Api);
      const secret = await core.readNamespacedSecret({ namespace: w.ns.name, name: secretName });
      const label = secret.metadata?.labels?.["archipel.io/access-grant"] ?? "";
      assert.ok(label.length > 0 && label.length <= 63, label);
      const data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
      assert.deepEqual(await pgRows(granteeConfig(data), "SELECT count(*)::int AS n FROM data"), [{ n: 2 }]);
    });
  });

  describe("revocation is proven, never assumed", () => {
    it("with the Resource and Provider gone, deleting the grant still drops the role (from status.issued)", async () => {
      await w.createProvider("gone-provider", { type: "data", data: { source: "postgres", postgres: { ...pgConnection, credentialsSecretRef: { name: "pg-admin" } } } });
      await w.createResource("gone", { providerRef: { name: "gone-provider" }, type: "data", data: { postgres: { table: { name: "t" } } } });
      await w.createGrant("orphan", { resourceRef: { name: "gone" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt: inOneHour() });
      const g = await w.grantReady("orphan", { status: "True", reason: "Issued" });
      assert.equal(g.status?.issued?.backend, "postgres-read");
      assert.equal(g.status?.issued?.adminSecretRef.name, "pg-admin");
      assert.ok(g.status?.issued?.planHash);
      assert.ok(!JSON.stringify(g.status).includes(postgres.password));
      const secret = (await w.readSecret("orphan-credentials")) ?? {};
      assert.equal(g.status?.issued?.postgres?.role, secret.username);
      const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
      await api.deleteNamespacedCustomObject({ group, version, namespace: w.ns.name, plural: "resources", name: "gone" });
      await eventually("Resource gone", async () => api.getNamespacedCustomObject({ group, version, namespace: w.ns.name, plural: "resources", name: "gone" }).then(() => false, () => true), 30_000);
      await api.deleteNamespacedCustomObject({ group, version, namespace: w.ns.name, plural: "providers", name: "gone-provider" });
      await eventually("Provider gone", async () => api.getNamespacedCustomObject({ group, version, namespace: w.ns.name, plural: "providers", name: "gone-provider" }).then(() => false, () => true), 30_000);
      await w.grantReady("orphan", { status: "False", reason: "ResourceNotFound" });
      await w.deleteGrant("orphan");
      await eventually("grant gone", async () => (await w.getGrant("orphan")) === undefined, 30_000);
      assert.equal(await pgError(granteeConfig(secret), "SELECT 1"), "28P01");
      assert.equal(await roleExists(secret.username ?? ""), false);
    });

    it("with the admin Secret gone, the grant keeps its finalizer (RevokeFailed, credentials not called revoked) until it is back", async () => {
      await w.createSecret("pg-admin-2", { username: postgres.superuser, password: postgres.password });
      await w.createProvider("fragile", { type: "data", data: { source: "postgres", postgres: { ...pgConnection, credentialsSecretRef: { name: "pg-admin-2" } } } });
      await w.createResource("fragile-t", { providerRef: { name: "fragile" }, type: "data", data: { postgres: { table: { name: "t" } } } });
      await w.createGrant("stuck", { resourceRef: { name: "fragile-t" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt: inOneHour() });
      await w.grantReady("stuck", { status: "True", reason: "Issued" });
      const secret = (await w.readSecret("stuck-credentials")) ?? {};
      await cluster.kubeConfig().makeApiClient(CoreV1Api).deleteNamespacedSecret({ namespace: w.ns.name, name: "pg-admin-2" });
      await w.deleteGrant("stuck");
      const g = await w.grantReady("stuck", { status: "False", reason: "RevokeFailed" });
      assert.match(readyOf(g)?.message ?? "", /"pg-admin-2"/);
      assert.ok(g.metadata?.finalizers?.includes("archipel.io/access-grant-revoke"));
      assert.equal(g.status?.revokedAt, undefined);
      assert.deepEqual(await pgRows(granteeConfig(secret), "SELECT count(*)::int AS n FROM data"), [{ n: 2 }], "not revoked, and not said to be");
      await w.createSecret("pg-admin-2", { username: postgres.superuser, password: postgres.password });
      await eventually("grant gone once it could revoke", async () => (await w.getGrant("stuck")) === undefined, 60_000, 500);
      assert.equal(await pgError(granteeConfig(secret), "SELECT 1"), "28P01");
    });
  });

  describe("a grantee is who the caller may name (shipped admission policy)", () => {
    const createAs = (user: "alice" | "bob", name: string, grantee: Record<string, string>): Promise<number> =>
      cluster
        .kubeConfig(user)
        .makeApiClient(CustomObjectsApi)
        .createNamespacedCustomObject({
          group,
          version,
          namespace: w.ns.name,
          plural: "accessgrants",
          body: { apiVersion: `${group}/${version}`, kind: "AccessGrant", metadata: { name }, spec: { resourceRef: { name: "t" }, grantee, mode: "read", expiresAt: inOneHour() } },
        })
        .then(() => 201, (e: { code?: number }) => e.code ?? 0);

    it("alice (create accessgrants only) cannot name Group system:authenticated or bob with the Kubernetes API directly (403); herself she can", async () => {
      await eventually("policy in force", async () => (await createAs("alice", "everyone", { kind: "Group", name: "system:authenticated" })) === 403, 30_000, 500);
      assert.equal(await createAs("alice", "for-bob", { kind: "User", name: "bob" }), 403);
      assert.equal(await createAs("alice", "for-sa", { kind: "ServiceAccount", namespace: w.ns.name, name: managerSa }), 403);
      assert.equal(await w.getGrant("everyone"), undefined);
      assert.equal(await createAs("alice", "for-alice", { kind: "User", name: "alice" }), 201);
      await w.grantReady("for-alice", { status: "True", reason: "Issued" });
    });

    it("the 403 names spec.grantee and the permission; with accessgrants/on-behalf for User:alice only, bob may name alice and no one else", async () => {
      const refused = await cluster
        .kubeConfig("bob")
        .makeApiClient(CustomObjectsApi)
        .createNamespacedCustomObject({ group, version, namespace: w.ns.name, plural: "accessgrants", body: { apiVersion: `${group}/${version}`, kind: "AccessGrant", metadata: { name: "by-bob" }, spec: { resourceRef: { name: "t" }, grantee: { kind: "User", name: "alice" }, mode: "read", expiresAt: inOneHour() } } })
        .then(() => "", (e: { code?: number; body?: unknown }) => `${e.code} ${typeof e.body === "string" ? e.body : JSON.stringify(e.body)}`);
      assert.match(refused, /^403 .*spec\.grantee.*accessgrants\/on-behalf/);
      const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
      await rbac.createNamespacedRole({ namespace: w.ns.name, body: { metadata: { name: "delegate-alice" }, rules: [{ apiGroups: [group], resources: ["accessgrants/on-behalf"], resourceNames: ["User:alice"], verbs: ["create"] }] } });
      await rbac.createNamespacedRoleBinding({
        namespace: w.ns.name,
        body: { metadata: { name: "delegate-alice" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "delegate-alice" }, subjects: [{ kind: "User", name: "bob", apiGroup: "rbac.authorization.k8s.io" }] },
      });
      await eventually("bob may name alice", async () => (await createAs("bob", "by-bob", { kind: "User", name: "alice" })) === 201, 30_000, 500);
      assert.equal(await createAs("bob", "by-bob-2", { kind: "User", name: "carol" }), 403);
      assert.equal(await createAs("bob", "by-bob-3", { kind: "Group", name: "system:authenticated" }), 403);
    });

    it("the manager's ServiceAccount may get, create and update Secrets but not list, watch or delete them", async () => {
      const sar = cluster.kubeConfig().makeApiClient(AuthorizationV1Api);
      const may = async (verb: string): Promise<boolean> =>
        (
          await sar.createSubjectAccessReview({
            body: { spec: { user: `system:serviceaccount:${w.ns.name}:${managerSa}`, groups: ["system:serviceaccounts"], resourceAttributes: { namespace: w.ns.name, verb, resource: "secrets" } } },
          })
        ).status?.allowed ?? false;
      assert.deepEqual(
        Object.fromEntries(await Promise.all(["get", "create", "update", "list", "watch", "patch", "delete", "deletecollection"].map(async (v) => [v, await may(v)] as const))),
        { get: true, create: true, update: true, list: false, watch: false, patch: false, delete: false, deletecollection: false },
      );
    });
  });

});
