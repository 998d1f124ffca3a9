// Peer: another member cluster in one Network (cluster-scoped), discovered or declared by hand.
// The peer ID and network are its identity and never change.
import { Type, type Static } from "typebox";
import type { KindDefinition } from "./kind.ts";
import {
  ageColumn,
  category,
  column,
  group,
  HttpUrl,
  immutable,
  kindObject,
  Multiaddr,
  ObjectName,
  peerIdWith,
  readyColumn,
  reasonColumn,
  statusBase,
  StringEnum,
  strictObject,
  Timestamp,
  version,
} from "./common.ts";

export const approvals = ["Pending", "Accepted", "Rejected"] as const;
export const reachabilities = ["Discovered", "Connected", "Unreachable", "Lost"] as const;

export const PeerSpec = strictObject({
  peerId: peerIdWith(immutable("spec.peerId", "create a new Peer")),
  networkRef: strictObject(
    { name: ObjectName },
    { description: "the Network this peer was found in", ...immutable("spec.networkRef", "create a new Peer") },
  ),
  addresses: Type.Optional(Type.Array(Multiaddr, { maxItems: 32 })),
  approval: StringEnum(approvals, { default: "Pending", description: "set Accepted or Rejected to decide (Rejected also stops kubo from talking to it)" }),
  origin: Type.Optional(StringEnum(["Discovered", "Declared"] as const, { description: "Declared: written by hand or GitOps" })),
});
export type PeerSpec = Static<typeof PeerSpec>;

export const PeerDescriptor = strictObject(
  {
    cid: Type.String({ maxLength: 128 }),
    clusterName: Type.String({ maxLength: 63 }),
    displayName: Type.Optional(Type.String({ maxLength: 128 })),
    apiEndpoint: HttpUrl,
    publicKey: Type.String({ maxLength: 256 }),
    networks: Type.Optional(Type.Array(Type.String({ maxLength: 253 }), { maxItems: 64 })),
    issuedAt: Timestamp,
    expiresAt: Timestamp,
  },
  { description: "the last descriptor whose signature verified" },
);
export type PeerDescriptor = Static<typeof PeerDescriptor>;

export const PeerTrust = strictObject(
  {
    score: Type.Integer({ minimum: 0, maximum: 100, description: "availability × (½ + ½ × the share of this cluster's runs on it that succeeded, with one of each assumed): docs/decisions/peer-trust.md" }),
    availability: Type.Integer({ minimum: 0, maximum: 100, description: "percent of the observed time it was Connected (recent time weighs more: a 7-day half-life)" }),
    connectedSeconds: Type.Integer({ minimum: 0, description: "decayed seconds Connected" }),
    observedSeconds: Type.Integer({ minimum: 0, description: "decayed seconds observed" }),
    observedAt: Type.String({ format: "date-time", description: "until when the seconds above count; advanced when lastSeen's minute or the reachability changes, or hourly" }),
    runsSucceeded: Type.Integer({ minimum: 0, description: "this cluster's PipelineRuns whose steps on this peer succeeded (runs that still exist)" }),
    runsFailed: Type.Integer({ minimum: 0, description: "…whose steps on it failed, or whose reservation it rejected or let expire" }),
  },
  { description: "how far this cluster trusts the peer to run its steps, from its reachability history and how this cluster's runs on it ended" },
);
export type PeerTrust = Static<typeof PeerTrust>;

export const PeerStatus = strictObject({
  ...statusBase,
  reachability: Type.Optional(StringEnum(reachabilities)),
  lastSeen: Type.Optional(Type.String({ format: "date-time", description: "last contact, to the minute (status is written only when something a reader acts on changes)" })),
  rttMilliseconds: Type.Optional(Type.Integer({ minimum: 0, description: "round-trip time to its API; updated when it moves by at least 20 ms and 50 %" })),
  missedIntervals: Type.Optional(Type.Integer({ minimum: 0, description: "probe intervals without contact; updated when the reachability changes or the count doubles" })),
  descriptor: Type.Optional(PeerDescriptor),
  trust: Type.Optional(PeerTrust),
});
export type PeerStatus = Static<typeof PeerStatus>;

export const Peer = kindObject("Peer", PeerSpec, PeerStatus);
export type Peer = Static<typeof Peer>;

export const peerKind: KindDefinition = {
  group,
  version,
  kind: "Peer",
  plural: "peers",
  singular: "peer",
  listKind: "PeerList",
  scope: "Cluster",
  shortNames: ["apeer"],
  categories: [category],
  description: "Another member cluster in a Network, discovered or declared; approval Pending, Accepted or Rejected.",
  spec: PeerSpec,
  status: PeerStatus,
  printerColumns: [
    column("Cluster", ".status.descriptor.clusterName"),
    column("Network", ".spec.networkRef.name"),
    column("Approval", ".spec.approval"),
    column("Reachability", ".status.reachability"),
    column("Trust", ".status.trust.score", { type: "integer" }),
    column("RTT(ms)", ".status.rttMilliseconds", { type: "integer", priority: 1 }),
    column("Last Seen", ".status.lastSeen", { type: "date" }),
    column("Peer ID", ".spec.peerId", { priority: 1 }),
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
  validations: [],
};
