// The Resource controller on compute Resources, and the compute figures the Provider controller
// publishes: Nodes are created with status.allocatable (no kubelet runs), labelled for this test
// so other tests' Nodes never count.
import assert from "node:assert/strict";
import { CoreV1Api } from "@kubernetes/client-node";
import { sharedCluster } from "../../support/cluster.ts";
import { eventually } from "../../support/eventually.ts";
import { type CatalogWorld, catalogWorld, readyOf } from "./resourceFixtures.ts";

describe("Resource controller: compute Resources and capacity (manager process)", function () {
  this.timeout(120_000);
  let w: CatalogWorld;
  let core: CoreV1Api;
  let pool: string;
  const nodes: string[] = [];

  const createNode = async (name: string, cpu: string, memory: string): Promise<void> => {
    await core.createNode({ body: { metadata: { name, labels: { "archipel.io/test-pool": pool } }, status: { allocatable: { cpu, memory, pods: "110" }, capacity: { cpu, memory, pods: "110" } } } });
    nodes.push(name);
  };

  before(async function () {
    this.timeout(120_000);
    const cluster = await sharedCluster();
    w = await catalogWorld(cluster, "resource-compute");
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    pool = w.ns.name;
    await createNode(`${pool}-a`, "2", "4Gi");
    await createNode(`${pool}-b`, "1500m", "2Gi");
    await w.createProvider("lab", { type: "compute", compute: { nodeSelector: { "archipel.io/test-pool": pool }, overcommit: { cpu: "2" } } });
    await w.createProvider("declared", { type: "compute", compute: { capacity: { cpu: "2", memory: "2Gi" } } });
  });

  after(async function () {
    this.timeout(90_000);
    await Promise.all(nodes.map((name) => core.deleteNode({ name }).catch(() => undefined)));
    await w?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${w.manager.logFile}`);
  });

  const computeOf = (name: string, want: (c: NonNullable<NonNullable<Awaited<ReturnType<CatalogWorld["getProvider"]>>["status"]>["compute"]>) => boolean) =>
    eventually(`Provider ${name} compute figures`, async () => {
      const c = (await w.getProvider(name)).status?.compute;
      return c && want(c) ? c : undefined;
    });

  it("publishes capacity from the matching Nodes' allocatable, times the overcommit ratio", async () => {
    const c = await computeOf("lab", (x) => x.capacity.cpu === "3500m");
    assert.deepEqual(c, { source: "Nodes", capacity: { cpu: "3500m", memory: "6Gi" }, allocatable: { cpu: "7", memory: "6Gi" }, offered: { cpu: "0", memory: "0" }, reserved: { cpu: "0", memory: "0" }, free: { cpu: "7", memory: "6Gi" } });
    const d = await computeOf("declared", (x) => x.source === "Declared");
    assert.deepEqual(d.capacity, { cpu: "2", memory: "2Gi" });
  });

  it("admits a Resource within free capacity and refuses the next one with InsufficientCapacity naming the field", async () => {
    await w.createResource("big", { providerRef: { name: "lab" }, type: "compute", compute: { cpu: "4", memory: "4Gi" } });
    await w.readyWith("big", { status: "True", reason: "Available" });
    await new Promise((r) => setTimeout(r, 1100)); // creation order is by the second
    await w.createResource("second", { providerRef: { name: "lab" }, type: "compute", compute: { cpu: "4", memory: "1Gi" } });
    const r = await w.readyWith("second", { status: "False", reason: "InsufficientCapacity" });
    assert.match(readyOf(r)?.message ?? "", /spec\.compute\.cpu 4 exceeds the provider's free CPU 3 \(allocatable 7 CPU, 6Gi memory from 2 node\(s\)/);
    await computeOf("lab", (x) => x.offered?.cpu === "4" && x.free?.cpu === "3" && x.free.memory === "2Gi");
  });

  it("admits the waiting Resource when a Node adds capacity, and when an admitted one is deleted", async () => {
    await createNode(`${pool}-c`, "500m", "1Gi");
    await w.readyWith("second", { status: "True", reason: "Available" });
    await computeOf("lab", (x) => x.allocatable?.cpu === "8" && x.free?.cpu === "0");
    await w.createResource("third", { providerRef: { name: "lab" }, type: "compute", compute: { cpu: "2", memory: "1Gi" } });
    await w.readyWith("third", { status: "False", reason: "InsufficientCapacity" });
    await w.deleteResource("big");
    await w.readyWith("third", { status: "True", reason: "Available" });
    // Events: the refusal and the recovery from it; nothing for a Resource Ready at once.
    const reasons = async (name: string): Promise<string[]> => (await w.eventsFor(name)).map((e) => `${e.type}/${e.reason}`).sort();
    await eventually("third's recovery Event", async () => (await reasons("third")).includes("Normal/Available"));
    assert.deepEqual(await reasons("third"), ["Normal/Available", "Warning/InsufficientCapacity"]);
    assert.deepEqual(await reasons("second"), ["Normal/Available", "Warning/InsufficientCapacity"]);
    await w.createResource("small", { providerRef: { name: "lab" }, type: "compute", compute: { cpu: "100m", memory: "64Mi" } });
    await w.readyWith("small", { status: "True", reason: "Available" });
    await new Promise((r) => setTimeout(r, 1000)); // an Event would be written right after the status
    assert.deepEqual(await reasons("small"), []);
  });

  it("uses the declared capacity when the provider declares one", async () => {
    await w.createResource("too-much", { providerRef: { name: "declared" }, type: "compute", compute: { cpu: "1", memory: "3Gi" } });
    const r = await w.readyWith("too-much", { status: "False", reason: "InsufficientCapacity" });
    assert.match(readyOf(r)?.message ?? "", /spec\.compute\.memory 3Gi exceeds the provider's free memory 2Gi .*from declared capacity/);
    await w.patchResourceSpec("too-much", { compute: { cpu: "1", memory: "2Gi" } });
    await w.readyWith("too-much", { status: "True", reason: "Available" });
  });

  it("ProviderNotReady on an invalid compute Provider", async () => {
    await w.createProvider("half", { type: "compute", compute: { capacity: { cpu: "2", memory: "2Gi" }, overcommit: { cpu: "0.5" } } });
    await w.createResource("on-half", { providerRef: { name: "half" }, type: "compute", compute: { cpu: "1", memory: "1Gi" } });
    // First "not validated yet" (the Provider controller has not written Ready), then its reason.
    const r = await w.readyWith("on-half", { status: "False", reason: "ProviderNotReady", message: /InvalidSpec/ });
    assert.match(readyOf(r)?.message ?? "", /Provider "half" is not Ready \(InvalidSpec: spec\.compute\.overcommit\.cpu is 0\.5/);
  });

  it("is idempotent: Provider and Node events re-run the Resources, which write nothing", async () => {
    const names = ["second", "third", "too-much", "on-half"];
    const before = await Promise.all(names.map((n) => w.getResource(n)));
    const provider = await w.getProvider("lab");
    const reconciles = await w.resourceReconciles();
    await w.patchProviderSpec("lab", { displayName: "Lab" });
    await w.patchProviderSpec("declared", { displayName: "Declared" });
    await eventually("reconciled again", async () => (await w.resourceReconciles()) >= reconciles + 3);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await Promise.all(names.map((n) => w.getResource(n)));
    assert.deepEqual(after.map((r) => r.status), before.map((r) => r.status));
    assert.deepEqual(after.map((r) => r.metadata?.resourceVersion), before.map((r) => r.metadata?.resourceVersion));
    const providerAfter = await w.getProvider("lab");
    assert.deepEqual(providerAfter.status?.compute, provider.status?.compute, "the compute figures did not change either");
  });
});
