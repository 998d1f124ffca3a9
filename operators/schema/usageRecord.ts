// UsageRecord: the metered consumption of one finished step and its cost under the Price in
// force when it started. A record is a fact: its spec never changes once written. It is made by
// the cluster that ran the step (spec.cluster); a record about a step run on a peer is the peer's,
// signed by it (spec.signature), and kept by the requesting cluster as received
// (docs/billing.md, "Records from peers").
import { Type, type Static } from "typebox";
import type { KindDefinition } from "./kind.ts";
import {
  ageColumn,
  category,
  cel,
  column,
  Decimal,
  described,
  DnsLabel,
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

export const usageSources = ["resourcesDuration", "requests"] as const;
export const usageCharges = ["cpu", "memory", "run"] as const;

export const UsageLine = strictObject({
  charge: StringEnum(usageCharges),
  quantity: described(Decimal, "in `unit`, rounded to 6 decimals for reading; the amount was computed from the exact quantity"),
  unit: StringEnum(["core-hour", "GiB-hour", "run"] as const),
  rate: described(Decimal, "the Price's rate per unit, in spec.cost.currency"),
  amount: described(Decimal, "quantity × rate, rounded once, half to even, to the currency's minor units"),
});
export type UsageLine = Static<typeof UsageLine>;

export const UsageRecordSpec = strictObject(
  {
    pipelineRunRef: strictObject(
      { name: ObjectName, uid: Type.Optional(Type.String({ maxLength: 64 })) },
      { description: "the PipelineRun in this namespace (uid: the run it was metered for)" },
    ),
    step: described(DnsLabel, "the step's name in the PipelineRun"),
    cluster: Type.String({ minLength: 1, maxLength: 253, description: "the cluster that ran and metered the step (its Identity's clusterName)" }),
    peer: Type.Optional(described(ObjectName, "the Peer whose cluster ran the step for this one (absent: this cluster ran it)")),
    requester: Type.Optional(
      strictObject({ peer: ObjectName }, { description: "the Peer this cluster ran the step for (a run a peer asked for over the federation API)" }),
    ),
    projectRef: Type.Optional(strictObject({ name: DnsLabel }, { description: "the Project billed" })),
    startedAt: Timestamp,
    finishedAt: Timestamp,
    source: StringEnum(usageSources, {
      description: "resourcesDuration: Argo's per-node measure; requests: the pods' start/finish × their containers' requests (Argo reported none)",
    }),
    resourcesDuration: Type.Optional(
      Type.Record(Type.String(), Type.Integer({ minimum: 0, format: "int64" }), {
        description: "Argo's resourcesDuration summed over the step's pods: cpu in core-seconds, memory in 100Mi-seconds (Argo v3's denominators)",
      }),
    ),
    usage: strictObject(
      {
        cpuCoreHours: described(Decimal, "rounded to 6 decimals for reading"),
        memoryGiBHours: described(Decimal, "rounded to 6 decimals for reading"),
        pods: Type.Integer({ minimum: 0, maximum: 1_000_000, description: "pods the step ran" }),
      },
      { description: "what the step consumed, in the units Prices charge" },
    ),
    priceRef: Type.Optional(
      strictObject(
        { name: ObjectName, peer: Type.Optional(ObjectName) },
        { description: "the Price in force when the step started, here or on the Peer that ran the step (absent: none applied, see status)" },
      ),
    ),
    lines: Type.Optional(Type.Array(UsageLine, { maxItems: 8, description: "one line item per rate the Price sets" })),
    cost: Type.Optional(described(Money, "the sum of the rounded line items")),
    stopped: Type.Optional(
      strictObject(
        { reason: Type.String({ minLength: 1, maxLength: 64 }), message: Type.String({ maxLength: 1024 }) },
        { description: "the step did not end on its own: its run was stopped (reason BudgetExhausted: the run's budget was reached while it ran)" },
      ),
    ),
    signature: Type.Optional(
      strictObject(
        {
          cluster: Type.String({ minLength: 1, maxLength: 253, description: "the signer's clusterName; equals spec.cluster" }),
          algorithm: StringEnum(["Ed25519"] as const),
          value: Type.String({ pattern: "^[A-Za-z0-9_-]{86}$", description: "base64url signature over the canonical JSON of spec without signature and peer" }),
        },
        { description: "set by a peer that metered a step it ran for this cluster" },
      ),
    ),
    received: Type.Optional(
      strictObject(
        {
          name: described(ObjectName, "the record's name on the peer"),
          pipelineRunRef: strictObject({ name: ObjectName, uid: Type.Optional(Type.String({ maxLength: 64 })) }, { description: "the peer's own PipelineRun that ran the step" }),
          requester: Type.Optional(strictObject({ peer: ObjectName }, { description: "the peer's name for this cluster" })),
          projectRef: Type.Optional(strictObject({ name: DnsLabel }, { description: "the project the peer billed, if any" })),
        },
        {
          description:
            "a copy of a peer's record: the fields of the peer's own record that this copy replaces with this cluster's (its run, project, Peer). Put back, they give the spec the peer signed (docs/billing.md, \"Records from peers\")",
        },
      ),
    ),
  },
  {
    "x-kubernetes-validations": [
      cel("self == oldSelf", "spec is immutable: a UsageRecord records a fact; create a correcting record instead"),
      cel("self.finishedAt >= self.startedAt", "spec.finishedAt must not be before spec.startedAt", ".finishedAt"),
      cel("has(self.priceRef) == has(self.cost) && has(self.cost) == has(self.lines)", "spec.priceRef, spec.lines and spec.cost go together: a record is priced or not", ".cost"),
      cel("self.source != 'resourcesDuration' || has(self.resourcesDuration)", "spec.resourcesDuration is required when spec.source is resourcesDuration", ".resourcesDuration"),
      cel("!has(self.signature) || self.signature.cluster == self.cluster", "spec.signature.cluster must equal spec.cluster: a record is signed by the cluster that metered it", ".signature.cluster"),
      cel("!has(self.peer) || !has(self.requester)", "spec.peer and spec.requester exclude each other: a step ran on a peer for this cluster, or here for a peer", ".requester"),
      cel("!has(self.received) || (has(self.peer) && has(self.signature))", "spec.received is for a copy of a peer's record: it needs spec.peer and the peer's spec.signature", ".received"),
    ],
  },
);
export type UsageRecordSpec = Static<typeof UsageRecordSpec>;

export const UsageRecordStatus = strictObject({ ...statusBase });
export type UsageRecordStatus = Static<typeof UsageRecordStatus>;

export const UsageRecord = kindObject("UsageRecord", UsageRecordSpec, UsageRecordStatus);
export type UsageRecord = Static<typeof UsageRecord>;

export const usageRecordKind: KindDefinition = {
  group,
  version,
  kind: "UsageRecord",
  plural: "usagerecords",
  singular: "usagerecord",
  listKind: "UsageRecordList",
  scope: "Namespaced",
  shortNames: ["ausage"],
  categories: [category],
  description: "Metered consumption of one finished PipelineRun step × the Price in force → cost.",
  spec: UsageRecordSpec,
  status: UsageRecordStatus,
  printerColumns: [
    column("Run", ".spec.pipelineRunRef.name"),
    column("Step", ".spec.step"),
    column("Cluster", ".spec.cluster", { priority: 1 }),
    column("CPU h", ".spec.usage.cpuCoreHours", { priority: 1 }),
    column("Cost", ".spec.cost.amount"),
    column("Currency", ".spec.cost.currency"),
    column("Price", ".spec.priceRef.name", { priority: 1 }),
    readyColumn,
    { ...reasonColumn, priority: 1 },
    ageColumn,
  ],
  validations: [],
};
