// The admission ledger of one compute Provider: every decision about its Reservations, one entry
// per Reservation (by name, with its uid). Pure: parsing, the claims that still hold capacity at
// an instant, and the changes the reconciler writes. The ledger is stored in a ConfigMap owned
// by the Provider and written with optimistic concurrency (ledgerStore.ts); why a ledger at all:
// docs/decisions/reservation-admission.md.
//
// An entry holds capacity from its decision until `holdUntil` (Tentative), or until the end of
// its window once confirmed, unless released. Expiry needs no write: a hold past its time simply
// stops counting, on every replica, and a confirmation that comes later finds it expired.
import { createHash } from "node:crypto";
import { parseQuantity } from "../catalog/quantity.ts";
import type { Claim } from "./reservationAdmission.ts";

export type LedgerOutcome = "Admitted" | "Rejected" | "Released";

export interface LedgerEntry {
  uid: string;
  outcome: LedgerOutcome;
  cpu: string;
  memory: string;
  start: string;
  end: string;
  decidedAt: string;
  /** Admitted and not confirmed: the hold lapses at this time. */
  holdUntil?: string;
  confirmedAt?: string;
  releasedAt?: string;
  /** Rejected: why (the condition message). */
  reason?: string;
  message?: string;
}

export type Ledger = Map<string, LedgerEntry>;

/** The ConfigMap key names are the Reservation names; a value that is not an entry is reported, not dropped. */
export class LedgerFormatError extends Error {}

export function parseLedger(data: Record<string, string> | undefined): Ledger {
  const ledger: Ledger = new Map();
  for (const [name, text] of Object.entries(data ?? {})) {
    let entry: LedgerEntry;
    try {
      entry = JSON.parse(text) as LedgerEntry;
    } catch {
      throw new LedgerFormatError(`ledger entry "${name}" is not JSON; fix or remove the key (it was edited by hand?)`);
    }
    if (typeof entry.uid !== "string" || !["Admitted", "Rejected", "Released"].includes(entry.outcome)) {
      throw new LedgerFormatError(`ledger entry "${name}" lacks uid or outcome; fix or remove the key`);
    }
    ledger.set(name, entry);
  }
  return ledger;
}

export function serializeLedger(ledger: Ledger): Record<string, string> {
  return Object.fromEntries([...ledger.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, e]) => [name, JSON.stringify(e)]));
}

/** When an Admitted entry stops holding capacity (epoch ms); undefined for other outcomes. */
export function holdsUntil(entry: LedgerEntry): number | undefined {
  if (entry.outcome !== "Admitted") return undefined;
  const end = Date.parse(entry.end);
  if (entry.confirmedAt !== undefined) return end;
  return Math.min(end, Date.parse(entry.holdUntil ?? entry.decidedAt));
}

/** The claims that still hold capacity at `now`, except `except` (the candidate itself). */
export function holdingClaims(ledger: Ledger, now: number, except?: string): Claim[] {
  const claims: Claim[] = [];
  for (const [name, e] of ledger) {
    const until = holdsUntil(e);
    if (name === except || until === undefined || until <= now) continue;
    claims.push({ name, amounts: { cpu: parseQuantity(e.cpu), memory: parseQuantity(e.memory) }, start: Date.parse(e.start), end: Date.parse(e.end) });
  }
  return claims;
}

/** A new ledger with `name` set to `entry` (the stored ledger is never mutated). */
export function withEntry(ledger: Ledger, name: string, entry: LedgerEntry): Ledger {
  return new Map(ledger).set(name, entry);
}

export function withoutEntry(ledger: Ledger, name: string): Ledger {
  const next = new Map(ledger);
  next.delete(name);
  return next;
}

/**
 * The ledger ConfigMap's name: deterministic (a stale cache must never make a second one), a
 * DNS subdomain of at most 253 characters even for the longest Provider name.
 */
export function ledgerName(provider: string): string {
  const suffix = ".reservation-ledger";
  if (provider.length + suffix.length <= 253) return `${provider}${suffix}`;
  const hash = createHash("sha256").update(provider).digest("hex").slice(0, 10);
  const head = provider.slice(0, 253 - suffix.length - 11).replace(/[.-]+$/, "");
  return `${head}-${hash}${suffix}`;
}
