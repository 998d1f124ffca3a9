// The metering hold: a finalizer on each Workflow the orchestrator creates outside its run's
// namespace (a run served for a peer, in its reservation's workspace). Such a Workflow is not
// deleted with its run but with the workspace, when the requester releases the reservation, and
// nothing else orders that after the usage controller has metered its steps: a step not metered
// when the Workflow went would never be. With the hold, the Workflow (and so the namespace) waits
// until the usage controller has made the records of the steps that ran (one still running is
// metered up to the deletion), then it lifts it.
// Pure: which holds may be lifted.
import type { KubernetesObject } from "@kubernetes/client-node";
import { hasFinalizer, isBeingDeleted } from "../runtime/finalizers.ts";
import { ownerKindLabel, ownerNameAnnotation, ownerNamespaceLabel, ownerUidLabel } from "../runtime/ownerReferences.ts";
import { pipelineRunKind } from "../schema/pipelineRun.ts";
import type { MeteringPlan } from "./metering.ts";

export const meteringHold = "archipel.io/metering";

/**
 * The hold is lifted once the Workflow is being deleted and no finished step waits for Argo's
 * measure (a Workflow being deleted has ended: measureStep never waits on it). The records of the
 * plan are made before this is asked.
 */
export function holdLiftable(workflow: KubernetesObject, plan: Pick<MeteringPlan, "pending">): boolean {
  return hasFinalizer(workflow, meteringHold) && isBeingDeleted(workflow) && plan.pending.length === 0;
}

/**
 * Held Workflows that no run meters: marked for the run of `key` but not for its uid (the run is
 * gone, or was made again under its name; one being deleted is still there, and still metered). Nothing more of them can be metered: what ran, for
 * which project and at which Price is read from the run, which is gone (records made before stay:
 * they outlive their run), so the hold only keeps the namespace from going. Found by their marks:
 * lifting this controller's own hold is the one thing done with what they say.
 */
export function orphanedHolds<T extends KubernetesObject>(workflows: readonly T[], key: { namespace?: string; name: string }, runUid: string | undefined): T[] {
  return workflows.filter((w) => {
    const labels = w.metadata?.labels ?? {};
    const marked = labels[ownerKindLabel] === pipelineRunKind.kind && labels[ownerNamespaceLabel] === key.namespace && w.metadata?.annotations?.[ownerNameAnnotation] === key.name;
    return marked && hasFinalizer(w, meteringHold) && labels[ownerUidLabel] !== runUid;
  });
}
