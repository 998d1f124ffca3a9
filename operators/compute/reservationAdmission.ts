// Admission of a Reservation over time windows. Pure: no I/O, no clock (times are passed in as
// epoch milliseconds).
//
// A candidate fits when, at every instant of its window, what the already-admitted claims hold
// plus what the candidate asks stays within the limit (capacity × overcommit), for cpu and for
// memory. Windows are half-open, [start, end): a claim ending at t and one starting at t never
// overlap. The sum only changes at window boundaries, so checking the instants where a claim
// inside the candidate's window starts (and the candidate's own start) covers every instant.
import { formatCpu, formatMemory } from "../catalog/quantity.ts";

export type ComputeResource = "cpu" | "memory";
export const computeResources: readonly ComputeResource[] = ["cpu", "memory"];

/** Amounts in nano-units (quantity.ts): nano-cores, nano-bytes. */
export type Amounts = Record<ComputeResource, bigint>;

export interface Claim {
  name: string;
  amounts: Amounts;
  /** Epoch ms, inclusive. */
  start: number;
  /** Epoch ms, exclusive. */
  end: number;
}

export interface Shortfall {
  resource: ComputeResource;
  /** The first instant (epoch ms) at which the candidate would not fit. */
  at: number;
  /** What the admitted claims hold at that instant. */
  held: bigint;
  requested: bigint;
  limit: bigint;
  /** held + requested − limit (> 0). */
  short: bigint;
}

export type AdmissionDecision = { fits: true; peak: Amounts } | { fits: false; shortfalls: Shortfall[] };

interface Step {
  at: number;
  delta: Amounts;
}

const zero = (): Amounts => ({ cpu: 0n, memory: 0n });

/**
 * The change in held amounts at `from` and at each boundary inside [from, to), in time order; a
 * claim already running at `from` counts from `from`. Claims outside the window are left out.
 */
function steps(claims: readonly Claim[], from: number, to: number): Step[] {
  // `from` is always a step, so the candidate is checked at its start even where nothing else is held.
  const byTime = new Map<number, Amounts>([[from, zero()]]);
  const add = (at: number, sign: bigint, amounts: Amounts): void => {
    const delta = byTime.get(at) ?? zero();
    for (const r of computeResources) delta[r] += sign * amounts[r];
    byTime.set(at, delta);
  };
  for (const c of claims) {
    if (c.end <= from || c.start >= to) continue;
    add(Math.max(c.start, from), 1n, c.amounts);
    if (c.end < to) add(c.end, -1n, c.amounts);
  }
  return [...byTime.entries()].sort(([a], [b]) => a - b).map(([at, delta]) => ({ at, delta }));
}

/**
 * Whether `candidate` fits beside `admitted` within `limits` at every instant of its window.
 * On a refusal, the shortfalls at the first instant that does not fit (one per resource short).
 * `admitted` must hold only claims that still hold capacity (not released, expired or rejected).
 */
export function admitReservation(limits: Amounts, admitted: readonly Claim[], candidate: Claim): AdmissionDecision {
  const held = zero();
  const peak = zero();
  for (const step of steps(admitted, candidate.start, candidate.end)) {
    for (const r of computeResources) held[r] += step.delta[r];
    const shortfalls = shortfallsAt(step.at, held, candidate.amounts, limits);
    if (shortfalls.length > 0) return { fits: false, shortfalls };
    for (const r of computeResources) if (held[r] > peak[r]) peak[r] = held[r];
  }
  return { fits: true, peak: { cpu: peak.cpu + candidate.amounts.cpu, memory: peak.memory + candidate.amounts.memory } };
}

function shortfallsAt(at: number, held: Amounts, requested: Amounts, limits: Amounts): Shortfall[] {
  return computeResources
    .filter((r) => held[r] + requested[r] > limits[r])
    .map((r) => ({ resource: r, at, held: held[r], requested: requested[r], limit: limits[r], short: held[r] + requested[r] - limits[r] }));
}

/** The largest sum of `claims` at any instant, per resource (the invariant tests check). */
export function peakHeld(claims: readonly Claim[]): Amounts {
  if (claims.length === 0) return zero();
  const from = Math.min(...claims.map((c) => c.start));
  const to = Math.max(...claims.map((c) => c.end));
  const held = zero();
  const peak = zero();
  for (const step of steps(claims, from, to)) {
    for (const r of computeResources) {
      held[r] += step.delta[r];
      if (held[r] > peak[r]) peak[r] = held[r];
    }
  }
  return peak;
}

const format = (r: ComputeResource, v: bigint): string => (r === "cpu" ? formatCpu(v) : formatMemory(v));

/** "spec.cpu 2 does not fit at 2026-…Z: admitted Reservations hold 9 of 10 (capacity × overcommit), 1 short". */
export function shortfallMessage(shortfalls: readonly Shortfall[]): string {
  const parts = shortfalls.map(
    (s) =>
      `spec.${s.resource} ${format(s.resource, s.requested)} does not fit at ${new Date(s.at).toISOString()}: admitted Reservations hold ${format(s.resource, s.held)} of ${format(s.resource, s.limit)} ${s.resource} (capacity × overcommit), ${format(s.resource, s.short)} short`,
  );
  return `${parts.join("; ")}; ask for less or another window`;
}
