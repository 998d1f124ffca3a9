// The PipelineRun controller's part for runs whose steps are placed on peers: one reconcile pass
// asks each peer for the next thing (peerRun.ts decides what, for all of them together) and writes
// what they answered into the run's status. The peers' own Reservation and PipelineRun controllers
// admit and run the steps on their own Argo; this cluster holds no credentials of a peer, only its
// signature. A finalizer makes deleting the run cancel the peers' runs and release the holds first.
import type { KubernetesObject } from "@kubernetes/client-node";
import { descriptorTrusted } from "../discovery/peerStatus.ts";
import { FederationRequestError } from "../federation/client.ts";
import type { PeerQuoteAnswer, PeerReservationAnswer, PeerRunAnswer } from "../federation/peerRuns.ts";
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
import {
  cancelledPhase,
  combineQuotes,
  failedPeerRun,
  freshRound,
  groupActions,
  maxHoldRounds,
  type PartState,
  keptObservation,
  minTrustOf,
  observeParts,
  observePeerRun,
  type PeerAction,
  type PeerRunSettings,
  peerNamespace,
  quoteRequest,
  reservationRequest,
  runFinished,
  runRequest,
  trustRefusal,
} from "./peerRun.ts";
import { budgetRefusal, type RunQuote } from "./runQuote.ts";
import { type PeerRunAt, relayPeerOutput } from "./peerOutputs.ts";
import { partBudget } from "../billing/budget.ts";
import type { Money } from "../schema/common.ts";
import type { StepPlacement } from "./placement.ts";
import { RunReason } from "./reasons.ts";
import { runProject } from "./runProject.ts";
import type { RunObservation } from "./runStatus.ts";
import type { PeerPart } from "./crossCluster.ts";

export const peerRunFinalizer = "archipel.io/peer-run";
export const peerKindRef = kindRefOf(peerKind);

export type PeerRunRecord = NonNullable<PipelineRunStatus["peerRuns"]>[number];

export interface PeerStepsDeps {
  client: PeerRunsClient;
  events: EventRecorder;
  settings: PeerRunSettings;
  now: () => Date;
  /** Writes the observation (conditions, phase, steps…) and the peers' records into the run's status. */
  write(ctx: ReconcileContext, run: PipelineRun, observation: RunObservation, kept: { peerRuns: PeerRunRecord[] | undefined; quote?: Money }): Promise<void>;
  /** How long a deleted run waits for an unreachable peer before it lets go (its hold ends with its window). */
  giveUpAfterMs: number;
  /** After the holds are given back: the peers' signed accounts of the steps (peerUsage.ts). */
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

/** The run's record of its part on one peer. */
export const peerRecordOf = (run: PipelineRun, peer: string): PeerRunRecord | undefined => run.status?.peerRuns?.find((r) => r.peer === peer);

/** What a run asks of one peer: the steps placed there. */
export interface PeerJob {
  peerName: string;
  /** the plan of the steps on the peer */
  plan: StepPlacement[];
  part: PeerPart;
}

/** A run's parts on peers, driven together: confirmed all or none, released all when one fails. */
export interface PeerGroup {
  run: PipelineRun;
  jobs: PeerJob[];
  /** Turns the peer parts' observation into the run's (the whole run when every step is on peers). */
  shape?: (o: RunObservation) => RunObservation;
  /**
   * The quote of the run's steps that will run here afterwards (a run across clusters): the budget
   * is checked on all parts before anything is held, and each peer's part may spend what is left.
   */
  localQuote?: RunQuote;
  /**
   * The peer's hold ended (rejected, expired) before any step was sent there, and the steps may go
   * elsewhere (Auto put them there): called instead of failing the run. Only for a run on one peer.
   */
  onHoldEnded?: (ctx: ReconcileContext, ended: HoldEnded) => Promise<ReconcileResult | void>;
  /** Sends an output of the run's prelude here to a peer's run that awaits it (preludeRun.ts); the peer's answer after. */
  sendFromHere?: (ctx: ReconcileContext, output: string, to: PeerRunAt & { input: string }) => Promise<PeerRunAnswer>;
}

/** A peer's hold that ended before the steps were sent: which, how, and the peer's reason. */
export interface HoldEnded {
  peer: string;
  cluster: string;
  reservation: string;
  state: string;
  message?: string;
}

/** One peer's part this pass: the job, the peer, the namespace there and what the run recorded of it. */
interface Member extends PeerJob {
  ep: PeerEndpoint;
  namespace: string;
  known: PeerRunRecord | undefined;
}

/** One pass's facts. */
interface Pass {
  ctx: ReconcileContext;
  group: PeerGroup;
  members: Member[];
}

const finalPhases = new Set(["Succeeded", "Failed", "Error", cancelledPhase]);

/** Every part on a peer has ended (its phase recorded), or the whole run has. */
export function peerPartsEnded(run: PipelineRun, peers: readonly string[]): boolean {
  return finished(run) || (peers.length > 0 && peers.every((peer) => finalPhases.has(peerRecordOf(run, peer)?.phase ?? "")));
}

/** Every part on a peer has succeeded (a run across clusters goes on here then). */
export const peerPartsSucceeded = (run: PipelineRun, peers: readonly string[]): boolean => peers.length > 0 && peers.every((peer) => peerRecordOf(run, peer)?.phase === "Succeeded");

/** What one peer said this pass, and what this pass made of it. */
interface Answers {
  reservation: PeerReservationAnswer | undefined;
  remote: PeerRunAnswer | undefined;
  /** the part failed before the peer ran it */
  failed?: boolean;
  /** the part was abandoned because another peer's failed */
  cancelled?: boolean;
  /** what the peer quoted for its steps (first currency) */
  quote?: Money;
}

/** One member's outcome of a pass: its answers, how its part reads, when to look again. */
interface Outcome {
  answers: Answers;
  observation: RunObservation;
  requeueMs?: number;
}

/** The part's phase from this pass: Failed, Cancelled once a run there was cancelled, else the peer's run's. */
function phaseOf(m: Member, answers: Answers): string | undefined {
  if (answers.failed) return "Failed";
  const ran = (m.known?.name ?? answers.remote?.name) !== undefined;
  return answers.cancelled && ran ? cancelledPhase : answers.remote?.phase;
}

/** The status record of where the steps are on the peer, from this pass's answers. */
function peerRecord(m: Member, answers: Answers): PeerRunRecord {
  const known: Partial<PeerRunRecord> = m.known ?? {};
  const { reservation, remote } = answers;
  const phase = phaseOf(m, answers);
  const answered = present({ reservation: reservation?.name, reservationState: reservation?.state, name: remote?.name, phase, quote: answers.quote });
  const kept = present({ reservation: known.reservation, name: known.name, phase: known.phase, quote: known.quote, holdRound: known.holdRound });
  return { reservation: "", ...kept, ...answered, peer: m.ep.peer, cluster: m.ep.cluster, namespace: m.namespace };
}

/** A part that cannot go on now: Ready=False with why, Succeeded still undecided. */
const heldBack = (o: RunObservation, why: { reason: string; message: string }): RunObservation => ({ ...o, ready: { ...o.ready, status: "False", ...why }, succeeded: { ...o.succeeded, ...why } });

const siteOf = (m: Member): { peer: string; cluster: string } => ({ peer: m.ep.peer, cluster: m.ep.cluster });
/** The round of holds the run is in (1 until a round lapsed). */
const roundOf = (p: Pass): number => Math.max(1, ...p.members.map((m) => m.known?.holdRound ?? 1));
const clustersOf = (p: Pass): string[] => p.members.map((m) => m.ep.cluster);

/** A request to one peer failed: which peer, and why. */
class PartRequestFailed extends Error {
  readonly member: Member;
  readonly failure: unknown;
  constructor(member: Member, failure: unknown) {
    super(errorMessage(failure), { cause: failure });
    this.member = member;
    this.failure = failure;
  }
}

/** Runs `ask` against one peer, so that a failure says which peer it was. */
async function asking<T>(m: Member, ask: () => Promise<T>): Promise<T> {
  try {
    return await ask();
  } catch (err) {
    throw new PartRequestFailed(m, err);
  }
}

const minimum = (values: (number | undefined)[]): number | undefined => {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length > 0 ? Math.min(...defined) : undefined;
};

export function createPeerSteps(deps: PeerStepsDeps): {
  drive(ctx: ReconcileContext, group: PeerGroup): Promise<ReconcileResult | void>;
  cleanup(ctx: ReconcileContext, run: PipelineRun): Promise<ReconcileResult | void>;
} {
  const { client } = deps;
  const at = (): string => conditionTime(deps.now());

  /** Writes the parts' observation, shaped into the run's. */
  function record(ctx: ReconcileContext, group: PeerGroup, parts: { observations: RunObservation[]; clusters: string[] }, kept: { peerRuns: PeerRunRecord[] | undefined; quote?: Money }): Promise<void> {
    const o = observeParts(parts.observations, parts.clusters);
    return deps.write(ctx, group.run, group.shape ? group.shape(o) : o, { peerRuns: kept.peerRuns, ...present({ quote: kept.quote }) });
  }

  /** Nothing can be asked of the peers now (one not usable, a spec they cannot take): the run says why, its records as they are. */
  function blocked(ctx: ReconcileContext, group: PeerGroup, why: { reason: string; message: string }): Promise<void> {
    // A peer's cluster name as recorded once it was asked; its Peer's name before.
    const clusters = group.jobs.map((j) => peerRecordOf(group.run, j.peerName)?.cluster ?? j.peerName);
    const observations = group.jobs.map((j, i) => {
      return heldBack(observePeerRun(j.plan, { peer: "", cluster: clusters[i] ?? j.peerName }, undefined), why);
    });
    return record(ctx, group, { observations, clusters }, { peerRuns: group.run.status?.peerRuns });
  }

  /** The outcomes written as the run's status: every part's record, in the jobs' order. */
  function writeOutcomes(p: Pass, outcomes: Outcome[], quote?: Money): Promise<void> {
    const peerRuns = p.members.map((m, i) => peerRecord(m, (outcomes[i] as Outcome).answers));
    return record(p.ctx, p.group, { observations: outcomes.map((o) => o.observation), clusters: clustersOf(p) }, { peerRuns, ...present({ quote }) });
  }

  /** The run may not hold anything on the peers yet (a budget, a peer's trust): say why, ask again in a minute. */
  async function holdNothing(p: Pass, why: { reason: string; message: string }, quotes: { peers?: (Money | undefined)[]; total?: Money | undefined } = {}): Promise<ReconcileResult> {
    const outcomes = p.members.map((m, i) => {
      const quote = quotes.peers?.[i];
      return { answers: { reservation: undefined, remote: undefined, ...present({ quote }) }, observation: heldBack(observePeerRun(m.plan, siteOf(m), undefined), why) };
    });
    await writeOutcomes(p, outcomes, quotes.total);
    return requeue(60_000);
  }

  /** The first peer whose trust score is below what the run asks of it, if any. */
  function distrusted(p: Pass): { reason: string; message: string } | undefined {
    for (const m of p.members) {
      const refusal = trustRefusal(p.ctx.cache<Peer>(peerKindRef).get({ namespace: "", name: m.ep.peer }), minTrustOf(p.group.run, m.part), m.ep.cluster);
      if (refusal) return refusal;
    }
    return undefined;
  }

  /**
   * Before anything is held: every peer's quote of its steps (at its rates for us) and, for a run
   * across clusters, this cluster's quote of the rest; a budget they exceed together blocks the
   * run (asked again in a minute: a Price or a budget may change), as a run here over budget does
   * not start. Then each peer still without a hold is asked for a Tentative one.
   */
  async function quoteAll(p: Pass): Promise<{ quoted: PeerQuoteAnswer[]; peers: (Money | undefined)[]; total: Money | undefined; refusal?: { reason: string; message: string } }> {
    const quoted: PeerQuoteAnswer[] = [];
    for (const m of p.members) quoted.push(await asking(m, () => client.quote(m.ep, quoteRequest(p.group.run, m.part, m.namespace))));
    const combined = combineQuotes(quoted.map((answer, i) => ({ answer, cluster: p.members[i]?.ep.cluster ?? "" })), p.group.localQuote);
    const refusal = budgetRefusal(p.group.run, combined, runProject(p.ctx, p.group.run));
    const peers = quoted.map((q) => (q.priced ? q.totals[0] : undefined));
    return { quoted, peers, total: combined.priced ? combined.totals[0] : undefined, ...(refusal ? { refusal: { reason: refusal.reason, message: refusal.message } } : {}) };
  }

  async function reserveAll(p: Pass, answers: Answers[], actions: PeerAction[]): Promise<ReconcileResult> {
    const distrust = distrusted(p);
    if (distrust) return holdNothing(p, distrust);
    const { quoted, peers, total, refusal } = await quoteAll(p);
    if (refusal) return holdNothing(p, refusal, { peers, total });
    const outcomes: Outcome[] = [];
    for (const [i, m] of p.members.entries()) {
      const ask = actions[i]?.kind === "reserve";
      const request = reservationRequest(p.group.run, m.namespace, deps.now().getTime(), { settings: deps.settings, round: roundOf(p), ...present({ steps: quoted[i]?.requests }) });
      const reservation = ask ? await asking(m, () => client.reserve(m.ep, request)) : answers[i]?.reservation;
      const observation = observePeerRun(m.plan, siteOf(m), undefined, `reservation ${reservation?.name ?? ""} asked of peer ${m.ep.cluster}`);
      outcomes.push({ answers: { ...(answers[i] as Answers), reservation, ...present({ quote: peers[i] }) }, observation });
    }
    await writeOutcomes(p, outcomes, total);
    return requeue(1000);
  }

  /** What the peer's run may cost: the budgets that apply less the other parts' quotes (the peer stops its run there). */
  function budgetOfPart(p: Pass, m: Member): Money | undefined {
    const { run, localQuote } = p.group;
    const project = runProject(p.ctx, run);
    const others = [...(localQuote?.priced ? localQuote.totals : []), ...p.members.filter((x) => x !== m).flatMap((x) => (x.known?.quote ? [x.known.quote] : []))];
    return partBudget({ others, ...present({ runBudget: run.spec.budget, project: project?.spec.budget ? { name: project.metadata.name ?? "", budget: project.spec.budget, ...present({ spent: project.status?.spent }) } : undefined }) });
  }

  /** Asks the peer for the hold's second phase or its release; the answer replaces the last one. */
  const decide = async (m: Member, a: Answers, action: "confirm" | "release"): Promise<Answers> => ({ ...a, reservation: await client.decide(m.ep, m.namespace, a.reservation?.name ?? "", action) });
  const holdName = (a: Answers): string => a.reservation?.name ?? "";
  const following = (m: Member, a: Answers, requeueMs?: number, waiting?: string): Outcome => ({ answers: a, observation: observePeerRun(m.plan, siteOf(m), a.remote, waiting), ...present({ requeueMs }) });

  type Handler<K extends PeerAction["kind"]> = (p: Pass, m: Member, a: Answers, action: Extract<PeerAction, { kind: K }>) => Promise<Outcome>;

  /** What each action does on one peer, and when to look again. */
  const handlers: { [K in Exclude<PeerAction["kind"], "reserve">]: Handler<K> } = {
    wait: async (_p, m, a, action) => following(m, a, 2000, action.message),
    confirm: async (_p, m, a) => {
      const confirmed = await decide(m, a, "confirm");
      return following(m, confirmed, 1000, `reservation ${holdName(confirmed)} confirmed on peer ${m.ep.cluster}`);
    },
    submit: async (p, m, a) => {
      const remote = await client.submit(m.ep, runRequest(p.group.run, m.part, { namespace: m.namespace, reservation: holdName(a) }, budgetOfPart(p, m)), p.group.run.spec.projectRef?.name);
      return following(m, { ...a, remote }, 3000);
    },
    follow: async (_p, m, a) => following(m, a, 5000),
    release: async (_p, m, a) => following(m, await decide(m, a, "release")),
    done: async (_p, m, a) => following(m, a),
    fail: async (_p, m, a, action) => {
      const after = a.reservation && !released(a.reservation.state) ? await decide(m, a, "release") : a;
      // Which peer: a run over several says whose hold or run ended it.
      return { answers: { ...after, failed: true }, observation: failedPeerRun(m.plan, siteOf(m), { ...action, message: `peer ${m.ep.cluster}: ${action.message}`, at: at() }) };
    },
    abandon: async (_p, m, a, action) => {
      if (a.remote && !runFinished(a.remote)) await client.cancel(m.ep, m.namespace, a.remote.name);
      const after = a.reservation && !released(a.reservation.state) ? await decide(m, a, "release") : a;
      return { answers: { ...after, cancelled: true }, observation: observePeerRun(m.plan, siteOf(m), a.remote, action.message) };
    },
  };

  const act = (p: Pass, m: Member, a: Answers, action: PeerAction): Promise<Outcome> =>
    (handlers[action.kind as Exclude<PeerAction["kind"], "reserve">] as Handler<PeerAction["kind"]>)(p, m, a, action);

  /** The peer's own answers about the hold and the run this run recorded there. */
  async function readPart(m: Member): Promise<Answers> {
    return {
      reservation: m.known?.reservation ? await client.reservation(m.ep, m.namespace, m.known.reservation) : undefined,
      remote: m.known?.name ? await client.run(m.ep, m.namespace, m.known.name) : undefined,
    };
  }

  /** Auto's single peer did not hold the steps before they were sent: they may go elsewhere. */
  function holdEndedElsewhere(p: Pass, answers: Answers[], actions: PeerAction[]): (() => Promise<ReconcileResult | void>) | undefined {
    const [m] = p.members;
    const [action] = actions;
    const ended = answers[0]?.reservation;
    if (p.members.length !== 1 || !m || !ended || !p.group.onHoldEnded || action?.kind !== "fail" || action.reason !== RunReason.ReservationRejected) return undefined;
    const onHoldEnded = p.group.onHoldEnded;
    return () => onHoldEnded(p.ctx, { peer: m.ep.peer, cluster: m.ep.cluster, reservation: ended.name, state: ended.state ?? "", ...present({ message: ended.message }) });
  }

  /**
   * A round of holds lapsed before every peer had admitted its own: every hold of it still held is
   * given back, and the records start the next round (new hold names, asked on the next pass).
   */
  async function nextRound(p: Pass, answers: Answers[], lapsed: PartState): Promise<ReconcileResult> {
    const next = roundOf(p) + 1;
    const message = `the holds lapsed before every peer had admitted its own (peer ${lapsed.cluster}: reservation ${lapsed.reservation?.name ?? ""} is Expired); given back, asking fresh holds (round ${next} of ${maxHoldRounds})`;
    for (const [i, m] of p.members.entries()) {
      const a = answers[i] as Answers;
      if (a.reservation && !released(a.reservation.state)) await asking(m, () => decide(m, a, "release"));
    }
    const observations = p.members.map((m) => observePeerRun(m.plan, siteOf(m), undefined, message));
    const peerRuns = p.members.map((m) => ({ peer: m.ep.peer, cluster: m.ep.cluster, namespace: m.namespace, reservation: "", holdRound: next, ...present({ quote: m.known?.quote }) }));
    await record(p.ctx, p.group, { observations, clusters: clustersOf(p) }, { peerRuns });
    return requeue(1000);
  }

  /**
   * The outputs a part awaits from another peer's part, relayed once that part has succeeded:
   * each while the awaiting run still says it waits for it (so a pass cut short sends it again,
   * and one that finished does not). The receiver's answer replaces the one read this pass.
   */
  async function relayDue(p: Pass, answers: Answers[]): Promise<void> {
    for (const [i, m] of p.members.entries()) {
      for (const wanted of m.part.awaits ?? []) {
        const after = await relayOne(p, answers, { member: m, index: i }, wanted);
        if (after) answers[i] = { ...(answers[i] as Answers), remote: after };
      }
    }
  }

  /** One awaited output relayed, if the receiver awaits it and its part has succeeded: the receiver's answer. */
  async function relayOne(p: Pass, answers: Answers[], to: { member: Member; index: number }, wanted: NonNullable<PeerPart["awaits"]>[number]): Promise<PeerRunAnswer | undefined> {
    const { member: m } = to;
    const remote = answers[to.index]?.remote;
    if (!remote?.awaiting?.includes(wanted.input)) return undefined;
    if (wanted.from === undefined) return sendFromHere(p, m, { output: wanted.output, input: wanted.input, run: remote.name });
    const j = p.members.findIndex((x) => x.peerName === wanted.from);
    const [source, made] = [p.members[j], answers[j]?.remote];
    if (!source || made?.phase !== "Succeeded") return undefined;
    const from = { client, run: { ep: source.ep, namespace: source.namespace, name: made.name }, output: wanted.output };
    const after = await asking(m, () => relayPeerOutput(from, { client, run: { ep: m.ep, namespace: m.namespace, name: remote.name }, input: wanted.input }));
    p.ctx.logger.info("output relayed between peers", { run: p.group.run.metadata.name, from: source.ep.cluster, output: wanted.output, to: m.ep.cluster, input: wanted.input });
    return after;
  }

  /** An output of the run's prelude here, sent to the peer's run that awaits it. */
  async function sendFromHere(p: Pass, m: Member, what: { output: string; input: string; run: string }): Promise<PeerRunAnswer | undefined> {
    const send = p.group.sendFromHere;
    if (!send) return undefined;
    const after = await asking(m, () => send(p.ctx, what.output, { ep: m.ep, namespace: m.namespace, name: what.run, input: what.input }));
    p.ctx.logger.info("output sent to a peer", { run: p.group.run.metadata.name, output: what.output, to: m.ep.cluster, input: what.input });
    return after;
  }

  async function pass(p: Pass): Promise<ReconcileResult | void> {
    const answers: Answers[] = [];
    for (const m of p.members) answers.push(await asking(m, () => readPart(m)));
    await relayDue(p, answers);
    const parts = p.members.map((m, i) => ({ cluster: m.ep.cluster, reservation: answers[i]?.reservation, run: answers[i]?.remote, submitted: m.known?.name !== undefined }));
    const actions = groupActions(parts);
    const elsewhere = holdEndedElsewhere(p, answers, actions);
    if (elsewhere) return elsewhere();
    const fresh = freshRound(parts, roundOf(p));
    if (fresh) return nextRound(p, answers, fresh.lapsed);
    if (actions.some((a) => a.kind === "reserve")) return reserveAll(p, answers, actions);
    const outcomes: Outcome[] = [];
    for (const [i, m] of p.members.entries()) outcomes.push(await asking(m, () => act(p, m, answers[i] as Answers, actions[i] as PeerAction)));
    await writeOutcomes(p, outcomes);
    const next = minimum(outcomes.map((o) => o.requeueMs));
    return next === undefined ? undefined : requeue(next);
  }

  /** Cancels the peer's run and gives the hold back; a hold already given back or gone is fine. */
  async function cancelOnPeer(ep: PeerEndpoint, known: PeerRunRecord): Promise<void> {
    if (known.name) await client.cancel(ep, known.namespace, known.name);
    if (!known.reservation || released(known.reservationState)) return;
    await client.decide(ep, known.namespace, known.reservation, "release").catch((err: unknown) => {
      if (!(err instanceof PeerRefusal && err.status === 404)) throw err;
    });
  }

  /**
   * A peer refused a request: waiting will not change its verdict. The run fails; its hold there
   * and every other part's are given back, the others' runs cancelled (best effort: a part not
   * given back now is on the next pass, which settles a finished run).
   */
  async function refused(p: Pass, by: Member, err: PeerRefusal): Promise<void> {
    const outcomes: Outcome[] = [];
    for (const m of p.members) {
      const known = m.known;
      if (known) await cancelOnPeer(m.ep, { ...known, ...(m === by ? { name: undefined } : {}) }).catch(() => undefined);
      const answers: Answers = { reservation: undefined, remote: undefined, ...(m === by ? { failed: true } : { cancelled: true }) };
      const observation = m === by ? failedPeerRun(m.plan, siteOf(m), { reason: RunReason.PeerRefused, message: err.message, at: at() }) : observePeerRun(m.plan, siteOf(m), undefined);
      outcomes.push({ answers, observation });
    }
    await writeOutcomes(p, outcomes);
  }

  /** A failed request: a peer's verdict fails the run; anything else is asked again later. */
  async function failedRequest(p: Pass, err: unknown): Promise<ReconcileResult | void> {
    if (!(err instanceof PartRequestFailed)) throw err;
    const { member, failure } = err;
    if (failure instanceof PeerRefusal && failure.status < 500) return refused(p, member, failure);
    if (!(failure instanceof FederationRequestError || failure instanceof PeerRefusal)) throw failure;
    // Unreachable, slow or failing: the run is not failed for it; say so and ask again.
    await blocked(p.ctx, p.group, { reason: RunReason.PeerUnreachable, message: `peer ${member.ep.cluster}: ${failure.message} (asking again in 10 s)` });
    return requeue(10_000);
  }

  /** The pass's facts, or why the peers cannot be asked now (written into status). */
  async function prepare(ctx: ReconcileContext, group: PeerGroup): Promise<Pass | ReconcileResult | void> {
    const { run } = group;
    const members: Member[] = [];
    for (const job of group.jobs) {
      const ep = peerEndpoint(ctx.cache<Peer>(peerKindRef).get({ namespace: "", name: job.peerName }), job.peerName);
      if (!("endpoint" in ep)) {
        await blocked(ctx, group, { reason: RunReason.PeerNotReady, message: `the steps are placed on peer ${job.peerName}: ${ep.message}` });
        return requeue(30_000);
      }
      const namespace = peerNamespace({ ...run, spec: { ...run.spec, steps: job.part.steps } });
      if (typeof namespace !== "string") return blocked(ctx, group, { reason: RunReason.InvalidSpec, message: namespace.message });
      members.push({ ...job, ep, namespace, known: peerRecordOf(run, job.peerName) });
    }
    await ensureFinalizer(ctx.client, run as KubernetesObject, peerRunFinalizer);
    return { ctx, group, members };
  }

  /**
   * Ended parts only give their holds back: asks for each release until the peer says it is given
   * back (its controller acts after the request), keeping the run's status as it is.
   */
  /** One part's hold, asked to be given back unless it is. */
  async function releasedRecord(m: Member, known: PeerRunRecord): Promise<PeerRunRecord> {
    if (!known.reservation || released(known.reservationState)) return known;
    let reservation = await client.reservation(m.ep, m.namespace, known.reservation);
    if (reservation && !released(reservation.state)) reservation = await client.decide(m.ep, m.namespace, known.reservation, "release");
    return { ...known, reservationState: reservation?.state ?? "Released" };
  }

  async function settle(p: Pass): Promise<ReconcileResult | void> {
    const peerRuns: PeerRunRecord[] = [];
    for (const m of p.members) if (m.known) peerRuns.push(await releasedRecord(m, m.known));
    // The status as it is: the outcome is not the peer parts' to change any more (shape not applied).
    await deps.write(p.ctx, p.group.run, keptObservation(p.group.run.status), { peerRuns });
    return peerRuns.every((r) => !r.reservation || released(r.reservationState)) ? undefined : requeue(2000);
  }

  /** Every hold the run recorded is given back (or was never had). */
  const allReleased = (run: PipelineRun): boolean => (run.status?.peerRuns ?? []).every((r) => !r.reservation || released(r.reservationState));

  async function drive(ctx: ReconcileContext, group: PeerGroup): Promise<ReconcileResult | void> {
    const { run } = group;
    // Parts that have ended and given their holds back have only the peers' records of them left to ask for.
    const ended = peerPartsEnded(run, group.jobs.map((j) => j.peerName));
    if (ended && allReleased(run)) return deps.collectUsage?.(ctx, run);
    const p = await prepare(ctx, group);
    if (!p || !("members" in p)) return p;
    const step = ended ? settle(p) : pass(p);
    return step.catch((err: unknown) => (ended ? requeue(10_000) : failedRequest(p, err)));
  }

  /** A peer unreachable for giveUpAfterMs after the run's deletion does not hold the deletion for ever. */
  async function abandonLate(run: PipelineRun, known: PeerRunRecord, err: unknown): Promise<void> {
    const since = Date.parse(run.metadata.deletionTimestamp ?? "") || deps.now().getTime();
    if (deps.now().getTime() - since < deps.giveUpAfterMs) throw err;
    await deps.events.record(run as KubernetesObject, { type: "Warning", reason: "PeerCleanupAbandoned", action: "Delete", note: `could not cancel on peer ${known.cluster} (${errorMessage(err)}); its hold ends with its window` });
  }

  /** Before a deleted run goes: cancel the peers' runs, release the holds, then drop the finalizer. */
  async function cleanup(ctx: ReconcileContext, run: PipelineRun): Promise<ReconcileResult | void> {
    if (!hasFinalizer(run as KubernetesObject, peerRunFinalizer)) return undefined;
    for (const known of run.status?.peerRuns ?? []) {
      const ep = peerEndpoint(ctx.cache<Peer>(peerKindRef).get({ namespace: "", name: known.peer }), known.peer);
      if ("endpoint" in ep) await cancelOnPeer(ep, known).catch((err: unknown) => abandonLate(run, known, err));
    }
    await removeFinalizer(ctx.client, run as KubernetesObject, peerRunFinalizer);
    return undefined;
  }

  return { drive, cleanup };
}
