// The reasons of a PipelineRun's conditions, in one place (tests and users rely on them).
export const RunReason = {
  // the Workflow exists and is mirrored
  Pending: "Pending",
  Running: "Running",
  Suspended: "Suspended",
  Succeeded: "Succeeded",
  StepFailed: "StepFailed",
  WorkflowFailed: "WorkflowFailed",
  // before the Workflow exists: why it cannot be created
  InvalidSpec: "InvalidSpec",
  ServiceNotFound: "ServiceNotFound",
  ServiceNotReady: "ServiceNotReady",
  NotAService: "NotAService",
  PeerNotReady: "PeerNotReady",
  PeerRefused: "PeerRefused",
  PeerUnreachable: "PeerUnreachable",
  // the peer's trust score is below placement.minTrust: nothing is held there
  PeerUntrusted: "PeerUntrusted",
  ReservationNotFound: "ReservationNotFound",
  ReservationNotActive: "ReservationNotActive",
  ReservationRejected: "ReservationRejected",
  // a run served for a peer: its reservation's workspace (where its Workflow runs) is not there yet
  WorkspaceNotReady: "WorkspaceNotReady",
  // a run served for a peer: inputs the requester sends (outputs of its steps elsewhere) are not all here yet
  InputsAwaited: "InputsAwaited",
  // steps on a peer: waiting for the peer's reservation, then its run
  Reserving: "Reserving",
  PeerRunDeleted: "PeerRunDeleted",
  // a run across clusters: the peer's part succeeded, its outputs are brought here
  PeerStepsSucceeded: "PeerStepsSucceeded",
  PeerOutputUnavailable: "PeerOutputUnavailable",
  // a run across peers: a peer's output is sent on (relayed) to the peer whose steps read it
  RelayingOutputs: "RelayingOutputs",
  // the quote does not fit a budget (operators/billing/budget.ts names them), or cannot be made
  RunBudgetExceeded: "RunBudgetExceeded",
  ProjectBudgetExceeded: "ProjectBudgetExceeded",
  CurrencyMismatch: "CurrencyMismatch",
  QuoteUnavailable: "QuoteUnavailable",
  // a running run whose cost so far reached spec.budget: its Workflow is stopped
  BudgetExhausted: "BudgetExhausted",
  CrossNamespaceNotSupported: "CrossNamespaceNotSupported",
  DataInputsNotSupported: "DataInputsNotSupported",
  // data inputs: the Resource, the run's AccessGrant on it, staging its object for the pods
  DataNotFound: "DataNotFound",
  NotData: "NotData",
  GrantPending: "GrantPending",
  GrantRefused: "GrantRefused",
  DataUnavailable: "DataUnavailable",
  // storage outputs: the Resource, the run's write grant, copying once the run has succeeded
  StorageNotFound: "StorageNotFound",
  NotStorage: "NotStorage",
  OutputsUndelivered: "OutputsUndelivered",
  OutputsRefused: "OutputsRefused",
  StorageOutputsNotSupported: "StorageOutputsNotSupported",
  PlacementNotSupported: "PlacementNotSupported",
  // Auto: the steps' cluster was ranked and pinned (status.autoPlacement), or no cluster can take
  // them, or the chosen peer's hold ended before they were sent (ranked again without it)
  Placed: "Placed",
  NoPlacement: "NoPlacement",
  PeerHoldEnded: "PeerHoldEnded",
  ArtifactRepositoryUnavailable: "ArtifactRepositoryUnavailable",
  NameTaken: "NameTaken",
} as const;

export type RunReason = (typeof RunReason)[keyof typeof RunReason];
