import assert from "node:assert/strict";
import { parseQuantity } from "../catalog/quantity.ts";
import { admitReservation, type Claim, peakHeld, shortfallMessage } from "./reservationAdmission.ts";

const hour = 3_600_000;
const t0 = Date.parse("2026-12-01T00:00:00Z");
const at = (h: number): number => t0 + h * hour;
/** A claim of `cpu` and `memory` over the hours [fromHour, toHour). */
const claim = (name: string, cpu: string, memory: string, [fromHour, toHour]: [number, number]): Claim => ({
  name,
  amounts: { cpu: parseQuantity(cpu), memory: parseQuantity(memory) },
  start: at(fromHour),
  end: at(toHour),
});
const limits = { cpu: parseQuantity("10"), memory: parseQuantity("16Gi") };

describe("reservation admission over time windows", () => {
  it("admits into an empty provider what fits, and refuses what alone exceeds the limit at its start", () => {
    assert.equal(admitReservation(limits, [], claim("a", "10", "16Gi", [0, 1])).fits, true);
    const d = admitReservation(limits, [], claim("b", "11", "1Gi", [2, 3]));
    assert.equal(d.fits, false);
    if (d.fits) return;
    assert.deepEqual(d.shortfalls.map((s) => [s.resource, s.at, s.short]), [["cpu", at(2), parseQuantity("1")]]);
  });

  it("admits an exact fit and refuses one unit (1m cpu, 1 byte) over", () => {
    const held = [claim("a", "6", "8Gi", [0, 4])];
    assert.equal(admitReservation(limits, held, claim("b", "4", "8Gi", [1, 3])).fits, true);
    const cpu = admitReservation(limits, held, claim("c", "4001m", "1Gi", [1, 3]));
    assert.equal(cpu.fits, false);
    if (!cpu.fits) assert.deepEqual(cpu.shortfalls.map((s) => [s.resource, s.short]), [["cpu", parseQuantity("1m")]]);
    const memory = admitReservation(limits, held, { ...claim("d", "1", "8Gi", [1, 3]), amounts: { cpu: parseQuantity("1"), memory: parseQuantity("8Gi") + 1_000_000_000n } });
    assert.equal(memory.fits, false);
    if (!memory.fits) assert.deepEqual(memory.shortfalls.map((s) => [s.resource, s.short]), [["memory", 1_000_000_000n]]);
  });

  it("treats windows as half-open: touching windows never overlap", () => {
    const held = [claim("before", "10", "16Gi", [0, 2]), claim("after", "10", "16Gi", [4, 6])];
    assert.equal(admitReservation(limits, held, claim("between", "10", "16Gi", [2, 4])).fits, true);
    const early = admitReservation(limits, held, { ...claim("early", "1", "1Gi", [2, 4]), start: at(2) - 1 });
    assert.equal(early.fits, false);
    if (!early.fits) assert.equal(early.shortfalls[0]?.at, at(2) - 1);
    assert.equal(admitReservation(limits, held, { ...claim("late", "1", "1Gi", [2, 4]), end: at(4) + 1 }).fits, false);
  });

  it("names the first instant and every resource short there", () => {
    const held = [claim("a", "4", "4Gi", [0, 10]), claim("b", "4", "10Gi", [5, 10])];
    const d = admitReservation(limits, held, claim("c", "3", "4Gi", [1, 8]));
    assert.equal(d.fits, false);
    if (d.fits) return;
    assert.deepEqual(d.shortfalls.map((s) => s.resource), ["cpu", "memory"]);
    assert.equal(d.shortfalls[0]?.at, at(5));
    assert.equal(
      shortfallMessage(d.shortfalls),
      "spec.cpu 3 does not fit at 2026-12-01T05:00:00.000Z: admitted Reservations hold 8 of 10 cpu (capacity × overcommit), 1 short; " +
        "spec.memory 4Gi does not fit at 2026-12-01T05:00:00.000Z: admitted Reservations hold 14Gi of 16Gi memory (capacity × overcommit), 2Gi short; ask for less or another window",
    );
  });

  it("counts only what overlaps: many staggered claims whose total exceeds the limit but never at once", () => {
    // Ten 5-cpu claims of two hours each, starting every hour: at any instant exactly two overlap.
    const held = Array.from({ length: 10 }, (_, i) => claim(`s${i}`, "5", "1Gi", [i, i + 2]));
    assert.deepEqual(peakHeld(held).cpu, parseQuantity("10"));
    assert.equal(admitReservation(limits, held, claim("gap", "1", "1Gi", [11, 12])).fits, true, "the last claim, s9, ends at 11: nothing is held in [11, 12)");
    const inside = admitReservation(limits, held, claim("inside", "1m", "1", [3, 4]));
    assert.equal(inside.fits, false);
  });

  it("claims that start before the candidate count from its start; claims outside its window do not count", () => {
    const held = [claim("long", "9", "1Gi", [-10, 10]), claim("past", "10", "1Gi", [-20, -10]), claim("future", "10", "1Gi", [10, 20])];
    assert.equal(admitReservation(limits, held, claim("c", "1", "1Gi", [0, 10])).fits, true);
    const d = admitReservation(limits, held, claim("d", "2", "1Gi", [0, 10]));
    assert.equal(d.fits, false);
    if (!d.fits) assert.equal(d.shortfalls[0]?.at, at(0));
  });

  it("admitting greedily one at a time never lets the peak exceed the limit (randomised, seeded)", () => {
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const admitted: Claim[] = [];
    for (let i = 0; i < 300; i++) {
      const start = random(48);
      const candidate = claim(`r${i}`, `${1 + random(4000)}m`, `${1 + random(4096)}Mi`, [start, start + 1 + random(12)]);
      if (admitReservation(limits, admitted, candidate).fits) admitted.push(candidate);
    }
    const peak = peakHeld(admitted);
    assert.ok(admitted.length > 20, `some were admitted (${admitted.length})`);
    assert.ok(peak.cpu <= limits.cpu && peak.memory <= limits.memory, `peak ${peak.cpu} cpu, ${peak.memory} memory`);
  });
});
