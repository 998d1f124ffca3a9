// Benchmark (not a test): the reconcile cost against the API server's floor, side by side.
// One local control plane; the real manager (provider and resource controllers) watches only
// namespace bench-project. At the same moment, 32 requests in flight each:
//   - project: N compute Resources are created in bench-project; the time ends when the manager
//     has reconciled every one to Ready (observedGeneration = generation), seen through a watch;
//   - floor: a bare client creates N identical Resources in bench-floor (nobody watches it) and
//     patches each one's status with the Ready condition a reconcile writes.
// Both run under the same load (each other's and the machine's), so the ratio is what the
// manager costs above what writing those objects and their status costs the API server.
// Target: ≤ 1.2×.
//   node bench/reconcile-floor.ts [N, default 2000]
import path from "node:path";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch } from "@kubernetes/client-node";
import type { Resource } from "../operators/schema/resource.ts";
import { repoRoot, startCluster, type TestCluster } from "../test/support/cluster.ts";
import { type ComponentProcess, freePort, startComponent, waitForHttp } from "../test/support/processes.ts";
import { peakRssMiB, rssMiB } from "./procMemory.ts";
import { report } from "./results.ts";

const group = { group: "archipel.io", version: "v1alpha1" };
const IN_FLIGHT = 32;
const TIMEOUT_MS = 20 * 60_000;
const logDir = path.join(repoRoot, ".bench", `reconcile-floor-${process.pid}`);

function log(line: string): void {
  process.stderr.write(`bench/reconcile-floor: ${line}\n`);
}

const spec = (i: number): Record<string, unknown> => ({ title: `compute ${i}`, providerRef: { name: "cpu" }, type: "compute", visibility: "public", tags: [`t${i % 20}`], compute: { cpu: "100m", memory: "64Mi" } });
const body = (i: number): Record<string, unknown> => ({ apiVersion: "archipel.io/v1alpha1", kind: "Resource", metadata: { name: `r-${i}` }, spec: spec(i) });

async function inFlight(n: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) await work(i);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

async function prepare(cluster: TestCluster): Promise<void> {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const objects = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  for (const namespace of ["bench-project", "bench-floor"]) {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await objects.createNamespacedCustomObject({ ...group, namespace, plural: "providers", body: { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name: "cpu" }, spec: { type: "compute", compute: { capacity: { cpu: "100000", memory: "100000Gi" } } } } });
  }
}

const ready = (r: Resource): boolean => r.status?.observedGeneration === r.metadata.generation && (r.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/**
 * Resolves when n Resources of bench-project are Ready (watch from before the first create). A
 * watch the API server ends (it closes long watches; a run once hung 20 min on one) is resumed:
 * list what is Ready now, then watch again from that list's resourceVersion.
 */
async function allReady(cluster: TestCluster, n: number): Promise<{ done: Promise<number>; stop: () => void }> {
  const seen = new Set<string>();
  let resolve: (t: number) => void = () => {};
  const done = new Promise<number>((r) => (resolve = r));
  let stopped = false;
  let controller: AbortController | undefined;
  const saw = (r: Resource): void => {
    if (ready(r)) seen.add(r.metadata.name ?? "");
    if (seen.size >= n) resolve(performance.now());
  };
  const watchFrom = async (resourceVersion?: string): Promise<void> => {
    controller = await new Watch(cluster.kubeConfig()).watch(`/apis/archipel.io/v1alpha1/namespaces/bench-project/resources`, resourceVersion ? { resourceVersion } : {}, (_type, r: Resource) => saw(r), (err) => {
      if (stopped || seen.size >= n) return;
      log(`watch ended (${String(err ?? "closed")}) at ${seen.size}/${n}: listing and watching again`);
      void resume();
    });
  };
  const resume = async (): Promise<void> => {
    const list = (await cluster.kubeConfig().makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ ...group, namespace: "bench-project", plural: "resources" })) as { items: Resource[]; metadata?: { resourceVersion?: string } };
    for (const r of list.items) saw(r);
    if (seen.size < n) await watchFrom(list.metadata?.resourceVersion);
  };
  await watchFrom();
  return {
    done,
    stop: () => {
      stopped = true;
      controller?.abort();
    },
  };
}

async function startManager(cluster: TestCluster): Promise<{ manager: ComponentProcess }> {
  const health = await freePort();
  const manager = await startComponent("manager", "operators/manager/main.ts", ["--controllers=provider,resource", "--leader-elect=false", "--namespace=bench-project", `--health-port=${health}`, "--metrics-port=0"], { env: { KUBECONFIG: cluster.kubeconfigPath, LOG_LEVEL: "warn" }, logDir });
  await waitForHttp(`http://127.0.0.1:${health}/readyz`, 60_000);
  return { manager };
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 2_000);
  if (!Number.isInteger(n) || n < 1) throw new Error(`N must be a positive whole number, got ${process.argv[2]}`);
  log(`starting a control plane and the manager (logs in ${logDir})`);
  const cluster = await startCluster(`bench-rf-${process.pid}`);
  let manager: ComponentProcess | undefined;
  try {
    await prepare(cluster);
    ({ manager } = await startManager(cluster));
    await new Promise((r) => setTimeout(r, 3_000));
    const objects = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    const watch = await allReady(cluster, n);
    const asMerge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
    log(`${n} Resources each side, ${IN_FLIGHT} requests in flight each, at the same time`);
    const t0 = performance.now();
    const project = inFlight(n, async (i) => {
      await objects.createNamespacedCustomObject({ ...group, namespace: "bench-project", plural: "resources", body: body(i) });
    }).then(async () => watch.done);
    const floor = inFlight(n, async (i) => {
      const created = (await objects.createNamespacedCustomObject({ ...group, namespace: "bench-floor", plural: "resources", body: body(i) })) as Resource;
      const conditions = [{ type: "Ready", status: "True", reason: "Available", message: "capacity reserved", lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"), observedGeneration: created.metadata.generation }];
      await objects.patchNamespacedCustomObjectStatus({ ...group, namespace: "bench-floor", plural: "resources", name: `r-${i}`, body: { status: { observedGeneration: created.metadata.generation, conditions } } }, asMerge);
    }).then(() => performance.now());
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not every Resource was Ready after ${TIMEOUT_MS / 60_000} min`)), TIMEOUT_MS).unref());
    const [projectEnd, floorEnd] = await Promise.race([Promise.all([project, floor]), timeout]);
    watch.stop();
    const projectS = (projectEnd - t0) / 1000;
    const floorS = (floorEnd - t0) / 1000;
    const rss = { now: rssMiB(manager.child.pid), peak: peakRssMiB(manager.child.pid) };
    console.log(`reconcile vs floor, ${n} Resources each, side by side: manager to all Ready ${projectS.toFixed(1)} s | bare client create + status patch ${floorS.toFixed(1)} s → ${(projectS / floorS).toFixed(2)}×`);
    console.log(`  manager RSS ${rss.now.toFixed(0)} MiB (peak ${rss.peak.toFixed(0)} MiB)`);
    report({ name: `${n} Resources created and reconciled to Ready (vs bare client create + status patch)`, value: Number(projectS.toFixed(1)), unit: "s", floor: Number(floorS.toFixed(1)), note: "ratio target ≤ 1.2×" });
    report({ name: `reconcile / API server floor, ${n} Resources`, value: Number((projectS / floorS).toFixed(2)), unit: "×", atMost: 1.2, targetText: "≤ 1.2× the floor" });
  } finally {
    await manager?.stop().catch(() => undefined);
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(`bench/reconcile-floor failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
