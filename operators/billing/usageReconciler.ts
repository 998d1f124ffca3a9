// The usage controller: meters the finished steps of each PipelineRun into UsageRecords. Steps:
// read the run and its Workflow (only the run's own: controlled by it) from the caches, plan the
// records (metering.ts, pure), create the missing ones owned by the run (deterministic names, so a
// restart or a stale cache creates nothing twice), and write each record's Ready. A record's spec
// is never changed: a record deleted by hand is metered again, from the Workflow and the Prices of
// the step's start. It never touches a record that another object controls.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import type { Logger } from "../runtime/logger.ts";
import { resourceKindRef } from "../catalog/providerReconciler.ts";
import { reportingInstance } from "../runtime/events.ts";
import { workflowKindRef } from "../pipeline/argo/workflow.ts";
import type { ControllerOptions, ObjectKey, ReconcileContext, Reconciler } from "../runtime/index.ts";
import { conditionMatches, type ConditionUpdate, setCondition } from "../runtime/conditions.ts";
import { isAlreadyExists, isNotFound } from "../runtime/errors.ts";
import { EventRecorder } from "../runtime/events.ts";
import { isBeingDeleted, removeFinalizer } from "../runtime/finalizers.ts";
import { isControlledAcross, markedOwnerOf } from "../runtime/ownerReferences.ts";
import { StatusWriter } from "../runtime/status.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type PipelineRun, pipelineRunKind } from "../schema/pipelineRun.ts";
import type { Price } from "../schema/price.ts";
import type { Resource } from "../schema/resource.ts";
import { type UsageRecord, usageRecordKind } from "../schema/usageRecord.ts";
import { holdLiftable, meteringHold, orphanedHolds } from "./meteringHold.ts";
import { type MeteredWorkflow, type PlannedRecord, planUsage, UsageReason } from "./metering.ts";
import { requesterReceiptAnnotation, servedAgreement } from "./peerUsage.ts";
import { signUsageRecord } from "./usageSignature.ts";
import { sumByCurrency } from "./money.ts";
import { cachedSigningIdentity, loadSigningIdentity, type SigningIdentity } from "../federation/client.ts";
import { priceKindRef } from "./priceReconciler.ts";
import { type UsageMetrics, usageMetricsOf } from "./usageMetrics.ts";
import { timed } from "../pipeline/timed.ts";

export const usageControllerName = "usage";
export const usageFieldManager = "archipel-usage-controller";
export const usageReportingController = "archipel.io/usage-controller";
export const usageRecordKindRef = kindRefOf(usageRecordKind);
const pipelineRunKindRef = kindRefOf(pipelineRunKind);
const requestTimeoutMs = 30_000;

/** Why a run's record could not be made, as Events on the run say. */
export const UsageEventReason = { RecordNameTaken: "UsageRecordNameTaken" } as const;

export interface UsageReconcilerDeps {
  status: StatusWriter;
  events: EventRecorder;
  metrics?: UsageMetrics;
  /** The cluster name for a step whose status names none. */
  clusterName?: string;
  /** This cluster's identity: a record of a step run for a peer is signed with it (absent: such records cannot be made). */
  identity?: () => Promise<SigningIdentity>;
  now?: () => Date;
}

type Found = UsageRecord & KubernetesObject;

/**
 * Ready of an existing record: the plan's when it agrees with what the record holds, else what
 * the record itself shows (it was metered under other Prices, e.g. before a Price was created).
 */
export function readinessOf(record: UsageRecord, planned: PlannedRecord): ConditionUpdate {
  if ((record.spec.cost !== undefined) === (planned.spec.cost !== undefined)) return { type: "Ready", ...planned.ready };
  if (record.spec.cost) return { type: "Ready", status: "True", reason: UsageReason.Metered, message: `metered at Price ${record.spec.priceRef?.name ?? "?"}: ${record.spec.cost.amount} ${record.spec.cost.currency}` };
  return { type: "Ready", status: "False", reason: UsageReason.NoPrice, message: "recorded without a cost: no Price applied when the step was metered; delete this record to have the step metered again" };
}

/** A record is a run's when it names the run's uid (records carry no owner reference: they outlive the run). */
function recordOf(record: Found, run: PipelineRun): boolean {
  return record.spec.pipelineRunRef.uid !== undefined && record.spec.pipelineRunRef.uid === run.metadata.uid;
}

/** Where the run's Workflow is: as status names it (its namespace when not the run's), else named after the run. */
function workflowKeyOf(run: PipelineRun): ObjectKey {
  const { name = "", namespace = "" } = run.metadata;
  const ref = run.status?.workflowRef;
  return { namespace: ref?.namespace ?? namespace, name: ref?.name ?? name };
}

export function createUsageReconciler(deps: UsageReconcilerDeps): Reconciler {
  const now = deps.now ?? ((): Date => new Date());

  /**
   * Ready, and on a record made for a peer, Agreed: what the peer said of it in its receipt
   * (peerUsage.ts). The two are this controller's; other conditions are dropped.
   */
  async function writeConditions(record: Found, ready: ConditionUpdate): Promise<void> {
    const updates = [ready, ...(record.spec.requester ? [servedAgreement(record.spec, record.metadata.annotations?.[requesterReceiptAnnotation])] : [])];
    if (updates.every((u) => conditionMatches(record.status?.conditions, u)) && record.status?.observedGeneration === record.metadata.generation) return;
    const conditions = updates.reduce((all, u) => setCondition(all, u, record.metadata.generation, now()), record.status?.conditions ?? []).filter((c) => updates.some((u) => u.type === c.type));
    await deps.status.apply(usageRecordKindRef, record, { conditions, observedGeneration: record.metadata.generation });
  }

  /** The record as written: one made for a peer is signed by this cluster, in its Identity's name. */
  async function signed(planned: PlannedRecord): Promise<PlannedRecord> {
    if (!planned.spec.requester) return planned;
    if (!deps.identity) throw new Error(`step ${planned.spec.step} ran for peer ${planned.spec.requester.peer}: its record must be signed, and this controller has no identity`);
    const identity = await deps.identity();
    return { ...planned, spec: signUsageRecord({ ...planned.spec, cluster: identity.clusterName }, identity.privateKeyPem) };
  }

  function body(run: PipelineRun, planned: PlannedRecord): KubernetesObject {
    return {
      apiVersion: `${usageRecordKind.group}/${usageRecordKind.version}`,
      kind: usageRecordKind.kind,
      // No owner: a record is a fact of the bill and outlives its run (deleting a run must not lower
      // a Project's spending or empty a statement). It is the run's by spec.pipelineRunRef.uid.
      metadata: { name: planned.name, namespace: run.metadata.namespace, labels: planned.labels },
      spec: planned.spec,
    } as KubernetesObject;
  }

  /** Creates the record; one that exists already (a stale cache) is returned as found. */
  async function create(ctx: ReconcileContext, run: PipelineRun, planned: PlannedRecord): Promise<{ record: Found; created: boolean }> {
    const wanted = body(run, planned);
    try {
      const created = (await timed(`creating UsageRecord ${planned.name}`, ctx.client.create(wanted, undefined, undefined, usageFieldManager), requestTimeoutMs)) as Found;
      return { record: created, created: true };
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      try {
        return { record: (await timed(`reading UsageRecord ${planned.name}`, ctx.client.read({ apiVersion: "archipel.io/v1alpha1", kind: "UsageRecord", metadata: { namespace: run.metadata.namespace ?? "", name: planned.name } }), requestTimeoutMs)) as Found, created: false };
      } catch (readErr) {
        if (isNotFound(readErr)) throw new Error(`UsageRecord ${planned.name} exists and vanished: retrying`, { cause: readErr });
        throw readErr;
      }
    }
  }

  async function ensure(ctx: ReconcileContext, run: PipelineRun, planned: PlannedRecord): Promise<void> {
    const namespace = run.metadata.namespace ?? "";
    const cached = ctx.cache<Found>(usageRecordKindRef).get({ namespace, name: planned.name });
    const { record, created } = cached ? { record: cached, created: false } : await create(ctx, run, await signed(planned));
    if (!recordOf(record, run)) {
      // Another object's record: never adopted, never changed.
      const note = `UsageRecord ${namespace}/${planned.name} exists and is not this run's: step ${planned.spec.step} is not metered until it is gone`;
      await deps.events.record(run as KubernetesObject, { type: "Warning", reason: UsageEventReason.RecordNameTaken, action: "Meter", note });
      return;
    }
    if (created) {
      deps.metrics?.created(record.spec);
      ctx.logger.info("usage recorded", { namespace, name: planned.name, step: planned.spec.step, cost: record.spec.cost, reason: planned.ready.reason });
    }
    await writeConditions(record, created ? { type: "Ready", ...planned.ready } : readinessOf(record, planned));
  }

  /** The run's own Workflow (controlled by it; in its reservation's workspace for a run served for a peer): another one of that name measures nothing of it. */
  function ownWorkflow(ctx: ReconcileContext, run: PipelineRun): (MeteredWorkflow & KubernetesObject) | undefined {
    const workflow = ctx.cache<MeteredWorkflow & KubernetesObject>(workflowKindRef).get(workflowKeyOf(run));
    return workflow && isControlledAcross(workflow, run as KubernetesObject) ? workflow : undefined;
  }

  /**
   * The run's status.cost: the sum of its records, those metered here and the copies of a peer's
   * (only this field of the run's status is this controller's). Left out while the records are in
   * several currencies: one amount cannot hold them, and amounts are never converted.
   */
  async function writeCost(ctx: ReconcileContext, run: PipelineRun): Promise<void> {
    const costs = ctx.cache<Found>(usageRecordKindRef).list(run.metadata.namespace ?? "").filter((r) => recordOf(r, run)).flatMap((r) => (r.spec.cost ? [r.spec.cost] : []));
    const totals = sumByCurrency(costs, "UsageRecord spec.cost");
    if (totals.length > 1) ctx.logger.debug("run cost not written: its records are in several currencies", { namespace: run.metadata.namespace, name: run.metadata.name, totals });
    await deps.status.apply(pipelineRunKindRef, run, { cost: totals.length === 1 ? totals[0] : undefined });
  }

  /** Lifts this controller's hold from `workflow` (a 409 on a stale copy: the next pass reads it again). */
  async function liftHold(ctx: ReconcileContext, workflow: KubernetesObject, why: string): Promise<void> {
    await timed(`lifting the metering hold of Workflow ${workflow.metadata?.namespace ?? ""}/${workflow.metadata?.name ?? ""}`, removeFinalizer(ctx.client, workflow, meteringHold), requestTimeoutMs);
    ctx.logger.info("metering hold lifted", { namespace: workflow.metadata?.namespace, workflow: workflow.metadata?.name, why });
  }

  /** Records for the run's finished steps and those cut short; its Workflow's hold lifted once nothing more can be measured. */
  async function meter(ctx: ReconcileContext, run: PipelineRun, workflow: MeteredWorkflow & KubernetesObject): Promise<void> {
    const namespace = run.metadata.namespace ?? "";
    const resources = ctx.cache<Resource>(resourceKindRef);
    const plan = planUsage({
      run,
      workflow,
      prices: ctx.cache<Price>(priceKindRef).list(namespace),
      providerOf: (name) => resources.get({ namespace, name })?.spec.providerRef.name,
      cluster: deps.clusterName ?? "local",
    });
    for (const skipped of plan.skipped) ctx.logger.debug("step not metered", { namespace, run: run.metadata.name, ...skipped });
    for (const planned of plan.records) await ensure(ctx, run, planned);
    if (holdLiftable(workflow, plan)) await liftHold(ctx, workflow, `${plan.records.length} step(s) metered`);
    // The records just made are in the cache on the next pass (their watch event brings the run back), with their cost.
  }

  return async (key: ObjectKey, ctx: ReconcileContext): Promise<void> => {
    // A run being deleted is metered still: its records outlive it, and the orchestrator lets it
    // go once they are made (a step still running is metered up to the deletion).
    const run = ctx.cache<PipelineRun>(pipelineRunKindRef).get(key);
    for (const orphan of orphanedHolds(ctx.cache<KubernetesObject>(workflowKindRef).list(), key, run?.metadata.uid)) await liftHold(ctx, orphan, "its run is gone");
    if (!run) return;
    if (!isBeingDeleted(run as KubernetesObject)) await writeCost(ctx, run);
    const workflow = ownWorkflow(ctx, run);
    if (workflow) await meter(ctx, run, workflow);
  };
}

/** The controller as the manager registers it. */
export function usageController(kubeConfig: KubeConfig, opts: { logger?: Logger; registry?: Registry; clusterName?: string } = {}): ControllerOptions {
  const reconcile = createUsageReconciler({
    identity: cachedSigningIdentity(() => loadSigningIdentity(kubeConfig, requestTimeoutMs)),
    status: new StatusWriter(kubeConfig, usageFieldManager),
    events: new EventRecorder(kubeConfig, { reportingController: usageReportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
    ...(opts.registry ? { metrics: usageMetricsOf(opts.registry) } : {}),
    ...(opts.clusterName ? { clusterName: opts.clusterName } : {}),
  });
  return {
    name: usageControllerName,
    for: pipelineRunKindRef,
    reconcile,
    concurrency: 2,
    // The run's Workflow (its steps finish); its records name it (one deleted is metered again).
    owns: [workflowKindRef],
    watches: [
      // A Workflow in a reservation's workspace names its run with marks, not an owner reference.
      { kind: workflowKindRef, map: markedOwnerOf(pipelineRunKind.kind) },
      { kind: usageRecordKindRef, map: (obj) => [{ namespace: obj.metadata?.namespace ?? "", name: (obj as Found).spec?.pipelineRunRef?.name ?? "" }].filter((k) => k.name !== "") },
      // Caches the reconciler reads, registered so that they have synced before it runs. A Price
      // changed later does not re-price a record: the rates of the step's start are a fact.
      { kind: priceKindRef, map: () => [] },
      { kind: resourceKindRef, map: () => [] },
    ],
  };
}
