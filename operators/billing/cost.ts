// The cost of a finished step from what really ran: Argo's per-node resourcesDuration, or, where
// Argo reported none, the pod's start/finish times × its requests. Priced at the rates in force
// when the step started: one Price per step (a UsageRecord names one priceRef), even when the
// step runs across a change of Price. Pure.
import type { Price } from "../schema/price.ts";
import { type PricedStep, priceUsage } from "./lineItems.ts";
import { MoneyError } from "./money.ts";
import { type Audience, type PriceTarget, resolvePrice, type ResolvedRates } from "./priceResolution.ts";
import { type Requests, secondsBetween, type Usage, usageFromRequests, usageFromResourcesDuration } from "./usage.ts";

export interface FinishedStep {
  step: string;
  /** The Peer whose cluster ran the step; absent: this cluster. */
  peer?: string;
  startedAt: string;
  finishedAt: string;
  /** Argo's node status resourcesDuration: {cpu: core-seconds, memory: 100Mi-seconds, ...}. */
  resourcesDuration?: Readonly<Record<string, number>>;
  /** The pod's requests, for when resourcesDuration is missing. */
  requests?: Requests;
}

export interface StepCost extends PricedStep {
  /** Where the usage came from. */
  source: "resourcesDuration" | "requests";
}

function measuredUsage(step: FinishedStep): { usage: Usage; source: StepCost["source"] } {
  const field = `step ${step.step}`;
  // Validated even when unused: a step that finished before it started is a bad record either way.
  const seconds = secondsBetween(step.startedAt, step.finishedAt, field);
  if (step.resourcesDuration && Object.keys(step.resourcesDuration).length > 0) {
    return { usage: usageFromResourcesDuration(step.resourcesDuration, field), source: "resourcesDuration" };
  }
  if (!step.requests || (step.requests.cpu === undefined && step.requests.memory === undefined)) {
    throw new MoneyError(`${field} has neither resourcesDuration nor requests: its usage cannot be measured`);
  }
  return { usage: usageFromRequests(step.requests, seconds, field), source: "requests" };
}

/** The cost of `step` at `rates` (the caller resolved them at the step's start). */
export function costOfStep(step: FinishedStep, rates: ResolvedRates): StepCost {
  const { usage, source } = measuredUsage(step);
  return { ...priceUsage(step.step, step.peer, usage, rates), source };
}

export type CostResult = { ok: true; cost: StepCost } | { ok: false; message: string };

/** Resolves the Price in force at the step's start, then prices the step with it. */
export function costAtRatesInForce(step: FinishedStep, prices: readonly Price[], target: PriceTarget, audience: Audience): CostResult {
  const startedAt = new Date(Date.parse(step.startedAt));
  if (Number.isNaN(startedAt.getTime())) return { ok: false, message: `step ${step.step}.startedAt ${JSON.stringify(step.startedAt)} is not an RFC 3339 time` };
  const resolution = resolvePrice(prices, target, audience, startedAt);
  if (resolution.outcome !== "resolved") return { ok: false, message: `step ${step.step}: ${resolution.message}` };
  return { ok: true, cost: costOfStep(step, resolution.rates) };
}
