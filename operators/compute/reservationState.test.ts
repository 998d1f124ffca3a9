import assert from "node:assert/strict";
import type { Reservation } from "../schema/reservation.ts";
import { ledgerChange } from "./reservationReconciler.ts";
import { holdingClaims, type Ledger, ledgerName, parseLedger, serializeLedger } from "./reservationLedger.ts";
import { decidedEntry, ledgerAction, phaseOf } from "./reservationState.ts";

const s = 1000;
const t0 = Date.parse("2026-12-01T10:00:00Z");
const limits = { cpu: 10_000_000_000n, memory: 16n * 2n ** 30n * 1_000_000_000n };

function reservation(name: string, spec: Partial<Reservation["spec"]> = {}): Reservation {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "Reservation",
    metadata: { name, namespace: "team", uid: `uid-${name}`, generation: 1 },
    spec: { providerRef: { name: "cpus" }, cpu: "4", memory: "8Gi", start: "2026-12-01T12:00:00Z", end: "2026-12-01T14:00:00Z", holdSeconds: 60, ...spec },
  };
}

/** Applies the reconciler's ledger change for each reservation in turn, as the ledger would record them. */
function decideAll(reservations: Reservation[], now: number, ledger: Ledger = new Map()): Ledger {
  return reservations.reduce((l, r) => ledgerChange(l, r, limits, now) ?? l, ledger);
}

describe("reservation life cycle (ledger entry × spec × clock)", () => {
  it("admits while it fits and rejects the rest with the shortfall; a decision is made once", () => {
    const ledger = decideAll([reservation("a"), reservation("b"), reservation("c", { cpu: "3" })], t0);
    assert.deepEqual([...ledger.values()].map((e) => e.outcome), ["Admitted", "Admitted", "Rejected"]);
    assert.match(ledger.get("c")?.message ?? "", /^spec\.cpu 3 does not fit at 2026-12-01T12:00:00\.000Z: admitted Reservations hold 8 of 10 cpu/);
    assert.equal(ledgerChange(ledger, reservation("c", { cpu: "3" }), limits, t0 + s), undefined, "a Rejected entry is final");
  });

  it("Tentative until holdUntil, then Expired without any write; the lapsed hold frees capacity", () => {
    const ledger = decideAll([reservation("a", { cpu: "10" })], t0);
    const entry = ledger.get("a")!;
    assert.deepEqual(phaseOf(entry, t0), { state: "Tentative", wakeAt: t0 + 60 * s });
    assert.equal(phaseOf(entry, t0 + 60 * s).state, "Expired");
    assert.equal(ledgerAction(reservation("a", { confirmed: true }).spec, entry, t0 + 60 * s), "none", "a late confirmation finds it expired");
    assert.equal(holdingClaims(ledger, t0 + 60 * s).length, 0);
    assert.equal(decideAll([reservation("b", { cpu: "10" })], t0 + 60 * s, ledger).get("b")?.outcome, "Admitted");
  });

  it("confirmed: Confirmed before the window, Active inside it, Released at its end; release gives it back early", () => {
    let ledger = decideAll([reservation("a")], t0);
    ledger = decideAll([reservation("a", { confirmed: true })], t0 + 10 * s, ledger);
    const entry = ledger.get("a")!;
    const start = Date.parse("2026-12-01T12:00:00Z");
    const end = Date.parse("2026-12-01T14:00:00Z");
    assert.deepEqual(phaseOf(entry, t0 + 3600 * s), { state: "Confirmed", wakeAt: start });
    assert.deepEqual(phaseOf(entry, start), { state: "Active", wakeAt: end });
    assert.deepEqual(phaseOf(entry, end), { state: "Released", releasedAt: "2026-12-01T14:00:00Z" });
    const released = decideAll([reservation("a", { confirmed: true, release: true })], start + s, ledger);
    assert.equal(phaseOf(released.get("a")!, start + s).state, "Released");
    assert.equal(holdingClaims(released, start + s).length, 0);
  });

  it("created confirmed skips Tentative; a window already over is Rejected (WindowEnded)", () => {
    const ledger = decideAll([reservation("a", { confirmed: true }), reservation("late", { end: "2026-12-01T09:00:00Z", start: "2026-12-01T08:00:00Z" })], t0);
    assert.equal(phaseOf(ledger.get("a")!, t0).state, "Confirmed");
    assert.equal(ledger.get("late")?.reason, "WindowEnded");
  });

  it("an entry of a deleted namesake (other uid) is not this Reservation's: it is decided afresh", () => {
    const ledger = new Map([["a", decidedEntry("old-uid", reservation("a").spec, t0, { reason: "InsufficientCapacity", message: "no" })]]);
    assert.equal(ledgerChange(ledger, reservation("a"), limits, t0)?.get("a")?.outcome, "Admitted");
  });

  it("the ledger round-trips through ConfigMap data, sorted, and refuses a hand-broken entry naming it", () => {
    const ledger = decideAll([reservation("b"), reservation("a")], t0);
    const data = serializeLedger(ledger);
    assert.deepEqual(Object.keys(data), ["a", "b"]);
    assert.deepEqual(parseLedger(data), new Map([...ledger.entries()].sort()));
    assert.throws(() => parseLedger({ x: "{" }), /ledger entry "x" is not JSON/);
  });

  it("names the ledger deterministically, within 253 characters, as a DNS subdomain", () => {
    assert.equal(ledgerName("cpus"), "cpus.reservation-ledger");
    const long = ledgerName(`${"a".repeat(240)}.b-c`);
    assert.ok(long.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(long), long);
  });
});
