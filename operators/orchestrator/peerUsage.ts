// The last step of the peer protocol (after release): the peer's account of the steps it ran for
// this run. The peer meters them and signs each UsageRecord; this pass fetches them, keeps a copy
// of each (bound to this run, spec.received says what was the peer's), judges each against what
// the peer reported while the steps ran (billing/peerUsage.ts, pure), and sends the verdicts back
// as receipts, so each side shows on its own record whether the two agree (condition Agreed).
// Level-triggered: a copy with its Agreed decided is done; a crash between creating a copy and
// writing its verdict sends the same receipt again. A peer that sends nothing within waitMs of
// the steps' end is given up on (a Warning Event names the steps left without a record).
import type { KubernetesObject } from "@kubernetes/client-node";
import { Value } from "typebox/value";
import { usageLabels, usageRecordName } from "../billing/metering.ts";
import type { UsageMetrics } from "../billing/usageMetrics.ts";
import { copyAgreement, type CopyBinding, judgeReceived, type Judgement, receivedCopy, type StepSeen, usageDigest } from "../billing/peerUsage.ts";
import { FederationRequestError } from "../federation/client.ts";
import type { PeerUsageReceipt } from "../federation/peerRuns.ts";
import type { ReconcileContext, ReconcileResult } from "../runtime/index.ts";
import { isAlreadyExists } from "../runtime/errors.ts";
import type { EventRecorder } from "../runtime/events.ts";
import type { StatusWriter } from "../runtime/status.ts";
import { setCondition } from "../runtime/conditions.ts";
import { kindRefOf } from "../schema/kind.ts";
import type { Peer } from "../schema/peer.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import { type UsageRecord, UsageRecordSpec, usageRecordKind } from "../schema/usageRecord.ts";
import { timed } from "../pipeline/timed.ts";
import { type PeerEndpoint, PeerRefusal, type PeerRunsClient } from "./peerClient.ts";
import { peerEndpoint, peerKindRef, type PeerRunRecord } from "./peerSteps.ts";

export const usageRecordKindRef = kindRefOf(usageRecordKind);

export interface PeerUsageDeps {
  client: PeerRunsClient;
  status: StatusWriter;
  events: EventRecorder;
  now: () => Date;
  /** How long after the peer's steps ended their records are waited for. */
  waitMs: number;
  requestTimeoutMs: number;
  /** Counts each copy made (role consumer: the peer ran the step for this cluster). */
  metrics?: UsageMetrics;
}

type Found = UsageRecord & KubernetesObject;
const finalPhases = new Set(["Succeeded", "Failed", "Error"]);
const requeue = (ms: number): ReconcileResult => ({ requeueAfter: ms });

/** A copy is this run's when it names the run's uid and came from a peer. */
const copyOf = (record: Found | undefined, run: PipelineRun): boolean => record !== undefined && record.spec.peer !== undefined && record.spec.pipelineRunRef.uid === run.metadata.uid;
const decided = (record: Found | undefined): boolean => record?.status?.conditions?.some((c) => c.type === "Agreed" && c.status !== "Unknown") ?? false;

/** The run's steps that ran on its peer and ended (a record is due for each one that started a pod). */
function peerStepsOf(run: PipelineRun, peer: string): StepSeen[] {
  return (run.status?.steps ?? []).filter((s) => s.peer === peer && finalPhases.has(s.phase) && s.startedAt).map((s) => ({ name: s.name, ...(s.startedAt ? { startedAt: s.startedAt } : {}), ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}) }));
}

interface Received {
  peerName: string;
  judged: Extract<Judgement, { keep: true }>;
  copy: Found;
}

/** One collection pass's facts. */
interface Pass {
  ctx: ReconcileContext;
  run: PipelineRun;
  ep: PeerEndpoint;
  publicKey: string;
  peerNamespace: string;
  peerRunName: string;
  steps: StepSeen[];
}

/** Where to ask, and the key the peer's records must verify under; undefined while the Peer cannot be asked. */
function peerOf(ctx: ReconcileContext, name: string): { ep: PeerEndpoint; publicKey: string } | undefined {
  const peer = ctx.cache<Peer>(peerKindRef).get({ namespace: "", name });
  const ep = peerEndpoint(peer, name);
  const publicKey = peer?.status?.descriptor?.publicKey;
  return "endpoint" in ep && publicKey ? { ep, publicKey } : undefined;
}

function bindingOf(run: PipelineRun, ep: PeerEndpoint, recordName: string): CopyBinding {
  return { run: { name: run.metadata.name ?? "", uid: run.metadata.uid ?? "" }, peer: ep.peer, recordName, ...(run.spec.projectRef ? { project: run.spec.projectRef.name } : {}) };
}

function receiptOf(name: string, digest: string, judged: Received["judged"]): PeerUsageReceipt {
  return { name, digest, agreed: judged.agreed, reason: judged.reason, ...(judged.agreed ? {} : { message: judged.message.slice(0, 512) }) };
}

export function createPeerUsage(deps: PeerUsageDeps): (ctx: ReconcileContext, run: PipelineRun) => Promise<ReconcileResult | void> {
  const ms = deps.requestTimeoutMs;
  const nameOf = (run: PipelineRun, step: string): string => usageRecordName({ name: run.metadata.name ?? "", uid: run.metadata.uid ?? "" }, step);

  async function createCopy(ctx: ReconcileContext, run: PipelineRun, spec: UsageRecordSpec, name: string): Promise<Found> {
    const namespace = run.metadata.namespace ?? "";
    // No owner: like a record metered here, it is a fact of the bill and outlives the run.
    const body = { apiVersion: `${usageRecordKind.group}/${usageRecordKind.version}`, kind: usageRecordKind.kind, metadata: { name, namespace, labels: usageLabels(run, spec.startedAt) }, spec };
    try {
      const created = (await timed(`creating UsageRecord ${namespace}/${name}`, ctx.client.create(body as KubernetesObject), ms)) as Found;
      deps.metrics?.created(spec);
      ctx.logger.info("usage received from a peer", { namespace, name, step: spec.step, peer: spec.peer, cost: spec.cost });
      return created;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      return (await timed(`reading UsageRecord ${namespace}/${name}`, ctx.client.read({ apiVersion: "archipel.io/v1alpha1", kind: "UsageRecord", metadata: { namespace, name } }), ms)) as Found;
    }
  }

  async function writeVerdict(copy: Found, cluster: string, judged: Received["judged"], answer: { found: boolean; matches: boolean }): Promise<void> {
    const at = deps.now();
    const priced = copy.spec.cost ? `${copy.spec.cost.amount} ${copy.spec.cost.currency}` : "without a cost";
    const ready = { type: "Ready", status: "True" as const, reason: "Received", message: `metered and signed by cluster ${cluster}: ${priced}` };
    const conditions = [ready, copyAgreement(judged, { cluster, ...answer })].reduce((all, u) => setCondition(all, u, copy.metadata.generation, at), copy.status?.conditions ?? []);
    await deps.status.apply(usageRecordKindRef, copy, { conditions: conditions.filter((c) => c.type === "Ready" || c.type === "Agreed"), observedGeneration: copy.metadata.generation });
  }

  const refuse = (run: PipelineRun, note: string): Promise<void> => deps.events.record(run as KubernetesObject, { type: "Warning", reason: "PeerUsageRefused", action: "ReceiveUsage", note });

  /** One record the peer sent: its receipt, and the copy kept of it (undefined: nothing to say or keep). */
  async function receiveOne(p: Pass, record: { name: string; spec: Record<string, unknown> }): Promise<{ receipt: PeerUsageReceipt; received?: Received } | undefined> {
    const { ctx, run, ep } = p;
    if (!Value.Check(UsageRecordSpec, record.spec)) {
      await refuse(run, `peer ${ep.cluster} sent record ${record.name}, which is not a UsageRecord spec: not kept`);
      return undefined;
    }
    const spec = record.spec as UsageRecordSpec;
    const digest = usageDigest(spec);
    const judged = judgeReceived(spec, { cluster: ep.cluster, publicKey: p.publicKey, peerRunName: p.peerRunName, steps: p.steps });
    if (!judged.keep) {
      await refuse(run, `record ${record.name} from peer ${ep.cluster} is not kept (${judged.reason}): ${judged.message}`);
      return { receipt: { name: record.name, digest, agreed: false, reason: judged.reason, message: judged.message.slice(0, 512) } };
    }
    const name = nameOf(run, spec.step);
    const existing = ctx.cache<Found>(usageRecordKindRef).get({ namespace: run.metadata.namespace ?? "", name });
    if (decided(existing) && copyOf(existing, run)) return undefined;
    // One found under the copy's name (in the cache, or by a create that lost a race) is ours only if it names this run.
    const copy = existing ?? (await createCopy(ctx, run, receivedCopy(spec, bindingOf(run, ep, record.name)), name));
    if (!copyOf(copy, run)) {
      await deps.events.record(run as KubernetesObject, { type: "Warning", reason: "UsageRecordNameTaken", action: "ReceiveUsage", note: `UsageRecord ${name} exists and is not this run's copy of peer ${ep.cluster}'s record: not kept` });
      return undefined;
    }
    return { receipt: receiptOf(record.name, digest, judged), received: { peerName: record.name, judged, copy } };
  }

  /** Fetches the peer's records, keeps copies, sends the receipts, and writes each copy's verdict. */
  async function exchange(p: Pass): Promise<void> {
    const answer = await deps.client.usage(p.ep, p.peerNamespace, p.peerRunName);
    const outcomes = [];
    for (const record of answer.records) outcomes.push(await receiveOne(p, record));
    const receipts = outcomes.flatMap((o) => (o ? [o.receipt] : []));
    if (receipts.length === 0) return;
    const verdicts = await deps.client.receipts(p.ep, p.peerNamespace, p.peerRunName, receipts);
    for (const r of outcomes.flatMap((o) => (o?.received ? [o.received] : []))) {
      await writeVerdict(r.copy, p.ep.cluster, r.judged, verdicts.records.find((v) => v.name === r.peerName) ?? { found: false, matches: false });
    }
  }

  async function giveUp(run: PipelineRun, ep: { cluster: string }, missing: string[]): Promise<void> {
    const note = `peer ${ep.cluster} sent no signed record of step(s) ${missing.join(", ")} within ${Math.round(deps.waitMs / 1000)} s of their end: they are not billed here`;
    await deps.events.record(run as KubernetesObject, { type: "Warning", reason: "PeerUsageMissing", action: "ReceiveUsage", note });
  }

  /** The run's peer steps still without a decided copy. */
  function openSteps(ctx: ReconcileContext, run: PipelineRun, steps: StepSeen[]): StepSeen[] {
    const cache = ctx.cache<Found>(usageRecordKindRef);
    return steps.filter((s) => {
      const copy = cache.get({ namespace: run.metadata.namespace ?? "", name: nameOf(run, s.name) });
      return !(copyOf(copy, run) && decided(copy));
    });
  }

  /** One peer's records of its part: done (undefined) once each step has a decided copy, or was given up on. */
  async function collectFrom(ctx: ReconcileContext, run: PipelineRun, known: PeerRunRecord): Promise<ReconcileResult | void> {
    if (!known.name) return undefined; // the peer ran nothing
    const steps = peerStepsOf(run, known.peer);
    const open = openSteps(ctx, run, steps);
    if (open.length === 0) return undefined;
    const ended = Math.max(...steps.map((s) => Date.parse(s.finishedAt ?? "") || 0));
    if (deps.now().getTime() - ended > deps.waitMs) return giveUp(run, known, open.map((s) => s.name));
    const target = peerOf(ctx, known.peer);
    if (!target) return requeue(30_000);
    const { ep, publicKey } = target;
    try {
      await exchange({ ctx, run, ep, publicKey, peerNamespace: known.namespace, peerRunName: known.name, steps });
    } catch (err) {
      if (!(err instanceof FederationRequestError || err instanceof PeerRefusal)) throw err;
      ctx.logger.info("peer usage not fetched; asking again", { namespace: run.metadata.namespace, name: run.metadata.name, peer: ep.cluster, error: err.message });
      return requeue(10_000);
    }
    // The peer meters a step once its Workflow has ended: ask again until every step has its record.
    return requeue(5000);
  }

  return async (ctx, run) => {
    let next: number | undefined;
    for (const known of run.status?.peerRuns ?? []) {
      const asked = await collectFrom(ctx, run, known);
      if (asked?.requeueAfter !== undefined) next = Math.min(next ?? asked.requeueAfter, asked.requeueAfter);
    }
    return next === undefined ? undefined : requeue(next);
  };
}
