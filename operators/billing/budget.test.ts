import assert from "node:assert/strict";
import { BudgetReason, decideBudget, partBudget, spentWithout } from "./budget.ts";

const eur = (amount: string): { amount: string; currency: string } => ({ amount, currency: "EUR" });

describe("budget", () => {
  it("refuses a quote above the run's budget, saying by how much", () => {
    const d = decideBudget({ totals: [eur("12.40")], runBudget: eur("10") });
    assert.equal(d.fits, false);
    assert.equal(d.reason, BudgetReason.RunBudgetExceeded);
    assert.equal(d.budget, "run");
    assert.deepEqual(d.over, eur("2.40"));
    assert.equal(d.message, "the quote (12.40 EUR) exceeds the PipelineRun's spec.budget (10.00 EUR) by 2.40 EUR");
  });

  it("accepts a quote exactly at the budget, and refuses one the smallest step above", () => {
    assert.equal(decideBudget({ totals: [eur("10.00")], runBudget: eur("10") }).fits, true);
    const d = decideBudget({ totals: [eur("10.01")], runBudget: eur("10.005") });
    assert.equal(d.fits, false);
    assert.deepEqual(d.over, eur("0.005"), "the exact difference, not rounded away");
  });

  it("refuses a quote above the Project's remaining budget (budget minus spent)", () => {
    const d = decideBudget({ totals: [eur("6")], runBudget: eur("10"), project: { name: "ocean", budget: eur("100"), spent: [eur("95")] } });
    assert.equal(d.reason, BudgetReason.ProjectBudgetExceeded);
    assert.equal(d.budget, "project");
    assert.deepEqual(d.over, eur("1.00"));
    assert.match(d.message, /the remaining budget of Project ocean \(spec\.budget 100\.00 EUR minus status\.spent\) \(5\.00 EUR\) by 1\.00 EUR/);
    assert.equal(decideBudget({ totals: [eur("5")], project: { name: "ocean", budget: eur("100"), spent: [eur("95")] } }).fits, true);
  });

  it("names the run's budget first when both are exceeded", () => {
    const d = decideBudget({ totals: [eur("50")], runBudget: eur("10"), project: { name: "ocean", budget: eur("20") } });
    assert.equal(d.reason, BudgetReason.RunBudgetExceeded);
  });

  it("refuses to compare a quote in one currency with a budget in another", () => {
    const d = decideBudget({ totals: [{ amount: "1.00", currency: "USD" }], runBudget: eur("1000") });
    assert.equal(d.fits, false);
    assert.equal(d.reason, BudgetReason.CurrencyMismatch);
    assert.equal(d.budget, "run");
    assert.match(d.message, /the quote has amounts in USD but the PipelineRun's spec\.budget is in EUR: amounts are never converted/);
    const mixed = decideBudget({ totals: [eur("1"), { amount: "2.00", currency: "USD" }], project: { name: "ocean", budget: eur("1000") } });
    assert.equal(mixed.reason, BudgetReason.CurrencyMismatch);
    assert.equal(mixed.budget, "project");
  });

  it("refuses a Project whose spent and budget are in different currencies", () => {
    const d = decideBudget({ totals: [eur("1")], project: { name: "ocean", budget: eur("100"), spent: [eur("2"), { amount: "1", currency: "USD" }] } });
    assert.equal(d.reason, BudgetReason.CurrencyMismatch);
    assert.match(d.message, /Project ocean: status\.spent has 1\.00 USD but spec\.budget is in EUR/);
    // Nothing spent in the other currency: nothing to set against the budget.
    const zeroUsd = decideBudget({ totals: [eur("1")], project: { name: "ocean", budget: eur("100"), spent: [eur("2"), { amount: "0.00", currency: "USD" }] } });
    assert.equal(zeroUsd.fits, true);
  });

  it("fits when no budget applies, and when a quote in another currency is zero", () => {
    assert.deepEqual(decideBudget({ totals: [eur("1000000")] }), { fits: true, reason: BudgetReason.WithinBudget, message: "no budget applies to this run" });
    assert.equal(decideBudget({ totals: [eur("1"), { amount: "0.00", currency: "USD" }], runBudget: eur("1") }).fits, true);
  });

  it("leaves a run's own records out of its Project's spending, per currency, never below zero", () => {
    const spent = [{ amount: "4.80", currency: "EUR" }, { amount: "30", currency: "JPY" }];
    assert.deepEqual(spentWithout(spent, [{ amount: "0.30", currency: "EUR" }, { amount: "0.20", currency: "EUR" }]), [{ amount: "4.30", currency: "EUR" }, { amount: "30", currency: "JPY" }]);
    // The spending has not caught up with the run's records yet: nothing is left, not a negative amount.
    assert.deepEqual(spentWithout([{ amount: "0.10", currency: "EUR" }], [{ amount: "0.30", currency: "EUR" }]), [{ amount: "0.00", currency: "EUR" }]);
  });

  describe("of one part of a run split across clusters", () => {
    const project = (budget: string, spent: string[] = []): { name: string; budget: { amount: string; currency: string }; spent: { amount: string; currency: string }[] } => ({ name: "reef", budget: eur(budget), spent: spent.map(eur) });

    it("is the run's budget less what the other parts were quoted", () => {
      assert.deepEqual(partBudget({ runBudget: eur("10"), others: [eur("3.25")] }), eur("6.75"));
      assert.deepEqual(partBudget({ runBudget: eur("10"), others: [] }), eur("10.00"), "the whole run on one cluster");
    });

    it("is the smaller of the run's and the Project's remaining budget", () => {
      assert.deepEqual(partBudget({ runBudget: eur("10"), project: project("20", ["15"]), others: [eur("1")] }), eur("4.00"));
      assert.deepEqual(partBudget({ runBudget: eur("10"), project: project("50", ["15"]), others: [eur("1")] }), eur("9.00"));
      assert.deepEqual(partBudget({ project: project("20", ["15"]), others: [] }), eur("5.00"));
    });

    it("is never below zero, and is absent when no budget applies or it cannot be said in one currency", () => {
      assert.deepEqual(partBudget({ runBudget: eur("2"), others: [eur("3")] }), eur("0.00"));
      assert.equal(partBudget({ others: [eur("3")] }), undefined);
      assert.equal(partBudget({ runBudget: eur("10"), project: { name: "reef", budget: { amount: "10", currency: "USD" } }, others: [] }), undefined);
      assert.equal(partBudget({ runBudget: eur("10"), project: { name: "reef", budget: eur("10"), spent: [{ amount: "1", currency: "USD" }] }, others: [] }), undefined);
    });

    it("sets against a budget only the other parts' amounts in its currency", () => {
      assert.deepEqual(partBudget({ runBudget: eur("10"), others: [{ amount: "0", currency: "USD" }, eur("2")] }), eur("8.00"));
    });
  });
});
