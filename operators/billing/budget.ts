// Whether a quote fits a run's budget and its Project's remaining budget. Pure. The decision names
// the budget that refuses and by how much, so the condition tells the user what to change.
// A quote and a budget in different currencies are never converted: that is a refusal of its own.
import type { Money } from "../schema/common.ts";
import { add, compare, type Exact, formatDecimal, minorUnitsOf, parseDecimal, parseMoney, roundToCurrency, sub, toMoney, zero } from "./money.ts";

/** Reasons a run's budget condition can carry. */
export const BudgetReason = {
  WithinBudget: "WithinBudget",
  RunBudgetExceeded: "RunBudgetExceeded",
  ProjectBudgetExceeded: "ProjectBudgetExceeded",
  CurrencyMismatch: "CurrencyMismatch",
} as const;
export type BudgetReason = (typeof BudgetReason)[keyof typeof BudgetReason];

export interface BudgetInput {
  /** The quote's totals, one per currency. */
  totals: readonly Money[];
  /** PipelineRun spec.budget. */
  runBudget?: Money;
  /** The Project billed: spec.budget and status.spent (one amount per currency). */
  project?: { name: string; budget?: Money; spent?: readonly Money[] };
}

export interface BudgetDecision {
  fits: boolean;
  reason: BudgetReason;
  message: string;
  /** Which budget refused. */
  budget?: "run" | "project";
  /** By how much the quote exceeds it. */
  over?: Money;
}

interface Limit {
  budget: "run" | "project";
  /** How a user finds it, e.g. `PipelineRun spec.budget`. */
  label: string;
  currency: string;
  available: Exact;
}

const text = (x: Exact, currency: string): string => `${formatDecimal(x, minorUnitsOf(currency))} ${currency}`;

function totalIn(totals: readonly Money[], currency: string): Exact {
  const t = totals.find((m) => m.currency === currency);
  return t ? parseDecimal(t.amount, `quote total in ${currency}`) : zero;
}

function check(totals: readonly Money[], limit: Limit): BudgetDecision | undefined {
  const foreign = totals.filter((t) => t.currency !== limit.currency && parseDecimal(t.amount, `quote total in ${t.currency}`).num !== 0n);
  if (foreign.length > 0) {
    const currencies = foreign.map((t) => t.currency).join(", ");
    return { fits: false, reason: BudgetReason.CurrencyMismatch, budget: limit.budget, message: `the quote has amounts in ${currencies} but ${limit.label} is in ${limit.currency}: amounts are never converted; set a budget in the quote's currency or choose Prices in ${limit.currency}` };
  }
  const over = sub(totalIn(totals, limit.currency), limit.available);
  if (compare(over, zero) <= 0) return undefined;
  const reason = limit.budget === "run" ? BudgetReason.RunBudgetExceeded : BudgetReason.ProjectBudgetExceeded;
  const quoted = text(totalIn(totals, limit.currency), limit.currency);
  return { fits: false, reason, budget: limit.budget, over: { amount: formatDecimal(over, minorUnitsOf(limit.currency)), currency: limit.currency }, message: `the quote (${quoted}) exceeds ${limit.label} (${text(limit.available, limit.currency)}) by ${text(over, limit.currency)}` };
}

function projectLimit(project: NonNullable<BudgetInput["project"]>): Limit | BudgetDecision | undefined {
  if (!project.budget) return undefined;
  const budget = parseMoney(project.budget, `Project ${project.name} spec.budget`);
  const label = `the remaining budget of Project ${project.name} (spec.budget ${text(budget.value, budget.currency)} minus status.spent)`;
  let spent: Exact = zero;
  for (const [i, money] of (project.spent ?? []).entries()) {
    const amount = parseMoney(money, `Project ${project.name} status.spent[${i}]`);
    if (amount.currency === budget.currency) spent = add(spent, amount.value);
    else if (amount.value.num !== 0n) {
      // Spending in another currency cannot be set against this budget, nor ignored by it.
      return { fits: false, reason: BudgetReason.CurrencyMismatch, budget: "project", message: `Project ${project.name}: status.spent has ${text(amount.value, amount.currency)} but spec.budget is in ${budget.currency}: amounts are never converted` };
    }
  }
  return { budget: "project", label, currency: budget.currency, available: sub(budget.value, spent) };
}

/** The budgets that apply: the run's first, then its Project's remaining (or why that one cannot be read). */
function limitsOf(input: Omit<BudgetInput, "totals">): (Limit | BudgetDecision)[] {
  const limits: (Limit | BudgetDecision)[] = [];
  if (input.runBudget) {
    const run = parseMoney(input.runBudget, "PipelineRun spec.budget");
    limits.push({ budget: "run", label: "the PipelineRun's spec.budget", currency: run.currency, available: run.value });
  }
  const project = input.project ? projectLimit(input.project) : undefined;
  if (project) limits.push(project);
  return limits;
}

/** The run's budget first, then the Project's remaining budget; equal to a budget fits. */
export function decideBudget(input: BudgetInput): BudgetDecision {
  const limits = limitsOf(input);
  for (const limit of limits) {
    const refusal = "fits" in limit ? limit : check(input.totals, limit);
    if (refusal) return refusal;
  }
  const message = limits.length === 0 ? "no budget applies to this run" : "the quote fits every budget that applies";
  return { fits: true, reason: BudgetReason.WithinBudget, message };
}

/**
 * The most one part of a run split across clusters may cost: each budget that applies (the run's,
 * its Project's remaining) less what the run's other parts were quoted, the smallest of them, never
 * below zero. Undefined when no budget applies, or when they cannot be said in one currency (such a
 * run is refused before any part starts: decideBudget).
 */
export function partBudget(input: Omit<BudgetInput, "totals"> & { others: readonly Money[] }): Money | undefined {
  let least: { currency: string; available: Exact } | undefined;
  for (const limit of limitsOf(input)) {
    if ("fits" in limit || (least && least.currency !== limit.currency)) return undefined;
    const left = sub(limit.available, totalIn(input.others, limit.currency));
    if (!least || compare(left, least.available) < 0) least = { currency: limit.currency, available: left };
  }
  if (!least) return undefined;
  return toMoney(roundToCurrency(compare(least.available, zero) < 0 ? zero : least.available, least.currency));
}

/**
 * A Project's spending without one run's own records (a running run's cost so far counts them
 * already): per currency, never below zero (the spending may not have caught up with the records).
 */
export function spentWithout(spent: readonly Money[], own: readonly Money[]): Money[] {
  return spent.map((money, i) => {
    const total = parseMoney(money, `status.spent[${i}]`);
    const mine = own.filter((m) => m.currency === money.currency).reduce((sum, m, j) => add(sum, parseMoney(m, `own[${j}]`).value), zero);
    const left = sub(total.value, mine);
    return toMoney(roundToCurrency(compare(left, zero) < 0 ? zero : left, money.currency));
  });
}
