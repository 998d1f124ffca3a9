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
import type { EventRecorder } from "../runtime/events.ts";
import { ensureFinalizer, hasFinalizer, removeFinalizer } from "../runtime/finalizers.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type Peer, peerKind } from "../schema/peer.ts";
import type { PipelineRun, PipelineRunStatus } from "../schema/pipelineRun.ts";
import { type PeerEndpoint, PeerRefusal, type PeerRunsClient } from "./peerClient.ts";
import { failedPeerRun, nextPeerAction, observePeerRun, type PeerRunSettings, peerNamespace, reservationRequest, runRequest } from "./peerRun.ts";
import type { StepPlacement } from "./placement.ts";
import { RunReason } from "./reasons.ts";
import type { RunObservation } from "./runStatus.ts";

export const peerRunFinalizer = "archipel.io/peer-run";
export const peerKindRef = kindRefOf(peerKind);

type PeerRunRecord = NonNullable<PipelineRunStatus["peerRun"]>;

export interface PeerStepsDeps {
  client: PeerRunsClient;
  events: EventRecorder;
  settings: PeerRunSettings;
  now: () => Date;
  /** Writes the observation (conditions, phase, steps…) and the peer record into the run's status. */
  write(ctx: ReconcileContext, run: PipelineRun, observation: RunObservation, peerRun: PeerRunRecord | undefined): Promise<void>;
  /** How long a deleted run waits for an unreachable peer before it lets go (its hold ends with its window). */
  giveUpAfterMs: number;
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

export function createPeerSteps(deps: PeerStepsDeps): {
  drive(ctx: ReconcileContext, run: PipelineRun, plan: StepPlacement[], peerName: string): Promise<ReconcileResult | void>;
  cleanup(ctx: ReconcileContext, run: PipelineRun): Promise<ReconcileResult | void>;
} {
  const { client } = deps;

  function blocked(ctx: ReconcileContext, run: PipelineRun, plan: StepPlacement[], cluster: string, reason: string, message: string): Promise<void> {
    const o = observePeerRun(plan, { peer: "", cluster }, undefined);
    const observation = { ...o, ready: { ...o.ready, status: "False" as const, reason, message }, succeeded: { ...o.succeeded, reason, message } };
    return deps.write(ctx, run, observation, run.status?.peerRun);
  }

  async function pass(ctx: ReconcileContext, run: PipelineRun, plan: StepPlacement[], ep: PeerEndpoint, namespace: string): Promise<ReconcileResult | void> {
    const site = { peer: ep.peer, cluster: ep.cluster };
    const known = run.status?.peerRun;
    let reservation: PeerReservationAnswer | undefined = known?.reservation ? await client.reservation(ep, namespace, known.reservation) : undefined;
    let remote: PeerRunAnswer | undefined = known?.name ? await client.run(ep, namespace, known.name) : undefined;
    const record = (r: PeerReservationAnswer | undefined, name?: string): PeerRunRecord => ({
      peer: ep.peer,
      cluster: ep.cluster,
      namespace,
      reservation: r?.name ?? known?.reservation ?? "",
      ...(r?.state ? { reservationState: r.state } : {}),
      ...((name ?? known?.name) ? { name: name ?? known?.name } : {}),
    });
    const action = nextPeerAction(reservation, remote, known?.name !== undefined);
    switch (action.kind) {
      case "reserve":
        reservation = await client.reserve(ep, reservationRequest(run, namespace, deps.now().getTime(), deps.settings));
        await deps.write(ctx, run, observePeerRun(plan, site, undefined, `reservation ${reservation.name} asked of peer ${ep.cluster}`), record(reservation));
        return requeue(1000);
      case "wait":
        await deps.write(ctx, run, observePeerRun(plan, site, undefined, action.message), record(reservation));
        return requeue(2000);
      case "confirm":
        reservation = await client.decide(ep, namespace, reservation?.name ?? "", "confirm");
        await deps.write(ctx, run, observePeerRun(plan, site, undefined, `reservation ${reservation.name} confirmed on peer ${ep.cluster}`), record(reservation));
        return requeue(1000);
      case "submit":
        remote = await client.submit(ep, runRequest(run, namespace, reservation?.name ?? ""));
        await deps.write(ctx, run, observePeerRun(plan, site, remote), record(reservation, remote.name));
        return requeue(3000);
      case "follow":
        await deps.write(ctx, run, observePeerRun(plan, site, remote), record(reservation));
        return requeue(5000);
      case "release":
        reservation = await client.decide(ep, namespace, reservation?.name ?? "", "release");
        await deps.write(ctx, run, observePeerRun(plan, site, remote), record(reservation));
        return undefined;
      case "done":
        await deps.write(ctx, run, observePeerRun(plan, site, remote), record(reservation));
        return undefined;
      case "fail": {
        if (reservation && !released(reservation.state)) reservation = await client.decide(ep, namespace, reservation.name, "release");
        await deps.write(ctx, run, failedPeerRun(plan, site, action.reason, action.message, conditionTime(deps.now())), record(reservation));
        return undefined;
      }
    }
  }

  async function drive(ctx: ReconcileContext, run: PipelineRun, plan: StepPlacement[], peerName: string): Promise<ReconcileResult | void> {
    // A finished run whose hold is given back has nothing left to ask.
    if (finished(run) && released(run.status?.peerRun?.reservationState)) return undefined;
    const ep = peerEndpoint(ctx.cache<Peer>(peerKindRef).get({ namespace: "", name: peerName }), peerName);
    if (!("endpoint" in ep)) {
      await blocked(ctx, run, plan, peerName, RunReason.PeerNotReady, `the steps are placed on peer ${peerName}: ${ep.message}`);
      return requeue(30_000);
    }
    const namespace = peerNamespace(run);
    if (typeof namespace !== "string") return blocked(ctx, run, plan, ep.cluster, RunReason.InvalidSpec, namespace.message);
    if (!hasFinalizer(run as KubernetesObject, peerRunFinalizer)) await ensureFinalizer(ctx.client, run as KubernetesObject, peerRunFinalizer);
    try {
      return await pass(ctx, run, plan, ep, namespace);
    } catch (err) {
      if (err instanceof PeerRefusal && err.status < 500) {
        // The peer's verdict on the request itself: waiting will not change it.
        await deps.write(ctx, run, failedPeerRun(plan, { peer: ep.peer, cluster: ep.cluster }, RunReason.PeerRefused, err.message, conditionTime(deps.now())), run.status?.peerRun);
        return undefined;
      }
      if (!(err instanceof FederationRequestError || err instanceof PeerRefusal)) throw err;
      // Unreachable, slow or failing: the run is not failed for it; say so and ask again.
      await blocked(ctx, run, plan, ep.cluster, RunReason.PeerUnreachable, `peer ${ep.cluster}: ${err.message} (asking again in 10 s)`);
      return requeue(10_000);
    }
  }

  /** Before a deleted run goes: cancel the peer's run, release the hold, then drop the finalizer. */
  async function cleanup(ctx: ReconcileContext, run: PipelineRun): Promise<ReconcileResult | void> {
    if (!hasFinalizer(run as KubernetesObject, peerRunFinalizer)) return undefined;
    const known = run.status?.peerRun;
    const ep = known ? peerEndpoint(ctx.cache<Peer>(peerKindRef).get({ namespace: "", name: known.peer }), known.peer) : undefined;
    if (known && ep && "endpoint" in ep) {
      try {
        if (known.name) await client.cancel(ep, known.namespace, known.name);
        if (known.reservation && !released(known.reservationState)) await client.decide(ep, known.namespace, known.reservation, "release").catch((err: unknown) => {
          if (!(err instanceof PeerRefusal && err.status === 404)) throw err;
        });
      } catch (err) {
        const since = Date.parse(run.metadata.deletionTimestamp ?? "") || deps.now().getTime();
        if (deps.now().getTime() - since < deps.giveUpAfterMs) throw err;
        await deps.events.record(run as KubernetesObject, { type: "Warning", reason: "PeerCleanupAbandoned", action: "Delete", note: `could not cancel on peer ${known.cluster} (${errorMessage(err)}); its hold ends with its window` });
      }
    }
    await removeFinalizer(ctx.client, run as KubernetesObject, peerRunFinalizer);
    return undefined;
  }

  return { drive, cleanup };
}
