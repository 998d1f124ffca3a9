// Reservation: a claim on a compute Provider's capacity for a time window. The compute provider
// grants it only within capacity × overcommit (condition Reserved).
import { Type, type Static } from "typebox";
import type { KindDefinition } from "./kind.ts";
import {
  ageColumn,
  category,
  cel,
  column,
  described,
  group,
  kindObject,
  LocalObjectReference,
  ObjectName,
  Quantity,
  readyColumn,
  reasonColumn,
  SecretReference,
  statusBase,
  strictObject,
  Timestamp,
  version,
} from "./common.ts";

export const ReservationSpec = strictObject(
  {
    providerRef: strictObject({ name: ObjectName }, { description: "the compute Provider in this namespace" }),
    cpu: described(Quantity, "cpu to hold, a quantity (e.g. 4, 500m)"),
    memory: described(Quantity, "memory to hold, a quantity (e.g. 16Gi)"),
    start: described(Timestamp, "the window opens (RFC 3339)"),
    end: described(Timestamp, "the window closes; after start"),
    pipelineRunRef: Type.Optional(LocalObjectReference),
    requester: Type.Optional(
      strictObject(
        { peer: Type.Optional(ObjectName), user: Type.Optional(Type.String({ maxLength: 253 })) },
        { description: "who asked: a Peer (federated request) and/or a user" },
      ),
    ),
  },
  {
    "x-kubernetes-validations": [
      cel("self.end > self.start", "spec.end must be after spec.start", ".end"),
      cel("!isQuantity(self.cpu) || quantity(self.cpu).isGreaterThan(quantity('0'))", "spec.cpu must be greater than zero", ".cpu"),
      cel("!isQuantity(self.memory) || quantity(self.memory).isGreaterThan(quantity('0'))", "spec.memory must be greater than zero", ".memory"),
    ],
  },
);
export type ReservationSpec = Static<typeof ReservationSpec>;

export const ReservationStatus = strictObject({
  ...statusBase,
  grantedAt: Type.Optional(Timestamp),
  releasedAt: Type.Optional(Timestamp),
  credentialsSecretRef: Type.Optional(SecretReference),
});
export type ReservationStatus = Static<typeof ReservationStatus>;

export const Reservation = kindObject("Reservation", ReservationSpec, ReservationStatus);
export type Reservation = Static<typeof Reservation>;

export const reservationKind: KindDefinition = {
  group,
  version,
  kind: "Reservation",
  plural: "reservations",
  singular: "reservation",
  listKind: "ReservationList",
  scope: "Namespaced",
  shortNames: ["aresv"],
  categories: [category],
  description: "A claim on a compute Provider's capacity (cpu, memory) for a time window.",
  spec: ReservationSpec,
  status: ReservationStatus,
  printerColumns: [
    column("Provider", ".spec.providerRef.name"),
    column("CPU", ".spec.cpu"),
    column("Memory", ".spec.memory"),
    column("Start", ".spec.start"),
    column("End", ".spec.end", { priority: 1 }),
    column("Reserved", '.status.conditions[?(@.type=="Reserved")].status'),
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
  validations: [],
};
