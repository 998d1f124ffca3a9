// UsageRecord: the metered consumption of one finished step and its cost under the Price in
// force. A record is a fact: its spec never changes once written.
import { Type, type Static } from "typebox";
import type { KindDefinition } from "./kind.ts";
import {
  ageColumn,
  category,
  cel,
  column,
  described,
  DnsLabel,
  group,
  kindObject,
  Money,
  ObjectName,
  readyColumn,
  statusBase,
  strictObject,
  Timestamp,
  version,
} from "./common.ts";

export const UsageRecordSpec = strictObject(
  {
    pipelineRunRef: strictObject({ name: ObjectName }, { description: "the PipelineRun in this namespace" }),
    step: described(DnsLabel, "the step's name in the PipelineRun"),
    peer: Type.Optional(described(ObjectName, "the Peer whose cluster ran the step (absent: here)")),
    projectRef: Type.Optional(strictObject({ name: DnsLabel })),
    startedAt: Timestamp,
    finishedAt: Timestamp,
    resourcesDuration: Type.Record(Type.String(), Type.Integer({ minimum: 0, format: "int64" }), {
      description: "Argo's resourcesDuration per resource name: cpu in core-seconds, memory in 100Mi-seconds (Argo v3's denominators)",
    }),
    priceRef: strictObject(
      { name: ObjectName, peer: Type.Optional(ObjectName) },
      { description: "the Price in force, here or on the Peer that ran the step" },
    ),
    cost: Money,
  },
  {
    "x-kubernetes-validations": [
      cel("self == oldSelf", "spec is immutable: a UsageRecord records a fact; create a correcting record instead"),
      cel("self.finishedAt >= self.startedAt", "spec.finishedAt must not be before spec.startedAt", ".finishedAt"),
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
    column("Cost", ".spec.cost.amount"),
    column("Currency", ".spec.cost.currency"),
    column("Price", ".spec.priceRef.name", { priority: 1 }),
    readyColumn,
    ageColumn,
  ],
  validations: [],
};
