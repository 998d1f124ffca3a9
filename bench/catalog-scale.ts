// Benchmark (not a test): the catalog at scale on real processes. One local control plane, the
// real manager (provider, resource and access-grant controllers) and the real API, then N
// Resources (default 10,000: data files behind a loopback HTTP server, compute, CWL services;
// public, private and project-restricted). Prints creation and reconcile times, the manager's and
// the API's memory before and after, and local search p50/p99 through the API over HTTP.
//   node bench/catalog-scale.ts [N]        (`make bench-catalog`)
import { createServer, type Server } from "node:http";
import path from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { deployedApi, deployedManager, emittedAsInTheImage } from "../images/deployedProcess.ts";
import type { Resource } from "../operators/schema/resource.ts";
import { repoRoot, startCluster, type TestCluster } from "../test/support/cluster.ts";
import { type ComponentProcess, freePort, startComponent, waitForHttp } from "../test/support/processes.ts";
import { peakRssMiB, rssMiB } from "./procMemory.ts";
import { report } from "./results.ts";

const group = { group: "archipel.io", version: "v1alpha1" };
const namespaces = ["bench-a", "bench-b", "bench-c", "bench-d"];
const IN_FLIGHT = 32;
const SETTLE_MS = 10_000;
/** Searches per query shape: a p99 of 200 would be the second-slowest request. */
const SEARCHES = 2_000;
const RECONCILE_TIMEOUT_MS = 30 * 60_000;
const logDir = path.join(repoRoot, ".bench", `catalog-scale-${process.pid}`);

const tool = {
  cwlVersion: "v1.2",
  class: "CommandLineTool",
  baseCommand: ["ndvi"],
  inputs: { red: { type: "File", inputBinding: { position: 1 } }, nir: { type: "File", inputBinding: { position: 2 } } },
  outputs: { index: { type: "File", outputBinding: { glob: "ndvi.tif" } } },
};

function log(line: string): void {
  process.stderr.write(`bench/catalog-scale: ${line}\n`);
}

/** A loopback file server: every path is a 1 KiB file (HEAD and GET). */
async function fileServer(): Promise<{ server: Server; url: string }> {
  const body = Buffer.alloc(1024, 7);
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${port}` };
}

/** The i-th Resource: 70% data files, 20% compute, 10% services; 50% public, 30% private, 20% restricted. */
function resourceSpec(i: number, files: string): Record<string, unknown> {
  // BENCH_ONLY=data|compute|service makes every Resource of one type (to see what costs memory).
  const only = { data: 0, compute: 7, service: 9 }[process.env.BENCH_ONLY ?? ""];
  const kind = only ?? i % 10;
  const visibility = i % 10 < 5 ? "public" : i % 10 < 8 ? "private" : "restricted";
  const common = { title: `dataset ${i}`, description: `benchmark item ${i}`, tags: [`t${i % 20}`, i % 2 === 0 ? "even" : "odd"], visibility, ...(visibility === "restricted" ? { projects: ["bench-ocean"] } : {}) };
  if (kind < 7) return { ...common, providerRef: { name: "files" }, type: "data", data: { url: { url: `${files}/d/${i}.tif` } } };
  if (kind < 9) return { ...common, providerRef: { name: "cpu" }, type: "compute", compute: { cpu: "100m", memory: "64Mi" } };
  return { ...common, providerRef: { name: "tools" }, type: "service", service: { cwl: { document: tool } } };
}

async function prepare(cluster: TestCluster, files: string): Promise<void> {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const objects = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  await objects.createClusterCustomObject({ ...group, plural: "projects", body: { apiVersion: "archipel.io/v1alpha1", kind: "Project", metadata: { name: "bench-ocean" }, spec: { displayName: "Ocean", members: { users: ["alice"] } } } });
  for (const namespace of namespaces) {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const provider = (name: string, spec: Record<string, unknown>): Promise<unknown> =>
      objects.createNamespacedCustomObject({ ...group, namespace, plural: "providers", body: { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name }, spec } });
    await provider("files", { type: "data", data: { source: "url", url: { baseURL: `${files}/` } } });
    await provider("cpu", { type: "compute", compute: { capacity: { cpu: "1000", memory: "1000Gi" } } });
    await provider("tools", { type: "service", service: { defaultImage: "registry.example/tools:1.0" } });
  }
}

/** Creates n Resources, IN_FLIGHT at a time, with progress every 1,000. */
async function createResources(cluster: TestCluster, n: number, files: string): Promise<void> {
  const objects = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const namespace = namespaces[i % namespaces.length] ?? "bench-a";
      await objects.createNamespacedCustomObject({ ...group, namespace, plural: "resources", body: { apiVersion: "archipel.io/v1alpha1", kind: "Resource", metadata: { name: `r-${i}` }, spec: resourceSpec(i, files) } });
      if (++done % 1_000 === 0) log(`created ${done}/${n}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

/** How many Resources the manager has reconciled at their current generation (paginated LIST). */
async function reconciledCount(cluster: TestCluster): Promise<number> {
  const objects = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  let count = 0;
  let token: string | undefined;
  do {
    const page = (await objects.listClusterCustomObject({ ...group, plural: "resources", limit: 1_000, ...(token ? { _continue: token } : {}) })) as { items: Resource[]; metadata?: { continue?: string } };
    count += page.items.filter((r) => r.status?.observedGeneration === r.metadata.generation).length;
    token = page.metadata?.continue || undefined;
  } while (token);
  return count;
}

async function waitReconciled(cluster: TestCluster, n: number): Promise<void> {
  const deadline = Date.now() + RECONCILE_TIMEOUT_MS;
  let last = -1;
  for (;;) {
    const count = await reconciledCount(cluster);
    if (count !== last) log(`reconciled ${count}/${n}`);
    last = count;
    if (count >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${count}/${n} Resources reconciled after ${RECONCILE_TIMEOUT_MS / 60_000} min`);
    await new Promise((r) => setTimeout(r, 5_000));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * p50/p99 of `iterations` sequential searches through the API as alice, after a first one that
 * fills the caller's caches (token review, JIT), reported apart: with 200 samples the p99 was that
 * one request.
 */
async function searchLatency(api: string, token: string, query: string, iterations: number): Promise<{ p50: number; p99: number; first: number; items: number }> {
  const times: number[] = [];
  let items = 0;
  for (let i = 0; i <= iterations; i++) {
    const started = performance.now();
    const res = await fetch(`${api}/api/v1/catalog?${query}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { items?: unknown[] };
    times.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`GET /api/v1/catalog?${query} answered ${res.status}: ${JSON.stringify(body)}`);
    items = body.items?.length ?? 0;
  }
  const [first = Number.NaN, ...rest] = times;
  rest.sort((a, b) => a - b);
  return { p50: percentile(rest, 50), p99: percentile(rest, 99), first, items };
}

/** The manager's V8 heap (used/total) and external memory in MiB, from its /metrics. */
async function heapOf(metricsUrl: string): Promise<string> {
  const text = await (await fetch(metricsUrl)).text();
  const value = (name: string): string => (Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? Number.NaN) / 1048576).toFixed(0);
  return `heap used ${value("nodejs_heap_size_used_bytes")} / total ${value("nodejs_heap_size_total_bytes")} MiB, external ${value("nodejs_external_memory_bytes")} MiB`;
}

const deployedManagerProcess = deployedManager();
const deployedApiProcess = deployedApi();

/** The manager's V8 flags: the Deployment's, unless BENCH_MANAGER_NODE_OPTIONS says otherwise ("" for none). */
const managerNodeOptions = process.env.BENCH_MANAGER_NODE_OPTIONS ?? deployedManagerProcess.nodeOptions;

async function startProcesses(cluster: TestCluster): Promise<{ manager: ComponentProcess; api: ComponentProcess; apiUrl: string; metricsUrl: string }> {
  const [health, metrics, apiPort] = [await freePort(), await freePort(), await freePort()];
  const env = { KUBECONFIG: cluster.kubeconfigPath, LOG_LEVEL: "warn" };
  // The manager runs with the Deployment's heap flags: its old-space cap is what bounds its RSS
  // (without one V8 keeps garbage while it has room), and what the benchmark is to prove sufficient.
  const managerEnv = { ...env, ...deployedManagerProcess.tuning, NODE_OPTIONS: managerNodeOptions };
  // The JavaScript the image holds (here in the log directory), not the .ts through Node's type
  // stripping (~18 MiB alone), with the image's reduced Kubernetes client.
  const emitted = await emittedAsInTheImage(path.join(logDir, "js"));
  const inImage = (script: string): string => path.relative(repoRoot, emitted(script));
  const manager = await startComponent("manager", inImage(deployedManagerProcess.script), ["--controllers=provider,resource,access-grant", "--leader-elect=false", `--health-port=${health}`, `--metrics-port=${metrics}`], { env: managerEnv, logDir });
  const api = await startComponent("api", inImage(deployedApiProcess.script), ["--kubeconfig", cluster.kubeconfigPath, "--port", String(apiPort)], { env: { ...env, ...deployedApiProcess.tuning }, logDir });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitForHttp(`http://127.0.0.1:${health}/readyz`, 60_000);
  await waitForHttp(`${apiUrl}/readyz`, 60_000);
  return { manager, api, apiUrl, metricsUrl: `http://127.0.0.1:${metrics}/metrics` };
}

const mib = (x: number): string => x.toFixed(0).padStart(6);

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 10_000);
  if (!Number.isInteger(n) || n < 1) throw new Error(`N must be a positive whole number, got ${process.argv[2]}`);
  log(`starting a control plane, the manager and the API (logs in ${logDir})`);
  const cluster = await startCluster(`bench-cat-${process.pid}`);
  const files = await fileServer();
  let procs: Awaited<ReturnType<typeof startProcesses>> | undefined;
  const stop = async (): Promise<void> => {
    await procs?.manager.stop().catch(() => undefined);
    await procs?.api.stop().catch(() => undefined);
    files.server.close();
    await cluster.stop();
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  try {
    procs = await startProcesses(cluster);
    await prepare(cluster, files.url);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const before = { manager: rssMiB(procs.manager.child.pid), api: rssMiB(procs.api.child.pid) };
    const heapBefore = await heapOf(procs.metricsUrl);
    log(`creating ${n} Resources over ${namespaces.length} namespaces, ${IN_FLIGHT} in flight`);
    const t0 = Date.now();
    await createResources(cluster, n, files.url);
    const createdS = (Date.now() - t0) / 1000;
    await waitReconciled(cluster, n);
    const reconciledS = (Date.now() - t0) / 1000;
    log(`settling ${SETTLE_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const after = { manager: rssMiB(procs.manager.child.pid), api: rssMiB(procs.api.child.pid) };
    const peak = { manager: peakRssMiB(procs.manager.child.pid), api: peakRssMiB(procs.api.child.pid) };
    const heapAfter = await heapOf(procs.metricsUrl);
    const alice = cluster.userTokens.alice;
    const queries = { "all (limit 50)": "limit=50", "text 'dataset 12'": "q=dataset%2012&limit=50", "type+tag": "type=compute&tag=t8&limit=50" };
    const latency: string[] = [];
    for (const [label, query] of Object.entries(queries)) {
      const l = await searchLatency(procs.apiUrl, alice, query, SEARCHES);
      latency.push(`  local search through the API, ${label.padEnd(18)} p50 ${l.p50.toFixed(2)} ms  p99 ${l.p99.toFixed(2)} ms  (${l.items} items; the first request ${l.first.toFixed(1)} ms)`);
      report({ name: `local search p99 through the API process, ${label}, ${n} Resources`, value: Number(l.p99.toFixed(2)), unit: "ms", atMost: 10, note: `p50 ${l.p50.toFixed(2)} ms over ${SEARCHES}; the first request (cold caches) ${l.first.toFixed(1)} ms` });
    }
    const flags = managerNodeOptions ? ` (NODE_OPTIONS ${managerNodeOptions})` : " (no V8 flags)";
    report({ name: `manager RSS with ${n} Resources, settled${flags}`, value: Number(after.manager.toFixed(0)), unit: "MiB", atMost: 256, note: `peak ${peak.manager.toFixed(0)} MiB; before the Resources ${before.manager.toFixed(0)} MiB` });
    report({ name: `manager RSS idle (providers only, no Resource)${flags}`, value: Number(before.manager.toFixed(0)), unit: "MiB", atMost: 120 });
    report({ name: `API RSS with ${n} Resources, settled`, value: Number(after.api.toFixed(0)), unit: "MiB", note: `peak ${peak.api.toFixed(0)} MiB` });
    report({ name: `${n} Resources created and all reconciled`, value: Number(reconciledS.toFixed(1)), unit: "s", note: `created in ${createdS.toFixed(1)} s` });
    const mix = process.env.BENCH_ONLY ? `all ${process.env.BENCH_ONLY}` : "70% data files, 20% compute, 10% CWL services";
    const cap = managerNodeOptions ? `, manager NODE_OPTIONS ${managerNodeOptions}` : ", manager without V8 flags";
    console.log(`catalog at scale: ${n} Resources (${mix}; 50% public, 30% private, 20% restricted${cap})`);
    console.log(`  created in ${createdS.toFixed(1)} s (${(n / createdS).toFixed(0)}/s), all reconciled ${reconciledS.toFixed(1)} s after the first create`);
    console.log("  memory (MiB)        before   after  peak   per 1,000 Resources");
    for (const who of ["manager", "api"] as const) {
      console.log(`  ${who.padEnd(18)} ${mib(before[who])} ${mib(after[who])} ${mib(peak[who])}   ${(((after[who] - before[who]) / n) * 1000).toFixed(1)}`);
    }
    console.log(`  manager V8: before ${heapBefore}; after ${heapAfter}`);
    for (const line of latency) console.log(line);
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(`bench/catalog-scale failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
