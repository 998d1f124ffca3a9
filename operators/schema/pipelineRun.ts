// PipelineRun: a user workflow. Steps name service Resources (image + CWL) here or on a peer,
// inputs name data Resources or give literal CWL values, outputs go to storage Resources (or stay
// in the Argo artifact repository). Status mirrors the Argo Workflow it becomes
// (operators/orchestrator/, docs/orchestrator.md says what runs today).
import { Type, type Static } from "typebox";
import type { KindDefinition } from "./kind.ts";
import {
  ageColumn,
  CatalogRef,
  category,
  cel,
  column,
  described,
  DnsLabel,
  Duration,
  group,
  kindObject,
  Money,
  ObjectName,
  readyColumn,
  reasonColumn,
  statusBase,
  StringEnum,
  strictObject,
  Timestamp,
  version,
} from "./common.ts";

export const placementStrategies = ["Local", "Explicit", "ComputeToData", "Auto", "Admiralty"] as const;

export const Placement = strictObject(
  {
    strategy: Type.Optional(
      StringEnum(placementStrategies, {
        description: "Local: this cluster; Explicit: on peer; ComputeToData: where the step's data Resource lives; Auto: the cluster, this one or a peer offering a service of the same name, ranked first by room, price and trust (status.autoPlacement); Admiralty: this cluster's Argo, pods sent to clusterTarget by Admiralty (untested here)",
      }),
    ),
    peer: Type.Optional(ObjectName),
    clusterTarget: Type.Optional(
      described(DnsLabel, "Admiralty: the (Cluster)Target the step's pods are elected for (nodeSelector multicluster.admiralty.io/cluster-target-name); only with strategy Admiralty"),
    ),
    minTrust: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 100,
        description: "send steps to a peer only while its trust score (Peer.status.trust.score) is at least this; checked before anything is held there, and the run waits (PeerUntrusted) until it is",
      }),
    ),
    reservationRef: Type.Optional(
      strictObject(
        { name: ObjectName, peer: Type.Optional(ObjectName) },
        { description: "a Reservation in this namespace, or on the cluster of Peer `peer`" },
      ),
    ),
  },
  {
    "x-kubernetes-validations": [
      cel("!has(self.strategy) || self.strategy != 'Explicit' || has(self.peer)", "placement.peer is required when placement.strategy is Explicit", ".peer"),
      cel("has(self.strategy) && self.strategy == 'Admiralty' ? has(self.clusterTarget) && !has(self.peer) : !has(self.clusterTarget)", "placement.clusterTarget is required with strategy Admiralty, and only there (Admiralty places pods, not peer)", ".clusterTarget"),
    ],
  },
);
export type Placement = Static<typeof Placement>;

export const retryPolicies = ["OnError", "OnFailure", "Always"] as const;

export const RetryPolicy = strictObject(
  {
    limit: Type.Integer({ minimum: 1, maximum: 10, description: "how many times a step's pod is run again after it did not succeed" }),
    policy: Type.Optional(
      StringEnum(retryPolicies, {
        description: "OnError (default): again when the pod was lost — its node died, it was evicted or deleted; OnFailure: again when the tool exited non-zero; Always: both",
      }),
    ),
  },
  { description: "each step's pod is run again when it did not succeed (Argo's retryStrategy on every pod of the run, on every cluster it runs on); spec.timeout still bounds the whole run" },
);
export type RetryPolicy = Static<typeof RetryPolicy>;

export const PipelineInput = strictObject(
  {
    name: Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z_][A-Za-z0-9_]*$", description: "a pipeline input name" }),
    resourceRef: CatalogRef,
  },
  { description: "binds a pipeline input to a data Resource (here or on a peer)" },
);
export type PipelineInput = Static<typeof PipelineInput>;

export const PipelineStep = strictObject({
  name: DnsLabel,
  serviceRef: CatalogRef,
  in: Type.Optional(
    Type.Record(Type.String(), Type.String({ minLength: 1, maxLength: 256 }), {
      description: "CWL input id → source: a pipeline input name, or <step>/<output>",
    }),
  ),
  placement: Type.Optional(Placement),
});
export type PipelineStep = Static<typeof PipelineStep>;

export const PipelineOutput = strictObject({
  name: Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z_][A-Za-z0-9_]*$" }),
  source: Type.String({ minLength: 3, maxLength: 256, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[A-Za-z_][A-Za-z0-9_]*$", description: "<step>/<output>" }),
  storageRef: Type.Optional(
    described(CatalogRef, "a storage Resource to copy the output to; without it the output stays in the cluster's Argo artifact repository, at the location status.outputs names"),
  ),
  prefix: Type.Optional(Type.String({ maxLength: 1024 })),
});
export type PipelineOutput = Static<typeof PipelineOutput>;

export const PipelineRunSpec = strictObject(
  {
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    projectRef: Type.Optional(strictObject({ name: DnsLabel }, { description: "the Project billed for this run" })),
    steps: Type.Array(PipelineStep, {
      minItems: 1,
      maxItems: 64,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    }),
    inputs: Type.Optional(
      Type.Array(PipelineInput, { maxItems: 128, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
    ),
    outputs: Type.Optional(
      Type.Array(PipelineOutput, { maxItems: 128, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
    ),
    job: Type.Optional(
      Type.Unsafe<Record<string, unknown>>({
        type: "object",
        "x-kubernetes-preserve-unknown-fields": true,
        description: "literal pipeline input values, as a CWL job object; inputs bound to Resources take precedence",
      }),
    ),
    placement: Type.Optional(Placement),
    budget: Type.Optional(Money),
    expectedDuration: Type.Optional(described(Duration, "how long each step is quoted for (default 10m): a run whose quote exceeds its budget, or its Project's remaining budget, does not start")),
    serviceAccountName: Type.Optional(ObjectName),
    timeout: Type.Optional(
      described(Duration, "the run fails when it has not ended within this time from its start (Argo's activeDeadlineSeconds): the steps still running fail with \"Step exceeded its deadline\", even on a node that stopped answering; each cluster's part of a run across clusters is bounded by it"),
    ),
    suspend: Type.Optional(
      Type.Boolean({ description: "true pauses the run: steps already running finish, no new step starts (Argo's spec.suspend); false resumes it. Delete the run to cancel it." }),
    ),
    retry: Type.Optional(RetryPolicy),
  },
  {
    "x-kubernetes-validations": [
      cel(
        "!has(self.outputs) || self.outputs.all(o, self.steps.exists(s, s.name == o.source.split('/')[0]))",
        "spec.outputs[].source must name a step of spec.steps",
        ".outputs",
      ),
      // The Workflow is built once from these: a change would be silently ignored, so it is refused.
      ...(["steps", "inputs", "outputs", "job", "placement", "serviceAccountName", "timeout", "retry"] as const).map((field) =>
        cel(
          `has(self.${field}) == has(oldSelf.${field}) && (!has(self.${field}) || self.${field} == oldSelf.${field})`,
          `spec.${field} is immutable: a run's Workflow is built once; create a new run (only spec.suspend, spec.description, spec.budget and spec.expectedDuration may change)`,
          `.${field}`,
        ),
      ),
    ],
  },
);
export type PipelineRunSpec = Static<typeof PipelineRunSpec>;

export const workflowPhases = ["Pending", "Running", "Succeeded", "Failed", "Error"] as const;

/** A step's phase: the workflow phases, and Skipped for a step that never ran (an upstream step failed). */
export const stepPhases = [...workflowPhases, "Skipped"] as const;

export const StepStatus = strictObject({
  name: DnsLabel,
  phase: StringEnum(stepPhases),
  cluster: Type.Optional(Type.String({ maxLength: 253, description: "the cluster the step runs on (this cluster's Identity clusterName for Local placement)" })),
  peer: Type.Optional(ObjectName),
  placement: Type.Optional(Type.String({ maxLength: 1024, description: "why the step runs on that cluster (the placement plan, written before anything runs)" })),
  startedAt: Type.Optional(Timestamp),
  finishedAt: Type.Optional(Timestamp),
  message: Type.Optional(Type.String({ maxLength: 4096 })),
});
export type StepStatus = Static<typeof StepStatus>;

export const PipelineRunStatus = strictObject({
  ...statusBase,
  phase: Type.Optional(StringEnum(workflowPhases, { description: "the Argo Workflow's phase, mirrored" })),
  workflowRef: Type.Optional(
    strictObject(
      { name: ObjectName, namespace: Type.Optional(DnsLabel) },
      { description: "the run's Argo Workflow: in this namespace, or in `namespace` (a run served for a peer runs in its reservation's workspace)" },
    ),
  ),
  progress: Type.Optional(Type.String({ maxLength: 16, description: "steps succeeded / steps, e.g. 1/2" })),
  startedAt: Type.Optional(Timestamp),
  finishedAt: Type.Optional(Timestamp),
  steps: Type.Optional(Type.Array(StepStatus, { maxItems: 64, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })),
  outputs: Type.Optional(
    Type.Array(
      strictObject({
        name: Type.String({ maxLength: 128 }),
        location: Type.Optional(Type.String({ maxLength: 2048, description: "where a File or Directory output is, e.g. s3://bucket/key (a Directory delivered to storage: its prefix, ending in /)" })),
        class: Type.Optional(Type.Union([Type.Literal("File"), Type.Literal("Directory")], { description: "what the location holds: one object (File), or the objects under it (Directory)" })),
        value: Type.Optional(Type.String({ maxLength: 4096, description: "any other output value, as JSON" })),
      }),
      { maxItems: 128, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] },
    ),
  ),
  peerRuns: Type.Optional(
    Type.Array(
      strictObject({
        peer: ObjectName,
        cluster: Type.String({ maxLength: 253 }),
        namespace: Type.String({ maxLength: 63 }),
        name: Type.Optional(Type.String({ maxLength: 253, description: "the PipelineRun the peer created for this run (in namespace, on cluster), once submitted" })),
        reservation: Type.String({ maxLength: 253, description: "the peer's Reservation holding the capacity (same namespace)" }),
        reservationState: Type.Optional(Type.String({ maxLength: 32 })),
        phase: Type.Optional(Type.String({ maxLength: 32, description: "the phase of the peer's run (Failed too when it failed before the peer ran it, or was cancelled because another peer's part failed)" })),
        quote: Type.Optional(described(Money, "what the peer quoted for its steps, at its rates for this cluster, before anything was held (first currency)")),
        holdRound: Type.Optional(
          Type.Integer({
            minimum: 2,
            maximum: 3,
            description: "the round of holds the run is in, after the first: holds that lapsed before every peer had admitted its own (a peer slow or unreachable) are given back and asked again under new names, at most 3 rounds",
          }),
        ),
      }),
      {
        maxItems: 8,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["peer"],
        description:
          "where this run's steps run when they are placed on peers, one entry per peer: the peer's own PipelineRun and Reservation, requested over the signed federation API. Holds on several peers are confirmed only once every peer has admitted its own, and all are released if one is not (docs/orchestrator.md, Several peers)",
      },
    ),
  ),
  artifactAccess: Type.Optional(
    strictObject(
      {
        secretName: Type.String({ maxLength: 253, description: "the Secret (controlled by the run) holding the key its pods use" }),
        revoked: Type.Optional(Type.Boolean({ description: "true once the run's Workflow has finished and its user was deleted: the key no longer works" })),
      },
      { description: "the run's own credentials to the artifact repository, allowed only its prefix (pipelineruns/<namespace>/<workflow>/): what its pods read and write with" },
    ),
  ),
  autoPlacement: Type.Optional(
    Type.Array(
      strictObject({
        step: DnsLabel,
        peer: Type.Optional(described(ObjectName, "the Peer whose service of the same name runs the step; absent: this cluster")),
        reason: Type.String({ maxLength: 1024, description: "the ranking: what each cluster offered, and why the others lost or were left out" }),
      }),
      {
        maxItems: 64,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["step"],
        description: "where strategy Auto placed its steps: ranked once, before anything runs, and never moved, unless the chosen peer's hold ended before any step was sent there (status.autoRefused; docs/orchestrator.md, Auto)",
      },
    ),
  ),
  autoRefused: Type.Optional(
    Type.Array(
      strictObject({
        peer: ObjectName,
        reservation: Type.String({ maxLength: 253, description: "the peer's Reservation it did not hold" }),
        state: Type.String({ maxLength: 32, description: "Rejected, Expired or Released: how the hold ended before any step was sent" }),
        message: Type.Optional(Type.String({ maxLength: 1024, description: "the peer's reason" })),
        at: Timestamp,
      }),
      {
        maxItems: 16,
        description: "peers Auto placed the steps on whose hold ended before any step was sent there: the steps were ranked again without them (docs/orchestrator.md, Auto)",
      },
    ),
  ),
  quote: Type.Optional(Money),
  cost: Type.Optional(described(Money, "the sum of the run's UsageRecords so far (its steps here, and the copies of a peer's records of its steps there); absent while they are in several currencies")),
});
export type PipelineRunStatus = Static<typeof PipelineRunStatus>;

export const PipelineRun = kindObject("PipelineRun", PipelineRunSpec, PipelineRunStatus);
export type PipelineRun = Static<typeof PipelineRun>;

export const pipelineRunKind: KindDefinition = {
  group,
  version,
  kind: "PipelineRun",
  plural: "pipelineruns",
  singular: "pipelinerun",
  listKind: "PipelineRunList",
  scope: "Namespaced",
  shortNames: ["apr"],
  categories: [category],
  description: "A user workflow: steps (services), data inputs, storage outputs and placement; status mirrors its Argo Workflow.",
  spec: PipelineRunSpec,
  status: PipelineRunStatus,
  printerColumns: [
    column("Phase", ".status.phase"),
    column("Steps", ".status.progress", { description: "steps succeeded / steps" }),
    readyColumn,
    { ...reasonColumn, priority: 0 },
    ageColumn,
    column("Workflow", ".status.workflowRef.name", { priority: 1 }),
    // A printer column shows one value of a list (the API server takes the first): the first peer's.
    column("Peer", ".status.peerRuns[0].cluster", { priority: 1, description: "the cluster of the first peer the run's steps went to (status.peerRuns lists them all)" }),
    column("Started", ".status.startedAt", { type: "date", priority: 1 }),
    column("Cost", ".status.cost.amount", { priority: 1 }),
  ],
  validations: [],
};
