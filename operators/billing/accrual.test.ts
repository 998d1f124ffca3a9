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
    assert.deepEqual(budgetWatch([{ amount: "0.20", currency: "EUR" }], { runBudget: { amount: "0.20", currency: "EUR" } }), { reached: false });
    const over = budgetWatch([{ amount: "0.21", currency: "EUR" }], { runBudget: { amount: "0.20", currency: "EUR" } });
    assert.ok(over.reached);
    assert.match(over.message, /^the cost so far \(0\.21 EUR, .*\) has reached spec\.budget \(0\.20 EUR\): .*by 0\.01 EUR/);
    assert.equal(budgetWatch([{ amount: "0.01", currency: "USD" }], { runBudget: { amount: "5", currency: "EUR" } }).reached, true);
  });

  it("is reached once the cost so far exceeds what the Project has left, its other runs' spending counted", () => {
    const project = { name: "ocean", budget: { amount: "5.00", currency: "EUR" }, spent: [{ amount: "4.80", currency: "EUR" }] };
    assert.deepEqual(budgetWatch([{ amount: "0.20", currency: "EUR" }], { project }), { reached: false });
    const over = budgetWatch([{ amount: "0.25", currency: "EUR" }], { project });
    assert.ok(over.reached);
    assert.match(over.message, /has reached the remaining budget of Project ocean: it \(0\.25 EUR\) exceeds the remaining budget of Project ocean .* by 0\.05 EUR/);
    // The run's own budget is looked at first.
    const both = budgetWatch([{ amount: "0.25", currency: "EUR" }], { project, runBudget: { amount: "0.10", currency: "EUR" } });
    assert.ok(both.reached);
    assert.match(both.message, /has reached spec\.budget \(0\.10 EUR\)/);
  });
});
