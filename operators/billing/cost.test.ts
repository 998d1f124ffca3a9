import assert from "node:assert/strict";
import { costAtRatesInForce, costOfStep } from "./cost.ts";
import type { ResolvedRates } from "./priceResolution.ts";
import { price } from "./testing.ts";

const rates: ResolvedRates = { price: "eur-rates", currency: "EUR", rates: { cpuCoreHour: "0.05", memoryGiBHour: "0.01", perRun: "0.10" } };
const hour = { startedAt: "2026-06-01T10:00:00Z", finishedAt: "2026-06-01T11:00:00Z" };

describe("cost of a finished step", () => {
  it("reads Argo's resourcesDuration: cpu in core-seconds, memory in 100Mi-seconds", () => {
    // 36864 × 100Mi-seconds = 3600 GiB-seconds = 1 GiB-hour (with 1Gi units it would be 10.24).
    const c = costOfStep({ step: "ndvi", ...hour, resourcesDuration: { cpu: 7200, memory: 36864, "nvidia.com/gpu": 3600 } }, rates);
    assert.equal(c.source, "resourcesDuration");
    assert.deepEqual(
      c.lines.map((l) => [l.charge, l.quantity, l.amount.amount]),
      [
        ["cpu", "2.000000", "0.10"],
        ["memory", "1.000000", "0.01"],
        ["run", "1.000000", "0.10"],
      ],
    );
    assert.deepEqual(c.total, { amount: "0.21", currency: "EUR" });
  });

  it("falls back to the pod's start/finish × requests when resourcesDuration is missing or empty", () => {
    for (const resourcesDuration of [undefined, {}]) {
      const c = costOfStep({ step: "a", startedAt: "2026-06-01T10:00:00Z", finishedAt: "2026-06-01T10:30:00Z", requests: { cpu: "2", memory: "512Mi" }, ...(resourcesDuration ? { resourcesDuration } : {}) }, rates);
      assert.equal(c.source, "requests");
      assert.deepEqual(c.lines.map((l) => l.quantity), ["1.000000", "0.250000", "1.000000"]);
    }
  });

  it("refuses a step it cannot measure or whose times are wrong, naming the field", () => {
    assert.throws(() => costOfStep({ step: "a", ...hour }, rates), /step a has neither resourcesDuration nor requests/);
    assert.throws(() => costOfStep({ step: "a", startedAt: "2026-06-01T11:00:00Z", finishedAt: "2026-06-01T10:00:00Z", requests: { cpu: "1" } }, rates), /step a\.finishedAt .* is before step a\.startedAt/);
    assert.throws(() => costOfStep({ step: "a", ...hour, resourcesDuration: { cpu: 1.5 } }, rates), /step a\.resourcesDuration\.cpu 1\.5 is not a non-negative whole number/);
    assert.throws(() => costOfStep({ step: "a", ...hour, resourcesDuration: { memory: -1 } }, rates), /resourcesDuration\.memory -1/);
  });

  it("prices a step at the rates in force when it started, for the whole step", () => {
    const prices = [
      price("may", { rates: { cpuCoreHour: "0.05" }, validUntil: "2026-06-01T00:00:00Z", validFrom: "2026-05-01T00:00:00Z" }),
      price("june", { rates: { cpuCoreHour: "0.08" }, validFrom: "2026-06-01T00:00:00Z" }),
    ];
    const target = { namespace: "team-a", provider: "cpus" };
    const acrossMidnight = { step: "a", startedAt: "2026-05-31T23:30:00Z", finishedAt: "2026-06-01T00:30:00Z", resourcesDuration: { cpu: 3600 } };
    const before = costAtRatesInForce(acrossMidnight, prices, target, {});
    assert.ok(before.ok);
    assert.deepEqual(before.ok && [before.cost.price.name, before.cost.total.amount], ["may", "0.05"]);
    const after = costAtRatesInForce({ ...acrossMidnight, startedAt: "2026-06-01T00:00:00Z", finishedAt: "2026-06-01T01:00:00Z" }, prices, target, {});
    assert.deepEqual(after.ok && [after.cost.price.name, after.cost.total.amount], ["june", "0.08"]);
  });

  it("says why a step has no cost when no Price applies", () => {
    const r = costAtRatesInForce({ step: "a", ...hour, resourcesDuration: { cpu: 1 } }, [], { namespace: "team-a", provider: "cpus" }, { peer: "fed-2" });
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.message, /step a: no Price is in force at 2026-06-01T10:00:00.000Z for Provider team-a\/cpus for peer fed-2/);
  });

  it("rounds a cost to its currency's minor units, half to even (KWD: 3 decimals)", () => {
    const kwd: ResolvedRates = { price: "kwd-rates", currency: "KWD", rates: { cpuCoreHour: "0.2" } };
    // 9 core-s × 0.2/h = exactly 0.0005 → 0.000 (even); 27 core-s → exactly 0.0015 → 0.002 (even).
    assert.deepEqual(costOfStep({ step: "a", ...hour, resourcesDuration: { cpu: 9 } }, kwd).total, { amount: "0.000", currency: "KWD" });
    assert.deepEqual(costOfStep({ step: "a", ...hour, resourcesDuration: { cpu: 27 } }, kwd).total, { amount: "0.002", currency: "KWD" });
  });
});
