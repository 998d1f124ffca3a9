// Steps placed on a peer: what to ask the peer next, and how its answers read in this run's
// status. Pure: the run, the plan, the peer's last answers and the clock go in; requests, the next
// action and the observation come out. The reconciler (pipelineRunReconciler.ts) does the I/O.
//
// The protocol, one step per reconcile pass, each idempotent on the peer (create-or-find by name):
//   reserve (Tentative hold) → confirm (second phase) → submit the steps → follow → release.
// A hold the peer rejects or lets expire fails the run before anything ran; a finished run's
// reservation is released at once, so the peer's capacity is not held to the window's end.
import { createHash } from "node:crypto";
import type { ConditionUpdate } from "../runtime/conditions.ts";
import type { PeerReservationAnswer, PeerReservationRequest, PeerRunAnswer, PeerRunRequest } from "../federation/peerRuns.ts";
import type { PipelineRun, PipelineRunStatus, StepStatus } from "../schema/pipelineRun.ts";
import type { StepPlacement } from "./placement.ts";
import { RunReason } from "./reasons.ts";
import type { RunObservation } from "./runStatus.ts";

export interface PeerRunSettings {
  /** What one run holds on the peer when its services say nothing (cpu, memory quantities). */
  cpu: string;
  memory: string;
  /** The reservation's window: from now, this long. */
  windowSeconds: number;
  /** How long the peer keeps a Tentative hold unconfirmed. */
  holdSeconds: number;
}

export const defaultPeerRunSettings: PeerRunSettings = { cpu: "1", memory: "1Gi", windowSeconds: 3600, holdSeconds: 120 };

/** The name this cluster asks the peer for (the peer prefixes its Peer name): stable per run. */
export function requestedName(run: PipelineRun): string {
  const uid = run.metadata.uid ?? "";
  const base = (run.metadata.name ?? "run").slice(0, 40).replace(/-+$/, "");
  return `${base}-${createHash("sha256").update(uid).digest("hex").slice(0, 8)}`;
}

/** The namespace on the peer: the services' (serviceRef.namespace), else the run's own name. */
export function peerNamespace(run: PipelineRun): string | { field: string; message: string } {
  const namespaces = new Set(run.spec.steps.map((s) => s.serviceRef.namespace ?? run.metadata.namespace ?? ""));
  if (namespaces.size === 1) return [...namespaces][0] ?? "";
  return { field: "spec.steps[].serviceRef.namespace", message: `spec.steps[].serviceRef.namespace: the steps on a peer must use services of one namespace there (they name ${[...namespaces].sort().join(", ")})` };
}

const seconds = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

export function reservationRequest(run: PipelineRun, namespace: string, now: number, settings: PeerRunSettings): PeerReservationRequest {
  return {
    namespace,
    name: requestedName(run),
    cpu: settings.cpu,
    memory: settings.memory,
    start: seconds(now),
    end: seconds(now + settings.windowSeconds * 1000),
    holdSeconds: settings.holdSeconds,
  };
}

export function runRequest(run: PipelineRun, namespace: string, reservation: string): PeerRunRequest {
  const { steps, outputs, job } = run.spec;
  return {
    namespace,
    name: requestedName(run),
    reservation,
    steps: steps.map((s) => ({ name: s.name, service: s.serviceRef.name, ...(s.in ? { in: s.in } : {}) })),
    ...(outputs?.length ? { outputs: outputs.map((o) => ({ name: o.name, source: o.source })) } : {}),
    ...(job ? { job } : {}),
  };
}

export type PeerAction =
  | { kind: "reserve" }
  | { kind: "wait"; message: string }
  | { kind: "confirm" }
  | { kind: "fail"; reason: string; message: string }
  | { kind: "submit" }
  | { kind: "follow" }
  | { kind: "release" }
  | { kind: "done" };

const heldStates = new Set(["Confirmed", "Active"]);
const finalRunPhases = new Set(["Succeeded", "Failed", "Error"]);

export const runFinished = (run: PeerRunAnswer | undefined): boolean => run !== undefined && finalRunPhases.has(run.phase ?? "");

/**
 * The next thing to do. `submitted`: the run was sent before (status names it), so a missing
 * answer means the peer deleted it, not that it is still to be sent.
 */
export function nextPeerAction(reservation: PeerReservationAnswer | undefined, run: PeerRunAnswer | undefined, submitted: boolean): PeerAction {
  if (run && runFinished(run)) return reservation && reservation.state !== "Released" && reservation.state !== "Expired" ? { kind: "release" } : { kind: "done" };
  if (submitted && !run) return { kind: "fail", reason: RunReason.PeerRunDeleted, message: "the peer's run of these steps was deleted before it finished" };
  if (!reservation) return { kind: "reserve" };
  const state = reservation.state ?? "Pending";
  if (state === "Rejected" || state === "Expired" || state === "Released") {
    return { kind: "fail", reason: RunReason.ReservationRejected, message: `the peer's reservation ${reservation.name} is ${state}${reservation.message ? `: ${reservation.message}` : ""}` };
  }
  if (state === "Tentative") return { kind: "confirm" };
  if (!heldStates.has(state)) return { kind: "wait", message: `waiting for the peer to admit reservation ${reservation.name} (${state})` };
  return run ? { kind: "follow" } : { kind: "submit" };
}

type Phase = NonNullable<PipelineRunStatus["phase"]>;
const phases = new Set<string>(["Pending", "Running", "Succeeded", "Failed", "Error"]);
const stepPhases = new Set<string>([...phases, "Skipped"]);

export interface PeerSite {
  peer: string;
  cluster: string;
}

/** Status entries for the plan before the peer runs anything: each step Pending, with why it goes there. */
export function plannedSteps(plan: StepPlacement[], cluster: (p: StepPlacement) => string): StepStatus[] {
  return plan.map((p) => ({ name: p.step, phase: "Pending" as const, cluster: cluster(p), ...(p.site.kind === "peer" ? { peer: p.site.peer } : {}), placement: p.reason }));
}

function peerSteps(plan: StepPlacement[], site: PeerSite, answer: PeerRunAnswer | undefined): StepStatus[] {
  return plannedSteps(plan, () => site.cluster).map((planned) => {
    const remote = answer?.steps.find((s) => s.name === planned.name);
    if (!remote) return planned;
    const phase = (stepPhases.has(remote.phase) ? remote.phase : "Pending") as StepStatus["phase"];
    return { ...planned, phase, ...(remote.startedAt ? { startedAt: remote.startedAt } : {}), ...(remote.finishedAt ? { finishedAt: remote.finishedAt } : {}), ...(remote.message ? { message: remote.message.slice(0, 4096) } : {}) };
  });
}

const condition = (type: string, status: ConditionUpdate["status"], reason: string, message: string): ConditionUpdate => ({ type, status, reason, message: message.slice(0, 32768) });

/** This run's status while its steps are with the peer (before any run answer, or from it). */
export function observePeerRun(plan: StepPlacement[], site: PeerSite, answer: PeerRunAnswer | undefined, waiting?: string): RunObservation {
  const steps = peerSteps(plan, site, answer);
  const progress = `${steps.filter((s) => s.phase === "Succeeded").length}/${steps.length}`;
  const phase: Phase = answer && phases.has(answer.phase ?? "") ? (answer.phase as Phase) : "Pending";
  const on = `on peer ${site.cluster}`;
  const base = { phase, progress, steps, ...(answer?.startedAt ? { startedAt: answer.startedAt } : {}) };
  if (!answer) {
    const message = waiting ?? `reserving capacity ${on}`;
    return { ...base, ready: condition("Ready", "True", RunReason.Reserving, message), succeeded: condition("Succeeded", "Unknown", RunReason.Reserving, message) };
  }
  const ended = { ...(answer.finishedAt ? { finishedAt: answer.finishedAt } : {}) };
  if (phase === "Succeeded") {
    const outputs = answer.outputs.length > 0 ? { outputs: answer.outputs } : {};
    return { ...base, ...ended, ...outputs, ready: condition("Ready", "True", RunReason.Succeeded, `all ${steps.length} steps succeeded ${on}`), succeeded: condition("Succeeded", "True", RunReason.Succeeded, `all ${steps.length} steps succeeded ${on}`) };
  }
  if (phase === "Failed" || phase === "Error") {
    const failed = steps.find((s) => s.phase === "Failed" || s.phase === "Error");
    const why = answer.succeeded?.message ?? answer.ready?.message ?? "no message";
    const message = failed ? `step "${failed.name}" failed on cluster ${site.cluster}: ${failed.message ?? why}` : `the run failed ${on}: ${why}`;
    const reason = failed ? RunReason.StepFailed : RunReason.WorkflowFailed;
    return { ...base, ...ended, ready: condition("Ready", "False", reason, message), succeeded: condition("Succeeded", "False", reason, message) };
  }
  if (answer.ready?.status === "False") {
    // The peer's orchestrator cannot start it (its own blocking reason): say it in the peer's words.
    const message = `${on}: ${answer.ready.reason ?? "blocked"}: ${answer.ready.message ?? ""}`;
    return { ...base, ready: condition("Ready", "False", RunReason.PeerRefused, message), succeeded: condition("Succeeded", "Unknown", RunReason.PeerRefused, message) };
  }
  const running = phase === "Running" ? `runs ${on}: ${progress} steps succeeded` : `is created ${on}; waiting for its Argo to start it`;
  const reason = phase === "Running" ? RunReason.Running : RunReason.Pending;
  return { ...base, ready: condition("Ready", "True", reason, `${answer.name} ${running}`), succeeded: condition("Succeeded", "Unknown", reason, `${answer.name} ${running}`) };
}

/** A run that failed before the peer ran anything (reservation refused, run deleted, peer refused). */
export function failedPeerRun(plan: StepPlacement[], site: PeerSite, reason: string, message: string, now: string): RunObservation {
  const steps = peerSteps(plan, site, undefined);
  return { phase: "Failed", progress: `0/${steps.length}`, steps, finishedAt: now, ready: condition("Ready", "False", reason, message), succeeded: condition("Succeeded", "False", reason, message) };
}
