// The quote of a run's steps that run here, and whether it fits the run's budget and its Project's
// remaining budget — decided before the Workflow exists, so a run over budget never starts.
// Pure: services, Prices, the Project and the time are passed in; the billing rules (price
// resolution, quote arithmetic, budget decision: operators/billing/) do the rest.
import type { Process } from "../pipeline/cwl/model.ts";
import { decideBudget } from "../billing/budget.ts";
import { quote, resolveStepRates, type StepPlan } from "../billing/quote.ts";
import type { Audience } from "../billing/priceResolution.ts";
import { requesterPeerLabel } from "../federation/peerRuns.ts";
import type { Requests } from "../billing/usage.ts";
import type { Money } from "../schema/common.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { Price } from "../schema/price.ts";
import type { Project } from "../schema/project.ts";
import type { Resource } from "../schema/resource.ts";
import { present } from "../runtime/present.ts";

/** How long a step is quoted for when the run does not say (spec.expectedDuration). */
export const defaultExpectedDuration = "10m";

/**
 * What a step asks of a node: its CWL ResourceRequirement (coresMin, ramMin in MiB), else what Argo
 * assumes for a container that names none (100m, 100Mi) — the same figures metering will measure.
 */
export function requestsOf(process: Process): Requests {
  const requirement = [...process.requirements, ...process.hints].find((r) => r.class === "ResourceRequirement") as { coresMin?: unknown; ramMin?: unknown } | undefined;
  const cores = typeof requirement?.coresMin === "number" ? requirement.coresMin : undefined;
  const ram = typeof requirement?.ramMin === "number" ? requirement.ramMin : undefined;
  return { cpu: cores !== undefined ? String(cores) : "100m", memory: ram !== undefined ? `${Math.ceil(ram)}Mi` : "100Mi" };
}

export interface QuotedStep {
  step: string;
  service: Resource;
  process: Process;
}

/** priced: with each step's requests and rates (what a running run's cost so far is computed from). */
export type RunQuote = { priced: true; totals: Money[]; message: string; plans: StepPlan[] } | { priced: false; message: string };

/** The run's quote over `steps` at `at`: complete (every step has a Price) or none. */
export function runQuote(run: PipelineRun, steps: readonly QuotedStep[], prices: readonly Price[], at: Date): RunQuote {
  // A run made for a peer is quoted at the rates for that peer, as it is metered (metering.ts).
  const audience = present({ project: run.spec.projectRef?.name, peer: run.metadata.labels?.[requesterPeerLabel] || undefined });
  return quoteSteps({ namespace: run.metadata.namespace ?? "", audience, ...present({ expectedDuration: run.spec.expectedDuration }), steps, prices, at });
}

export interface StepsToQuote {
  namespace: string;
  /** who the steps run for: this cluster's project, or the peer asking (a peer's quote) */
  audience: Audience;
  expectedDuration?: string;
  steps: readonly QuotedStep[];
  prices: readonly Price[];
  at: Date;
}

/** The quote of steps whose services are in `namespace`, at the rates for `audience`. */
export function quoteSteps(input: StepsToQuote): RunQuote {
  const { namespace, steps } = input;
  const targets = steps.map((s) => ({ step: s.step, target: { namespace, resource: s.service.metadata.name ?? "", provider: s.service.spec.providerRef.name }, audience: input.audience }));
  const rates = resolveStepRates(input.prices.filter((p) => p.metadata.namespace === namespace), targets, input.at);
  if (!rates.ok) return { priced: false, message: rates.problems.map((p) => p.message).join("; ") };
  const duration = input.expectedDuration ?? defaultExpectedDuration;
  const plans: StepPlan[] = steps.map((s) => ({ step: s.step, requests: requestsOf(s.process), expectedDuration: duration, rates: rates.rates.get(s.step)! }));
  const q = quote(plans);
  const text = q.totals.map((t) => `${t.amount} ${t.currency}`).join(" + ") || "0";
  return { priced: true, totals: q.totals, message: `${text} for ${steps.length} step(s) of ${duration} each (spec.expectedDuration)`, plans };
}

export interface BudgetRefusal {
  reason: string;
  message: string;
}

/** The Project as the budget decision reads it. */
function projectBudget(project: Project): NonNullable<Parameters<typeof decideBudget>[0]["project"]> {
  return { name: project.metadata.name ?? "", ...present({ budget: project.spec.budget, spent: project.status?.spent }) };
}

/** Undefined when the run may start; else which budget refuses it and why. */
export function budgetRefusal(run: PipelineRun, q: RunQuote, project: Project | undefined): BudgetRefusal | undefined {
  if (!run.spec.budget && !project?.spec.budget) return undefined;
  if (!q.priced) return { reason: "QuoteUnavailable", message: `a budget applies but the run cannot be quoted (${q.message}); add a Price for each step's service or provider` };
  const decision = decideBudget({ totals: q.totals, ...present({ runBudget: run.spec.budget, project: project ? projectBudget(project) : undefined }) });
  return decision.fits ? undefined : { reason: decision.reason, message: decision.message };
}
