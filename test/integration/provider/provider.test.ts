// The Provider controller end to end: the manager runs as a child process
// (`node operators/manager/main.ts`) against a real kube-apiserver, and the tests observe only
// what a user would: the objects' status, finalizers, Events and `kubectl describe`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { createProviderReconciler, providerFieldManager, providerFinalizer } from "../../../operators/catalog/providerReconciler.ts";
import { type Cache, Store } from "../../../operators/runtime/cache.ts";
import { isConflict } from "../../../operators/runtime/errors.ts";
import { EventRecorder } from "../../../operators/runtime/events.ts";
import { ensureFinalizer } from "../../../operators/runtime/finalizers.ts";
import { createLogger } from "../../../operators/runtime/logger.ts";
import { StatusWriter } from "../../../operators/runtime/status.ts";
import type { Provider } from "../../../operators/schema/provider.ts";
import { eventually, freshNamespace, repoRoot, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { waitForHttp } from "../../support/processes.ts";
import { computeSpec, deleteNamespaceAndWait, type ManagerProcess, objects, type Objects, providerMetric, readyOf, startManager } from "./fixtures.ts";

const run = promisify(execFile);

describe("Provider controller (manager process, real API server)", function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let o: Objects;
  let manager: ManagerProcess;

  before(async function () {
    this.timeout(90_000);
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "provider");
    o = objects(cluster, ns.name);
    manager = await startManager(cluster, ns.name, "provider-it");
    await waitForHttp(`http://127.0.0.1:${manager.healthPort}/readyz`, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; see ${manager.logFile}`);
    });
  });

  after(async function () {
    this.timeout(90_000);
    if (ns) await deleteNamespaceAndWait(cluster, ns);
    await manager?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${manager.logFile}`);
  });

  const readyWith = (name: string, want: { status: string; reason: string }) =>
    eventually(`${name} Ready=${want.status} ${want.reason}`, async () => {
      const p = await o.getProvider(name);
      const r = readyOf(p);
      return r?.status === want.status && r.reason === want.reason && p.status?.observedGeneration === p.metadata?.generation ? p : undefined;
    }, 30_000);

  it("marks a valid Provider Ready (Valid), adds its finalizer, and follows spec edits with observedGeneration", async () => {
    await o.createProvider("lab", computeSpec);
    const first = await readyWith("lab", { status: "True", reason: "Valid" });
    assert.equal(first.status?.observedGeneration, 1);
    assert.equal(readyOf(first)?.observedGeneration, 1);
    assert.equal(first.status?.resourceCount, 0);
    assert.deepEqual(first.metadata?.finalizers, [providerFinalizer]);

    await o.patchProviderSpec("lab", { displayName: "Lab cluster" });
    const second = await eventually("observedGeneration 2", async () => {
      const p = await o.getProvider("lab");
      return p.status?.observedGeneration === 2 ? p : undefined;
    });
    assert.equal(readyOf(second)?.lastTransitionTime, readyOf(first)?.lastTransitionTime, "no status flip: lastTransitionTime stays");

    await o.patchProviderSpec("lab", { compute: { capacity: { cpu: "4", memory: "8Gi" }, overcommit: { cpu: "0.5" } } });
    const third = await readyWith("lab", { status: "False", reason: "InvalidSpec" });
    assert.equal(third.status?.observedGeneration, 3);
    assert.match(readyOf(third)?.message ?? "", /spec\.compute\.overcommit\.cpu is 0\.5; an overcommit ratio must be at least 1/);
  });

  it("gives an invalid Provider Ready=False with a reason and a message naming the field", async () => {
    await o.createProvider("no-image", { type: "service", service: {} });
    const p = await readyWith("no-image", { status: "False", reason: "MissingField" });
    assert.match(readyOf(p)?.message ?? "", /spec\.service\.defaultImage or spec\.service\.registry\.server is required/);
    await o.createProvider("low-memory-ratio", { type: "compute", compute: { overcommit: { memory: "0.75" } } });
    const q = await readyWith("low-memory-ratio", { status: "False", reason: "InvalidSpec" });
    assert.match(readyOf(q)?.message ?? "", /spec\.compute\.overcommit\.memory/);
  });

  it("writes Events on readiness transitions, readable with kubectl describe", async () => {
    const events = await eventually("Valid and InvalidSpec events for lab", async () => {
      const evs = await o.eventsFor("lab");
      return evs.some((e) => e.reason === "Valid") && evs.some((e) => e.reason === "InvalidSpec") ? evs : undefined;
    });
    const invalid = events.find((e) => e.reason === "InvalidSpec");
    assert.equal(invalid?.type, "Warning");
    assert.equal(invalid?.reportingController, "archipel.io/provider-controller");
    assert.equal(invalid?.reportingInstance, "provider-it");
    assert.equal(invalid?.action, "Validate");
    assert.equal(events.find((e) => e.reason === "Valid")?.type, "Normal");
    // Only transitions produce events: the displayName edit (still Valid) produced none.
    assert.equal(events.filter((e) => e.reason === "Valid").length, 1);
    assert.equal(events.find((e) => e.reason === "Valid")?.series, undefined);

    const { stdout } = await run(path.join(repoRoot, "bin/kubectl"), ["--kubeconfig", cluster.kubeconfigPath, "-n", ns.name, "describe", "providers.archipel.io", "lab"]);
    assert.match(stdout, /Events:/);
    assert.match(stdout, /Warning\s+InvalidSpec/);
    assert.match(stdout, /spec\.compute\.overcommit\.cpu is 0\.5/);
  });

  it("converges when the spec changes while it reconciles (409 retried, not an error)", async () => {
    await o.createProvider("churn", computeSpec);
    await readyWith("churn", { status: "True", reason: "Valid" });
    const before = providerMetric(await manager.metrics(), "controller_runtime_reconcile_errors_total");
    // Back-to-back edits: many reconciles run on a read that is already stale when status is written.
    for (let i = 0; i < 15; i++) {
      const ratio = i % 2 === 0 ? "0.5" : "1.5";
      await o.patchProviderSpec("churn", { displayName: `edit ${i}`, compute: { capacity: { cpu: "4", memory: "8Gi" }, overcommit: { cpu: ratio } } });
    }
    // The last edit (i = 14) set ratio 0.5: invalid.
    const p = await readyWith("churn", { status: "False", reason: "InvalidSpec" });
    assert.equal(p.metadata?.generation, 16);
    const metrics = await manager.metrics();
    const after = providerMetric(metrics, "controller_runtime_reconcile_errors_total");
    assert.equal(after - before, 0, "a conflict is retried quietly, not counted as a reconcile error");
    // How many conflicts the edits caused depends on timing; the next test forces one.
    console.log(`    reconciles retried after a conflict so far: ${providerMetric(metrics, "controller_runtime_reconcile_total", 'result="requeue"')}`);
  });

  it("fails a status write computed from a stale read with 409, and the next reconcile converges", async () => {
    // Run the reconciler in this process, in a namespace the manager does not watch, with a
    // cache that still holds the object as it was before a spec edit.
    const side = await freshNamespace(cluster, "provider-stale");
    try {
      const so = objects(cluster, side.name);
      const client = KubernetesObjectApi.makeApiClient(cluster.kubeConfig());
      const created = (await so.createProvider("stale", computeSpec)) as KubernetesObject;
      const withFinalizer = (await ensureFinalizer(client, created, providerFinalizer)) as Provider;
      await so.patchProviderSpec("stale", { displayName: "edited after the read" });
      const reconcile = createProviderReconciler({
        status: new StatusWriter(cluster.kubeConfig(), providerFieldManager),
        events: new EventRecorder(cluster.kubeConfig(), { reportingController: "archipel.io/provider-controller", reportingInstance: "in-test" }),
      });
      const providers = new Store<Provider & KubernetesObject>();
      const resources = new Store<KubernetesObject>();
      const ctx = {
        logger: createLogger("test", { silent: true }),
        client,
        cache: <T>(kind: { kind: string }) => (kind.kind === "Provider" ? providers : resources) as unknown as Cache<T>,
      };
      providers.replace([withFinalizer as Provider & KubernetesObject]);
      resources.replace([]);
      await assert.rejects(reconcile({ namespace: side.name, name: "stale" }, ctx), (err) => isConflict(err));
      assert.equal((await so.getProvider("stale")).status, undefined, "nothing written from the stale read");

      providers.replace([(await so.getProvider("stale")) as Provider & KubernetesObject]);
      await reconcile({ namespace: side.name, name: "stale" }, ctx);
      const fresh = await so.getProvider("stale");
      assert.equal(fresh.status?.observedGeneration, 2);
      assert.equal(readyOf(fresh)?.reason, "Valid");
    } finally {
      await objects(cluster, side.name).stripFinalizers();
      await side.cleanup();
    }
  });

  it("does not release the finalizer on a cache that has not seen a new Resource yet", async () => {
    const side = await freshNamespace(cluster, "provider-lag");
    try {
      const so = objects(cluster, side.name);
      const client = KubernetesObjectApi.makeApiClient(cluster.kubeConfig());
      const created = (await so.createProvider("lagging", computeSpec)) as KubernetesObject;
      await ensureFinalizer(client, created, providerFinalizer);
      await so.createResource("just-created", "lagging");
      await so.deleteProvider("lagging");
      const deleting = (await so.getProvider("lagging")) as Provider & KubernetesObject;
      const reconcile = createProviderReconciler({
        status: new StatusWriter(cluster.kubeConfig(), providerFieldManager),
        events: new EventRecorder(cluster.kubeConfig(), { reportingController: "archipel.io/provider-controller", reportingInstance: "in-test" }),
      });
      const providers = new Store<Provider & KubernetesObject>();
      const emptyResources = new Store<KubernetesObject>();
      providers.replace([deleting]);
      emptyResources.replace([]);
      const ctx = {
        logger: createLogger("test", { silent: true }),
        client,
        cache: <T>(kind: { kind: string }) => (kind.kind === "Provider" ? providers : emptyResources) as unknown as Cache<T>,
      };
      await reconcile({ namespace: side.name, name: "lagging" }, ctx);
      const p = await so.getProvider("lagging");
      assert.deepEqual(p.metadata?.finalizers, [providerFinalizer]);
      assert.equal(readyOf(p)?.reason, "DeletionBlocked");
      assert.match(readyOf(p)?.message ?? "", /\(just-created\)/);
      await so.deleteResource("just-created");
      providers.replace([p as Provider & KubernetesObject]);
      await reconcile({ namespace: side.name, name: "lagging" }, ctx);
      assert.equal(await so.providerExists("lagging"), false);
    } finally {
      await objects(cluster, side.name).stripFinalizers();
      await side.cleanup();
    }
  });

  it("keeps a Provider with its finalizer while Resources reference it, and releases it when they are gone", async () => {
    await o.createProvider("busy", computeSpec);
    await o.createProvider("bystander", computeSpec);
    await readyWith("busy", { status: "True", reason: "Valid" });
    await o.createResource("r1", "busy");
    await o.createResource("r2", "busy");
    await o.createResource("elsewhere", "bystander");
    await eventually("resourceCount 2", async () => (await o.getProvider("busy")).status?.resourceCount === 2);

    await o.deleteProvider("busy");
    const blocked = await readyWith("busy", { status: "False", reason: "DeletionBlocked" });
    assert.ok(blocked.metadata?.deletionTimestamp, "deletion started");
    assert.match(readyOf(blocked)?.message ?? "", /2 Resources still reference this Provider \(r1, r2\)/);
    await eventually("DeletionBlocked event", async () => (await o.eventsFor("busy")).some((e) => e.reason === "DeletionBlocked" && e.type === "Warning"));

    await o.deleteResource("r1");
    await eventually("only r2 blocks", async () => /1 Resource still references this Provider \(r2\)/.test(readyOf(await o.getProvider("busy"))?.message ?? ""));
    assert.equal(await o.providerExists("busy"), true);

    await o.deleteResource("r2");
    await eventually("busy deleted", async () => !(await o.providerExists("busy")));
    assert.equal(await o.providerExists("bystander"), true);
  });
});
