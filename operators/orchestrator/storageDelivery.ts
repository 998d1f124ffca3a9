// Outputs sent to storage are copied once the steps that made them have succeeded, and the run
// succeeds only then: a run here waits for its Workflow's outputs, a run on a peer for the peer's
// (read through the federation API). Pure: what the run's status says while the copy is pending,
// and once it is done.
import type { PipelineRun, PipelineRunStatus } from "../schema/pipelineRun.ts";
import { keptObservation } from "./peerRun.ts";
import { RunReason } from "./reasons.ts";
import type { RunObservation } from "./runStatus.ts";
import type { Blocked } from "./serviceResolution.ts";

type Outputs = NonNullable<PipelineRunStatus["outputs"]>;

/** The run's outcome is recorded (Succeeded True or False): it is never decided twice. */
export const runDecided = (run: PipelineRun): boolean => ["True", "False"].includes(run.status?.conditions?.find((c) => c.type === "Succeeded")?.status ?? "");

/** The steps succeeded but an output could not be copied to its storage yet: the run is not done. */
export function undelivered(o: RunObservation, why: Blocked): RunObservation {
  const { finishedAt: _finished, ...running } = o;
  return { ...running, phase: "Running", ready: { ...o.ready, status: "False", reason: why.reason, message: why.message }, succeeded: { ...o.succeeded, status: "Unknown", reason: why.reason, message: why.message } };
}

/**
 * The steps succeeded but an output can never be copied as asked (over the copy's limits, a path or
 * location refused): the run fails saying which, rather than trying again for ever.
 */
export function refusedDelivery(o: RunObservation, why: Blocked): RunObservation {
  return { ...o, phase: "Failed", ready: { ...o.ready, status: "False", reason: why.reason, message: why.message }, succeeded: { ...o.succeeded, status: "False", reason: why.reason, message: why.message } };
}

/** What the run's status says once a copy was refused: that record stands (the Workflow's own success changes nothing). */
export const deliveryRefused = (run: PipelineRun): boolean => run.status?.conditions?.some((c) => c.type === "Succeeded" && c.status === "False" && c.reason === RunReason.OutputsRefused) ?? false;

/** The observation that follows a failed copy: a refusal ends the run, anything else is tried again. */
export function afterFailedCopy(o: RunObservation, why: Blocked): RunObservation {
  return why.reason === RunReason.OutputsRefused ? refusedDelivery(o, why) : undelivered(o, why);
}

/** Every step ran on peers and succeeded there, and the outputs are not in storage yet. */
export function awaitingDelivery(run: PipelineRun): boolean {
  const parts = run.status?.peerRuns ?? [];
  return parts.length > 0 && parts.every((r) => r.phase === "Succeeded") && !runDecided(run);
}

/**
 * The peer's observation of a run whose outputs go to storage here: its success waits for the
 * copy; once the copy is recorded, the record stands (the peer's later answers change nothing).
 */
export function succeededOnceDelivered(run: PipelineRun, o: RunObservation): RunObservation {
  if (o.succeeded.status !== "True") return o;
  if (runDecided(run)) return keptObservation(run.status);
  const clusters = (run.status?.peerRuns ?? []).map((r) => r.cluster);
  const where = clusters.length > 0 ? `peer${clusters.length > 1 ? "s" : ""} ${clusters.join(", ")}` : "the peer";
  return undelivered(o, { reason: RunReason.OutputsUndelivered, message: `the steps succeeded on ${where}; copying the outputs to storage here` });
}

/** The run once its outputs are in storage: Succeeded, with their new locations. */
export function deliveredObservation(held: RunObservation, outputs: Outputs, message: string, at: string): RunObservation {
  const done = { status: "True" as const, reason: RunReason.Succeeded, message };
  return { ...held, phase: "Succeeded", outputs, finishedAt: at, ready: { ...held.ready, ...done }, succeeded: { ...held.succeeded, ...done } };
}
