// A run whose steps on peers read steps of this cluster: those steps here (and the steps here they
// read) run first, as a PipelineRun of their own that the run owns (its prelude); the rest of the
// run then goes as any run across clusters, the prelude's outputs sent to the peers' parts that
// read them (as outputs relayed from another peer are) and copied for the steps here that run
// after the peers'. Pure: this finds the prelude and rewires the rest. Refused: a step here that
// reads a peer's step and is read by a peer's step (it would run between the peers' parts).
import { createHash } from "node:crypto";
import { present } from "../runtime/present.ts";
import type { PipelineRun, PipelineRunSpec, PipelineRunStatus, PipelineStep, StepStatus } from "../schema/pipelineRun.ts";
import { RunReason } from "./reasons.ts";
import type { RunObservation } from "./runStatus.ts";
import { parseWiring, upstreamOf } from "./pipelineWorkflow.ts";
import { crossingOutput } from "./crossCluster.ts";
import type { StepPlacement } from "./placement.ts";

/** On a prelude run: the run it runs first for. */
export const preludeOfLabel = "archipel.io/prelude-of";

export interface PreludeSplit {
  /** the steps here that run first */
  steps: string[];
  /** the prelude run's spec: those steps, the data they read, the outputs the rest reads (and the run's own outputs they make) */
  spec: PipelineRunSpec;
  /** the run without them: their outputs are read as pipeline inputs instead */
  rest: PipelineRunSpec;
  /** each such input, and the prelude run's output it is */
  fromHere: { input: string; output: string; source: string }[];
}

/** The pipeline input a prelude output `<step>/<output>` is read as, and the prelude run's output name. */
export function hereInput(source: string): { input: string; output: string } {
  const output = crossingOutput(source);
  return { input: `here_${output}`, output };
}

/** The name of a run's prelude run: stable, at most 63 characters (it names its Workflow too). */
export function preludeName(run: PipelineRun): string {
  const name = `${run.metadata.name ?? "run"}-first`;
  if (name.length <= 63) return name;
  return `${name.slice(0, 52).replace(/-+$/, "")}-${createHash("sha256").update(name).digest("hex").slice(0, 10)}`;
}

/** The steps here that peers' steps read, and the steps here those read, transitively. */
function neededHere(steps: readonly PipelineStep[], peerOf: ReadonlyMap<string, string>): Set<string> {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const open = steps.filter((s) => peerOf.has(s.name)).flatMap((s) => upstreamOf(s).filter((up) => byName.has(up) && !peerOf.has(up)));
  const needed = new Set<string>();
  for (let name = open.pop(); name !== undefined; name = open.pop()) {
    if (needed.has(name)) continue;
    needed.add(name);
    const step = byName.get(name);
    if (step) open.push(...upstreamOf(step).filter((up) => byName.has(up) && !peerOf.has(up)));
  }
  return needed;
}

/** A prelude step that reads a peer's step: it would have to run between the peers' parts. */
function betweenPeers(steps: readonly PipelineStep[], needed: ReadonlySet<string>, peerOf: ReadonlyMap<string, string>): string | undefined {
  for (const [index, step] of steps.entries()) {
    if (!needed.has(step.name)) continue;
    for (const [input, source] of Object.entries(step.in ?? {})) {
      const from = parseWiring(source).step;
      const peer = from === undefined ? undefined : peerOf.get(from);
      if (peer === undefined) continue;
      return `spec.steps[${index}].in.${input}: step ${step.name} runs here and reads ${source} of step ${from ?? ""} on peer ${peer}, and a step on a peer reads what ${step.name} makes (directly or through steps here): this cluster runs its steps before the peers' or after them, not between; place ${step.name} on a peer`;
    }
  }
  return undefined;
}

/** A step whose reads of prelude outputs become reads of the inputs they arrive as. */
function rewired(step: PipelineStep, needed: ReadonlySet<string>, crossings: Map<string, PreludeSplit["fromHere"][number]>): PipelineStep {
  if (!step.in) return step;
  const entries = Object.entries(step.in).map(([input, source]) => {
    const from = parseWiring(source).step;
    if (from === undefined || !needed.has(from)) return [input, source];
    const crossing = crossings.get(source) ?? { ...hereInput(source), source };
    crossings.set(source, crossing);
    return [input, crossing.input];
  });
  return { ...step, in: Object.fromEntries(entries) as Record<string, string> };
}

const readBy = (steps: readonly PipelineStep[]): Set<string> => new Set(steps.flatMap((s) => Object.values(s.in ?? {})));

/** The run's prelude, why it cannot have one, or undefined when no step on a peer reads a step here. */
export function preludeSplit(run: PipelineRun, plan: readonly StepPlacement[]): PreludeSplit | { message: string } | undefined {
  const { spec } = run;
  const peerOf = new Map(plan.flatMap((p) => (p.site.kind === "peer" ? [[p.step, p.site.peer] as const] : [])));
  const needed = neededHere(spec.steps, peerOf);
  if (needed.size === 0) return undefined;
  const between = betweenPeers(spec.steps, needed, peerOf);
  if (between) return { message: between };
  const crossings = new Map<string, PreludeSplit["fromHere"][number]>();
  const restSteps = spec.steps.filter((s) => !needed.has(s.name)).map((s) => rewired(s, needed, crossings));
  // A prelude step's own placement (ComputeToData on data here) says nothing more than Local.
  const preludeSteps = spec.steps.filter((s) => needed.has(s.name)).map(({ placement: _placement, ...s }) => s);
  const fromPrelude = (source: string): boolean => needed.has(parseWiring(source).step ?? "");
  const [preludeReads, restReads] = [readBy(preludeSteps), readBy(restSteps)];
  const fromHere = [...crossings.values()];
  const { budget: _budget, outputs = [], inputs = [], placement: _placement, ...common } = spec;
  return {
    steps: preludeSteps.map((s) => s.name),
    spec: {
      ...common,
      description: `the steps of run ${run.metadata.name ?? ""} that its steps on peers read: they run here first`,
      steps: preludeSteps,
      placement: { strategy: "Local" },
      ...present({
        inputs: nonEmpty(inputs.filter((i) => preludeReads.has(i.name))),
        outputs: nonEmpty([...fromHere.map((f) => ({ name: f.output, source: f.source })), ...outputs.filter((o) => fromPrelude(o.source))]),
      }),
    },
    rest: {
      ...common,
      ...present({ budget: spec.budget, placement: spec.placement }),
      steps: restSteps,
      ...present({ inputs: nonEmpty(inputs.filter((i) => restReads.has(i.name))), outputs: nonEmpty(outputs.filter((o) => !fromPrelude(o.source))) }),
    },
    fromHere,
  };
}

function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

/** What the run shows of its prelude run: its steps (on this cluster) and the run's own outputs it made. */
export interface PreludeShown {
  name: string;
  steps: StepStatus[];
  outputs: NonNullable<PipelineRunStatus["outputs"]>;
}

export function preludeShown(first: PipelineRun, split: Pick<PreludeSplit, "steps">, runOutputs: readonly string[], cluster: string): PreludeShown {
  const reported = first.status?.steps ?? [];
  const placement = `Local: in run ${first.metadata.name ?? ""}, which runs first (steps on peers read it)`;
  const steps = split.steps.map((name): StepStatus => ({ name, phase: "Pending", placement, ...reported.find((r) => r.name === name), cluster }));
  return { name: first.metadata.name ?? "", steps, outputs: (first.status?.outputs ?? []).filter((o) => runOutputs.includes(o.name)) };
}

/** What the run's status shows of its prelude already (once the prelude run is gone). */
export function keptPreludeShown(run: PipelineRun, split: Pick<PreludeSplit, "steps">, runOutputs: readonly string[]): PreludeShown {
  const steps = (run.status?.steps ?? []).filter((s) => split.steps.includes(s.name));
  return { name: preludeName(run), steps, outputs: (run.status?.outputs ?? []).filter((o) => runOutputs.includes(o.name)) };
}

/** A status write's steps and outputs with the prelude's beside them (and the progress over all). */
export function withPreludeShown<T extends { steps?: StepStatus[]; progress?: string; outputs?: PipelineRunStatus["outputs"] }>(fields: T, shown: PreludeShown): T {
  if (!fields.steps) return fields;
  const own = new Set(shown.steps.map((s) => s.name));
  const steps = [...shown.steps, ...fields.steps.filter((s) => !own.has(s.name))];
  const outputs = [...(fields.outputs ?? []).filter((o) => !shown.outputs.some((x) => x.name === o.name)), ...shown.outputs];
  return { ...fields, steps, progress: `${steps.filter((s) => s.phase === "Succeeded").length}/${steps.length}`, ...(outputs.length > 0 ? { outputs } : {}) };
}

const conditionOf = (run: PipelineRun, type: string): { status: string; reason?: string; message?: string } | undefined => run.status?.conditions?.find((c) => c.type === type);

export const preludeSucceeded = (first: PipelineRun): boolean => conditionOf(first, "Succeeded")?.status === "True";

type Status = "True" | "False" | "Unknown";
const both = (status: { ready: Status; succeeded: Status }, reason: string, message: string): Pick<RunObservation, "ready" | "succeeded"> => ({
  ready: { type: "Ready", status: status.ready, reason, message },
  succeeded: { type: "Succeeded", status: status.succeeded, reason, message },
});

/** The run's conditions while its prelude has not succeeded: failed with it, held back with it, or waiting for it. */
export function whilePrelude(first: PipelineRun): Pick<RunObservation, "phase" | "ready" | "succeeded"> & { finishedAt?: string } {
  const name = first.metadata.name ?? "";
  const failed = conditionOf(first, "Succeeded");
  if (failed?.status === "False") {
    const message = `run ${name}, the steps here that steps on peers read, failed: ${failed.message ?? ""}; nothing was asked of the peers`;
    return { phase: "Failed", ...present({ finishedAt: first.status?.finishedAt }), ...both({ ready: "False", succeeded: "False" }, failed.reason ?? RunReason.WorkflowFailed, message) };
  }
  return waitingForPrelude(first);
}

function heldBackWith(first: PipelineRun, ready: { reason?: string; message?: string }): Pick<RunObservation, "phase" | "ready" | "succeeded"> {
  return { phase: "Pending", ...both({ ready: "False", succeeded: "Unknown" }, ready.reason ?? RunReason.Pending, `run ${first.metadata.name ?? ""}, the steps here that steps on peers read: ${ready.message ?? ""}`) };
}

/** Held back with it (its own reason, Ready=False), or waiting for it to run. */
function waitingForPrelude(first: PipelineRun): Pick<RunObservation, "phase" | "ready" | "succeeded"> {
  const ready = conditionOf(first, "Ready");
  if (ready?.status === "False") return heldBackWith(first, ready);
  const running = first.status?.phase === "Running";
  const progress = first.status?.progress ? ` (${first.status.progress} steps succeeded)` : "";
  const message = `run ${first.metadata.name ?? ""} runs the steps here that steps on peers read first${progress}; the steps on peers are asked for once it has succeeded`;
  return { phase: running ? "Running" : "Pending", ...both({ ready: "True", succeeded: "Unknown" }, running ? RunReason.Running : RunReason.Pending, message) };
}
