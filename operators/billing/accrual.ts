// What a running run has cost so far, and whether that has reached its budget: each started step's
// requests × the time it has run (until it finished, or until now) × its rates, priced like a quote
// and like metering (lineItems.ts). An estimate from requests, not Argo's measure (that exists only
// once a step has finished): it is what decides to stop a run, the UsageRecords stay the bill.
// Pure: the time is passed in.
import type { Money } from "../schema/common.ts";
import { type BudgetInput, decideBudget } from "./budget.ts";
import { priceUsage, totalsByCurrency } from "./lineItems.ts";
import type { ResolvedRates } from "./priceResolution.ts";
import { type Requests, secondsBetween, usageFromRequests } from "./usage.ts";

export interface AccruingStep {
  step: string;
  requests: Requests;
  rates: ResolvedRates;
  /** absent: not started, costs nothing yet */
  startedAt?: string;
  finishedAt?: string;
}

/** The cost so far, one total per currency. */
export function accruedCost(steps: readonly AccruingStep[], now: Date): Money[] {
  const priced = steps
    .filter((s): s is AccruingStep & { startedAt: string } => s.startedAt !== undefined)
    .map((s) => {
      // A step whose start is after `now` (clock skew between nodes) has run for no time yet.
      const until = s.finishedAt ?? new Date(Math.max(now.getTime(), Date.parse(s.startedAt))).toISOString();
      return priceUsage(s.step, undefined, usageFromRequests(s.requests, secondsBetween(s.startedAt, until, `step ${s.step}`), `step ${s.step}`), s.rates);
    });
  return totalsByCurrency(priced);
}

export type BudgetWatch = { reached: false } | { reached: true; message: string };

/**
 * Reached once the cost so far exceeds the run's budget, or its Project's remaining budget (equal
 * still fits, as for a quote). `project.spent` must leave out this run's own records: their cost
 * is in `accrued` already (budget.ts spentWithout).
 */
export function budgetWatch(accrued: readonly Money[], budgets: Omit<BudgetInput, "totals">): BudgetWatch {
  const decision = decideBudget({ totals: accrued, ...budgets });
  if (decision.fits) return { reached: false };
  const spent = accrued.map((m) => `${m.amount} ${m.currency}`).join(" + ");
  const which = decision.budget === "project" ? `the remaining budget of Project ${budgets.project?.name ?? ""}` : `spec.budget (${budgets.runBudget?.amount ?? ""} ${budgets.runBudget?.currency ?? ""})`;
  return { reached: true, message: `the cost so far (${spent}, from the steps' requests × time run) has reached ${which}: ${decision.message.replace(/^the quote/, "it")}` };
}
