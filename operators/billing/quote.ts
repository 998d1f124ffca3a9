// A quote before a run: for each step, its placement's rates × its resource requests × its
// expected duration, as line items; totals per currency (never converted). Pure: the Prices, the
// plan and the time are passed in; the orchestrator writes the result into the run's status.
import type { Money } from "../schema/common.ts";
import type { Price } from "../schema/price.ts";
import { type PricedStep, priceUsage, totalsByCurrency } from "./lineItems.ts";
import { type Audience, type PriceTarget, resolvePrice, type ResolvedRates } from "./priceResolution.ts";
import { parseDurationSeconds, type Requests, usageFromRequests } from "./usage.ts";

/** One step of a placement plan, with the rates of where it will run. */
export interface StepPlan {
  step: string;
  /** The Peer whose cluster runs the step; absent: this cluster. */
  peer?: string;
  requests: Requests;
  /** A Go duration ("45m"): what the service declares or the run sets. */
  expectedDuration: string;
  rates: ResolvedRates;
}

export interface Quote {
  steps: PricedStep[];
  /** One per currency, sorted by code. */
  totals: Money[];
}

export function quote(plans: readonly StepPlan[]): Quote {
  const steps = plans.map((plan, i) => {
    const field = `steps[${i}] (${plan.step})`;
    const usage = usageFromRequests(plan.requests, parseDurationSeconds(plan.expectedDuration, `${field}.expectedDuration`), field);
    return priceUsage(plan.step, plan.peer, usage, plan.rates);
  });
  return { steps, totals: totalsByCurrency(steps) };
}

/** What the rates of one step are looked up by. */
export interface StepTarget {
  step: string;
  target: PriceTarget;
  audience: Audience;
}

export type StepRates = { ok: true; rates: Map<string, ResolvedRates> } | { ok: false; problems: { step: string; message: string }[] };

/**
 * The rates of every step at `at`, or every step that has none (no Price, or a conflict): a run
 * is quoted completely or not at all, never with a step silently free.
 */
export function resolveStepRates(prices: readonly Price[], steps: readonly StepTarget[], at: Date): StepRates {
  const rates = new Map<string, ResolvedRates>();
  const problems: { step: string; message: string }[] = [];
  for (const s of steps) {
    const resolution = resolvePrice(prices, s.target, s.audience, at);
    if (resolution.outcome === "resolved") rates.set(s.step, resolution.rates);
    else problems.push({ step: s.step, message: `step ${s.step}: ${resolution.message}` });
  }
  return problems.length === 0 ? { ok: true, rates } : { ok: false, problems };
}
