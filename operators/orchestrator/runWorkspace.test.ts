import assert from "node:assert/strict";
import { requesterPeerLabel } from "../federation/peerRuns.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { Reservation } from "../schema/reservation.ts";
import { workflowNamespaceOf } from "./runWorkspace.ts";

const hold = (status: Reservation["status"], peer = "member-a"): Reservation =>
  ({ metadata: { namespace: "shop", name: "hold", uid: "r-1" }, spec: { requester: { peer } }, status }) as unknown as Reservation;

const served = (extra: Partial<PipelineRun> = {}): PipelineRun =>
  ({
    metadata: { namespace: "shop", name: "run", uid: "p-1", labels: { [requesterPeerLabel]: "member-a" }, ownerReferences: [{ apiVersion: "archipel.io/v1alpha1", kind: "Reservation", name: "hold", uid: "r-1" }] },
    spec: { steps: [] },
    ...extra,
  }) as unknown as PipelineRun;

describe("where a run's Workflow runs", () => {
  it("a run made here: in its own namespace", () => {
    assert.equal(workflowNamespaceOf({ metadata: { namespace: "shop", name: "r" }, spec: { steps: [] } } as unknown as PipelineRun, () => undefined), "shop");
  });

  it("a run served for a peer: in its reservation's workspace, once it has one", () => {
    assert.equal(workflowNamespaceOf(served(), () => hold({ state: "Active", workspace: "archipel-rsv-1" })), "archipel-rsv-1");
    const waiting = workflowNamespaceOf(served(), () => hold({ state: "Confirmed" }));
    assert.deepEqual(typeof waiting === "string" ? waiting : waiting.reason, "WorkspaceNotReady");
    const blocked = workflowNamespaceOf(served(), () => hold({ state: "Confirmed", conditions: [{ type: "Ready", status: "False", reason: "NameTaken", message: "Namespace archipel-rsv-1 exists and was not made for this Reservation", lastTransitionTime: "2026-12-04T10:00:00Z" }] }));
    assert.match(typeof blocked === "string" ? blocked : blocked.message, /no workspace yet \(Namespace archipel-rsv-1 exists and was not made for this Reservation\)/, "the reservation's own reason is passed on");
    const ended = workflowNamespaceOf(served(), () => hold({ state: "Released" }));
    assert.deepEqual(typeof ended === "string" ? ended : ended.reason, "ReservationNotActive");
  });

  it("only under a reservation made for the peer the run is labelled for (else it is a run of this namespace)", () => {
    assert.equal(workflowNamespaceOf(served(), () => hold({ state: "Active", workspace: "archipel-rsv-1" }, "member-c")), "shop");
    const relabelled = served();
    relabelled.metadata.ownerReferences = [{ apiVersion: "archipel.io/v1alpha1", kind: "Reservation", name: "hold", uid: "r-other" }];
    assert.equal(workflowNamespaceOf(relabelled, () => hold({ state: "Active", workspace: "archipel-rsv-1" })), "shop", "a namesake reservation");
  });

  it("once made, where status recorded it: the workspace may be gone, the record stays", () => {
    const ran = served({ status: { workflowRef: { name: "run", namespace: "archipel-rsv-1" } } } as Partial<PipelineRun>);
    assert.equal(workflowNamespaceOf(ran, () => undefined), "archipel-rsv-1");
    assert.equal(workflowNamespaceOf(served({ status: { workflowRef: { name: "run" } } } as Partial<PipelineRun>), () => undefined), "shop");
  });
});
