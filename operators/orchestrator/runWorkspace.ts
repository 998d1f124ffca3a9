// Where a run's Workflow runs: in the run's own namespace, or, for a run this cluster serves for a
// peer, in the workspace its Reservation holds (operators/compute/reservationWorkspace.ts), where
// the peer's pods run under that reservation's quota alone. The run itself stays next to the
// services, data and prices it names. Once made, the Workflow's place is the one its status
// records (the workspace is gone once the reservation ends; the record stays). Pure.
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { Reservation } from "../schema/reservation.ts";
import { servedReservationOf } from "./dataAccess.ts";
import { RunReason } from "./reasons.ts";
import type { Blocked } from "./serviceResolution.ts";

/** The namespace of the run's Workflow, or why it has none yet. */
export function workflowNamespaceOf(run: PipelineRun, reservation: (name: string) => Reservation | undefined): string | Blocked {
  if (run.status?.workflowRef) return recordedWorkflowNamespace(run);
  const served = servedReservationOf(run, reservation);
  if (!served) return run.metadata.namespace ?? "";
  return served.status?.workspace ?? noWorkspace(served);
}

function noWorkspace(served: Reservation): Blocked {
  const state = served.status?.state ?? "Pending";
  if (["Released", "Expired", "Rejected"].includes(state)) return { reason: RunReason.ReservationNotActive, message: `the reservation ${served.metadata.name ?? ""} this run is served under is ${state}: it holds no workspace to run in` };
  const why = served.status?.conditions?.find((c) => c.type === "Ready" && c.status === "False")?.message;
  return { reason: RunReason.WorkspaceNotReady, message: `the reservation ${served.metadata.name ?? ""} this run is served under is ${state} and has no workspace yet${why ? ` (${why})` : ""}; the run starts in it once it has` };
}

/** Where the run's Workflow is, as status records it (its own namespace unless said). */
export function recordedWorkflowNamespace(run: PipelineRun): string {
  return run.status?.workflowRef?.namespace ?? run.metadata.namespace ?? "";
}
