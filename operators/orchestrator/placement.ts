// The placement plan: which cluster each step runs on, and why, decided before anything runs and
// written into status.steps[].placement. Pure: the run's spec goes in, one decision per step out.
//
// The rules (docs/orchestrator.md, "Placement"):
// - a step whose service is on a peer (serviceRef.peer) runs on that peer: images and CWL documents
//   are not copied between clusters, and the peer decides what runs on its nodes;
// - Local: this cluster; Explicit: placement.peer (the service must be there, or be that peer's);
// - ComputeToData: the cluster of the data Resource the step reads (a pipeline input bound to a
//   Resource with `peer`), else this cluster;
// - Auto: the cluster autoPlacement.ts ranked first (by room, price, trust), pinned in
//   status.autoPlacement before anything runs; a run that started before it was ranked: where
//   the step's service is.
// - Admiralty: this cluster's Workflow, its pods elected for Admiralty's multicluster scheduler with
//   placement.clusterTarget; Admiralty, not this operator, moves them (untested here: Admiralty
//   cannot be installed from the registries this project uses).
// A step's own placement wins over the run's.
import type { Placement, PipelineRunSpec, PipelineStep } from "../schema/pipelineRun.ts";
import type { AutoPin } from "./autoPlacement.ts";

/** Where a step runs: this cluster, or the cluster of a Peer (named by its Peer object here). */
export type StepSite = { kind: "local" } | { kind: "peer"; peer: string };

export interface StepPlacement {
  step: string;
  site: StepSite;
  /** why, in words a user reads in status */
  reason: string;
  /** Admiralty's cluster target for the step's pods, when its strategy is Admiralty */
  clusterTarget?: string;
}

export type PlacementPlan = { ok: true; steps: StepPlacement[] } | { ok: false; field: string; message: string };

const local: StepSite = { kind: "local" };
const onPeer = (peer: string): StepSite => ({ kind: "peer", peer });

/** The pipeline input names a step reads (its `in` values that are not <step>/<output>). */
function inputsRead(step: PipelineStep): string[] {
  return Object.values(step.in ?? {}).filter((source) => !source.includes("/"));
}

function dataPeerOf(spec: PipelineRunSpec, step: PipelineStep): { input: string; peer: string | undefined; resource: string } | undefined {
  const read = new Set(inputsRead(step));
  const bound = (spec.inputs ?? []).find((i) => read.has(i.name));
  return bound ? { input: bound.name, peer: bound.resourceRef.peer, resource: bound.resourceRef.name } : undefined;
}

type Decision = { site: StepSite; reason: string; clusterTarget?: string } | { field: string; message: string };

function computeToData(spec: PipelineRunSpec, step: PipelineStep): Decision {
  const data = dataPeerOf(spec, step);
  if (!data) return { site: local, reason: "ComputeToData: the step reads no data Resource, so it runs on this cluster" };
  const where = data.peer ? `peer ${data.peer}` : "this cluster";
  return { site: data.peer ? onPeer(data.peer) : local, reason: `ComputeToData: reads input ${data.input}, data Resource ${data.resource} on ${where}` };
}

function explicit(step: PipelineStep, peer: string, at: string): Decision {
  const servicePeer = step.serviceRef.peer;
  if (servicePeer !== undefined && servicePeer !== peer) {
    return { field: `${at}.peer`, message: `${at}.peer: ${peer} is not where the step's service is (serviceRef.peer ${servicePeer}); a service runs on its own cluster` };
  }
  return { site: onPeer(peer), reason: `Explicit: placement.peer ${peer}` };
}

/** ComputeToData must agree with where the service is: the data's cluster runs that cluster's services. */
function dataDisagrees(spec: PipelineRunSpec, step: PipelineStep, at: string): Decision | undefined {
  const data = computeToData(spec, step);
  if (!("site" in data)) return data;
  const wanted = data.site.kind === "peer" ? data.site.peer : undefined;
  const servicePeer = step.serviceRef.peer;
  if (wanted === servicePeer || wanted === undefined) return undefined;
  const where = servicePeer ? `the service is on peer ${servicePeer}` : `the service ${step.serviceRef.name} is on this cluster; name a service of that peer (serviceRef.peer)`;
  return { field: `${at}.strategy`, message: `${at}.strategy: ComputeToData wants peer ${wanted} (${data.reason}) but ${where}` };
}

/** Where a step runs when its service is here, by strategy. */
function serviceHere(spec: PipelineRunSpec, step: PipelineStep, strategy: string): Decision {
  if (strategy === "ComputeToData") return computeToData(spec, step);
  if (strategy === "Auto") return { site: local, reason: `Auto: the service ${step.serviceRef.name} is on this cluster (not ranked: the run was placed before Auto ranked offers)` };
  return { site: local, reason: "Local: this cluster" };
}

/** A placement naming a peer and no strategy is Explicit; none at all is Local. */
const strategyOf = (placement: Placement | undefined): string => placement?.strategy ?? (placement?.peer ? "Explicit" : "Local");

/** The Workflow stays here and Admiralty sends the pods: the service must be this cluster's. */
function admiralty(step: PipelineStep, target: string, at: string): Decision {
  const servicePeer = step.serviceRef.peer;
  if (servicePeer !== undefined) {
    return { field: `${at}.strategy`, message: `${at}.strategy: Admiralty runs the step from this cluster's Workflow, but its service is on peer ${servicePeer}; name a service of this cluster or use Explicit` };
  }
  return { site: local, clusterTarget: target, reason: `Admiralty: this cluster's Workflow, pods elected for cluster target ${target} (Admiralty's scheduler moves them)` };
}

function decide(spec: PipelineRunSpec, step: PipelineStep, placement: Placement | undefined, at: string): Decision {
  const strategy = strategyOf(placement);
  if (strategy === "Explicit") return explicit(step, placement?.peer ?? "", at);
  if (strategy === "Admiralty") return admiralty(step, placement?.clusterTarget ?? "", at);
  const clash = strategy === "ComputeToData" ? dataDisagrees(spec, step, at) : undefined;
  if (clash) return clash;
  const servicePeer = step.serviceRef.peer;
  if (servicePeer === undefined) return serviceHere(spec, step, strategy);
  return servicePeerDecision(spec, step, strategy, servicePeer);
}

function servicePeerDecision(spec: PipelineRunSpec, step: PipelineStep, strategy: string, servicePeer: string): Decision {
  // The data's peer runs the step (its service is there too, or dataDisagrees said so): say why.
  if (strategy === "ComputeToData" && dataPeerOf(spec, step)?.peer === servicePeer) return computeToData(spec, step);
  // The strategy decides nothing here (it would read "Local: … on peer …"): the serviceRef does.
  return { site: onPeer(servicePeer), reason: `serviceRef.peer: the service ${step.serviceRef.name} is on peer ${servicePeer}` };
}

/** Where Auto's ranking put the step, pinned in status. */
function pinned(pin: AutoPin): Decision {
  return { site: pin.peer ? onPeer(pin.peer) : local, reason: pin.reason };
}

/** The plan for every step, or the first step that cannot be placed (the field named). `pins`: status.autoPlacement. */
export function placementPlan(spec: PipelineRunSpec, pins: readonly AutoPin[] = []): PlacementPlan {
  const steps: StepPlacement[] = [];
  for (const [index, step] of spec.steps.entries()) {
    const own = step.placement !== undefined;
    const at = own ? `spec.steps[${index}].placement` : "spec.placement";
    const pin = pins.find((p) => p.step === step.name);
    const decision = pin ? pinned(pin) : decide(spec, step, own ? step.placement : spec.placement, at);
    if ("field" in decision) return { ok: false, ...decision };
    steps.push({ step: step.name, ...decision });
  }
  return { ok: true, steps };
}

/**
 * The translation's placement hook: a task's step path (`main/<step>[/…]`) → Admiralty's cluster
 * target of the run step it belongs to, for the steps whose strategy is Admiralty.
 */
export function admiraltyTargets(plan: StepPlacement[]): ((stepPath: string) => string | undefined) | undefined {
  const targets = new Map(plan.flatMap((p) => (p.clusterTarget === undefined ? [] : [[p.step, p.clusterTarget] as const])));
  if (targets.size === 0) return undefined;
  return (stepPath) => targets.get(stepPath.split("/")[1] ?? "");
}
