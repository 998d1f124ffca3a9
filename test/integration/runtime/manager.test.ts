// A Manager with a ConfigMap controller against a real kube-apiserver: its HTTP endpoints, the
// reconcile contract (back-off visible in /metrics, writes through the API server), owned objects
// enqueueing their owner, and a stop that lets an in-flight reconcile finish.
import assert from "node:assert/strict";
import { CoreV1Api, type V1ConfigMap } from "@kubernetes/client-node";
import type { KindRef, ObjectKey, ReconcileContext } from "../../../operators/runtime/index.ts";
import { Manager } from "../../../operators/runtime/index.ts";
import { createLogger } from "../../../operators/runtime/logger.ts";
import { metricValue } from "./promText.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";

const configMaps: KindRef = { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true };
const secrets: KindRef = { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true };
const logger = createLogger("manager-it", { silent: !process.env.TEST_LOGS });


describe("runtime Manager (real API server)", function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let core: CoreV1Api;
  let manager: Manager;
  const reconciled: string[] = [];
  let slowReconcileFinished = false;

  async function reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<{ requeueAfter?: number } | void> {
    reconciled.push(key.name);
    const cm = ctx.cache<V1ConfigMap>(configMaps).get(key);
    if (!cm) return;
    if (cm.data?.mode === "fail") throw new Error(`configured to fail: ${key.name}`);
    if (cm.data?.mode === "slow") {
      await new Promise((r) => setTimeout(r, 700));
      slowReconcileFinished = true;
      return;
    }
    if (cm.metadata?.annotations?.reconciled === cm.metadata?.resourceVersion) return;
    // A write goes to the API server; the next read comes back through the watch.
    await core.patchNamespacedConfigMap({
      namespace: key.namespace ?? "",
      name: key.name,
      body: [{ op: "add", path: "/metadata/annotations", value: { reconciled: cm.metadata?.resourceVersion ?? "" } }],
    });
  }

  const metrics = async (): Promise<string> => (await fetch(`${manager.metricsUrl}/metrics`)).text();
  const createCm = (name: string, data: Record<string, string>): Promise<V1ConfigMap> =>
    core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name }, data } });

  before(async () => {
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "manager");
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await createCm("preexisting", { mode: "ok" });
    manager = new Manager({ kubeConfig: cluster.kubeConfig(), logger, namespace: ns.name, metricsPort: 0, healthPort: 0, bindAddress: "127.0.0.1", shutdownTimeoutMs: 5000 });
    manager.add({ name: "cm", for: configMaps, owns: [secrets], reconcile });
    await manager.start();
  });

  after(async () => {
    await manager?.stop();
    await ns?.cleanup();
  });

  it("serves /healthz, and /readyz once the caches have synced", async () => {
    assert.equal((await fetch(`${manager.healthUrl}/healthz`)).status, 200);
    await eventually("/readyz 200", async () => (await fetch(`${manager.healthUrl}/readyz`)).status === 200);
    assert.equal(manager.isLeader(), true, "without leader election the manager leads at once");
  });

  it("reconciles objects that existed before start and writes through the API server", async () => {
    await eventually("preexisting annotated", async () => {
      const cm = await core.readNamespacedConfigMap({ namespace: ns.name, name: "preexisting" });
      return cm.metadata?.annotations?.reconciled !== undefined;
    });
  });

  it("retries a failing reconcile with back-off, visible in workqueue_retries_total on /metrics", async () => {
    const before = metricValue(await metrics(), "workqueue_retries_total", { name: "cm" }) ?? 0;
    await createCm("broken", { mode: "fail" });
    await eventually("5 retries", async () => (metricValue(await metrics(), "workqueue_retries_total", { name: "cm" }) ?? 0) >= before + 5);
    const text = await metrics();
    assert.ok((metricValue(text, "controller_runtime_reconcile_errors_total", { controller: "cm" }) ?? 0) >= 5);
    assert.ok((metricValue(text, "controller_runtime_reconcile_total", { controller: "cm", result: "error" }) ?? 0) >= 5);
    assert.ok(text.includes('controller_runtime_reconcile_time_seconds_bucket{le="0.005",controller="cm"}'));
    assert.ok(text.includes('workqueue_queue_duration_seconds_count{name="cm"}'));
    assert.equal(metricValue(text, "leader_election_master_status", { name: "none" }), 1);
    // Fixing the object ends the retries: the next reconcile succeeds and the key is forgotten.
    await core.patchNamespacedConfigMap({ namespace: ns.name, name: "broken", body: [{ op: "replace", path: "/data/mode", value: "ok" }] });
    await eventually("fixed object reconciled", async () => {
      const cm = await core.readNamespacedConfigMap({ namespace: ns.name, name: "broken" });
      return cm.metadata?.annotations?.reconciled !== undefined;
    });
    const settled = metricValue(await metrics(), "workqueue_retries_total", { name: "cm" }) ?? 0;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(metricValue(await metrics(), "workqueue_retries_total", { name: "cm" }), settled, "no more retries after success");
  });

  it("caches one copy per object for every controller, without managedFields or last-applied-configuration", async () => {
    // kubectl apply's annotation, and managedFields the API server always keeps.
    await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: "heavy", annotations: { "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({ data: { mode: "ok" } }), note: "kept" } }, data: { mode: "ok" } },
    });
    const fromServer = await core.readNamespacedConfigMap({ namespace: ns.name, name: "heavy" });
    assert.ok((fromServer.metadata?.managedFields ?? []).length > 0, "the API server sends managedFields");
    const cached = await eventually("heavy cached", async () => manager.cache<V1ConfigMap>(configMaps).get({ namespace: ns.name, name: "heavy" }));
    assert.equal(cached.metadata?.managedFields, undefined);
    assert.deepEqual(Object.keys(cached.metadata?.annotations ?? {}).filter((k) => k !== "reconciled"), ["note"]);
    assert.equal(manager.cache(configMaps), manager.cache({ ...configMaps }), "one cache per kind in a process, whoever asks");
  });

  it("enqueues the owner when an owned object changes", async () => {
    const owner = await createCm("owner", { mode: "ok" });
    await eventually("owner reconciled", async () => reconciled.includes("owner"));
    const count = reconciled.filter((n) => n === "owner").length;
    await core.createNamespacedSecret({
      namespace: ns.name,
      body: {
        metadata: { name: "owned", ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata?.uid ?? "", controller: true }] },
        stringData: { k: "v" },
      },
    });
    await eventually("owner reconciled again", async () => reconciled.filter((n) => n === "owner").length > count);
  });

  it("stop lets an in-flight reconcile finish, then the endpoints go away", async () => {
    await createCm("slow", { mode: "slow" });
    await eventually("slow reconcile started", async () => reconciled.includes("slow"));
    await manager.stop();
    assert.equal(slowReconcileFinished, true, "stop returned before the in-flight reconcile finished");
    await assert.rejects(fetch(`${manager.healthUrl}/healthz`));
  });
});

describe("runtime Manager readiness with a cache that cannot sync", function () {
  this.timeout(30_000);

  it("/readyz answers 503 naming the cache that has not synced, /healthz stays 200", async () => {
    const cluster = await sharedCluster();
    const missing: KindRef = { group: "nothing.example.com", version: "v1", kind: "Nothing", plural: "nothings", namespaced: true };
    const manager = new Manager({ kubeConfig: cluster.kubeConfig(), logger, healthPort: 0, bindAddress: "127.0.0.1", informerBackoff: { baseMs: 100, maxMs: 200 } });
    manager.cache(missing);
    await manager.start();
    try {
      await new Promise((r) => setTimeout(r, 500));
      const ready = await fetch(`${manager.healthUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(await ready.text(), /cache\/nothings.nothing.example.com failed/);
      assert.equal((await fetch(`${manager.healthUrl}/healthz`)).status, 200);
    } finally {
      await manager.stop();
    }
  });
});
