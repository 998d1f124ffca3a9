// Metering plan: which UsageRecords a PipelineRun's finished steps should have, from what really
// ran. Pure: the run, its Workflow (as Argo reports it), the namespace's Prices and the services'
// Providers go in; record names, specs and readiness come out. The reconciler only creates them.
//
// - A step is metered once it has finished (Succeeded, Failed or Error in the run's status, with
//   both times): a failed step used its resources too. A Skipped step never ran. A step run on a
//   peer is the peer's to meter (it signs the record; docs/billing.md). A step still running when
//   its run or its Workflow is being deleted (a served run's workspace went) is metered up to then.
// - Its pods are the Pod nodes of its tasks (pipeline/argo/workflow.ts nodesOfStep: a fanned-out step has
//   `<step>-inputs`, `<step>-items(…)` and `<step>` tasks). Only Pod nodes count: Argo also adds
//   the children's resourcesDuration up into DAG nodes, which would count them twice.
// - Usage comes from Argo's resourcesDuration when every pod has one; otherwise, once the Workflow
//   has ended without it, from each pod's finish − start × its main container's requests (or
//   limits, or Argo's own defaults 100m cpu and 100Mi memory: util/resource/duration.go).
// - It is priced at the Price in force when the step started, for the project billed and, for a
//   run a peer asked for (label archipel.io/requester-peer), for that peer (priceResolution.ts).
//   No Price (or a conflict): the usage is still recorded, without cost, Ready=False saying why.
import { createHash } from "node:crypto";
import { nodesOfStep, type ArgoNode, type ArgoWorkflow } from "../pipeline/argo/workflow.ts";
import type { PipelineRun, StepStatus } from "../schema/pipelineRun.ts";
import type { Price } from "../schema/price.ts";
import type { UsageLine, UsageRecordSpec } from "../schema/usageRecord.ts";
import { priceUsage } from "./lineItems.ts";
import { add, exact, formatScaled, MoneyError, mul, roundHalfEven, zero } from "./money.ts";
import { type Resolution, resolvePrice } from "./priceResolution.ts";
import { type Requests, secondsBetween, type Usage, usageFromRequests, usageFromResourcesDuration } from "./usage.ts";
import { requesterPeerLabel } from "../federation/peerRuns.ts";

/** Reasons a UsageRecord's Ready condition carries. */
export const UsageReason = {
  Metered: "Metered",
  NoPrice: "NoPrice",
  PriceConflict: "PriceConflict",
} as const;
export type UsageReason = (typeof UsageReason)[keyof typeof UsageReason];

/** A Workflow node with what metering reads (workflow.ts's ArgoNode leaves these out). */
export interface MeteredNode extends ArgoNode {
  resourcesDuration?: Record<string, number>;
}

interface Template {
  name?: string;
  container?: { resources?: { requests?: Requests; limits?: Requests } };
}

export interface MeteredWorkflow extends ArgoWorkflow {
  metadata?: ArgoWorkflow["metadata"] & { deletionTimestamp?: unknown };
  spec?: ArgoWorkflow["spec"] & { templates?: Template[] };
  status?: ArgoWorkflow["status"] & { nodes?: Record<string, MeteredNode>; storedTemplates?: Record<string, Template> };
}

export interface PlannedRecord {
  name: string;
  labels: Record<string, string>;
  spec: UsageRecordSpec;
  ready: { status: "True" | "False"; reason: UsageReason; message: string };
}

export interface MeteringInput {
  run: PipelineRun;
  workflow: MeteredWorkflow;
  prices: readonly Price[];
  /** The Provider of a service Resource of the run's namespace; undefined when it is gone. */
  providerOf: (resource: string) => string | undefined;
  /** This cluster's name, for a step whose status names none. */
  cluster: string;
}

export interface MeteringPlan {
  records: PlannedRecord[];
  /** Finished steps that get no record, and why (nothing ran, times unreadable). */
  skipped: { step: string; message: string }[];
  /** Finished steps whose measure Argo has not reported yet. */
  pending: string[];
}

/** Labels the statement route selects by. */
export const UsageLabel = { run: "archipel.io/pipelinerun", project: "archipel.io/project", month: "archipel.io/month" } as const;

/** The label the federation API puts on a PipelineRun it creates for a peer: the step is run for that peer, at the rates for it. */
export { requesterPeerLabel };

const requesterOf = (run: PipelineRun): string | undefined => run.metadata.labels?.[requesterPeerLabel] || undefined;

const finishedPhases = new Set<StepStatus["phase"]>(["Succeeded", "Failed", "Error"]);
const maxName = 253;

/** `<run>-<step>`, or a shortened form with a hash of both when longer than a name may be. */
export function usageRecordName(run: { name: string; uid: string }, step: string): string {
  // The run's uid in the name: records outlive their run, and a new run of the same name gets its own.
  const tail = `${step}-${run.uid.replace(/-/g, "").slice(0, 8)}`;
  const plain = `${run.name}-${tail}`;
  if (plain.length <= maxName) return plain;
  const hash = createHash("sha256").update(`${run.name}\n${step}`).digest("hex").slice(0, 10);
  const room = maxName - tail.length - hash.length - 2;
  return `${run.name.slice(0, room).replace(/[-.]+$/, "")}-${hash}-${tail}`;
}

const recordNameOf = (run: PipelineRun, step: string): string => usageRecordName({ name: run.metadata.name ?? "", uid: run.metadata.uid ?? "" }, step);

/** The steps of the run that have finished here (not on a peer), in spec order. */
export function finishedLocalSteps(run: PipelineRun): StepStatus[] {
  return localSteps(run).filter((s) => finishedPhases.has(s.phase) && s.startedAt && s.finishedAt);
}

/** The steps of the run's status that ran, or run, here (not on a peer). */
function localSteps(run: PipelineRun): StepStatus[] {
  const onPeer = new Set(run.spec.steps.filter((s) => s.serviceRef.peer !== undefined).map((s) => s.name));
  return (run.status?.steps ?? []).filter((s) => s.peer === undefined && !onPeer.has(s.name));
}

function templateOf(workflow: MeteredWorkflow, name: string | undefined): Template | undefined {
  if (name === undefined) return undefined;
  return workflow.spec?.templates?.find((t) => t.name === name) ?? Object.values(workflow.status?.storedTemplates ?? {}).find((t) => t.name === name);
}

// What Argo's resourcesDuration assumes for a container that sets neither requests nor limits.
const argoDefaultRequests: Required<Requests> = { cpu: "100m", memory: "100Mi" };

/** Requests, else limits (as Kubernetes and Argo read them), else Argo's defaults; per resource. */
export function requestsOf(workflow: MeteredWorkflow, pod: MeteredNode): Required<Requests> {
  const resources = templateOf(workflow, pod.templateName)?.container?.resources;
  const pick = (name: keyof Requests): string => resources?.requests?.[name] ?? resources?.limits?.[name] ?? argoDefaultRequests[name];
  return { cpu: pick("cpu"), memory: pick("memory") };
}

const hasDuration = (pod: MeteredNode): boolean => pod.resourcesDuration !== undefined && Object.keys(pod.resourcesDuration).length > 0;

function sumDurations(pods: readonly MeteredNode[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const pod of pods) for (const [name, value] of Object.entries(pod.resourcesDuration ?? {})) sum[name] = (sum[name] ?? 0) + value;
  return sum;
}

export interface MeasuredStep {
  usage: Usage;
  source: UsageRecordSpec["source"];
  resourcesDuration?: Record<string, number>;
  pods: number;
}

const notRun = new Set(["Skipped", "Omitted"]);
const unfinished = (n: MeteredNode): boolean => !n.finishedAt && !notRun.has(n.phase ?? "");
// A Workflow being deleted has ended for metering: Argo reports nothing more of it, and its pods
// are going (a step still running then is metered up to the deletion: stoppedByDeletion).
const workflowDone = (w: MeteredWorkflow): boolean => ["Succeeded", "Failed", "Error"].includes(w.status?.phase ?? "") || Boolean(w.metadata?.deletionTimestamp);

/**
 * What the step's pods consumed; "none" when no pod of it ran; "pending" while a pod lacks
 * resourcesDuration and Argo may still add it (the fallback is taken once the Workflow ended).
 */
export function measureStep(workflow: MeteredWorkflow, step: string): MeasuredStep | "none" | "pending" {
  const all = (nodesOfStep(workflow, step) as MeteredNode[]).filter((n) => n.type === "Pod");
  const done = workflowDone(workflow);
  // This Workflow may be older than the one the run's status was mirrored from (another cache):
  // a record is final, so a step with a pod still running here is measured later, not in part.
  if (!done && all.some(unfinished)) return "pending";
  const pods = all.filter((n) => n.startedAt && n.finishedAt);
  if (pods.length === 0) return "none";
  const field = `step ${step}`;
  const measured = pods.every(hasDuration);
  if (!measured && !done) return "pending";
  if (measured) {
    const resourcesDuration = sumDurations(pods);
    return { usage: usageFromResourcesDuration(resourcesDuration, field), source: "resourcesDuration", resourcesDuration, pods: pods.length };
  }
  return { usage: usageFromPodTimes(workflow, pods, field), source: "requests", pods: pods.length };
}

/** Σ over pods of (finish − start) × the main container's requests: the fallback. */
function usageFromPodTimes(workflow: MeteredWorkflow, pods: readonly MeteredNode[], field: string): Usage {
  let usage: Usage = { cpuCoreSeconds: zero, memoryGiBSeconds: zero, runs: 1n };
  for (const pod of pods) {
    const one = usageFromRequests(requestsOf(workflow, pod), secondsBetween(pod.startedAt ?? "", pod.finishedAt ?? "", `${field} pod ${pod.name ?? "?"}`), field);
    usage = { cpuCoreSeconds: add(usage.cpuCoreSeconds, one.cpuCoreSeconds), memoryGiBSeconds: add(usage.memoryGiBSeconds, one.memoryGiBSeconds), runs: 1n };
  }
  return usage;
}

const hours = (seconds: Usage["cpuCoreSeconds"]): string => formatScaled(roundHalfEven(mul(seconds, exact(1n, 3600n)), 6), 6);

type Pricing = Pick<PlannedRecord, "ready"> & Partial<Pick<UsageRecordSpec, "priceRef" | "lines" | "cost">>;

/** The Price in force at the step's start for its service Resource (and Provider) and the project billed. */
function resolveAtStart(input: MeteringInput, step: StepStatus): Resolution {
  const { run } = input;
  const service = run.spec.steps.find((s) => s.name === step.name)?.serviceRef.name ?? "";
  const target = { namespace: run.metadata.namespace ?? "", resource: service, provider: input.providerOf(service) ?? "" };
  const project = run.spec.projectRef?.name;
  const peer = requesterOf(run);
  return resolvePrice(input.prices, target, { ...(project ? { project } : {}), ...(peer ? { peer } : {}) }, new Date(Date.parse(step.startedAt ?? "")));
}

function pricing(input: MeteringInput, step: StepStatus, measured: MeasuredStep): Pricing {
  const resolution = resolveAtStart(input, step);
  if (resolution.outcome !== "resolved") {
    const reason = resolution.outcome === "conflict" ? UsageReason.PriceConflict : UsageReason.NoPrice;
    return { ready: { status: "False", reason, message: `recorded without a cost: ${resolution.message}; delete this record once a Price applies to have the step metered again` } };
  }
  const priced = priceUsage(step.name, undefined, measured.usage, resolution.rates);
  const lines: UsageLine[] = priced.lines.map((l) => ({ charge: l.charge, quantity: l.quantity, unit: l.unit, rate: l.rate, amount: l.amount.amount }));
  const from = measured.source === "resourcesDuration" ? "Argo's resourcesDuration" : "the pods' run time × requests";
  return {
    priceRef: { name: resolution.rates.price },
    lines,
    cost: priced.total,
    ready: { status: "True", reason: UsageReason.Metered, message: `${measured.pods} pod(s) metered from ${from}, priced at Price ${resolution.rates.price}: ${priced.total.amount} ${priced.total.currency}` },
  };
}

/** The labels statements and spending select records by (the run, the project billed, the month the step started). */
export function usageLabels(run: PipelineRun, startedAt: string): Record<string, string> {
  const name = run.metadata.name ?? "";
  const project = run.spec.projectRef?.name;
  return {
    ...(name.length <= 63 ? { [UsageLabel.run]: name } : {}),
    ...(project ? { [UsageLabel.project]: project } : {}),
    [UsageLabel.month]: new Date(Date.parse(startedAt)).toISOString().slice(0, 7),
  };
}

/** Reasons with which the orchestrator stops a running run: its steps that ended then were stopped, not finished. */
const stopReasons = new Set(["BudgetExhausted"]);

function stoppedBy(run: MeteringInput["run"], step: StepStatus): Pick<UsageRecordSpec, "stopped"> {
  if (step.phase === "Succeeded") return {};
  const stop = run.status?.conditions?.find((c) => (c.type === "Succeeded" || c.type === "Ready") && stopReasons.has(c.reason));
  return stop ? { stopped: { reason: stop.reason, message: stop.message.slice(0, 1024) } } : {};
}

function plannedRecord(input: MeteringInput, step: StepStatus, measured: MeasuredStep, stopped?: UsageRecordSpec["stopped"]): PlannedRecord {
  const { run } = input;
  const { ready, ...priced } = pricing(input, step, measured);
  const startedAt = step.startedAt ?? "";
  const requester = requesterOf(run);
  const spec: UsageRecordSpec = {
    pipelineRunRef: { name: run.metadata.name ?? "", ...(run.metadata.uid ? { uid: run.metadata.uid } : {}) },
    step: step.name,
    cluster: step.cluster ?? input.cluster,
    ...(requester ? { requester: { peer: requester } } : {}),
    ...(run.spec.projectRef ? { projectRef: { name: run.spec.projectRef.name } } : {}),
    startedAt,
    finishedAt: step.finishedAt ?? "",
    source: measured.source,
    ...(measured.resourcesDuration ? { resourcesDuration: measured.resourcesDuration } : {}),
    usage: { cpuCoreHours: hours(measured.usage.cpuCoreSeconds), memoryGiBHours: hours(measured.usage.memoryGiBSeconds), pods: measured.pods },
    ...priced,
    ...(stopped ? { stopped } : stoppedBy(run, step)),
  };
  return { name: recordNameOf(run, step.name), labels: usageLabels(run, startedAt), spec, ready };
}

/** The reasons on the record of a step cut short: its run, or its Workflow (with its workspace), was deleted while it ran. */
export const CutShortReason = { RunDeleted: "RunDeleted", WorkflowDeleted: "WorkflowDeleted" } as const;

/** When the run's steps were cut short, and why: the earlier of the run's and its Workflow's deletion. */
function cutShort(input: MeteringInput): { at: string; stopped: NonNullable<UsageRecordSpec["stopped"]> } | undefined {
  const run = input.run.metadata.deletionTimestamp;
  const workflow = input.workflow.metadata?.deletionTimestamp;
  const byWorkflow = typeof workflow === "string" && (run === undefined || Date.parse(workflow) < Date.parse(run));
  if (byWorkflow) return { at: workflow, stopped: { reason: CutShortReason.WorkflowDeleted, message: "the step was still running when its Workflow was deleted (with the reservation's workspace): metered until then" } };
  if (run === undefined) return undefined;
  return { at: run, stopped: { reason: CutShortReason.RunDeleted, message: "the step was still running when its run was deleted: metered until then" } };
}

/** Steps of this cluster that started, and have not finished (in the run's status). */
function startedUnfinished(run: PipelineRun): StepStatus[] {
  return localSteps(run).filter((s) => !finishedPhases.has(s.phase) && s.phase !== "Skipped" && Boolean(s.startedAt));
}

/**
 * The steps still running here when their run or their Workflow is being deleted (a served run's
 * Workflow goes with its reservation's workspace): their pods are being stopped, so each is
 * metered as ending then, its pods from their own start (a pod that had not started used nothing).
 */
function stoppedByDeletion(input: MeteringInput): { steps: StepStatus[]; workflow: MeteredWorkflow; stopped?: UsageRecordSpec["stopped"] } {
  const cut = cutShort(input);
  if (!cut) return { steps: [], workflow: input.workflow };
  const steps = startedUnfinished(input.run).map((s) => ({ ...s, finishedAt: cut.at }));
  const nodes = Object.fromEntries(Object.entries(input.workflow.status?.nodes ?? {}).map(([id, n]) => [id, n.startedAt && !n.finishedAt ? { ...n, finishedAt: cut.at } : n]));
  // Measured as a Workflow that ended at the cut: nothing of Argo's is waited for.
  const ended = { ...input.workflow, metadata: { ...input.workflow.metadata, deletionTimestamp: cut.at }, status: { ...input.workflow.status, nodes } };
  return { steps, workflow: ended, stopped: cut.stopped };
}

/**
 * The steps of the run that ran a pod of `workflow` here and have no record yet (by the run's
 * uid): what the orchestrator waits for before it lets a deleted run go (records outlive their
 * run, but the run is what says what ran). A step that started no pod gets no record: not waited for.
 */
export function unmeteredSteps(run: PipelineRun, workflow: MeteredWorkflow, records: readonly { spec: Pick<UsageRecordSpec, "pipelineRunRef" | "step"> }[]): string[] {
  const metered = new Set(records.filter((r) => r.spec.pipelineRunRef.uid !== undefined && r.spec.pipelineRunRef.uid === run.metadata.uid).map((r) => r.spec.step));
  const ranPod = (step: string): boolean => nodesOfStep(workflow, step).some((n) => n.type === "Pod" && Boolean(n.startedAt));
  return [...finishedLocalSteps(run), ...startedUnfinished(run)].map((s) => s.name).filter((name) => !metered.has(name) && ranPod(name));
}

/** The record `step` should have, added to `plan`; or why it has none (yet). */
function planStep(plan: MeteringPlan, input: MeteringInput, step: StepStatus, stopped?: UsageRecordSpec["stopped"]): void {
  try {
    secondsBetween(step.startedAt ?? "", step.finishedAt ?? "", `step ${step.name}`);
    const measured = measureStep(input.workflow, step.name);
    if (measured === "pending") plan.pending.push(step.name);
    else if (measured === "none") plan.skipped.push({ step: step.name, message: `step ${step.name} ${stopped ? "was stopped" : `finished (${step.phase})`} without running a pod: nothing to meter` });
    else plan.records.push(plannedRecord(input, step, measured, stopped));
  } catch (err) {
    if (!(err instanceof MoneyError)) throw err;
    plan.skipped.push({ step: step.name, message: err.message });
  }
}

/** The records the run's finished local steps should have, and those its or its Workflow's deletion cut short. */
export function planUsage(input: MeteringInput): MeteringPlan {
  const plan: MeteringPlan = { records: [], skipped: [], pending: [] };
  for (const step of finishedLocalSteps(input.run)) planStep(plan, input, step);
  const deleted = stoppedByDeletion(input);
  for (const step of deleted.steps) planStep(plan, { ...input, workflow: deleted.workflow }, step, deleted.stopped);
  return plan;
}
