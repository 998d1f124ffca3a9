// config/rbac/requester_policy.yaml against a real kube-apiserver: only who holds
// `reservations/for-peer` / `pipelineruns/for-peer` (the federation API's role) may mark a
// Reservation or a PipelineRun as made for a peer. Without it, a user able to create both in a
// namespace opened to peers could have the orchestrator read data with that peer's grants and
// bill the peer for the run.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { CustomObjectsApi, type KubernetesObject, KubernetesObjectApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions } from "@kubernetes/client-node";
import { loadAll } from "js-yaml";
import { eventually, freshNamespace, repoRoot, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { actingAs } from "../../support/rbac.ts";

const group = "archipel.io";
const version = "v1alpha1";
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const window = { start: "2030-01-01T00:00:00Z", end: "2030-01-01T01:00:00Z" };

/** Applies config/rbac/requester_policy.yaml (cluster-scoped, idempotent). */
async function installRequesterPolicy(cluster: TestCluster): Promise<void> {
  const objects = loadAll(await readFile(path.join(repoRoot, "config/rbac/requester_policy.yaml"), "utf8")) as KubernetesObject[];
  const api = KubernetesObjectApi.makeApiClient(cluster.kubeConfig());
  for (const obj of objects) await api.patch(obj, undefined, undefined, "archipel-tests", true, PatchStrategy.ServerSideApply);
}

/** The refusal's HTTP code and message, or "allowed". */
async function outcome(call: Promise<unknown>): Promise<{ code: number; message: string } | "allowed"> {
  try {
    await call;
    return "allowed";
  } catch (err) {
    const e = err as { code?: number; body?: string };
    return { code: e.code ?? 0, message: String(e.body) };
  }
}

describe("who may mark objects as made for a peer (requester_policy.yaml, real kube-apiserver)", function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let alice: CustomObjectsApi;
  let federationApi: CustomObjectsApi;

  const reservation = (name: string, requester?: object) => ({
    apiVersion: `${group}/${version}`,
    kind: "Reservation",
    metadata: { name },
    spec: { providerRef: { name: "cpus" }, cpu: "1", memory: "1Gi", ...window, ...(requester ? { requester } : {}) },
  });
  const run = (name: string, marks?: { peer: string; project?: string }) => ({
    apiVersion: `${group}/${version}`,
    kind: "PipelineRun",
    metadata: {
      name,
      ...(marks ? { labels: { "archipel.io/requester-peer": marks.peer } } : {}),
      ...(marks?.project ? { annotations: { "archipel.io/requester-project": marks.project } } : {}),
    },
    spec: { steps: [{ name: "s", serviceRef: { name: "svc" } }] },
  });
  /** A record of one step (config/samples), naming a peer as it says. */
  const record = (name: string, peer?: { requester?: string; metered?: string }) => ({
    apiVersion: `${group}/${version}`,
    kind: "UsageRecord",
    metadata: { name },
    spec: {
      pipelineRunRef: { name: "r" },
      step: "s",
      cluster: "isle-1",
      startedAt: "2026-12-01T13:00:00Z",
      finishedAt: "2026-12-01T13:10:00Z",
      source: "resourcesDuration",
      resourcesDuration: { cpu: 60, memory: 60 },
      usage: { cpuCoreHours: "0.016667", memoryGiBHours: "0.001628", pods: 1 },
      ...(peer?.requester ? { requester: { peer: peer.requester } } : {}),
      ...(peer?.metered ? { peer: peer.metered } : {}),
    },
  });
  const create = (as: CustomObjectsApi, plural: string, body: object) => as.createNamespacedCustomObject({ group, version, namespace: ns.name, plural, body });
  const patch = (as: CustomObjectsApi, plural: string, name: string, body: object) => as.patchNamespacedCustomObject({ group, version, namespace: ns.name, plural, name, body }, mergePatch);

  before(async function () {
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "requester");
    await installRequesterPolicy(cluster);
    const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const verbs = ["get", "create", "update", "patch"];
    await rbac.createNamespacedRole({ namespace: ns.name, body: { metadata: { name: "runner" }, rules: [{ apiGroups: [group], resources: ["reservations", "pipelineruns", "usagerecords"], verbs }] } });
    await rbac.createNamespacedRoleBinding({ namespace: ns.name, body: { metadata: { name: "runner" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "runner" }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "alice" }] } });
    alice = cluster.kubeConfig("alice").makeApiClient(CustomObjectsApi);
    // The API's ServiceAccount with the shipped RBAC (config/rbac/api_role.yaml).
    federationApi = (await actingAs(cluster, "archipel-api")).kubeConfig().makeApiClient(CustomObjectsApi);
    // A new policy reaches the admission chain within a moment, each on its own: wait until all
    // three (Reservations, PipelineRuns, UsageRecords) refuse.
    const inForce = async (): Promise<boolean> => {
      const probe = `probe-${Date.now()}`;
      const outcomes = await Promise.all([
        outcome(create(alice, "reservations", reservation(probe, { peer: "gamma" }))),
        outcome(create(alice, "pipelineruns", run(probe, { peer: "gamma" }))),
        outcome(create(alice, "usagerecords", record(probe, { requester: "gamma" }))),
      ]);
      return outcomes.every((o) => o !== "allowed");
    };
    await eventually("the three policies are in force", inForce, 30_000, 250);
  });

  after(async () => {
    await ns?.cleanup();
  });

  it("refuses a user's Reservation for a peer, naming the field and the right it needs; one without a peer is fine", async () => {
    const refused = await outcome(create(alice, "reservations", reservation("borrowed", { peer: "gamma" })));
    assert.notEqual(refused, "allowed");
    if (refused === "allowed") return;
    assert.equal(refused.code, 403);
    assert.match(refused.message, /spec\.requester\.peer: alice may not make a Reservation for peer gamma: only the federation API does \(create on reservations\/for-peer/);
    assert.equal(await outcome(create(alice, "reservations", reservation("mine", { user: "alice" }))), "allowed");
  });

  it("refuses adding a peer to an existing Reservation", async () => {
    await create(alice, "reservations", reservation("later"));
    const refused = await outcome(patch(alice, "reservations", "later", { spec: { requester: { peer: "gamma" } } }));
    assert.ok(refused !== "allowed" && refused.code === 403, JSON.stringify(refused));
  });

  it("lets the federation API's role make both for a peer", async () => {
    assert.equal(await outcome(create(federationApi, "reservations", reservation("for-gamma", { peer: "gamma" }))), "allowed");
    assert.equal(await outcome(create(federationApi, "pipelineruns", run("for-gamma", { peer: "gamma", project: "climate" }))), "allowed");
  });

  it("refuses a user's PipelineRun marked for a peer, and marking or re-marking one later", async () => {
    const refused = await outcome(create(alice, "pipelineruns", run("borrowed", { peer: "gamma" })));
    assert.ok(refused !== "allowed" && refused.code === 403, JSON.stringify(refused));
    assert.match(refused.message, /metadata\.labels\[archipel\.io\/requester-peer\]: alice may not mark a PipelineRun as run for peer gamma/);
    await create(alice, "pipelineruns", run("plain"));
    const marked = await outcome(patch(alice, "pipelineruns", "plain", { metadata: { labels: { "archipel.io/requester-peer": "gamma" } } }));
    assert.ok(marked !== "allowed" && marked.code === 403, JSON.stringify(marked));
    const otherProject = await outcome(patch(alice, "pipelineruns", "for-gamma", { metadata: { annotations: { "archipel.io/requester-project": "someone-elses" } } }));
    assert.ok(otherProject !== "allowed" && otherProject.code === 403, JSON.stringify(otherProject));
  });

  it("lets anyone who may update a marked run change what is not a mark (the controllers' finalizers, a label)", async () => {
    assert.equal(await outcome(patch(alice, "pipelineruns", "for-gamma", { metadata: { labels: { team: "blue" }, finalizers: ["archipel.io/test"] } })), "allowed");
    assert.equal(await outcome(patch(alice, "reservations", "for-gamma", { spec: { confirmed: true } })), "allowed");
    await patch(alice, "pipelineruns", "for-gamma", { metadata: { finalizers: null } });
  });

  it("refuses a user's UsageRecord billed to a peer or copied from one, naming the field; the usage controller's role may", async () => {
    const billed = await outcome(create(alice, "usagerecords", record("billed", { requester: "gamma" })));
    assert.ok(billed !== "allowed" && billed.code === 403, JSON.stringify(billed));
    assert.match(billed.message, /spec\.requester\.peer: alice may not make a UsageRecord naming peer gamma: only the usage and orchestrator controllers do \(create on usagerecords\/for-peer/);
    const copied = await outcome(create(alice, "usagerecords", record("copied", { metered: "gamma" })));
    assert.ok(copied !== "allowed" && copied.code === 403, JSON.stringify(copied));
    assert.match(copied.message, /^.*spec\.peer: alice may not make a UsageRecord naming peer gamma/);
    assert.equal(await outcome(create(alice, "usagerecords", record("own"))), "allowed", "a record naming no peer is not the policy's business");
    // The manager's ServiceAccount under the shipped RBAC (billing_role.yaml, orchestrator_role.yaml).
    const manager = (await actingAs(cluster, "archipel-manager")).kubeConfig().makeApiClient(CustomObjectsApi);
    assert.equal(await outcome(create(manager, "usagerecords", record("metered-for-gamma", { requester: "gamma" }))), "allowed");
  });
});
