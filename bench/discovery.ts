// Benchmark (not a test): how long a local federation of N clusters takes until every member
// sees every other as a Connected Peer, and how much memory each member's manager uses.
//   node bench/discovery.ts [N ...]        (default 3 6 10; `make bench-discovery`)
// Each size starts a fresh federation through hack/federation (test/support/federation.ts),
// measures, and stops it. Convergence is timed from the creation of the last Network (before
// it no member can look for peers). RSS is read from /proc once converged and again after a
// settling period, for the manager (all controllers) and the API server of every member.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { CustomObjectsApi } from "@kubernetes/client-node";
import type { Peer } from "../operators/schema/peer.ts";
import { repoRoot } from "../test/support/cluster.ts";
import { type Federation, type FederationMember, startFederation } from "../test/support/federation.ts";
import { discoveryPhases, type MemberPhases } from "./discoveryPhases.ts";
import { cpuSeconds, machineBusySeconds } from "./procCpu.ts";
import { rssMiB } from "./procMemory.ts";
import { type Counts, grown, sampleCounts } from "./requestCounts.ts";
import { report as record } from "./results.ts";

const SETTLE_MS = 15_000;
const cpus = availableParallelism();
const CONVERGENCE_TIMEOUT_MS = 300_000;
/** Also count the API requests and reconciles of the formation (they cost the control planes a little to read). */
const COUNT_REQUESTS = process.env.BENCH_DISCOVERY_REQUESTS === "1";

interface SizeResult {
  n: number;
  upSeconds: number;
  /** Time until every member saw every other Connected, from the last Network's creation. */
  convergeSeconds: number | undefined;
  /** Per member: when it saw all the others Connected. */
  memberSeconds: number[];
  managerRssMiB: number[];
  managerRssSettledMiB: number[];
  apiRssMiB: number[];
  /** Per Peer of every member: seconds from its creation (discovery) to its Reachable condition turning True. */
  createdToConnected: number[];
  /** Per member, from the managers' logs: node up, publication, discovery by the others. */
  phases: MemberPhases[];
  /** CPU seconds used from the last Network's creation to convergence: per kind of process, summed over members, and the machine's. */
  cpu: { manager: number; api: number; kubo: number; machine: number };
  /** The same, per second of the settling period after convergence: what the federation costs when nothing happens. */
  idleCpu: { manager: number; api: number; kubo: number; machine: number };
  /** With BENCH_DISCOVERY_REQUESTS=1: the largest counts of API requests (verb resource) and reconciles (controller), summed over members. */
  work?: { requests: [string, number][]; reconciles: [string, number][] };
}

function cpuUsed(from: CpuSample, to: CpuSample, perSeconds: number): CpuSample {
  return { manager: (to.manager - from.manager) / perSeconds, api: (to.api - from.api) / perSeconds, kubo: (to.kubo - from.kubo) / perSeconds, machine: (to.machine - from.machine) / perSeconds };
}

async function countsOf(fed: Federation): Promise<{ requests: Counts; reconciles: Counts } | undefined> {
  if (!COUNT_REQUESTS) return undefined;
  return sampleCounts(fed.members.map((m) => ({ server: m.cluster.server, caFile: m.cluster.caFile, token: m.cluster.adminToken, ...(m.ports.metrics ? { managerMetricsPort: m.ports.metrics } : {}) })));
}

type CpuSample = SizeResult["cpu"];

function cpuSample(fed: Federation): CpuSample {
  const sum = (pick: (m: FederationMember) => number | undefined): number => fed.members.reduce((s, m) => s + (cpuSeconds(pick(m)) || 0), 0);
  return { manager: sum((m) => m.pids.manager), api: sum((m) => m.pids.api), kubo: sum((m) => m.pids.kubo), machine: machineBusySeconds() };
}

/** Seconds from each Peer's creation to Reachable=True (both to the second, as the API server and conditions keep them). */
async function peerLatencies(fed: Federation): Promise<number[]> {
  const per = await Promise.all(
    fed.members.map(async (m) => {
      const api = m.cluster.kubeConfig().makeApiClient(CustomObjectsApi);
      const peers = ((await api.listClusterCustomObject({ group: "archipel.io", version: "v1alpha1", plural: "peers" })) as { items: Peer[] }).items;
      return peers.flatMap((p) => {
        const reachable = p.status?.conditions?.find((c) => c.type === "Reachable" && c.status === "True")?.lastTransitionTime;
        const created = p.metadata.creationTimestamp;
        return reachable && created ? [(Date.parse(reachable) - Date.parse(String(created))) / 1000] : [];
      });
    }),
  );
  return per.flat();
}

async function connectedOthers(m: FederationMember, fed: Federation): Promise<number> {
  const api = m.cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  const peers = ((await api.listClusterCustomObject({ group: "archipel.io", version: "v1alpha1", plural: "peers" })) as { items: Peer[] }).items;
  const others = new Set(fed.members.filter((o) => o.name !== m.name).map((o) => o.kuboPeerId));
  return peers.filter((p) => p.spec?.networkRef?.name === fed.state.network && others.has(p.spec.peerId) && p.status?.reachability === "Connected").length;
}

/**
 * Polls every member until each sees all others Connected; returns per-member times (s). Members
 * are polled at once, each on its own 200 ms cycle: polled one after another, ten LISTs on a
 * loaded machine made a round of 2–3 s, which the figure then included.
 */
async function convergence(fed: Federation, since: number): Promise<number[] | undefined> {
  const deadline = Date.now() + CONVERGENCE_TIMEOUT_MS;
  const untilConverged = async (m: FederationMember): Promise<number | undefined> => {
    while (Date.now() < deadline) {
      const seen = await connectedOthers(m, fed).catch(() => 0);
      // When the answer came (not when it was asked): never earlier than the state it shows.
      if (seen === fed.members.length - 1) return (Date.now() - since) / 1000;
      await new Promise((r) => setTimeout(r, 200));
    }
    return undefined;
  };
  const times = await Promise.all(fed.members.map(untilConverged));
  return times.every((t) => t !== undefined) ? (times as number[]) : undefined;
}

/** Copies each member's manager log to .bench/ (`down` removes the members' directories). */
function keepManagerLogs(fed: Federation, n: number): void {
  const dir = path.join(repoRoot, ".bench", `discovery-${process.pid}`, `n${n}`);
  mkdirSync(dir, { recursive: true });
  for (const m of fed.members) if (m.logs.manager && existsSync(m.logs.manager)) copyFileSync(m.logs.manager, path.join(dir, `${m.name}-manager.log`));
  process.stderr.write(`bench/discovery: N=${n}: manager logs kept in ${path.relative(repoRoot, dir)}\n`);
}

function phasesOf(fed: Federation, since: number): MemberPhases[] {
  const logs = fed.members.map((m) => ({ peerId: m.kuboPeerId, text: m.logs.manager && existsSync(m.logs.manager) ? readFileSync(m.logs.manager, "utf8") : "" }));
  return discoveryPhases(logs, fed.state.network, since);
}

async function measureSize(n: number): Promise<SizeResult> {
  process.stderr.write(`bench/discovery: N=${n}: starting the federation\n`);
  const started = Date.now();
  // Members run as their Deployments do (the image's JavaScript, its V8 and malloc settings): the RSS figures are the deployed ones.
  const fed = await startFederation({ clusters: n, namePrefix: `bench${n}`, asDeployed: true });
  try {
    const upSeconds = (Date.now() - started) / 1000;
    const since = Date.parse(fed.state.networksCreatedAt ?? fed.state.startedAt);
    const before = cpuSample(fed);
    const countsBefore = await countsOf(fed);
    const memberSeconds = (await convergence(fed, since)) ?? [];
    const after = cpuSample(fed);
    const countsAfter = await countsOf(fed);
    const managerRssMiB = fed.members.map((m) => rssMiB(m.pids.manager));
    const createdToConnected = await peerLatencies(fed).catch(() => []);
    const phases = phasesOf(fed, since);
    const settling = cpuSample(fed);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const settled = cpuSample(fed);
    return {
      n,
      upSeconds,
      convergeSeconds: memberSeconds.length === n ? Math.max(...memberSeconds) : undefined,
      memberSeconds,
      managerRssMiB,
      managerRssSettledMiB: fed.members.map((m) => rssMiB(m.pids.manager)),
      apiRssMiB: fed.members.map((m) => rssMiB(m.pids.api)),
      createdToConnected,
      phases,
      cpu: cpuUsed(before, after, 1),
      idleCpu: cpuUsed(settling, settled, SETTLE_MS / 1000),
      ...(countsBefore && countsAfter ? { work: { requests: grown(countsBefore.requests, countsAfter.requests, 20), reconciles: grown(countsBefore.reconciles, countsAfter.reconciles, 20) } } : {}),
    };
  } finally {
    keepManagerLogs(fed, n);
    process.stderr.write(`bench/discovery: N=${n}: stopping the federation\n`);
    await fed.stop();
  }
}

function stats(values: number[]): string {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return "n/a";
  const median = v[Math.floor(v.length / 2)] ?? Number.NaN;
  return `${v[0]?.toFixed(0)}/${median.toFixed(0)}/${v[v.length - 1]?.toFixed(0)}`;
}

function report(results: SizeResult[]): string {
  const lines = [
    "Discovery convergence (every member sees every other Connected, from the last Network's creation)",
    "and memory per member (RSS MiB, min/median/max over members); managers and APIs run as deployed",
    "(the image's JavaScript, the Deployments' NODE_OPTIONS and MALLOC_ARENA_MAX: hack/federation --as-deployed).",
    "",
    "Peer→Connected: seconds from a Peer's creation (its discovery) to its Reachable condition, min/median/max over all Peers.",
    "",
    "   N   up(s)  converge(s)  first member(s)  Peer→Connected(s)  manager RSS converged  manager RSS +15 s  API RSS",
  ];
  for (const r of results) {
    const converge = r.convergeSeconds === undefined ? `>${CONVERGENCE_TIMEOUT_MS / 1000}` : r.convergeSeconds.toFixed(1);
    const first = r.memberSeconds.length > 0 ? Math.min(...r.memberSeconds).toFixed(1) : "n/a";
    lines.push(
      `${String(r.n).padStart(4)}  ${r.upSeconds.toFixed(1).padStart(6)}  ${converge.padStart(11)}  ${first.padStart(15)}  ${stats(r.createdToConnected).padStart(17)}  ${stats(r.managerRssMiB).padStart(21)}  ${stats(r.managerRssSettledMiB).padStart(17)}  ${stats(r.apiRssMiB).padStart(7)}`,
    );
  }
  lines.push("", "Where it goes, per member (from the managers' logs; seconds, min/median/max over members): its node answering after the", "last Network's creation, its descriptor published after that, and the first and the last other member discovering it after that.", "", "   N  node up  published  first found  last found");
  const col = (r: SizeResult, k: Exclude<keyof MemberPhases, "peerId">, w: number): string => stats1(r.phases.map((p) => p[k] ?? Number.NaN)).padStart(w);
  for (const r of results) lines.push(`${String(r.n).padStart(4)}  ${col(r, "nodeReady", 7)}  ${col(r, "publish", 9)}  ${col(r, "firstFound", 11)}  ${col(r, "lastFound", 10)}`);
  lines.push("", `CPU seconds from the last Network's creation to convergence (the machine has ${cpus} cores): all members' managers, APIs, kubo nodes; the rest`, "is the control planes (etcd, kube-apiserver, controller-manager) and this benchmark.", "", "   N  machine  managers  APIs  kubo  rest");
  for (const r of results) lines.push(cpuLine(String(r.n), r.cpu, 1));
  lines.push("", `The same per second once converged (the ${SETTLE_MS / 1000} s settling period: the federation's cost when nothing happens; CPU-s per s):`, "");
  for (const r of results) lines.push(cpuLine(String(r.n), r.idleCpu, 2));
  for (const r of results) lines.push(...workLines(r));
  return lines.join("\n");
}

function cpuLine(label: string, { manager, api, kubo, machine }: CpuSample, digits: number): string {
  const f = (x: number, w: number): string => x.toFixed(digits).padStart(w);
  return `${label.padStart(4)}  ${f(machine, 7)}  ${f(manager, 8)}  ${f(api, 4)}  ${f(kubo, 4)}  ${f(machine - manager - api - kubo, 4)}`;
}

function workLines(r: SizeResult): string[] {
  if (!r.work) return [];
  return [
    "",
    `N=${r.n}: API requests to the control planes and reconciles by the managers, from the last Network's creation to convergence (all members):`,
    ...r.work.requests.map(([what, n]) => `  ${String(n).padStart(7)}  ${what}`),
    "",
    ...r.work.reconciles.map(([what, n]) => `  ${String(n).padStart(7)}  reconcile ${what}`),
  ];
}

/** min/median/max to a tenth of a second (the phases are a few seconds each). */
function stats1(values: number[]): string {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return "n/a";
  return [v[0], v[Math.floor(v.length / 2)], v[v.length - 1]].map((x) => (x ?? Number.NaN).toFixed(1)).join("/");
}

function sizes(argv: string[]): number[] {
  const ns = (argv.length > 0 ? argv : ["3", "6", "10"]).map(Number);
  const bad = ns.find((n) => !Number.isInteger(n) || n < 2 || n > 20);
  if (bad !== undefined) throw new Error(`cluster counts must be whole numbers from 2 to 20, got ${bad}`);
  return ns;
}

const results: SizeResult[] = [];
try {
  for (const n of sizes(process.argv.slice(2))) results.push(await measureSize(n));
} catch (err) {
  process.stderr.write(`bench/discovery: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
if (results.length > 0) process.stdout.write(`${report(results)}\n`);
for (const r of results) {
  const median = (xs: number[]): number => [...xs].filter(Number.isFinite).sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  record({ name: `discovery convergence, N=${r.n} (every member sees every other Connected)`, value: r.convergeSeconds === undefined ? Number.POSITIVE_INFINITY : Number(r.convergeSeconds.toFixed(1)), unit: "s", ...(r.n === 10 ? { atMost: 10 } : {}) });
  record({ name: `manager RSS idle in a federation of ${r.n} (median of members, settled)`, value: Number(median(r.managerRssSettledMiB).toFixed(0)), unit: "MiB", atMost: 120 });
}
