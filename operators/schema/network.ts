// Network: a private IPFS network this cluster takes part in (cluster-scoped): swarm key Secret,
// bootstrap addresses, a kubo node managed by the operator or an external one, peer approval.
import { Type, type Static } from "typebox";
import type { KindDefinition } from "./kind.ts";
import {
  ageColumn,
  category,
  cel,
  column,
  Duration,
  group,
  HttpUrl,
  kindObject,
  Multiaddr,
  NamespacedSecretReference,
  PeerId,
  Quantity,
  readyColumn,
  reasonColumn,
  statusBase,
  StringEnum,
  strictObject,
  Timestamp,
  version,
} from "./common.ts";

export const ipfsModes = ["managed", "external"] as const;
export const approvalPolicies = ["auto", "manual"] as const;

export const IpfsNode = strictObject(
  {
    mode: StringEnum(ipfsModes, { description: "managed: the operator runs kubo; external: use apiURL" }),
    apiURL: Type.Optional(HttpUrl),
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "kubo image (managed)" })),
    storage: Type.Optional(Quantity),
    pubsub: Type.Optional(Type.Boolean({ description: "also announce over pubsub (never the only path)" })),
  },
  {
    "x-kubernetes-validations": [
      cel("self.mode != 'external' || has(self.apiURL)", "spec.ipfs.apiURL is required when spec.ipfs.mode is external", ".apiURL"),
      cel("self.mode != 'managed' || !has(self.apiURL)", "spec.ipfs.apiURL is only for mode external", ".apiURL"),
    ],
  },
);
export type IpfsNode = Static<typeof IpfsNode>;

export const NetworkSpec = strictObject({
  displayName: Type.Optional(Type.String({ maxLength: 128 })),
  swarmKeySecretRef: Type.Optional(
    strictObject(
      { namespace: NamespacedSecretReference.properties.namespace, name: NamespacedSecretReference.properties.name },
      { description: "the Secret holding key swarm.key; generated when absent" },
    ),
  ),
  bootstrap: Type.Optional(Type.Array(Multiaddr, { maxItems: 64, description: "multiaddrs (with /p2p/<peer ID>) to join through" })),
  ipfs: IpfsNode,
  approvalPolicy: StringEnum(approvalPolicies, {
    default: "manual",
    description: "auto: discovered peers are Accepted; manual: they stay Pending until an admin decides",
  }),
  discovery: Type.Optional(
    strictObject({
      interval: Type.Optional(Duration),
      unreachableAfterMissed: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "missed intervals before Unreachable" })),
      lostAfter: Type.Optional(Duration),
    }),
  ),
});
export type NetworkSpec = Static<typeof NetworkSpec>;

export const NetworkStatus = strictObject({
  ...statusBase,
  peerId: Type.Optional(PeerId),
  addresses: Type.Optional(Type.Array(Multiaddr, { maxItems: 64 })),
  swarmKeySecretRef: Type.Optional(NamespacedSecretReference),
  connectedPeers: Type.Optional(Type.Integer({ minimum: 0 })),
  lastPublished: Type.Optional(Timestamp),
});
export type NetworkStatus = Static<typeof NetworkStatus>;

export const Network = kindObject("Network", NetworkSpec, NetworkStatus);
export type Network = Static<typeof Network>;

export const networkKind: KindDefinition = {
  group,
  version,
  kind: "Network",
  plural: "networks",
  singular: "network",
  listKind: "NetworkList",
  scope: "Cluster",
  shortNames: ["anet"],
  categories: [category],
  description: "A private IPFS network: swarm key Secret, bootstrap addresses, a kubo node (managed or external), peer approval policy.",
  spec: NetworkSpec,
  status: NetworkStatus,
  printerColumns: [
    column("Mode", ".spec.ipfs.mode"),
    column("Approval", ".spec.approvalPolicy"),
    column("Peers", ".status.connectedPeers", { type: "integer" }),
    column("Peer ID", ".status.peerId", { priority: 1 }),
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
  validations: [],
};
