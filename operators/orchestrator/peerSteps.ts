// The PipelineRun controller's part for runs whose steps are placed on a peer: one reconcile pass
// asks the peer for the next thing (peerRun.ts decides what) and writes what it answered into the
// run's status. The peer's own Reservation and PipelineRun controllers admit and run the steps on
// its own Argo; this cluster holds no credentials of the peer, only its signature. A finalizer
// makes deleting the run cancel the peer's run and release the hold first.
import type { KubernetesObject } from "@kubernetes/client-node";
import { descriptorTrusted } from "../discovery/peerStatus.ts";
import { FederationRequestError } from "../federation/client.ts";
import type { PeerReservationAnswer, PeerRunAnswer } from "../federation/peerRuns.ts";
import type { ReconcileContext, ReconcileResult } from "../runtime/index.ts";
import { conditionTime } from "../runtime/conditions.ts";
import { errorMessage } from "../runtime/errors.ts";
import { present } from "../runtime/present.ts";
import type { EventRecorder } from "../runtime/events.ts";
import { ensureFinalizer, hasFinalizer, removeFinalizer } from "../runtime/finalizers.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type Peer, peerKind } from "../schema/peer.ts";
import type { PipelineRun, PipelineRunStatus } from "../schema/pipelineRun.ts";
import { type PeerEndpoint, PeerRefusal, type PeerRunsClient } from "./peerClient.ts";
import { combineQuotes, failedPeerRun, keptObservation, minTrustOf, nextPeerAction, observePeerRun, type PeerAction, type PeerRunSettings, peerNamespace, quoteRequest, reservationRequest, runRequest, trustRefusal } from "./peerRun.ts";
import { budgetRefusal, type RunQuote } from "./runQuote.ts";
import { partBudget } from "../billing/budget.ts";
import type { Money } from "../schema/common.ts";
import type { Project } from "../schema/project.ts";
import type { StepPlacement } from "./placement.ts";
import { RunReason } from "./reasons.ts";
import { runProject } from "./runProject.ts";
import type { RunObservation } from "./runStatus.ts";
import type { PeerPart } from "./crossCluster.ts";

export const peerRunFinalizer = "archipel.io/peer-run";
export const peerKindRef = kindRefOf(peerKind);

type PeerRunRecord = NonNullable<PipelineRunStatus["peerRun"]>;

export interface PeerStepsDeps {
  client: PeerRunsClient;
  events: EventRecorder;
  settings: PeerRunSettings;
  now: () => Date;
  /** Writes the observation (conditions, phase, steps…) and the peer record into the run's status. */
  write(ctx: ReconcileContext, run: PipelineRun, observation: RunObservation, kept: { peerRun: PeerRunRecord | undefined; quote?: Money }): Promise<void>;
  /** How long a deleted run waits for an unreachable peer before it lets go (its hold ends with its window). */
  giveUpAfterMs: number;
  /** After the hold is given back: the peer's signed account of the steps (peerUsage.ts). */
  collectUsage?: (ctx: ReconcileContext, run: PipelineRun) => Promise<ReconcileResult | void>;
}

const requeue = (ms: number): ReconcileResult => ({ requeueAfter: ms });

/** The peer's endpoint, if this cluster may talk to it now; otherwise why not. */
export function peerEndpoint(peer: Peer | undefined, name: string): PeerEndpoint | { message: string } {
  if (!peer) return { message: `Peer ${name} does not exist here` };
  if (peer.spec.approval !== "Accepted") return { message: `Peer ${name} is ${peer.spec.approval ?? "Pending"}; an admin must accept it` };
  const descriptor = peer.status?.descriptor;
  if (!descriptor || !descriptorTrusted(peer)) return { message: `Peer ${name} has no verified descriptor now (see its DescriptorVerified condition)` };
  return { peer: name, cluster: descriptor.clusterName, endpoint: descriptor.apiEndpoint };
}

const finished = (run: PipelineRun): boolean => ["True", "False"].includes(run.status?.conditions?.find((c) => c.type === "Succeeded")?.status ?? "");
const released = (state: string | undefined): boolean => state === "Released" || state === "Expired" || state === "Rejected";

/** What a run asks of one peer: the steps placed there, and how their state reads in the run's status. */
export interface PeerJob {
  run: PipelineRun;
  /** the plan of the steps on the peer */
  plan: StepPlacement[];
  peerName: string;
  part: PeerPart;
  /** Turns the peer part's observation into the run's (the whole run when every step is on the peer). */
  shape?: (o: RunObservation) => RunObservation;
  /**
   * The quote of the run's steps that will run here afterwards (a run across clusters): the budget
   * is checked on both parts before anything is held, and the peer's part may spend what is left.
   */
  localQuote?: RunQuote;
  /**
   * The peer's hold ended (rejected, expired) before any step was sent there, and the steps may go
   * elsewhere (Auto put them there): called instead of failing the run.
   */
  onHoldEnded?: (ctx: ReconcileContext, ended: HoldEnded) => Promise<ReconcileResult | void>;
}

/** A peer's hold that ended before the steps were sent: which, how, and the peer's reason. */
export interface HoldEnded {
  peer: string;
  cluster: string;
  reservation: string;
  state: string;
  message?: string;
}

/** One pass's facts: the job, the peer and the namespace there. */
interface Pass extends PeerJob {
  ctx: ReconcileContext;
  ep: PeerEndpoint;
  namespace: string;
}

const finalPhases = new Set(["Succeeded", "Failed", "Error"]);
/** The peer's part has ended (its phase recorded), or the whole run has. */
export const peerPartEnded = (run: PipelineRun): boolean => finalPhases.has(run.status?.peerRun?.phase ?? "") || finished(run);

/** What the peer said this pass. */
interface Answers {
  reservation: PeerReservationAnswer | undefined;
  remote: PeerRunAnswer | undefined;
  /** the run failed before the peer ran it */
  failed?: boolean;
  /** what the peer quoted for its steps (first currency) */
  quote?: Money;
}

/** The status record of where the steps are on the peer, from this pass's answers. */
function peerRecord(p: Pass, answers: Answers): PeerRunRecord {
  const known: Partial<PeerRunRecord> = p.run.status?.peerRun ?? {};
  const { reservation, remote } = answers;
  const answered = present({ reservation: reservation?.name, reservationState: reservation?.state, name: remote?.name, phase: answers.failed ? "Failed" : remote?.phase, quote: answers.quote });
  return { reservation: "", ...present({ reservation: known.reservation, name: known.name, phase: known.phase, quote: known.quote }), ...answered, peer: p.ep.peer, cluster: p.ep.cluster, namespace: p.namespace };
}

const projectOf = (p: Pass): Project | undefined => runProject(p.ctx, p.run);

const siteOf = (p: Pass): { peer: string; cluster: string } => ({ peer: p.ep.peer, cluster: p.ep.cluster });

export function createPeerSteps(deps: PeerStepsDeps): {
  drive(ctx: ReconcileContext, job: PeerJob): Promise<ReconcileResult | void>;
  cleanup(ctx: ReconcileContext, run: PipelineRun): Promise<ReconcileResult | void>;
} {
  const { client } = deps;
  const at = (): string => conditionTime(deps.now());

  /** Writes the peer part's observation, shaped into the run's. */
  const record = (p: PeerJob & { ctx: ReconcileContext }, o: RunObservation, peerRun: PeerRunRecord | undefined, quote?: Money): Promise<void> => deps.write(p.ctx, p.run, p.shape ? p.shape(o) : o, { peerRun, ...present({ quote }) });

  function blocked(p: PeerJob & { ctx: ReconcileContext; cluster: string }, why: { reason: string; message: string }): Promise<void> {
    const o = observePeerRun(p.plan, { peer: "", cluster: p.cluster }, undefined);
    const observation = { ...o, ready: { ...o.ready, status: "False" as const, ...why }, succeeded: { ...o.succeeded, ...why } };
    return record(p, observation, p.run.status?.peerRun);
  }

  /**
   * Before anything is held: the peer's quote of its steps (at its rates for us) and, for a run
   * across clusters, this cluster's quote of the rest; a budget they exceed blocks the run (asked
   * again in a minute: a Price or a budget may change), as a run here over budget does not start.
   */
  async function quoteFirst(p: Pass): Promise<{ peer?: Money; total?: Money; requests?: { cpu: string; memory: string } } | { refusal: ReconcileResult }> {
    const answer = await client.quote(p.ep, quoteRequest(p.run, p.part, p.namespace));
    const combined = combineQuotes(answer, p.localQuote, p.ep.cluster);
    const refusal = budgetRefusal(p.run, combined, projectOf(p));
    const peer = answer.priced ? answer.totals[0] : undefined;
    const total = combined.priced ? combined.totals[0] : undefined;
    if (!refusal) return present({ peer, total, requests: answer.requests });
    return { refusal: await holdNothing(p, { reason: refusal.reason, message: refusal.message }, { peer, total }) };
  }

  /** What the peer's run may cost: the budgets that apply less this cluster's quote of the rest (the peer stops its run there). */
  function budgetOfPart(p: Pass): Money | undefined {
    const project = projectOf(p);
    const others = p.localQuote?.priced ? p.localQuote.totals : [];
    return partBudget({ others, ...present({ runBudget: p.run.spec.budget, project: project?.spec.budget ? { name: project.metadata.name ?? "", budget: project.spec.budget, ...present({ spent: project.status?.spent }) } : undefined }) });
  }

  /** The run may not hold anything on the peer yet (a budget, the peer's trust): say why, ask again in a minute. */
  async function holdNothing(p: Pass, why: { reason: string; message: string }, quotes: { peer?: Money | undefined; total?: Money | undefined } = {}): Promise<ReconcileResult> {
    const o = observePeerRun(p.plan, siteOf(p), undefined);
    await record(p, { ...o, ready: { ...o.ready, status: "False", ...why }, succeeded: { ...o.succeeded, ...why } }, { reservation: "", peer: p.ep.peer, cluster: p.ep.cluster, namespace: p.namespace, ...present({ quote: quotes.peer }) }, quotes.total);
    return requeue(60_000);
  }

  const write = (p: Pass, answers: Answers, waiting?: string): Promise<void> => record(p, observePeerRun(p.plan, siteOf(p), answers.remote, waiting), peerRecord(p, answers));

  /** Asks the peer for the hold's second phase or its release; the answer replaces the last one. */
  const decide = async (p: Pass, a: Answers, action: "confirm" | "release"): Promise<Answers> => ({ ...a, reservation: await client.decide(p.ep, p.namespace, a.reservation?.name ?? "", action) });

  type Handler<K extends PeerAction["kind"]> = (p: Pass, a: Answers, action: Extract<PeerAction, { kind: K }>) => Promise<ReconcileResult | void>;
  const hold = (a: Answers): string => a.reservation?.name ?? "";

  /** What each action does, and when to look again. */
  const handlers: { [K in PeerAction["kind"]]: Handler<K> } = {
    reserve: async (p, a) => {
      const distrust = trustRefusal(p.ctx.cache<Peer>(peerKindRef).get({ namespace: "", name: p.ep.peer }), minTrustOf(p.run, p.part), p.ep.cluster);
      if (distrust) return holdNothing(p, distrust);
      const quoted = await quoteFirst(p);
      if ("refusal" in quoted) return quoted.refusal;
      const reservation = await client.reserve(p.ep, reservationRequest(p.run, p.namespace, deps.now().getTime(), { settings: deps.settings, ...present({ steps: quoted.requests }) }));
      await record(p, observePeerRun(p.plan, siteOf(p), undefined, `reservation ${reservation.name} asked of peer ${p.ep.cluster}`), peerRecord(p, { ...a, reservation, ...present({ quote: quoted.peer }) }), quoted.total);
      return requeue(1000);
    },
    wait: async (p, a, action) => {
      await write(p, a, action.message);
      return requeue(2000);
    },
    confirm: async (p, a) => {
      const confirmed = await decide(p, a, "confirm");
      await write(p, confirmed, `reservation ${hold(confirmed)} confirmed on peer ${p.ep.cluster}`);
      return requeue(1000);
    },
    submit: async (p, a) => {
      await write(p, { ...a, remote: await client.submit(p.ep, runRequest(p.run, p.part, { namespace: p.namespace, reservation: hold(a) }, budgetOfPart(p)), p.run.spec.projectRef?.name) });
      return requeue(3000);
    },
    follow: async (p, a) => {
      await write(p, a);
      return requeue(5000);
    },
    release: async (p, a) => write(p, await decide(p, a, "release")),
    done: async (p, a) => write(p, a),
    fail: async (p, a, action) => {
      const ended = a.reservation;
      if (action.reason === RunReason.ReservationRejected && p.onHoldEnded && ended) {
        return p.onHoldEnded(p.ctx, { peer: p.ep.peer, cluster: p.ep.cluster, reservation: ended.name, state: ended.state ?? "", ...present({ message: ended.message }) });
      }
      const after = a.reservation && !released(a.reservation.state) ? await decide(p, a, "release") : a;
      await record(p, failedPeerRun(p.plan, siteOf(p), { ...action, at: at() }), peerRecord(p, { ...after, failed: true }));
    },
  };

  const act = (p: Pass, a: Answers, action: PeerAction): Promise<ReconcileResult | void> => (handlers[action.kind] as Handler<PeerAction["kind"]>)(p, a, action);

  async function pass(p: Pass): Promise<ReconcileResult | void> {
    const known = p.run.status?.peerRun;
    const answers: Answers = {
      reservation: known?.reservation ? await client.reservation(p.ep, p.namespace, known.reservation) : undefined,
      remote: known?.name ? await client.run(p.ep, p.namespace, known.name) : undefined,
    };
    return act(p, answers, nextPeerAction(answers.reservation, answers.remote, known?.name !== undefined));
  }

  /** The peer refused a request: waiting will not change its verdict. The hold is given back. */
  async function refused(p: Pass, err: PeerRefusal): Promise<void> {
    let held = p.run.status?.peerRun;
    if (held?.reservation && !released(held.reservationState)) {
      const answer = await client.decide(p.ep, held.namespace, held.reservation, "release").catch(() => undefined);
      if (answer?.state) held = { ...held, reservationState: answer.state };
    }
    await record(p, failedPeerRun(p.plan, siteOf(p), { reason: RunReason.PeerRefused, message: err.message, at: at() }), held ? { ...held, phase: "Failed" } : held);
  }

  /** The pass's facts, or why the peer cannot be asked now (written into status). */
  async function prepare(ctx: ReconcileContext, job: PeerJob): Promise<Pass | ReconcileResult | void> {
    const { run, peerName } = job;
    const ep = peerEndpoint(ctx.cache<Peer>(peerKindRef).get({ namespace: "", name: peerName }), peerName);
    if (!("endpoint" in ep)) {
      await blocked({ ...job, ctx, cluster: peerName }, { reason: RunReason.PeerNotReady, message: `the steps are placed on peer ${peerName}: ${ep.message}` });
      return requeue(30_000);
    }
    const namespace = peerNamespace({ ...run, spec: { ...run.spec, steps: job.part.steps } });
    if (typeof namespace !== "string") return blocked({ ...job, ctx, cluster: ep.cluster }, { reason: RunReason.InvalidSpec, message: namespace.message });
    await ensureFinalizer(ctx.client, run as KubernetesObject, peerRunFinalizer);
    return { ...job, ctx, ep, namespace };
  }

  /** A failed request: the peer's verdict fails the run; anything else is asked again later. */
  async function failedRequest(p: Pass, err: unknown): Promise<ReconcileResult | void> {
    if (err instanceof PeerRefusal && err.status < 500) return refused(p, err);
    if (!(err instanceof FederationRequestError || err instanceof PeerRefusal)) throw err;
    // Unreachable, slow or failing: the run is not failed for it; say so and ask again.
    await blocked({ ...p, cluster: p.ep.cluster }, { reason: RunReason.PeerUnreachable, message: `peer ${p.ep.cluster}: ${err.message} (asking again in 10 s)` });
    return requeue(10_000);
  }

  /**
   * An ended part only gives its hold back: asks for the release until the peer says it is given
   * back (its controller acts after the request), keeping the run's status as it is.
   */
  async function settle(p: Pass): Promise<ReconcileResult | void> {
    const known = p.run.status?.peerRun;
    if (!known?.reservation) return undefined;
    let reservation = await client.reservation(p.ep, p.namespace, known.reservation);
    if (reservation && !released(reservation.state)) reservation = await client.decide(p.ep, p.namespace, known.reservation, "release");
    const state = reservation?.state ?? "Released";
    // The status as it is: the outcome is not the peer part's to change any more (shape not applied).
    await deps.write(p.ctx, p.run, keptObservation(p.run.status), { peerRun: { ...known, reservationState: state } });
    return released(state) ? undefined : requeue(2000);
  }

  async function drive(ctx: ReconcileContext, job: PeerJob): Promise<ReconcileResult | void> {
    const { run } = job;
    // A part that has ended and given its hold back has only the peer's records of it left to ask for.
    const ended = peerPartEnded(run);
    if (ended && released(run.status?.peerRun?.reservationState)) return deps.collectUsage?.(ctx, run);
    const p = await prepare(ctx, job);
    if (!p || !("ep" in p)) return p;
    const step = ended ? settle(p) : pass(p);
    return step.catch((err: unknown) => (ended ? requeue(10_000) : failedRequest(p, err)));
  }

  /** Cancels the peer's run and gives the hold back; a hold already given back or gone is fine. */
  async function cancelOnPeer(ep: PeerEndpoint, known: PeerRunRecord): Promise<void> {
    if (known.name) await client.cancel(ep, known.namespace, known.name);
    if (!known.reservation || released(known.reservationState)) return;
    await client.decide(ep, known.namespace, known.reservation, "release").catch((err: unknown) => {
      if (!(err instanceof PeerRefusal && err.status === 404)) throw err;
    });
  }

  /** A peer unreachable for giveUpAfterMs after the run's deletion does not hold the deletion for ever. */
  async function abandonLate(run: PipelineRun, known: PeerRunRecord, err: unknown): Promise<void> {
    const since = Date.parse(run.metadata.deletionTimestamp ?? "") || deps.now().getTime();
    if (deps.now().getTime() - since < deps.giveUpAfterMs) throw err;
    await deps.events.record(run as KubernetesObject, { type: "Warning", reason: "PeerCleanupAbandoned", action: "Delete", note: `could not cancel on peer ${known.cluster} (${errorMessage(err)}); its hold ends with its window` });
  }

  /** Before a deleted run goes: cancel the peer's run, release the hold, then drop the finalizer. */
  async function cleanup(ctx: ReconcileContext, run: PipelineRun): Promise<ReconcileResult | void> {
    if (!hasFinalizer(run as KubernetesObject, peerRunFinalizer)) return undefined;
    const known = run.status?.peerRun;
    const ep = known ? peerEndpoint(ctx.cache<Peer>(peerKindRef).get({ namespace: "", name: known.peer }), known.peer) : undefined;
    if (known && ep && "endpoint" in ep) await cancelOnPeer(ep, known).catch((err: unknown) => abandonLate(run, known, err));
    await removeFinalizer(ctx.client, run as KubernetesObject, peerRunFinalizer);
    return undefined;
  }

  return { drive, cleanup };
}
