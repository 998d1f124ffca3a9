// Benchmark figures in one shape: each benchmark reports what it measured, and `make bench`
// (bench/run.ts) collects them into bench/results.json and one table. A benchmark run on its
// own prints as before; with BENCH_RESULTS set (a file path) it also appends one JSON line per
// figure there.
import { appendFileSync } from "node:fs";

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** Human-readable target, e.g. "≤ 10 ms"; absent when the figure has none. */
  target?: string;
  /** Whether the target is met (absent without a target). */
  met?: boolean;
  /** The floor measured side by side, when the figure is compared with one. */
  floor?: number;
  /** value / floor. */
  ratio?: number;
  /** Anything that qualifies the figure (load, sizes). */
  note?: string;
}

/** Records one figure (stdout untouched). `atMost`: the target is value ≤ atMost. */
export function report(r: Omit<BenchResult, "met" | "target" | "ratio"> & { atMost?: number; targetText?: string }): BenchResult {
  const { atMost, targetText, ...rest } = r;
  const ratio = r.floor ? r.value / r.floor : undefined;
  const result: BenchResult = {
    ...rest,
    ...(ratio !== undefined ? { ratio: Number(ratio.toFixed(3)) } : {}),
    ...(atMost !== undefined ? { target: targetText ?? `≤ ${atMost} ${r.unit}`, met: r.value <= atMost } : {}),
  };
  const file = process.env.BENCH_RESULTS;
  if (file) appendFileSync(file, `${JSON.stringify(result)}\n`);
  return result;
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
