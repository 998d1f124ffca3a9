// A Peer's trust score (status.trust): how far this cluster relies on the peer to run its steps.
// Pure: the previous trust, the reachability before and after this pass, and how this cluster's
// runs on the peer ended go in; the trust to write comes out. The rule and why:
// docs/decisions/peer-trust.md.
//
// Writes stay rare (docs/decisions/peer-status-writes.md): the history advances only when the
// status is written anyway (lastSeen's minute or the reachability changed), or hourly, so a steady
// peer costs no write of its own; the run counts change only when a run on the peer ends.
// A reservation the peer rejected or let expire counts as a failure, as does a step that failed
// there, whoever's fault it was (neither side can tell a tool's bug from a node's); a request the
// peer refused does not.
import { conditionTime } from "../runtime/conditions.ts";
import type { PeerTrust } from "../schema/peer.ts";

/** Time observed long ago weighs half as much every week. */
export const TRUST_HALF_LIFE_MS = 7 * 24 * 3600_000;
/** The history advances at least this often, whatever else changes. */
export const TRUST_REFRESH_MS = 3600_000;
/** Assumed Connected time before any observation: a new peer is not judged on its first minute. */
const PRIOR_SECONDS = 600;

export interface RunOutcomes {
  succeeded: number;
  failed: number;
}

/** What the pass knows: the reachability before it (status) and after it, and whether lastSeen's minute moved. */
export interface TrustPass {
  now: number;
  wasConnected: boolean;
  stateChanged: boolean;
  lastSeenMoved: boolean;
  runs: RunOutcomes;
}

/** 0–100: availability × (½ + ½ × the run success rate with one success and one failure assumed). */
export function trustScore(availability: number, runs: RunOutcomes): number {
  const success = (runs.succeeded + 1) / (runs.succeeded + runs.failed + 2);
  return Math.round(100 * availability * (0.5 + 0.5 * success));
}

export function availabilityOf(connectedSeconds: number, observedSeconds: number): number {
  return (connectedSeconds + PRIOR_SECONDS) / (observedSeconds + PRIOR_SECONDS);
}

const toSecond = (ms: number): string => conditionTime(new Date(ms));

/** The history advanced to `now`: the time since observedAt counted as Connected or not, older time decayed. */
function advanced(prev: PeerTrust, pass: TrustPass): Pick<PeerTrust, "connectedSeconds" | "observedSeconds" | "observedAt"> {
  const since = Date.parse(prev.observedAt);
  const elapsedMs = Number.isNaN(since) ? 0 : Math.max(0, pass.now - since);
  const decay = 0.5 ** (elapsedMs / TRUST_HALF_LIFE_MS);
  const elapsed = elapsedMs / 1000;
  return {
    connectedSeconds: Math.round(prev.connectedSeconds * decay + (pass.wasConnected ? elapsed : 0)),
    observedSeconds: Math.round(prev.observedSeconds * decay + elapsed),
    observedAt: toSecond(pass.now),
  };
}

function due(prev: PeerTrust, pass: TrustPass): boolean {
  const since = Date.parse(prev.observedAt);
  return pass.stateChanged || pass.lastSeenMoved || Number.isNaN(since) || pass.now - since >= TRUST_REFRESH_MS;
}

/** The trust to write after this pass: the previous history kept as is unless it is due to advance. */
export function planTrust(prev: PeerTrust | undefined, pass: TrustPass): PeerTrust {
  const history = !prev ? { connectedSeconds: 0, observedSeconds: 0, observedAt: toSecond(pass.now) } : due(prev, pass) ? advanced(prev, pass) : prev;
  const availability = availabilityOf(history.connectedSeconds, history.observedSeconds);
  return {
    score: trustScore(availability, pass.runs),
    availability: Math.round(100 * availability),
    connectedSeconds: history.connectedSeconds,
    observedSeconds: history.observedSeconds,
    observedAt: history.observedAt,
    runsSucceeded: pass.runs.succeeded,
    runsFailed: pass.runs.failed,
  };
}

/** What the score reads of a run's part on one peer: its entry of status.peerRuns and the reason of the run's Succeeded condition. */
export interface RunOnPeer {
  peerRun?: { phase?: string; reservationState?: string };
  reason?: string;
}

/**
 * The orchestrator's reason when the peer refused a request it may refuse (a service it does not
 * show us, a namespace it did not open): the peer said no, it did not fail to deliver.
 */
const refusedReason = "PeerRefused";

/** How one of this cluster's runs on the peer ended; undefined while it has not, or when the peer only refused it. */
export function runOutcome(run: RunOnPeer): "succeeded" | "failed" | undefined {
  const { peerRun } = run;
  if (!peerRun) return undefined;
  if (peerRun.phase === "Succeeded") return "succeeded";
  if (peerRun.reservationState === "Rejected" || peerRun.reservationState === "Expired") return "failed";
  return (peerRun.phase === "Failed" || peerRun.phase === "Error") && run.reason !== refusedReason ? "failed" : undefined;
}

/** The outcomes of the runs given (all of this cluster's runs with steps on one peer). */
export function outcomesOf(runs: readonly RunOnPeer[]): RunOutcomes {
  const outcomes = { succeeded: 0, failed: 0 };
  for (const run of runs) {
    const outcome = runOutcome(run);
    if (outcome) outcomes[outcome]++;
  }
  return outcomes;
}

/** What the score reads of one of this cluster's PipelineRuns (its status): where its steps went, and the holds Auto left. */
export interface RunRecord {
  peerRuns?: readonly { peer: string; phase?: string; reservationState?: string }[];
  autoRefused?: readonly { peer: string; state: string }[];
  /** the reason of its Succeeded condition */
  reason?: string;
}

/** The peers a run went to: where its steps are, and those whose hold for Auto's steps ended before they were sent. */
export function peersOfRun(run: RunRecord): string[] {
  return [...new Set([...(run.peerRuns ?? []).map((r) => r.peer), ...(run.autoRefused ?? []).map((r) => r.peer)])];
}

/**
 * What `peer` did for the run: its steps there, and each hold it did not keep before Auto moved them
 * (each a failure). A part cancelled because another peer's failed (phase Cancelled), or whose hold
 * was given back for that reason, counts neither way.
 */
export function runsOnPeer(run: RunRecord, peer: string): RunOnPeer[] {
  const refused = (run.autoRefused ?? []).filter((r) => r.peer === peer).map((r) => ({ peerRun: { reservationState: r.state } }));
  const steps = (run.peerRuns ?? []).filter((r) => r.peer === peer).map((r) => ({ peerRun: r, ...(run.reason ? { reason: run.reason } : {}) }));
  return [...steps, ...refused];
}
