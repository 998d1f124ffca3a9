// The metering hold against a real API server, with the usage controller run by the manager as a
// ServiceAccount bound to nothing but config/rbac/billing_role.yaml, and Argo's own CRDs
// (hack/argo crds; no Argo controller: the Workflows' status is written here as Argo would). A
// Workflow outside its run's namespace, as a run served for a peer has in its workspace, keeps
// that namespace from going until its step is metered (one still running up to the deletion); a
// Workflow whose run is gone is let go at once; the hold is never lifted from a Workflow that stays.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { readFile } from "node:fs/promises";
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, type KubernetesObject } from "@kubernetes/client-node";
import { meteringHold } from "../../../operators/billing/meteringHold.ts";
import { controllerMarks } from "../../../operators/runtime/ownerReferences.ts";
import type { PipelineRun } from "../../../operators/schema/pipelineRun.ts";
import type { UsageRecord } from "../../../operators/schema/usageRecord.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { type ComponentProcess, startManager } from "../../support/processes.ts";
import { boundOnlyTo, type SingleRoleIdentity } from "../../support/rbac.ts";
import { deleteNamespaceAndWait, logDir } from "../provider/fixtures.ts";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../../..");
const archipel = { group: "archipel.io", version: "v1alpha1" };
const argo = { group: "argoproj.io", version: "v1alpha1", plural: "workflows" };
const started = "2026-12-04T10:00:00Z";
const finished = "2026-12-04T10:01:40Z";

describe("the metering hold on a Workflow outside its run's namespace (real API server, Argo's CRDs)", function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let identity: SingleRoleIdentity | undefined;
  let manager: ComponentProcess | undefined;
  let api: CustomObjectsApi;
  let core: CoreV1Api;
  const workspaces: TestNamespace[] = [];

  /** A run of one step `say` whose status says it finished (or still runs), its Workflow named in `workspace`. */
  async function runOf(name: string, workspace: string, step: "finished" | "running" = "finished"): Promise<PipelineRun & KubernetesObject> {
    const body = { apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { name }, spec: { steps: [{ name: "say", serviceRef: { name: "echo" } }] } };
    const created = (await api.createNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace: ns.name, body })) as PipelineRun & KubernetesObject;
    const times = step === "finished" ? { phase: "Succeeded", startedAt: started, finishedAt: finished } : { phase: "Running", startedAt: started };
    const status = { workflowRef: { name, namespace: workspace }, steps: [{ name: "say", ...times }] };
    await api.patchNamespacedCustomObjectStatus({ ...archipel, plural: "pipelineruns", namespace: ns.name, name, body: [{ op: "add", path: "/status", value: status }] });
    return created;
  }

  /**
   * The run's Workflow as Argo reports it while it still runs: the step's pod finished, its
   * resourcesDuration not written yet, so metering waits (measureStep: "pending").
   */
  async function heldWorkflow(owner: KubernetesObject, workspace: string, pod: "finished" | "running" = "finished"): Promise<void> {
    const name = owner.metadata?.name ?? "";
    const marks = controllerMarks(owner, workspace);
    const times = pod === "finished" ? { phase: "Succeeded", startedAt: started, finishedAt: finished } : { phase: "Running", startedAt: started };
    const node = { id: `${name}-1`, name: `${name}.say`, type: "Pod", templateName: "main-say", ...times };
    const body = {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Workflow",
      metadata: { name, namespace: workspace, ...marks, finalizers: [meteringHold] },
      spec: { entrypoint: "main", templates: [{ name: "main-say", container: { image: "echo", resources: { requests: { cpu: "500m", memory: "256Mi" } } } }] },
      status: { phase: "Running", startedAt: started, nodes: { [node.id]: node } },
    };
    await api.createNamespacedCustomObject({ ...argo, namespace: workspace, body });
  }

  const finalizersOf = async (namespace: string, name: string): Promise<string[]> =>
    (((await api.getNamespacedCustomObject({ ...argo, namespace, name })) as KubernetesObject).metadata?.finalizers ?? []);
  const recordsOf = async (runName: string): Promise<UsageRecord[]> =>
    ((await api.listNamespacedCustomObject({ ...archipel, plural: "usagerecords", namespace: ns.name, labelSelector: `archipel.io/pipelinerun=${runName}` })) as { items: UsageRecord[] }).items;
  const namespaceGone = async (name: string): Promise<boolean> => (await core.readNamespace({ name }).catch(() => undefined)) === undefined;

  async function workspace(prefix: string): Promise<string> {
    const made = await freshNamespace(cluster, prefix);
    workspaces.push(made);
    return made.name;
  }

  before(async function () {
    this.timeout(180_000);
    cluster = await sharedCluster();
    api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await run(path.join(repoRoot, "hack/argo"), ["crds", cluster.name], { env: { ...process.env, CLUSTERS_DIR: path.dirname(cluster.dir) } });
    ns = await freshNamespace(cluster, "hold");
    identity = await boundOnlyTo(cluster, ns.name, "config/rbac/billing_role.yaml", "usage");
    // Every namespace: the Workflows are in workspaces, not in the runs' namespace.
    manager = await startManager(`hold-it-${ns.name}`, { controllers: "usage", kubeconfigPath: identity.kubeconfigPath, logDir });
  });

  after(async function () {
    this.timeout(120_000);
    if (manager) assert.doesNotMatch(await readFile(manager.logFile, "utf8"), /forbidden/i, `the billing role lacks a verb; see ${manager.logFile}`);
    await manager?.stop();
    // No controller lifts the hold any more: let what a failed test left go, then Argo's CRDs (the other suites run without them).
    for (const ws of workspaces) {
      const held = ((await api.listNamespacedCustomObject({ ...argo, namespace: ws.name }).catch(() => ({ items: [] }))) as { items: KubernetesObject[] }).items;
      for (const w of held) await api.patchNamespacedCustomObject({ ...argo, namespace: ws.name, name: w.metadata?.name ?? "", body: [{ op: "remove", path: "/metadata/finalizers" }] }).catch(() => undefined);
      await deleteNamespaceAndWait(cluster, ws);
    }
    if (ns) {
      const kept = ((await api.listNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace: ns.name }).catch(() => ({ items: [] }))) as { items: KubernetesObject[] }).items.filter((r) => r.metadata?.finalizers?.length);
      for (const r of kept) await api.patchNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace: ns.name, name: r.metadata?.name ?? "", body: [{ op: "remove", path: "/metadata/finalizers" }] }).catch(() => undefined);
      await deleteNamespaceAndWait(cluster, ns);
    }
    await identity?.cleanup();
    const crds = cluster.kubeConfig().makeApiClient(ApiextensionsV1Api);
    for (const crd of (await crds.listCustomResourceDefinition()).items.filter((c) => c.spec.group === "argoproj.io")) await crds.deleteCustomResourceDefinition({ name: crd.metadata?.name ?? "" });
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${manager?.logFile}`);
  });

  it("keeps the workspace until the step is metered, measured once the Workflow is being deleted, then lets it go", async () => {
    const ws = await workspace("rsv-ws");
    const owner = await runOf("served", ws);
    await heldWorkflow(owner, ws);
    // Argo has not measured the pod yet: nothing is metered, and the hold stays.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.deepEqual(await recordsOf("served"), [], "metering waits for Argo's measure while the Workflow runs");
    assert.deepEqual(await finalizersOf(ws, "served"), [meteringHold], "the hold stays on a Workflow that is not being deleted");

    await core.deleteNamespace({ name: ws });
    const record = await eventually("the step metered once its Workflow is being deleted", async () => (await recordsOf("served"))[0], 30_000, 250);
    // Measured from the pod's run time (100 s) × its requests: 500m cpu, 256Mi memory.
    assert.deepEqual([record.spec.step, record.spec.source, record.spec.pipelineRunRef.uid], ["say", "requests", owner.metadata?.uid]);
    assert.deepEqual(record.spec.usage, { cpuCoreHours: "0.013889", memoryGiBHours: "0.006944", pods: 1 });
    await eventually("the workspace goes once its Workflow is metered", () => namespaceGone(ws), 60_000, 250);
    assert.equal((await recordsOf("served")).length, 1, "metered once");
  });

  it("meters a step still running when the workspace goes up to the deletion, saying it was stopped", async () => {
    const ws = await workspace("rsv-cut");
    const owner = await runOf("cut", ws, "running");
    await heldWorkflow(owner, ws, "running");
    const before = Date.now();
    await core.deleteNamespace({ name: ws });
    const record = await eventually("the running step metered once its Workflow is being deleted", async () => (await recordsOf("cut"))[0], 30_000, 250);
    assert.deepEqual([record.spec.step, record.spec.startedAt, record.spec.stopped?.reason], ["say", started, "WorkflowDeleted"]);
    const cutAt = Date.parse(record.spec.finishedAt);
    assert.ok(cutAt >= Math.floor(before / 1000) * 1000 - 1000 && cutAt <= Date.now(), `metered up to the deletion (${record.spec.finishedAt})`);
    await eventually("the workspace goes once its Workflow is metered", () => namespaceGone(ws), 60_000, 250);
  });

  it("meters a run deleted while its step runs up to the deletion, while something still holds the run", async () => {
    const ws = await workspace("rsv-del");
    const owner = await runOf("deleted", ws, "running");
    await heldWorkflow(owner, ws, "running");
    // What the orchestrator's finalizer does while it waits for the record: keep the run there.
    await api.patchNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace: ns.name, name: "deleted", body: [{ op: "add", path: "/metadata/finalizers", value: ["archipel.io/test-keep"] }] });
    await api.deleteNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace: ns.name, name: "deleted" });
    const deletedAt = ((await api.getNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace: ns.name, name: "deleted" })) as PipelineRun).metadata.deletionTimestamp;
    const record = await eventually("the running step metered once its run is being deleted", async () => (await recordsOf("deleted"))[0], 30_000, 250);
    assert.deepEqual([record.spec.step, record.spec.finishedAt, record.spec.stopped?.reason], ["say", deletedAt, "RunDeleted"]);
    assert.deepEqual(await finalizersOf(ws, "deleted"), [meteringHold], "the Workflow (not being deleted) keeps its hold");
    await api.patchNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace: ns.name, name: "deleted", body: [{ op: "remove", path: "/metadata/finalizers" }] });
    await eventually("the Workflow's hold lifted once its run is gone", async () => (await finalizersOf(ws, "deleted")).length === 0, 30_000, 250);
  });

  it("lifts the hold of a Workflow whose run is gone (nothing of it can be metered any more) without deleting it", async () => {
    const ws = await workspace("rsv-gone");
    const gone = { apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { namespace: ns.name, name: "gone", uid: "6d9c4a52-0000-4000-8000-000000000001" } };
    await heldWorkflow(gone, ws);
    await eventually("the orphan's hold lifted", async () => (await finalizersOf(ws, "gone")).length === 0, 30_000, 250);
    assert.deepEqual(await recordsOf("gone"), []);
  });
});
