// A running run's budget: while its Workflow runs, the cost so far (billing/accrual.ts) is checked
// against spec.budget and its Project's remaining budget (the Project's spending by other runs); once it has reached it, the Workflow is stopped (Argo's spec.shutdown: Stop,
// running pods are killed, nothing new starts) and annotated with why, so that every later pass,
// and a restarted manager, reports the run as stopped by its budget (BudgetExhausted) rather than
// as a failed step. The run's UsageRecords of the steps that were stopped say so (metering.ts).
import { type KubernetesObject, PatchStrategy } from "@kubernetes/client-node";
import { accruedCost, budgetWatch } from "../billing/accrual.ts";
import type { StepPlan } from "../billing/quote.ts";
import { timed } from "../pipeline/timed.ts";
import type { ReconcileContext } from "../runtime/index.ts";
import { present } from "../runtime/present.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { Money } from "../schema/common.ts";
import { RunReason } from "./reasons.ts";
import type { ArgoWorkflow } from "../pipeline/argo/workflow.ts";
import type { RunObservation } from "./runStatus.ts";

/** On a Workflow the orchestrator stopped: `<reason>: <message>`. */
export const stoppedAnnotation = "archipel.io/stopped";

/** How often a running run with a budget is looked at again (its cost grows with time, no event says so). */
export const budgetCheckIntervalMs = 10_000;

/** The observation of a Workflow this orchestrator stopped: the reason is the stop's, not a step's. */
export function stoppedObservation(o: RunObservation, workflow: ArgoWorkflow & KubernetesObject): RunObservation {
  const note = workflow.metadata?.annotations?.[stoppedAnnotation];
  if (!note) return o;
  const [reason = RunReason.BudgetExhausted, ...rest] = note.split(": ");
  const message = rest.join(": ");
  if (["Succeeded", "Failed", "Error"].includes(o.phase)) {
    return { ...o, ready: { ...o.ready, status: "False", reason, message: `stopped: ${message}` }, succeeded: { ...o.succeeded, status: "False", reason, message: `stopped: ${message}` } };
  }
  return { ...o, ready: { ...o.ready, status: "False", reason, message: `stopping: ${message}` } };
}

export interface BudgetCheck {
  run: PipelineRun;
  workflow: ArgoWorkflow & KubernetesObject;
  observed: RunObservation;
  /** the steps' requests and rates, as quoted */
  plans: readonly StepPlan[];
  now: Date;
  /** The Project billed, with its spending other than this run's (budget.ts spentWithout). */
  project?: { name: string; budget?: Money; spent?: readonly Money[] };
}

/** Whether a running run is watched: it has a budget, or its Project has. */
export const budgetWatched = (run: PipelineRun, project: { budget?: Money } | undefined): boolean => run.spec.budget !== undefined || project?.budget !== undefined;

/** Undefined: within budget (look again later). Else the stop, as written on the Workflow. */
export function budgetStop(check: BudgetCheck): { reason: string; message: string } | undefined {
  const budget = check.run.spec.budget;
  if (!budgetWatched(check.run, check.project)) return undefined;
  const times = new Map(check.observed.steps.map((s) => [s.name, s]));
  const steps = check.plans.map((p) => {
    const observed = times.get(p.step);
    return { step: p.step, requests: p.requests, rates: p.rates, ...present({ startedAt: observed?.startedAt, finishedAt: observed?.finishedAt }) };
  });
  const watch = budgetWatch(accruedCost(steps, check.now), present({ runBudget: budget, project: check.project?.budget ? check.project : undefined }));
  return watch.reached ? { reason: RunReason.BudgetExhausted, message: watch.message } : undefined;
}

/** Stops the Workflow and says why on it (one merge patch: both or neither). */
export async function stopWorkflow(ctx: ReconcileContext, workflow: ArgoWorkflow & KubernetesObject, stop: { reason: string; message: string }, opts: { fieldManager: string; timeoutMs: number }): Promise<void> {
  const { namespace, name } = workflow.metadata ?? {};
  const patch = { apiVersion: "argoproj.io/v1alpha1", kind: "Workflow", metadata: { namespace, name, annotations: { [stoppedAnnotation]: `${stop.reason}: ${stop.message}` } }, spec: { shutdown: "Stop" } } as KubernetesObject;
  await timed("stopping the Workflow", ctx.client.patch(patch, undefined, undefined, opts.fieldManager, undefined, PatchStrategy.MergePatch), opts.timeoutMs);
  ctx.logger.info("workflow stopped", { namespace, name, reason: stop.reason });
}
