// A run whose plan puts some steps on peers and the rest here: the peers' parts run first (each on
// its peer's Argo, side by side), then their outputs that steps here read are brought into this
// cluster's artifact repository and the rest runs here. A peer's step may read another peer's
// output: that part waits for it, and this cluster relays it once the other part has succeeded
// (the peers never talk to each other for a run). Pure: this splits the run's spec into one part
// per peer and this cluster's, and says which outputs cross and where. A peer step that reads a
// step of this cluster is taken care of before: that step runs first, in the run's prelude
// (preludeRun.ts), and the split sees its output as a pipeline input (`fromHere`). Refused: peers
// that would each wait for the other's outputs.
import type { ReconcileContext } from "../runtime/index.ts";
import { present } from "../runtime/present.ts";
import type { PipelineOutput, PipelineRunSpec, PipelineRunStatus, PipelineStep, StepStatus } from "../schema/pipelineRun.ts";
import { parseWiring } from "./pipelineWorkflow.ts";
import type { StepPlacement } from "./placement.ts";
import { RunReason } from "./reasons.ts";
import type { RunObservation } from "./runStatus.ts";

/** One output of a peer's part that a step here reads: its name in the peer's run and here. */
export interface Transfer {
  /** the Peer whose part makes it */
  peer: string;
  /** the peer run's output name (and the folder it lands in under the run's inputs) */
  output: string;
  /** `<step>/<output>` in this run */
  source: string;
  /** the pipeline input the steps here read it as */
  input: string;
}

/** One output of a peer's part that a step on another peer reads: this cluster relays it. */
export interface Relay {
  /** the Peer whose part makes it, and the output's name in that part's run */
  from: string;
  output: string;
  /** `<step>/<output>` in this run */
  source: string;
  /** the Peer whose part reads it, and the input its steps read it as */
  to: string;
  input: string;
}

export interface PeerPart {
  steps: PipelineStep[];
  /**
   * inputs this part's run waits for: outputs of another peer's part (`from`), relayed by this
   * cluster, or of this run's prelude here (no `from`: preludeRun.ts), sent by this cluster
   */
  awaits?: { input: string; from?: string; output: string }[];
  outputs: { name: string; source: string }[];
  /** pipeline inputs bound to the peer's data Resources (read there, through the peer's grant) */
  inputs?: { name: string; resource: string }[];
  job?: Record<string, unknown>;
}

export interface CrossClusterSplit {
  /** one part per peer, in the order the steps name them */
  peers: { peer: string; part: PeerPart }[];
  local: PipelineRunSpec;
  transfers: Transfer[];
  relays: Relay[];
  /** run outputs that come from peer steps (their location stays on the peer), with that peer */
  peerOutputs: { name: string; peer: string }[];
}

/** The name `<step>/<output>` crosses under, as an output of the run that makes it (names allow letters, digits and `_`). */
export function crossingOutput(source: string): string {
  return source.replace(/[^A-Za-z0-9_]/g, "_");
}

/** A pipeline-input name for `<step>/<output>` made on a peer. */
export function transferName(source: string): string {
  return `peer_${crossingOutput(source)}`;
}

/** Each read of a peer step from a step placed elsewhere: which step, input and source, and the source's peer (undefined: here). */
function crossReads(steps: PipelineStep[], peerOf: ReadonlyMap<string, string>): { index: number; step: PipelineStep; peer: string; input: string; source: string; from: string; fromPeer: string | undefined }[] {
  return steps.flatMap((step, index) => {
    const peer = peerOf.get(step.name);
    if (peer === undefined) return [];
    return Object.entries(step.in ?? {}).flatMap(([input, source]) => {
      const from = parseWiring(source).step;
      if (from === undefined || peerOf.get(from) === peer) return [];
      return [{ index, step, peer, input, source, from, fromPeer: peerOf.get(from) }];
    });
  });
}

/** A peer step that reads a step of this cluster, or peers whose parts would wait for each other's outputs. */
function peerReadsElsewhere(steps: PipelineStep[], peerOf: ReadonlyMap<string, string>): string | undefined {
  const reads = crossReads(steps, peerOf);
  // Never met through the reconciler (the prelude rewires such reads first): a guard for other callers.
  const here = reads.find((r) => r.fromPeer === undefined);
  if (here) {
    return `spec.steps[${here.index}].in.${here.input}: step ${here.step.name} runs on peer ${here.peer} and reads ${here.source} of step ${here.from}, which runs here; this cluster's steps run after every peer's, so place ${here.from} on a peer too`;
  }
  // Part B waits for C's outputs (an edge C → B): a cycle would have each part wait for ever.
  const edges = new Map<string, Set<string>>();
  for (const r of reads) edges.set(r.fromPeer ?? "", (edges.get(r.fromPeer ?? "") ?? new Set()).add(r.peer));
  const loop = reads.find((r) => reaches(edges, r.peer, r.fromPeer ?? ""));
  if (!loop) return undefined;
  return `spec.steps[${loop.index}].in.${loop.input}: step ${loop.step.name} runs on peer ${loop.peer} and reads ${loop.source} of step ${loop.from} on peer ${loop.fromPeer ?? ""}, whose part also waits for outputs of peer ${loop.peer}'s part; each peer runs its steps as one part, so place these steps on one peer`;
}

/** Whether `to` can be reached from `from` along `edges`. */
function reaches(edges: ReadonlyMap<string, ReadonlySet<string>>, from: string, to: string): boolean {
  const seen = new Set<string>();
  const open = [from];
  for (let at = open.pop(); at !== undefined; at = open.pop()) {
    if (at === to) return true;
    if (seen.has(at)) continue;
    seen.add(at);
    open.push(...(edges.get(at) ?? []));
  }
  return false;
}

/** A step that reads an input bound to another cluster's data: data is read where it is, never moved. */
function readsDataElsewhere(spec: PipelineRunSpec, peerOf: ReadonlyMap<string, string>): string | undefined {
  // Each data input's cluster: its peer, or undefined for this cluster's.
  const dataAt = new Map((spec.inputs ?? []).map((i) => [i.name, i.resourceRef.peer] as const));
  const named = (peer: string | undefined): string => (peer === undefined ? "this cluster" : `peer ${peer}`);
  for (const [index, step] of spec.steps.entries()) {
    const read = Object.entries(step.in ?? {}).find(([, source]) => dataAt.has(source) && dataAt.get(source) !== peerOf.get(step.name));
    if (!read) continue;
    const where = peerOf.has(step.name) ? `on peer ${peerOf.get(step.name) ?? ""}` : "here";
    return `spec.steps[${index}].in.${read[0]}: step ${step.name} runs ${where} and reads input ${read[1]}, bound to a data Resource of ${named(dataAt.get(read[1]))}; data is read on its cluster: place ${step.name} there (ComputeToData)`;
  }
  return undefined;
}

/**
 * Rewires a step's inputs read from steps on another peer than its own (`at`: undefined here) to
 * the pipeline inputs they arrive as, noting each crossing once per source in `crossings`.
 */
function rewired(step: PipelineStep, peerOf: ReadonlyMap<string, string>, at: string | undefined, crossings: Map<string, Transfer>): PipelineStep {
  if (!step.in) return step;
  const entries = Object.entries(step.in).map(([input, source]) => {
    const from = parseWiring(source).step;
    const peer = from === undefined ? undefined : peerOf.get(from);
    if (peer === undefined || peer === at) return [input, source];
    const crossing = crossings.get(source) ?? { peer, output: crossingOutput(source), source, input: transferName(source) };
    crossings.set(source, crossing);
    return [input, crossing.input];
  });
  return { ...step, in: Object.fromEntries(entries) as Record<string, string> };
}

/** The part of one peer: its steps (rewired to what is relayed to them), the outputs it sends here, on, or keeps as the run's, its data. */
function partOf(spec: PipelineRunSpec, peer: string, where: { peerOf: ReadonlyMap<string, string>; leaving: Transfer[]; relays: Relay[]; outputs: PipelineOutput[]; fromHere: ReadonlyMap<string, string> }): PeerPart {
  const data = (spec.inputs ?? []).filter((i) => i.resourceRef.peer === peer);
  const sent = new Map(where.leaving.filter((t) => t.peer === peer).map((t) => [t.output, { name: t.output, source: t.source }]));
  const steps = spec.steps.filter((s) => where.peerOf.get(s.name) === peer).map((s) => rewired(s, where.peerOf, peer, new Map()));
  const awaited = [...where.relays.filter((r) => r.to === peer).map((r) => ({ input: r.input, from: r.from, output: r.output })), ...awaitedFromHere(steps, where.fromHere)];
  return {
    steps,
    outputs: [...sent.values(), ...where.outputs.map((o) => ({ name: o.name, source: o.source }))],
    ...present({
      awaits: awaited.length ? awaited : undefined,
      inputs: data.length ? data.map((i) => ({ name: i.name, resource: i.resourceRef.name })) : undefined,
      job: spec.job,
    }),
  };
}

/** The prelude's outputs (`fromHere`: input → the prelude run's output) that `steps` read, each once. */
export function awaitedFromHere(steps: readonly PipelineStep[], fromHere: ReadonlyMap<string, string>): { input: string; output: string }[] {
  const read = new Set(steps.flatMap((s) => Object.values(s.in ?? {})));
  return [...fromHere].filter(([input]) => read.has(input)).map(([input, output]) => ({ input, output }));
}

/** Every peer step's read of another peer's step, as the relay it needs (one per source and reading peer). */
function relaysOf(steps: PipelineStep[], peerOf: ReadonlyMap<string, string>): Relay[] {
  const relays = new Map<string, Relay>();
  for (const r of crossReads(steps, peerOf)) {
    if (r.fromPeer === undefined) continue;
    relays.set(`${r.peer}/${r.source}`, { from: r.fromPeer, output: crossingOutput(r.source), source: r.source, to: r.peer, input: transferName(r.source) });
  }
  return [...relays.values()];
}

/** `fromHere`: the pipeline inputs that are outputs of the run's prelude here (input → the prelude run's output). */
export function splitAcrossClusters(spec: PipelineRunSpec, plan: StepPlacement[], fromHere: ReadonlyMap<string, string> = new Map()): CrossClusterSplit | { message: string } {
  const peerOf = new Map(plan.flatMap((p) => (p.site.kind === "peer" ? [[p.step, p.site.peer] as const] : [])));
  const refusal = peerReadsElsewhere(spec.steps, peerOf) ?? readsDataElsewhere(spec, peerOf);
  if (refusal) return { message: refusal };
  const transfers = new Map<string, Transfer>();
  const localSteps = spec.steps.filter((s) => !peerOf.has(s.name)).map((s) => rewired(s, peerOf, undefined, transfers));
  const relays = relaysOf(spec.steps, peerOf);
  // What leaves each peer's part: to here, and on to another peer (one output per source).
  const leaving = [...transfers.values(), ...relays.map((r) => ({ peer: r.from, output: r.output, source: r.source, input: r.input }))];
  const outputPeer = (o: PipelineOutput): string | undefined => peerOf.get(parseWiring(o.source).step ?? "");
  const runOutputs = spec.outputs ?? [];
  const peers = [...new Set(spec.steps.flatMap((s) => peerOf.get(s.name) ?? []))];
  const parts = peers.map((peer) => ({ peer, part: partOf(spec, peer, { peerOf, leaving, relays, outputs: runOutputs.filter((o) => outputPeer(o) === peer), fromHere }) }));
  const local: PipelineRunSpec = {
    ...spec,
    steps: localSteps,
    ...present({ outputs: spec.outputs?.filter((o) => outputPeer(o) === undefined), inputs: spec.inputs?.filter((i) => i.resourceRef.peer === undefined) }),
  };
  return { peers: parts, local, transfers: [...transfers.values()], relays, peerOutputs: runOutputs.flatMap((o) => { const peer = outputPeer(o); return peer === undefined ? [] : [{ name: o.name, peer }]; }) };
}

type Outputs = NonNullable<PipelineRunStatus["outputs"]>;

/** The part of a run that runs here: its spec, what its peer parts left in status, and how the peers' outputs are brought. */
export interface LocalPart {
  spec: PipelineRunSpec;
  kept?: { steps: StepStatus[]; outputs: Outputs };
  /** the run's outputs made by steps on peers, with their Peer: copied to storage from there */
  outputPeers?: ReadonlyMap<string, string>;
  /** Copies the peers' outputs under `inputsKey` of this cluster's repository: the job values naming them, or why not. */
  stage?: (ctx: ReconcileContext, inputsKey: string) => Promise<Record<string, unknown> | { reason: string; message: string }>;
}

/**
 * The run's status while its peer parts run: the peers' steps as observed, this cluster's as
 * planned. The peer parts succeeding is not the run succeeding: the run goes on here.
 */
export function peerPhaseOfMixedRun(o: RunObservation, localPlanned: StepStatus[], runOutputs: string[]): RunObservation {
  const steps = [...o.steps, ...localPlanned];
  const progress = `${steps.filter((s) => s.phase === "Succeeded").length}/${steps.length}`;
  const outputs = (o.outputs ?? []).filter((x) => runOutputs.includes(x.name));
  const shaped = { ...o, steps, progress, ...(outputs.length > 0 ? { outputs } : {}) };
  if (!o.outputs || outputs.length === 0) delete (shaped as Partial<RunObservation>).outputs;
  if (o.succeeded.status !== "True") return shaped;
  const message = `the steps on peers succeeded; bringing their outputs here for ${localPlanned.map((s) => s.name).join(", ")}`;
  const { finishedAt: _finished, ...running } = shaped;
  return { ...running, phase: "Running", ready: { ...o.ready, status: "True", reason: RunReason.PeerStepsSucceeded, message }, succeeded: { ...o.succeeded, status: "Unknown", reason: RunReason.PeerStepsSucceeded, message } };
}

/** This cluster's observation with the peer parts' steps and outputs kept beside it. */
export function withKept(o: RunObservation, kept: LocalPart["kept"]): RunObservation {
  if (!kept) return o;
  const steps = [...kept.steps, ...o.steps];
  const outputs = [...kept.outputs, ...(o.outputs ?? [])];
  const progress = `${steps.filter((s) => s.phase === "Succeeded").length}/${steps.length}`;
  const both = { ...o, steps, progress, ...(outputs.length > 0 ? { outputs } : {}) };
  if (o.succeeded.status !== "True") return both;
  // The run's success is both parts': say so, not only this cluster's Workflow's.
  const message = `all ${steps.length} steps succeeded: ${kept.steps.length} on peers, ${o.steps.length} here`;
  return { ...both, ready: { ...o.ready, message }, succeeded: { ...o.succeeded, message } };
}
