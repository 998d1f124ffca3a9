// What a forming federation asks of its control planes and what its managers reconcile
// (benchmarks only): counters read from each member's kube-apiserver `/metrics`
// (apiserver_request_total) and each manager's (controller_runtime_reconcile_total), before and
// after, summed over the members. Reading a kube-apiserver's metrics costs it some CPU, so the
// discovery benchmark does it only when asked (BENCH_DISCOVERY_REQUESTS=1).
import { readFileSync } from "node:fs";
import { Agent, fetch } from "undici";

export interface CountSource {
  /** The kube-apiserver: URL, CA file, admin token. */
  server: string;
  caFile: string;
  token: string;
  /** The manager's metrics port, when it has one. */
  managerMetricsPort?: number;
}

export type Counts = Map<string, number>;

const METRICS_TIMEOUT_MS = 10_000;

/**
 * Sums a Prometheus counter's samples by the labels named in `by` (joined by spaces), e.g.
 * apiserver_request_total by verb and resource (with subresource after a slash).
 */
export function sumCounter(text: string, metric: string, by: (labels: Record<string, string>) => string): Counts {
  const sums: Counts = new Map();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf("}");
    const labels = Object.fromEntries([...line.slice(metric.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] ?? "", m[2] ?? ""]));
    const value = Number(line.slice(close + 1).trim());
    if (!Number.isFinite(value)) continue;
    const key = by(labels);
    sums.set(key, (sums.get(key) ?? 0) + value);
  }
  return sums;
}

const requestKey = (l: Record<string, string>): string => `${l.verb ?? "?"} ${l.resource ?? "?"}${l.subresource ? `/${l.subresource}` : ""}`;

async function text(url: string, init: { headers?: Record<string, string>; dispatcher?: Agent }): Promise<string> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(METRICS_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.text();
}

/** Every member's counters now, summed: API requests by verb and resource, reconciles by controller. */
export async function sampleCounts(sources: readonly CountSource[]): Promise<{ requests: Counts; reconciles: Counts }> {
  const requests: Counts = new Map();
  const reconciles: Counts = new Map();
  const add = (into: Counts, from: Counts): void => from.forEach((v, k) => into.set(k, (into.get(k) ?? 0) + v));
  await Promise.all(
    sources.map(async (s) => {
      const dispatcher = new Agent({ connect: { ca: readFileSync(s.caFile) } });
      try {
        add(requests, sumCounter(await text(`${s.server}/metrics`, { headers: { authorization: `Bearer ${s.token}` }, dispatcher }), "apiserver_request_total", requestKey));
      } finally {
        await dispatcher.close();
      }
      if (s.managerMetricsPort) add(reconciles, sumCounter(await text(`http://127.0.0.1:${s.managerMetricsPort}/metrics`, {}), "controller_runtime_reconcile_total", (l) => l.controller ?? "?"));
    }),
  );
  return { requests, reconciles };
}

/** after − before, largest first, the `top` largest. */
export function grown(before: Counts, after: Counts, top: number): [string, number][] {
  return [...after]
    .map(([k, v]): [string, number] => [k, v - (before.get(k) ?? 0)])
    .filter(([, d]) => d > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, top);
}
