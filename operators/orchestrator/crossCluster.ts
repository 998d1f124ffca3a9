// A run whose plan puts some steps on one peer and the rest here: the peer's part runs first (on
// the peer's Argo), then its outputs that steps here read are brought into this cluster's artifact
// repository and the rest runs here. Pure: this splits the run's spec into the two parts and says
// which outputs cross. Outputs go from the peer to this cluster only: a peer step that reads a step
// of this cluster is refused (it would need a third phase, or a copy the other way).
import type { ReconcileContext } from "../runtime/index.ts";
import { present } from "../runtime/present.ts";
import type { PipelineOutput, PipelineRunSpec, PipelineRunStatus, PipelineStep, StepStatus } from "../schema/pipelineRun.ts";
import { parseWiring } from "./pipelineWorkflow.ts";
import type { StepPlacement } from "./placement.ts";
import { RunReason } from "./reasons.ts";
import type { RunObservation } from "./runStatus.ts";

/** One output of the peer's part that a step here reads: its name in the peer's run and here. */
export interface Transfer {
  /** the peer run's output name (and the folder it lands in under the run's inputs) */
  output: string;
  /** `<step>/<output>` in this run */
  source: string;
  /** the pipeline input the steps here read it as */
  input: string;
}

export interface PeerPart {
  steps: PipelineStep[];
  outputs: { name: string; source: string }[];
  /** pipeline inputs bound to the peer's data Resources (read there, through the peer's grant) */
  inputs?: { name: string; resource: string }[];
  job?: Record<string, unknown>;
}

export interface CrossClusterSplit {
  peer: PeerPart;
  local: PipelineRunSpec;
  transfers: Transfer[];
  /** run outputs that come from peer steps (their location stays on the peer) */
  peerOutputs: string[];
}

/** A pipeline-input name for `<step>/<output>` (names allow letters, digits and `_`). */
export function transferName(source: string): string {
  return `peer_${source.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

function peerReadsLocal(steps: PipelineStep[], peerSteps: Set<string>): string | undefined {
  for (const [index, step] of steps.entries()) {
    if (!peerSteps.has(step.name)) continue;
    for (const [input, source] of Object.entries(step.in ?? {})) {
      const from = parseWiring(source).step;
      if (from !== undefined && !peerSteps.has(from)) {
        return `spec.steps[${index}].in.${input}: step ${step.name} runs on a peer and reads ${source} of step ${from}, which runs here; outputs move from a peer to this cluster only, so place ${from} on the peer too`;
      }
    }
  }
  return undefined;
}

/** A step here that reads an input bound to the peer's data: data is read where it is, never moved. */
function localReadsPeerData(spec: PipelineRunSpec, peerSteps: Set<string>, peerData: Set<string>): string | undefined {
  for (const [index, step] of spec.steps.entries()) {
    if (peerSteps.has(step.name)) continue;
    const read = Object.entries(step.in ?? {}).find(([, source]) => peerData.has(source));
    if (read) return `spec.steps[${index}].in.${read[0]}: step ${step.name} runs here and reads input ${read[1]}, bound to a peer's data Resource; data is read on its cluster: place ${step.name} there (ComputeToData)`;
  }
  return undefined;
}

/** Rewires a local step's inputs read from the peer's steps to the pipeline inputs they arrive as. */
function rewired(step: PipelineStep, peerSteps: Set<string>, transfers: Map<string, Transfer>): PipelineStep {
  if (!step.in) return step;
  const entries = Object.entries(step.in).map(([input, source]) => {
    const from = parseWiring(source).step;
    if (from === undefined || !peerSteps.has(from)) return [input, source];
    const transfer = transfers.get(source) ?? { output: transferName(source).slice("peer_".length), source, input: transferName(source) };
    transfers.set(source, transfer);
    return [input, transfer.input];
  });
  return { ...step, in: Object.fromEntries(entries) as Record<string, string> };
}

export function splitAcrossClusters(spec: PipelineRunSpec, plan: StepPlacement[]): CrossClusterSplit | { message: string } {
  const peerSteps = new Set(plan.filter((p) => p.site.kind === "peer").map((p) => p.step));
  const peerData = (spec.inputs ?? []).filter((i) => i.resourceRef.peer !== undefined);
  const refusal = peerReadsLocal(spec.steps, peerSteps) ?? localReadsPeerData(spec, peerSteps, new Set(peerData.map((i) => i.name)));
  if (refusal) return { message: refusal };
  const transfers = new Map<string, Transfer>();
  const localSteps = spec.steps.filter((s) => !peerSteps.has(s.name)).map((s) => rewired(s, peerSteps, transfers));
  const fromPeer = (o: PipelineOutput): boolean => peerSteps.has(parseWiring(o.source).step ?? "");
  const runOutputs = spec.outputs ?? [];
  const peerOutputs = runOutputs.filter(fromPeer);
  const peer: PeerPart = {
    steps: spec.steps.filter((s) => peerSteps.has(s.name)),
    outputs: [...[...transfers.values()].map((t) => ({ name: t.output, source: t.source })), ...peerOutputs.map((o) => ({ name: o.name, source: o.source }))],
    ...present({ inputs: peerData.length ? peerData.map((i) => ({ name: i.name, resource: i.resourceRef.name })) : undefined, job: spec.job }),
  };
  const local: PipelineRunSpec = {
    ...spec,
    steps: localSteps,
    ...present({ outputs: spec.outputs?.filter((o) => !fromPeer(o)), inputs: spec.inputs?.filter((i) => i.resourceRef.peer === undefined) }),
  };
  return { peer, local, transfers: [...transfers.values()], peerOutputs: peerOutputs.map((o) => o.name) };
}

type Outputs = NonNullable<PipelineRunStatus["outputs"]>;

/** The part of a run that runs here: its spec, what its peer part left in status, and how the peer's outputs are brought. */
export interface LocalPart {
  spec: PipelineRunSpec;
  kept?: { steps: StepStatus[]; outputs: Outputs };
  /** Copies the peer's outputs under `inputsKey` of this cluster's repository: the job values naming them, or why not. */
  stage?: (ctx: ReconcileContext, inputsKey: string) => Promise<Record<string, unknown> | { reason: string; message: string }>;
}

/**
 * The run's status while its peer part runs: the peer's steps as observed, this cluster's as
 * planned. The peer part succeeding is not the run succeeding: the run goes on here.
 */
export function peerPhaseOfMixedRun(o: RunObservation, localPlanned: StepStatus[], runOutputs: string[]): RunObservation {
  const steps = [...o.steps, ...localPlanned];
  const progress = `${steps.filter((s) => s.phase === "Succeeded").length}/${steps.length}`;
  const outputs = (o.outputs ?? []).filter((x) => runOutputs.includes(x.name));
  const shaped = { ...o, steps, progress, ...(outputs.length > 0 ? { outputs } : {}) };
  if (!o.outputs || outputs.length === 0) delete (shaped as Partial<RunObservation>).outputs;
  if (o.succeeded.status !== "True") return shaped;
  const message = `the steps on the peer succeeded; bringing their outputs here for ${localPlanned.map((s) => s.name).join(", ")}`;
  const { finishedAt: _finished, ...running } = shaped;
  return { ...running, phase: "Running", ready: { ...o.ready, status: "True", reason: RunReason.PeerStepsSucceeded, message }, succeeded: { ...o.succeeded, status: "Unknown", reason: RunReason.PeerStepsSucceeded, message } };
}

/** This cluster's observation with the peer part's steps and outputs kept beside it. */
export function withKept(o: RunObservation, kept: LocalPart["kept"]): RunObservation {
  if (!kept) return o;
  const steps = [...kept.steps, ...o.steps];
  const outputs = [...kept.outputs, ...(o.outputs ?? [])];
  const progress = `${steps.filter((s) => s.phase === "Succeeded").length}/${steps.length}`;
  const both = { ...o, steps, progress, ...(outputs.length > 0 ? { outputs } : {}) };
  if (o.succeeded.status !== "True") return both;
  // The run's success is both parts': say so, not only this cluster's Workflow's.
  const message = `all ${steps.length} steps succeeded: ${kept.steps.length} on the peer, ${o.steps.length} here`;
  return { ...both, ready: { ...o.ready, message }, succeeded: { ...o.succeeded, message } };
}
