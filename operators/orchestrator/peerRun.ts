// Steps placed on a peer: what to ask the peer next, and how its answers read in this run's
// status. Pure: the run, the plan, the peer's last answers and the clock go in; requests, the next
// action and the observation come out. The reconciler (pipelineRunReconciler.ts) does the I/O.
//
// The protocol, one step per reconcile pass, each idempotent on the peer (create-or-find by name):
//   reserve (Tentative hold) → confirm (second phase) → submit the steps → follow → release.
// A hold the peer rejects or lets expire fails the run before anything ran; a finished run's
// reservation is released at once, so the peer's capacity is not held to the window's end. A run
// placed on several peers goes through the same steps on each, in step (groupActions): every hold
// is admitted before any is confirmed, and one refused releases all.
import { createHash } from "node:crypto";
import { type ConditionUpdate, conditionTime } from "../runtime/conditions.ts";
import { present } from "../runtime/present.ts";
import type { PeerQuoteAnswer, PeerQuoteRequest, PeerReservationAnswer, PeerReservationRequest, PeerRunAnswer, PeerRunRequest } from "../federation/peerRuns.ts";
import { sumByCurrency } from "../billing/money.ts";
import { formatCpu, formatMemory, parseQuantity } from "../catalog/quantity.ts";
import type { RunQuote } from "./runQuote.ts";
import type { Money } from "../schema/common.ts";
import type { Peer } from "../schema/peer.ts";
import type { PipelineRun, PipelineRunStatus, PipelineStep, StepStatus } from "../schema/pipelineRun.ts";
import { upstreamOf } from "./pipelineWorkflow.ts";
import { awaitedFromHere, type PeerPart } from "./crossCluster.ts";
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

/**
 * The name this cluster asks the peer for (the peer prefixes its Peer name): stable per run, and
 * per round of holds (a hold of a later round must not find the lapsed one of that name).
 */
export function requestedName(run: PipelineRun, round = 1): string {
  const uid = run.metadata.uid ?? "";
  const base = (run.metadata.name ?? "run").slice(0, 40).replace(/-+$/, "");
  return `${base}-${createHash("sha256").update(round > 1 ? `${uid}/${round}` : uid).digest("hex").slice(0, 8)}`;
}

/** The most rounds of holds a run asks for before it fails: the first, and two more. */
export const maxHoldRounds = 3;

/** The namespace on the peer: the services' (serviceRef.namespace), else the run's own name. */
export function peerNamespace(run: PipelineRun): string | { field: string; message: string } {
  const namespaces = new Set(run.spec.steps.map((s) => s.serviceRef.namespace ?? run.metadata.namespace ?? ""));
  if (namespaces.size === 1) return [...namespaces][0] ?? "";
  return { field: "spec.steps[].serviceRef.namespace", message: `spec.steps[].serviceRef.namespace: the steps on a peer must use services of one namespace there (they name ${[...namespaces].sort().join(", ")})` };
}

/** A time the peer's API accepts: to the second, as every time in the Kubernetes objects. */
const seconds = (ms: number): string => conditionTime(new Date(ms));

/**
 * How much to hold on the peer: what the steps' containers request at their widest moment (the
 * peer's quote says), plus the settings' amount as room for Argo's own containers (init, wait)
 * and for a peer that did not say. A fixed size would refuse a step that asks for more.
 */
export function reservationSize(settings: PeerRunSettings, steps: { cpu: string; memory: string } | undefined): { cpu: string; memory: string } {
  if (!steps) return { cpu: settings.cpu, memory: settings.memory };
  return { cpu: formatCpu(parseQuantity(settings.cpu) + parseQuantity(steps.cpu)), memory: formatMemory(parseQuantity(settings.memory) + parseQuantity(steps.memory)) };
}

export function reservationRequest(run: PipelineRun, namespace: string, now: number, sizing: { settings: PeerRunSettings; steps?: { cpu: string; memory: string }; round?: number }): PeerReservationRequest {
  const { settings } = sizing;
  return {
    namespace,
    name: requestedName(run, sizing.round),
    ...reservationSize(settings, sizing.steps),
    start: seconds(now),
    end: seconds(now + settings.windowSeconds * 1000),
    holdSeconds: settings.holdSeconds,
  };
}

/**
 * The trust the run asks of the peer its part goes to: the highest placement.minTrust among the
 * part's steps' own placements and the run's, with the field that set it.
 */
export function minTrustOf(run: PipelineRun, part: PeerPart): { min: number; field: string } | undefined {
  let found: { min: number; field: string } | undefined;
  const consider = (min: number | undefined, field: string): void => {
    if (min !== undefined && (!found || min > found.min)) found = { min, field };
  };
  consider(run.spec.placement?.minTrust, "spec.placement.minTrust");
  for (const step of part.steps) {
    const index = run.spec.steps.findIndex((s) => s.name === step.name);
    consider(step.placement?.minTrust, `spec.steps[${index}].placement.minTrust`);
  }
  return found;
}

const trustScoreOf = (peer: Peer | undefined): number | undefined => peer?.status?.trust?.score;

/** Why the run may not hold anything on `peer` yet: its trust score is below what the run asks, or unknown. */
export function trustRefusal(peer: Peer | undefined, wanted: { min: number; field: string } | undefined, cluster: string): { reason: string; message: string } | undefined {
  const score = trustScoreOf(peer);
  if (!wanted || (score !== undefined && score >= wanted.min)) return undefined;
  const now = score === undefined ? "has no trust score yet" : `has a trust score of ${score}`;
  const name = peer?.metadata?.name ?? cluster;
  return {
    reason: RunReason.PeerUntrusted,
    message: `peer ${cluster} ${now} (Peer ${name}, status.trust), below ${wanted.field} ${wanted.min}: nothing is held there; the run starts when the score reaches it (asked again each minute)`,
  };
}

/** The part of a run the peer runs: by default every step, the run's outputs and job; `fromHere`: inputs its prelude here makes (sent once made). */
export function wholeRun(run: PipelineRun, fromHere: ReadonlyMap<string, string> = new Map()): PeerPart {
  const { steps, outputs, inputs, job } = run.spec;
  const data = (inputs ?? []).map((i) => ({ name: i.name, resource: i.resourceRef.name }));
  const awaits = awaitedFromHere(steps, fromHere);
  return { steps, outputs: (outputs ?? []).map((o) => ({ name: o.name, source: o.source })), ...(data.length ? { inputs: data } : {}), ...(job ? { job } : {}), ...(awaits.length ? { awaits } : {}) };
}

/** What the peer is asked to quote: the steps it would run, for the run's expected duration. */
export function quoteRequest(run: PipelineRun, part: PeerPart, namespace: string): PeerQuoteRequest {
  const inPart = new Set(part.steps.map((s) => s.name));
  const readsFrom = (step: PipelineStep): string[] => upstreamOf(step).filter((name) => inPart.has(name));
  const steps = part.steps.map((s) => {
    const after = readsFrom(s);
    return { name: s.name, service: s.serviceRef.name, ...(after.length > 0 ? { after } : {}) };
  });
  return { namespace, steps, ...present({ expectedDuration: run.spec.expectedDuration }) };
}

/**
 * The run's quote: each peer's for its steps plus this cluster's for the rest (a run across
 * clusters), per currency. Priced only when every part is: a part that cannot be quoted leaves
 * the run without a quote (a budget then refuses it, as for a run here).
 */
export function combineQuotes(peers: { answer: PeerQuoteAnswer; cluster: string }[], local: RunQuote | undefined): RunQuote {
  const unpriced = peers.find((p) => !p.answer.priced);
  if (unpriced) return { priced: false, message: `peer ${unpriced.cluster} cannot quote its steps: ${unpriced.answer.message}` };
  if (local && !local.priced) return local;
  const totals = sumByCurrency([...peers.flatMap((p) => p.answer.totals), ...(local?.priced ? local.totals : [])], "quote");
  const text = totals.map((t) => `${t.amount} ${t.currency}`).join(" + ");
  const parts = [...peers.map((p) => `peer ${p.cluster}: ${p.answer.message}`), ...(local?.priced ? [`here: ${local.message}`] : [])];
  return { priced: true, totals, message: `${text} (${parts.join("; ")})`, plans: local?.priced ? local.plans : [] };
}

/** The peer's run of `part`; `budget`: the most it may cost (billing/budget.ts partBudget). */
export function runRequest(run: PipelineRun, part: PeerPart, where: { namespace: string; reservation: string }, budget?: Money): PeerRunRequest {
  return {
    namespace: where.namespace,
    name: requestedName(run),
    reservation: where.reservation,
    steps: part.steps.map((s) => ({ name: s.name, service: s.serviceRef.name, ...(s.in ? { in: s.in } : {}) })),
    ...(part.outputs.length ? { outputs: part.outputs } : {}),
    ...(part.inputs?.length ? { inputs: part.inputs } : {}),
    ...(part.awaits?.length ? { awaitedInputs: part.awaits.map((a) => a.input) } : {}),
    ...(run.spec.timeout ? { timeout: run.spec.timeout } : {}),
    ...(run.spec.retry ? { retry: run.spec.retry } : {}),
    ...(part.job ? { job: part.job } : {}),
    ...(budget ? { budget } : {}),
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
  | { kind: "done" }
  /** another peer's part failed: this one's run is cancelled and its hold given back */
  | { kind: "abandon"; message: string };

const heldStates = new Set(["Confirmed", "Active"]);
const finalRunPhases = new Set(["Succeeded", "Failed", "Error"]);
/** A part this cluster cancelled because another peer's failed: it ran nothing wrong of its own. */
export const cancelledPhase = "Cancelled";

export const runFinished = (run: PeerRunAnswer | undefined): boolean => run !== undefined && finalRunPhases.has(run.phase ?? "");

/** Once the peer's run has ended: give the hold back, unless it is already. */
function afterRun(reservation: PeerReservationAnswer | undefined): PeerAction {
  return reservation && reservation.state !== "Released" && reservation.state !== "Expired" ? { kind: "release" } : { kind: "done" };
}

/** Before the steps are sent: the hold decides. */
function beforeRun(reservation: PeerReservationAnswer): PeerAction {
  const state = reservation.state ?? "Pending";
  if (state === "Rejected" || state === "Expired" || state === "Released") {
    return { kind: "fail", reason: RunReason.ReservationRejected, message: `the peer's reservation ${reservation.name} is ${state}${reservation.message ? `: ${reservation.message}` : ""}` };
  }
  if (state === "Tentative") return { kind: "confirm" };
  if (!heldStates.has(state)) return { kind: "wait", message: `waiting for the peer to admit reservation ${reservation.name} (${state})` };
  return { kind: "submit" };
}

/**
 * The next thing to do. `submitted`: the run was sent before (status names it), so a missing
 * answer means the peer deleted it, not that it is still to be sent.
 */
export function nextPeerAction(reservation: PeerReservationAnswer | undefined, run: PeerRunAnswer | undefined, submitted: boolean): PeerAction {
  if (run && runFinished(run)) return afterRun(reservation);
  if (run) return { kind: "follow" };
  if (submitted) return { kind: "fail", reason: RunReason.PeerRunDeleted, message: "the peer's run of these steps was deleted before it finished" };
  return reservation ? beforeRun(reservation) : { kind: "reserve" };
}

/** One peer's part of a run, as the peer answered this pass. */
export interface PartState {
  cluster: string;
  reservation: PeerReservationAnswer | undefined;
  run: PeerRunAnswer | undefined;
  submitted: boolean;
}

/** How far an action is in the protocol: a later stage waits for every part to reach it. */
const stageOf: Partial<Record<PeerAction["kind"], number>> = { reserve: 0, wait: 1, confirm: 2, submit: 3 };

const partFailed = (part: PartState, action: PeerAction): boolean => action.kind === "fail" || (part.run !== undefined && runFinished(part.run) && part.run.phase !== "Succeeded");

/**
 * The next thing to do on each peer of a run placed on several: the two phases across peers. A
 * hold is confirmed only once every peer has admitted its own (Tentative or better), the steps
 * are sent only once every hold is confirmed, and when one part fails (a hold refused or expired,
 * a run failed or deleted) every other part still open is abandoned: its run cancelled, its hold
 * given back. Nothing is confirmed anywhere unless it can be everywhere.
 */
export function groupActions(parts: PartState[]): PeerAction[] {
  const own = parts.map((p) => nextPeerAction(p.reservation, p.run, p.submitted));
  if (parts.length < 2) return own;
  const failed = parts.findIndex((p, i) => partFailed(p, own[i] as PeerAction));
  if (failed >= 0) {
    const message = `peer ${parts[failed]?.cluster ?? ""}'s part failed: this part is cancelled and its hold given back`;
    return own.map((a, i) => (i === failed || partFailed(parts[i] as PartState, a) || ["release", "done"].includes(a.kind) ? a : { kind: "abandon", message }));
  }
  const least = Math.min(...own.map((a) => stageOf[a.kind] ?? 4));
  const behind = parts.filter((_, i) => (stageOf[(own[i] as PeerAction).kind] ?? 4) === least).map((p) => p.cluster);
  return own.map((a) => {
    const stage = stageOf[a.kind];
    if (stage === undefined || stage <= least || stage < 2) return a;
    const what = a.kind === "confirm" ? "confirming this hold" : "sending the steps";
    return { kind: "wait", message: `waiting for ${behind.join(", ")} to admit the run's hold before ${what} (every peer holds, or none)` };
  });
}

/**
 * Whether the run's holds are asked again, under new names: some hold lapsed (Expired: it was not
 * confirmed in time, because another peer was slow to admit its own or this cluster could not
 * reach a peer), none was refused (a peer's verdict stands), nothing was sent to any peer yet,
 * and rounds are left. The lapsed round is given back whole first. Undefined: go on as decided.
 */
export function freshRound(parts: PartState[], round: number): { lapsed: PartState } | undefined {
  if (round >= maxHoldRounds || parts.some((p) => p.submitted || p.run !== undefined || p.reservation?.state === "Rejected")) return undefined;
  const lapsed = parts.find((p) => p.reservation?.state === "Expired");
  return lapsed ? { lapsed } : undefined;
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
    return { ...planned, phase, ...present({ startedAt: remote.startedAt, finishedAt: remote.finishedAt, message: remote.message?.slice(0, 4096) }) };
  });
}

const condition = (type: string, status: ConditionUpdate["status"], reason: string, message: string): ConditionUpdate => ({ type, status, reason, message: message.slice(0, 32768) });

/** The same reason and message on both conditions. */
const both = (ready: ConditionUpdate["status"], succeeded: ConditionUpdate["status"], reason: string, message: string): Pick<RunObservation, "ready" | "succeeded"> => ({
  ready: condition("Ready", ready, reason, message),
  succeeded: condition("Succeeded", succeeded, reason, message),
});

function failedAnswer(site: PeerSite, answer: PeerRunAnswer, steps: StepStatus[]): Pick<RunObservation, "ready" | "succeeded"> {
  const failed = steps.find((s) => s.phase === "Failed" || s.phase === "Error");
  const why = answer.succeeded?.message ?? answer.ready?.message ?? "no message";
  if (failed) return both("False", "False", RunReason.StepFailed, `step "${failed.name}" failed on cluster ${site.cluster}: ${failed.message ?? why}`);
  return both("False", "False", RunReason.WorkflowFailed, `the run failed on peer ${site.cluster}: ${why}`);
}

/** The conditions while the peer's run is not finished. */
function unfinishedAnswer(site: PeerSite, answer: PeerRunAnswer, phase: Phase, progress: string): Pick<RunObservation, "ready" | "succeeded"> {
  const on = `on peer ${site.cluster}`;
  // Waiting for outputs this cluster relays from another peer's part: the plan, not a refusal.
  if (answer.awaiting?.length) return both("True", "Unknown", RunReason.RelayingOutputs, `${answer.name} ${on} waits for ${answer.awaiting.join(", ")}: outputs of another peer's steps, relayed by this cluster once they have succeeded`);
  // The peer's orchestrator cannot start it (its own blocking reason): say it in the peer's words.
  if (answer.ready?.status === "False") return both("False", "Unknown", RunReason.PeerRefused, `${on}: ${answer.ready.reason ?? "blocked"}: ${answer.ready.message ?? ""}`);
  if (phase === "Running") return both("True", "Unknown", RunReason.Running, `${answer.name} runs ${on}: ${progress} steps succeeded`);
  return both("True", "Unknown", RunReason.Pending, `${answer.name} is created ${on}; waiting for its Argo to start it`);
}

function answeredPhase(answer: PeerRunAnswer): Phase {
  return phases.has(answer.phase ?? "") ? (answer.phase as Phase) : "Pending";
}

/** This run's status while its steps are with the peer (before any run answer, or from it). */
export function observePeerRun(plan: StepPlacement[], site: PeerSite, answer: PeerRunAnswer | undefined, waiting?: string): RunObservation {
  const steps = peerSteps(plan, site, answer);
  const progress = `${steps.filter((s) => s.phase === "Succeeded").length}/${steps.length}`;
  if (!answer) return { phase: "Pending", progress, steps, ...both("True", "Unknown", RunReason.Reserving, waiting ?? `reserving capacity on peer ${site.cluster}`) };
  const phase = answeredPhase(answer);
  const base = { phase, progress, steps, ...present({ startedAt: answer.startedAt }) };
  if (phase === "Succeeded") {
    const message = `all ${steps.length} steps succeeded on peer ${site.cluster}`;
    return { ...base, ...present({ finishedAt: answer.finishedAt, outputs: answer.outputs.length > 0 ? answer.outputs : undefined }), ...both("True", "True", RunReason.Succeeded, message) };
  }
  if (phase === "Failed" || phase === "Error") return { ...base, ...present({ finishedAt: answer.finishedAt }), ...failedAnswer(site, answer, steps) };
  return { ...base, ...unfinishedAnswer(site, answer, phase, progress) };
}

const earliest = (times: (string | undefined)[]): string | undefined => times.filter((t): t is string => t !== undefined).sort()[0];
const latest = (times: (string | undefined)[]): string | undefined => times.filter((t): t is string => t !== undefined).sort().at(-1);

/**
 * A run's status from the observations of its parts on several peers: every part's steps and
 * outputs; failed when one part failed (its conditions say which step, on which cluster);
 * succeeded when all have; otherwise as the part that holds it back most (what it waits for).
 */
export function observeParts(parts: RunObservation[], clusters: string[]): RunObservation {
  if (parts.length === 1 && parts[0]) return parts[0];
  const base = partsTogether(parts);
  const steps = base.steps;
  const failed = parts.find((p) => p.succeeded.status === "False");
  if (failed) return { ...base, phase: failed.phase === "Error" ? "Error" : "Failed", ...present({ finishedAt: latest(parts.map((p) => p.finishedAt)) }), ready: failed.ready, succeeded: failed.succeeded };
  if (parts.every((p) => p.succeeded.status === "True")) {
    const message = `all ${steps.length} steps succeeded on peers ${clusters.join(", ")}`;
    return { ...base, phase: "Succeeded", ...present({ finishedAt: latest(parts.map((p) => p.finishedAt)) }), ...both("True", "True", RunReason.Succeeded, message) };
  }
  const open = holdingBack(parts);
  const phase: Phase = parts.some((p) => p.phase === "Running" || p.phase === "Succeeded") ? "Running" : "Pending";
  return { ...base, phase, ready: open.ready, succeeded: open.succeeded };
}

/** Every part's steps and outputs, the progress over all, the earliest start. */
function partsTogether(parts: RunObservation[]): Pick<RunObservation, "steps" | "progress" | "startedAt" | "outputs"> {
  const steps = parts.flatMap((p) => p.steps);
  const outputs = parts.flatMap((p) => p.outputs ?? []);
  return { steps, progress: `${steps.filter((s) => s.phase === "Succeeded").length}/${steps.length}`, ...present({ startedAt: earliest(parts.map((p) => p.startedAt)), outputs: outputs.length > 0 ? outputs : undefined }) };
}

/** What holds the run back most: a part blocked, else one not started, else one still running. */
function holdingBack(parts: RunObservation[]): Pick<RunObservation, "ready" | "succeeded"> {
  const open = parts.find((p) => p.ready.status === "False") ?? parts.find((p) => p.phase === "Pending") ?? parts.find((p) => p.succeeded.status !== "True");
  return open ?? both("Unknown", "Unknown", RunReason.Pending, "");
}

/** A run that failed before the peer ran anything (reservation refused, run deleted, peer refused). */
export function failedPeerRun(plan: StepPlacement[], site: PeerSite, why: { reason: string; message: string; at: string }): RunObservation {
  const steps = peerSteps(plan, site, undefined);
  return { phase: "Failed", progress: `0/${steps.length}`, steps, finishedAt: why.at, ...both("False", "False", why.reason, why.message) };
}

/** A finished run's observation as its status holds it: the outcome is never decided twice. */
export function keptObservation(status: PipelineRunStatus | undefined): RunObservation {
  const kept = (type: string): ConditionUpdate => {
    const c = status?.conditions?.find((x) => x.type === type);
    return condition(type, c?.status ?? "Unknown", c?.reason ?? "Unknown", c?.message ?? "");
  };
  return {
    phase: status?.phase ?? "Pending",
    progress: status?.progress ?? "",
    steps: status?.steps ?? [],
    ...present({ startedAt: status?.startedAt, finishedAt: status?.finishedAt, outputs: status?.outputs }),
    ready: kept("Ready"),
    succeeded: kept("Succeeded"),
  };
}
