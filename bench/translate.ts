// Benchmark (not a test): CWL → Argo translation time (operators/pipeline/argo/translate.ts) of
// workflows of 10 to 150 chained steps, each step reading the previous one's output. Prints the
// median of 30 runs per size; target: 50 steps in ≤ 200 ms, cost linear in steps (the time per
// step at 150 steps (Argo allows 200 tasks) within 1.5× of that at 50).
//   node bench/translate.ts
import type { Process, Step } from "../operators/pipeline/cwl/model.ts";
import { translate, type TranslateConfig } from "../operators/pipeline/argo/translate.ts";
import { percentile, report } from "./results.ts";

const RUNS = 30;

function tool(id: string): Process {
  return {
    class: "CommandLineTool", id, cwlVersion: "v1.2", baseDir: "/docs",
    inputs: [{ id: "in", type: "File" }], outputs: [{ id: "out", type: "File", outputBinding: { glob: "out.txt" } }],
    requirements: [{ class: "DockerRequirement", dockerPull: "debian:12" }], hints: [], baseCommand: ["cat"], arguments: [],
    successCodes: [], temporaryFailCodes: [], permanentFailCodes: [], steps: [],
  };
}

function chain(n: number): Process {
  const steps: Step[] = Array.from({ length: n }, (_, i) => ({
    id: `s${i}`,
    in: [{ id: "in", source: [i === 0 ? "in" : `s${i - 1}/out`], sourceIsList: false }],
    out: ["out"],
    run: tool(`tool${i}`),
    scatter: [],
    requirements: [],
    hints: [],
  }));
  return { ...tool("wf"), class: "Workflow", baseCommand: [], requirements: [], outputs: [{ id: "final", type: "File", outputSource: [`s${n - 1}/out`] }], steps };
}

const config: TranslateConfig = {
  name: "bench",
  namespace: "team-a",
  defaultImage: "registry.example/archipel/cwl-entrypoint:1",
  entrypoint: ["archipel-cwl-entrypoint"],
  artifacts: { endpoint: "s3.example:9000", bucket: "pipelines", keyPrefix: "runs", accessKeySecret: { name: "s3", key: "access" }, secretKeySecret: { name: "s3", key: "secret" } },
  placement: () => undefined,
};

function medianMs(n: number): { median: number; bytes: number } {
  const wf = chain(n);
  let bytes = 0;
  for (let i = 0; i < 3; i++) translate(wf, { in: { class: "File", location: "a.txt" } }, config); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const out = translate(wf, { in: { class: "File", location: "a.txt" } }, config);
    times.push(performance.now() - t0);
    bytes = JSON.stringify(out).length;
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), bytes };
}

const sizes = [10, 25, 50, 100, 150]; // Argo allows at most 200 templates and DAG tasks
const perStep = new Map<number, number>();
const bytesPerStep = new Map<number, number>();
for (const n of sizes) {
  const { median, bytes } = medianMs(n);
  perStep.set(n, median / n);
  bytesPerStep.set(n, bytes / n);
  console.log(`translate ${String(n).padStart(3)} steps: median ${median.toFixed(2)} ms (${(median / n).toFixed(3)} ms/step), Workflow ${(bytes / 1024).toFixed(0)} KiB`);
  if (n === 50) report({ name: "CWL→Argo translation, 50 steps", value: Number(median.toFixed(2)), unit: "ms", atMost: 200 });
}
const growth = (perStep.get(150) ?? Number.NaN) / (perStep.get(50) ?? Number.NaN);
console.log(`cost per step at 150 steps / at 50 steps: ${growth.toFixed(2)} (1 = linear)`);
const sizeGrowth = (bytesPerStep.get(150) ?? Number.NaN) / (bytesPerStep.get(50) ?? Number.NaN);
console.log(`Workflow bytes per step at 150 steps / at 50 steps: ${sizeGrowth.toFixed(2)} (1 = linear: a task's spec carries only the steps it reads)`);
report({ name: "CWL→Argo Workflow size per step, 150 vs 50 steps", value: Number(sizeGrowth.toFixed(2)), unit: "×", atMost: 1.5, targetText: "≤ 1.5× (linear)" });
report({ name: "CWL→Argo translation, per-step cost 150 vs 50 steps", value: Number(growth.toFixed(2)), unit: "×", atMost: 1.5, targetText: "≤ 1.5× (linear)" });
