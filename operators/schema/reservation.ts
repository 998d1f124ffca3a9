// Reservation: a claim on a compute Provider's capacity for a time window. The compute
// controller admits it only if, at every instant of the window, the admitted Reservations of the
// Provider stay within capacity × overcommit (condition Admitted), then walks it through
// Tentative → Confirmed → Active → Released (or Expired, if never confirmed), or Rejected.
//
// What was admitted (cpu, memory, window, provider, hold) cannot change afterwards: the CEL
// rules below make those fields immutable, and confirmed / release one-way switches, so the
// decision recorded in the Provider's ledger always describes the object (see
// docs/decisions/reservation-admission.md).
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
  LocalObjectReference,
  ObjectName,
  Quantity,
  readyColumn,
  reasonColumn,
  SecretReference,
  statusBase,
  StringEnum,
  strictObject,
  Timestamp,
  version,
} from "./common.ts";

const fixed = (field: string): ReturnType<typeof cel> =>
  cel(`self.${field} == oldSelf.${field}`, `spec.${field} is immutable once the Reservation exists; create a new Reservation instead`, `.${field}`);

/** A switch that can be turned on and never off (a decision made on it cannot be undone). */
const oneWay = (field: string, advice: string): ReturnType<typeof cel> =>
  cel(`!has(oldSelf.${field}) || !oldSelf.${field} || (has(self.${field}) && self.${field})`, `spec.${field} cannot be unset once true; ${advice}`, `.${field}`);

export const defaultHoldSeconds = 60;

export const ReservationSpec = strictObject(
  {
    providerRef: strictObject({ name: ObjectName }, { description: "the compute Provider in this namespace" }),
    cpu: described(Quantity, "cpu to hold, a quantity (e.g. 4, 500m)"),
    memory: described(Quantity, "memory to hold, a quantity (e.g. 16Gi)"),
    start: described(Timestamp, "the window opens (RFC 3339); the window is [start, end)"),
    end: described(Timestamp, "the window closes; after start"),
    holdSeconds: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 86400, default: defaultHoldSeconds, description: "how long a Tentative hold lasts without spec.confirmed before it Expires (default 60)" }),
    ),
    confirmed: Type.Optional(Type.Boolean({ description: "true confirms a Tentative hold (Tentative → Confirmed); cannot be unset" })),
    release: Type.Optional(Type.Boolean({ description: "true gives the capacity back now (→ Released); cannot be unset" })),
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
      ...["providerRef", "cpu", "memory", "start", "end"].map(fixed),
      cel("(has(self.holdSeconds) ? self.holdSeconds : 60) == (has(oldSelf.holdSeconds) ? oldSelf.holdSeconds : 60)", "spec.holdSeconds is immutable once the Reservation exists", ".holdSeconds"),
      oneWay("confirmed", "set spec.release to give the capacity back"),
      oneWay("release", "create a new Reservation to hold capacity again"),
    ],
  },
);
export type ReservationSpec = Static<typeof ReservationSpec>;

export const reservationStates = ["Pending", "Tentative", "Confirmed", "Active", "Released", "Expired", "Rejected"] as const;
export type ReservationState = (typeof reservationStates)[number];

export const ReservationStatus = strictObject({
  ...statusBase,
  state: Type.Optional(
    StringEnum(reservationStates, {
      description: "Pending (not decided yet), Tentative (held until holdUntil), Confirmed (before the window), Active (in the window), Released, Expired (never confirmed), Rejected (did not fit)",
    }),
  ),
  admittedAt: Type.Optional(described(Timestamp, "when the capacity was admitted")),
  holdUntil: Type.Optional(described(Timestamp, "a Tentative hold Expires at this time unless spec.confirmed is set")),
  releasedAt: Type.Optional(described(Timestamp, "when the capacity was given back (Released or Expired)")),
  quotaRef: Type.Optional(
    strictObject({ name: ObjectName }, { description: "the ResourceQuota that enforces the reservation while Confirmed or Active: in status.workspace for a peer's reservation, else in this namespace" }),
  ),
  workspace: Type.Optional(
    described(DnsLabel, "a peer's reservation, while Confirmed or Active: the namespace this cluster made for it, where the peer's steps run under this reservation's quota alone (deleted when it ends)"),
  ),
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
    column("State", ".status.state"),
    column("Provider", ".spec.providerRef.name"),
    column("CPU", ".spec.cpu"),
    column("Memory", ".spec.memory"),
    column("Start", ".spec.start"),
    column("End", ".spec.end"),
    column("Workspace", ".status.workspace", { priority: 1 }),
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
  validations: [],
};
