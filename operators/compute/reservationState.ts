// The life of a Reservation, as a pure function of its spec, its ledger entry and the clock:
// which ledger change (if any) the reconciler must make, and which state, conditions and wake-up
// follow. Pure (time passed in as epoch ms).
//
//   (no entry) ──admit──▶ Tentative ──spec.confirmed──▶ Confirmed ──start──▶ Active ──end──▶ Released
//        │                   │  └──holdUntil or end──▶ Expired                     └──spec.release──▶ Released
//        └──does not fit──▶ Rejected     └──spec.release──▶ Released
import type { ConditionUpdate } from "../runtime/conditions.ts";
import type { ReservationSpec, ReservationState } from "../schema/reservation.ts";
import { holdsUntil, type LedgerEntry } from "./reservationLedger.ts";

/** Every reason the Reservation controller writes (conditions Admitted and Ready, Events). */
export const ReservationReason = {
  Fits: "Fits",
  InsufficientCapacity: "InsufficientCapacity",
  WindowEnded: "WindowEnded",
  ProviderNotFound: "ProviderNotFound",
  ProviderNotCompute: "ProviderNotCompute",
  InvalidCapacity: "InvalidCapacity",
  LedgerNameTaken: "LedgerNameTaken",
  LedgerInvalid: "LedgerInvalid",
  AwaitingConfirmation: "AwaitingConfirmation",
  Confirmed: "Confirmed",
  Active: "Active",
  Released: "Released",
  Expired: "Expired",
  Rejected: "Rejected",
  Pending: "Pending",
  NameTaken: "NameTaken",
} as const;
export type ReservationReason = (typeof ReservationReason)[keyof typeof ReservationReason];

export const admittedType = "Admitted";
export const readyType = "Ready";

/** The ledger change a reconcile must make before it can report a state. */
export type LedgerAction = "admit" | "confirm" | "release" | "none";

/** The entry describes this object (same uid): an entry of a deleted namesake is not ours. */
export function entryOf(entry: LedgerEntry | undefined, uid: string | undefined): LedgerEntry | undefined {
  return entry !== undefined && entry.uid === uid ? entry : undefined;
}

export function ledgerAction(spec: ReservationSpec, entry: LedgerEntry | undefined, now: number): LedgerAction {
  if (entry === undefined) return "admit";
  const until = holdsUntil(entry);
  if (until === undefined || until <= now) return "none"; // decided for good, or lapsed: nothing to change
  if (spec.release) return "release";
  if (spec.confirmed && entry.confirmedAt === undefined) return "confirm";
  return "none";
}

export interface Phase {
  state: ReservationState;
  /** When the state changes by itself (epoch ms). */
  wakeAt?: number;
  /** When the capacity stopped being held (Released, Expired). */
  releasedAt?: string;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The state an entry stands for at `now`. */
export function phaseOf(entry: LedgerEntry, now: number): Phase {
  if (entry.outcome === "Rejected") return { state: "Rejected" };
  if (entry.outcome === "Released") return { state: "Released", ...(entry.releasedAt ? { releasedAt: entry.releasedAt } : {}) };
  const start = Date.parse(entry.start);
  const end = Date.parse(entry.end);
  const until = holdsUntil(entry) ?? end;
  if (entry.confirmedAt === undefined) return now < until ? { state: "Tentative", wakeAt: until } : { state: "Expired", releasedAt: iso(until) };
  if (now >= end) return { state: "Released", releasedAt: iso(end) };
  return now >= start ? { state: "Active", wakeAt: end } : { state: "Confirmed", wakeAt: start };
}

/** Enforced states: a ResourceQuota caps the namespace's Pods at the reserved amounts. */
export function isEnforced(state: ReservationState): boolean {
  return state === "Confirmed" || state === "Active";
}

/** Condition Admitted for an entry. */
export function admittedCondition(entry: LedgerEntry): ConditionUpdate {
  if (entry.outcome === "Rejected") {
    return { type: admittedType, status: "False", reason: entry.reason ?? ReservationReason.InsufficientCapacity, message: entry.message ?? "did not fit" };
  }
  return { type: admittedType, status: "True", reason: ReservationReason.Fits, message: `${entry.cpu} cpu and ${entry.memory} memory admitted for [${entry.start}, ${entry.end}) at ${entry.decidedAt}` };
}

/** Condition Ready for a state (quota problems are reported by the caller instead). */
export function readyCondition(phase: Phase, entry: LedgerEntry): ConditionUpdate {
  const base = { type: readyType } as const;
  switch (phase.state) {
    case "Tentative":
      return { ...base, status: "False", reason: ReservationReason.AwaitingConfirmation, message: `held until ${entry.holdUntil ?? "?"}; set spec.confirmed: true before then or the hold expires` };
    case "Confirmed":
      return { ...base, status: "True", reason: ReservationReason.Confirmed, message: `confirmed; the window opens at ${entry.start}` };
    case "Active":
      return { ...base, status: "True", reason: ReservationReason.Active, message: `the window is open until ${entry.end}` };
    case "Expired":
      return { ...base, status: "False", reason: ReservationReason.Expired, message: `never confirmed: the hold lapsed at ${phase.releasedAt ?? "?"}; create a new Reservation` };
    case "Released":
      return { ...base, status: "False", reason: ReservationReason.Released, message: `capacity given back at ${phase.releasedAt ?? "?"}` };
    default:
      return { ...base, status: "False", reason: ReservationReason.Rejected, message: entry.message ?? "did not fit" };
  }
}

/** A new Admitted or Rejected entry for a decision made at `now`. */
export function decidedEntry(uid: string, spec: ReservationSpec, now: number, refusal?: { reason: ReservationReason; message: string }): LedgerEntry {
  const base = { uid, cpu: spec.cpu, memory: spec.memory, start: spec.start, end: spec.end, decidedAt: iso(now) };
  if (refusal) return { ...base, outcome: "Rejected", reason: refusal.reason, message: refusal.message };
  const holdMs = (spec.holdSeconds ?? 60) * 1000;
  return spec.confirmed ? { ...base, outcome: "Admitted", confirmedAt: iso(now) } : { ...base, outcome: "Admitted", holdUntil: iso(now + holdMs) };
}

export function confirmedEntry(entry: LedgerEntry, now: number): LedgerEntry {
  return { ...entry, confirmedAt: iso(now) };
}

export function releasedEntry(entry: LedgerEntry, now: number): LedgerEntry {
  return { ...entry, outcome: "Released", releasedAt: iso(now) };
}
