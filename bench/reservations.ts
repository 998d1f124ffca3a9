// Reservation admission latency on a real local control plane: starts a cluster, runs the
// Reservation controller (one manager process, admin credentials, no leader election), creates
// N Reservations at once on one compute Provider (capacity N/10 cpu, 1 cpu each, one window),
// and prints p50/p99/max of the time from each create's answer to the watch event that first
// shows it decided (Tentative or Rejected), and the admitted count. A figure, not a test.
//   node bench/reservations.ts [N=100] [rounds=3]
import { CustomObjectsApi, Watch } from "@kubernetes/client-node";
import type { Reservation } from "../operators/schema/reservation.ts";
import { freshNamespace, startCluster } from "../test/support/cluster.ts";
import { freePort, startComponent, waitForHttp } from "../test/support/processes.ts";
import { logDir } from "../test/integration/provider/fixtures.ts";

const group = "archipel.io";
const version = "v1alpha1";
const n = Number(process.argv[2] ?? 100);
const rounds = Number(process.argv[3] ?? 3);

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
const iso = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

async function round(api: CustomObjectsApi, watch: Watch, namespace: string, index: number): Promise<{ latencies: number[]; admitted: number }> {
  const provider = `bench-${index}`;
  await api.createNamespacedCustomObject({ group, version, namespace, plural: "providers", body: { apiVersion: `${group}/${version}`, kind: "Provider", metadata: { name: provider }, spec: { type: "compute", compute: { capacity: { cpu: String(Math.max(1, n / 10)), memory: "1Ti" } } } } });
  const created = new Map<string, number>();
  const decided = new Map<string, { at: number; state: string }>();
  let finish: () => void = () => {};
  const allDecided = new Promise<void>((resolve) => (finish = resolve));
  const stop = await watch.watch(`/apis/${group}/${version}/namespaces/${namespace}/reservations`, {}, (_type: string, r: Reservation) => {
    const state = r.status?.state;
    const name = r.metadata.name ?? "";
    if (r.spec.providerRef.name !== provider || decided.has(name) || (state !== "Tentative" && state !== "Rejected")) return;
    decided.set(name, { at: performance.now(), state });
    if (decided.size === n) finish();
  }, () => {});
  const start = Date.now() + 3_600_000;
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const name = `${provider}-${i}`;
      await api.createNamespacedCustomObject({ group, version, namespace, plural: "reservations", body: { apiVersion: `${group}/${version}`, kind: "Reservation", metadata: { name }, spec: { providerRef: { name: provider }, cpu: "1", memory: "1Gi", start: iso(start), end: iso(start + 3_600_000), holdSeconds: 3600 } } });
      created.set(name, performance.now());
    }),
  );
  await Promise.race([allDecided, new Promise((_, reject) => setTimeout(() => reject(new Error(`round ${index}: only ${decided.size} of ${n} decided after 5 min`)), 300_000))]);
  stop.abort();
  // A decision seen before the create's answer arrived counts as 0 ms.
  const latencies = [...decided.entries()].map(([name, d]) => Math.max(0, d.at - (created.get(name) ?? d.at))).sort((a, b) => a - b);
  return { latencies, admitted: [...decided.values()].filter((d) => d.state === "Tentative").length };
}

async function main(): Promise<void> {
  const cluster = await startCluster(`bench-resv-${process.pid}`);
  try {
    const ns = await freshNamespace(cluster, "bench");
    const healthPort = await freePort();
    const manager = await startComponent("bench-reservations", "operators/manager/main.ts", ["--controllers=reservation", `--namespace=${ns.name}`, "--leader-elect=false", "--metrics-port=0", `--health-port=${healthPort}`], {
      env: { KUBECONFIG: cluster.kubeconfigPath, LOG_LEVEL: "warn" },
      logDir,
    });
    try {
      await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, 60_000);
      const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
      const watch = new Watch(cluster.kubeConfig());
      for (let i = 0; i < rounds; i++) {
        const { latencies, admitted } = await round(api, watch, ns.name, i);
        const f = (ms: number): string => `${ms.toFixed(0)} ms`;
        process.stdout.write(`round ${i + 1}: ${n} concurrent Reservations, ${admitted} admitted (capacity ${Math.max(1, n / 10)}): decision latency p50 ${f(percentile(latencies, 50))}, p99 ${f(percentile(latencies, 99))}, max ${f(latencies.at(-1) ?? NaN)}\n`);
      }
    } finally {
      await manager.stop();
    }
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/reservations: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
