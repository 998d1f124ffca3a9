import assert from "node:assert/strict";
import { accruedCost, budgetWatch } from "./accrual.ts";
import type { ResolvedRates } from "./priceResolution.ts";

const rates: ResolvedRates = { price: "p", currency: "EUR", rates: { cpuCoreHour: "3.60" } };
const at = (s: number): string => new Date(Date.UTC(2026, 11, 2, 10, 0, s)).toISOString();

describe("accrual", () => {
  it("prices each started step for the time it has run: until it finished, else until now; a step not started costs nothing", () => {
    const steps = [
      { step: "a", requests: { cpu: "1", memory: "0" }, rates, startedAt: at(0), finishedAt: at(100) },
      { step: "b", requests: { cpu: "2", memory: "0" }, rates, startedAt: at(100) },
      { step: "c", requests: { cpu: "8", memory: "0" }, rates },
    ];
    // a: 1 core × 100 s × 0.001/core-s = 0.10; b: 2 cores × 50 s = 0.10 at now = 150 s.
    assert.deepEqual(accruedCost(steps, new Date(at(150))), [{ amount: "0.20", currency: "EUR" }]);
    assert.deepEqual(accruedCost(steps, new Date(at(400))), [{ amount: "0.70", currency: "EUR" }]);
    // A start after now (clock skew) has run for no time.
    assert.deepEqual(accruedCost([{ step: "b", requests: { cpu: "2", memory: "0" }, rates, startedAt: at(100) }], new Date(at(50))), [{ amount: "0.00", currency: "EUR" }]);
  });

  it("is reached once the cost exceeds the budget; equal fits; another currency is never compared", () => {
    assert.deepEqual(budgetWatch([{ amount: "0.20", currency: "EUR" }], { amount: "0.20", currency: "EUR" }), { reached: false });
    const over = budgetWatch([{ amount: "0.21", currency: "EUR" }], { amount: "0.20", currency: "EUR" });
    assert.ok(over.reached);
    assert.match(over.message, /^the cost so far \(0\.21 EUR, .*\) has reached spec\.budget \(0\.20 EUR\): .*by 0\.01 EUR/);
    assert.equal(budgetWatch([{ amount: "0.01", currency: "USD" }], { amount: "5", currency: "EUR" }).reached, true);
  });
});
