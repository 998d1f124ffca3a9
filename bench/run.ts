// `make bench`: runs every benchmark (or those named in BENCH, comma-separated), one after the
// other, each as its own process, collects what each reports (bench/results.ts) into
// bench/results.json — a list of {name, value, unit, target, met} (plus floor, ratio and note
// where they apply) — and prints one table. Benchmarks are not tests: a target missed is a
// figure to read, not a failure; a benchmark that crashes makes the exit status 1.
//   node bench/run.ts            BENCH=translate,catalog node bench/run.ts
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import path from "node:path";
import type { BenchResult } from "./results.ts";

const here = path.dirname(new URL(import.meta.url).pathname);
const resources = process.env.BENCH_RESOURCES ?? "10000";

/** Every benchmark, cheapest first. */
const benchmarks: Record<string, string[]> = {
  translate: ["bench/translate.ts"],
  "cache-heap": ["--expose-gc", "bench/cache-heap.ts", "10000"],
  catalog: ["bench/catalog.ts", "200", "10000"],
  "reconcile-floor": ["bench/reconcile-floor.ts", process.env.BENCH_RECONCILE_RESOURCES ?? "2000"],
  "catalog-scale": ["bench/catalog-scale.ts", resources],
  discovery: ["bench/discovery.ts", ...(process.env.BENCH_SIZES ?? "3 6 10").split(/\s+/).filter(Boolean)],
};

function table(rows: BenchResult[]): string {
  const cells = rows.map((r) => [r.name, `${r.value} ${r.unit}`, r.target ?? "", r.floor !== undefined ? `${r.floor} ${r.unit} → ${r.ratio}×` : "", r.met === undefined ? "" : r.met ? "met" : "NOT MET"]);
  const header = ["figure", "measured", "target", "floor (side by side) → ratio", ""];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

const chosen = (process.env.BENCH ?? Object.keys(benchmarks).join(",")).split(",").map((s) => s.trim()).filter(Boolean);
const unknown = chosen.filter((b) => !benchmarks[b]);
if (unknown.length) throw new Error(`unknown benchmark(s) ${unknown.join(", ")}: choose among ${Object.keys(benchmarks).join(", ")}`);
const collected = path.join(here, `.results-${process.pid}.jsonl`);
const failed: string[] = [];
const loadBefore = loadavg()[0] ?? 0;
for (const name of chosen) {
  process.stderr.write(`\n== bench ${name}: node ${(benchmarks[name] ?? []).join(" ")}\n`);
  const run = spawnSync(process.execPath, benchmarks[name] ?? [], { stdio: "inherit", env: { ...process.env, BENCH_RESULTS: collected } });
  if (run.status !== 0) failed.push(name);
}
const results: BenchResult[] = existsSync(collected) ? readFileSync(collected, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as BenchResult) : [];
rmSync(collected, { force: true });
const load = Number(Math.max(loadBefore, loadavg()[0] ?? 0).toFixed(2));
results.push({ name: "machine load average (1 min, highest of start and end of the run)", value: load, unit: "", note: "2 cores: above ~2 the figures are measured under contention" });
writeFileSync(path.join(here, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
console.log(`\n${table(results)}\n\nwritten: bench/results.json${failed.length ? `\nfailed: ${failed.join(", ")}` : ""}`);
process.exit(failed.length ? 1 : 0);
