// How much a set of steps can need at one moment, given which steps wait for which: Argo starts a
// DAG task as soon as the tasks it reads have finished, so any steps of which none waits (directly
// or not) for another may run together. The hold must fit the widest such set — a maximum-weight
// antichain of the steps' order — not the sum of every step (a chain of ten steps needs one
// step's room, not ten). Pure.
//
// The maximum-weight antichain equals the minimum flow that passes every step at least its weight
// (Dilworth's theorem, weighted): start from one path per step (the sum), then cancel as much flow
// as the order lets two steps share a path (an augmenting search from sink to source).
import { formatCpu, formatMemory, parseQuantity } from "../catalog/quantity.ts";

export interface TimedStep {
  name: string;
  /** the steps this one reads outputs of: it starts after them */
  after: readonly string[];
  /** what it requests, in one unit (millicores, bytes) */
  weight: number;
}

/** The largest total weight of steps of which none comes after another. */
export function widestMoment(steps: readonly TimedStep[]): number {
  const n = steps.length;
  if (n === 0) return 0;
  // Nodes: 0 source, 1 sink, 2+2i step i's entry, 3+2i its exit. residual[a][b] as in a flow network.
  const size = 2 * n + 2;
  const residual = Array.from({ length: size }, () => new Array<number>(size).fill(0));
  const index = new Map(steps.map((s, i) => [s.name, i]));
  const entry = (i: number): number => 2 + 2 * i;
  const exit = (i: number): number => 3 + 2 * i;
  /** An edge with unbounded capacity carrying `flow`, of which `lower` is required. */
  const edge = (a: number, b: number, flow: number, lower: number): void => {
    residual[a]![b] = Infinity;
    residual[b]![a] = (residual[b]![a] ?? 0) + flow - lower;
  };
  let total = 0;
  steps.forEach((s, i) => {
    const w = Math.max(0, s.weight);
    total += w;
    edge(0, entry(i), w, 0);
    edge(entry(i), exit(i), w, w);
    edge(exit(i), 1, w, 0);
  });
  steps.forEach((s, j) => {
    for (const name of s.after) {
      const i = index.get(name);
      if (i !== undefined && i !== j) edge(exit(i), entry(j), 0, 0);
    }
  });
  return total - cancelledFlow(residual, 1, 0);
}

const nanoPerMilli = 1_000_000n;
const nanoPerUnit = 1_000_000_000n;
const ceilDiv = (a: bigint, b: bigint): number => Number((a + b - 1n) / b);

/**
 * What the steps request at their widest moment: cpu and memory each for the heaviest set of steps
 * of which none waits for another (`after`), in millicores and bytes (rounded up). Without `after`
 * every step may run at once: the sum.
 */
export function peakRequests(steps: readonly { name: string; after?: readonly string[]; requests: { cpu?: string; memory?: string } }[]): { cpu: string; memory: string } {
  const weighed = (unit: bigint, of: (r: { cpu?: string; memory?: string }) => string | undefined): number =>
    widestMoment(steps.map((s) => ({ name: s.name, after: s.after ?? [], weight: ceilDiv(parseQuantity(of(s.requests) ?? "0"), unit) })));
  return { cpu: formatCpu(BigInt(weighed(nanoPerMilli, (r) => r.cpu)) * nanoPerMilli), memory: formatMemory(BigInt(weighed(nanoPerUnit, (r) => r.memory)) * nanoPerUnit) };
}

/** Edmonds–Karp from `from` to `to` on the residual capacities (changed in place): the flow pushed. */
function cancelledFlow(residual: number[][], from: number, to: number): number {
  let pushed = 0;
  for (;;) {
    const parent = shortestPath(residual, from, to);
    if (!parent) return pushed;
    let bottleneck = Infinity;
    for (let v = to; v !== from; v = parent[v]!) bottleneck = Math.min(bottleneck, residual[parent[v]!]![v]!);
    if (!Number.isFinite(bottleneck) || bottleneck <= 0) return pushed;
    for (let v = to; v !== from; v = parent[v]!) {
      const u = parent[v]!;
      residual[u]![v] = residual[u]![v]! - bottleneck;
      residual[v]![u] = residual[v]![u]! + bottleneck;
    }
    pushed += bottleneck;
  }
}

function shortestPath(residual: number[][], from: number, to: number): number[] | undefined {
  const parent = new Array<number>(residual.length).fill(-1);
  parent[from] = from;
  const queue = [from];
  for (let head = 0; head < queue.length; head++) {
    const u = queue[head]!;
    for (let v = 0; v < residual.length; v++) {
      if (parent[v] !== -1 || residual[u]![v]! <= 0) continue;
      parent[v] = u;
      if (v === to) return parent;
      queue.push(v);
    }
  }
  return undefined;
}
