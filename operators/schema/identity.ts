// Identity: this cluster's identity in the federation (cluster-scoped; one per cluster). The
// private key stays in a Secret; status carries only public facts.
import { Type, type Static } from "typebox";
import type { KindDefinition } from "./kind.ts";
import {
  ageColumn,
  category,
  column,
  DnsLabel,
  Duration,
  group,
  HttpUrl,
  kindObject,
  NamespacedSecretReference,
  ObjectName,
  PeerId,
  readyColumn,
  reasonColumn,
  statusBase,
  strictObject,
  Timestamp,
  version,
} from "./common.ts";

export const IdentitySpec = strictObject({
  clusterName: Type.String({
    minLength: 1,
    maxLength: 63,
    pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    description: "this cluster's name in the federation (DNS label); peers see it in the descriptor",
  }),
  displayName: Type.String({ minLength: 1, maxLength: 128 }),
  apiEndpoint: HttpUrl,
  keySecretRef: Type.Optional(
    strictObject(
      { namespace: DnsLabel, name: ObjectName },
      { description: "where the Ed25519 key is kept (generated once when absent); default archipel-system/archipel-identity" },
    ),
  ),
  descriptorValidity: Type.Optional(Duration),
});
export type IdentitySpec = Static<typeof IdentitySpec>;

export const NetworkPublication = strictObject({
  network: ObjectName,
  peerId: Type.Optional(PeerId),
  descriptorCID: Type.Optional(Type.String({ maxLength: 128 })),
  ipnsName: Type.Optional(Type.String({ maxLength: 128 })),
  publishedAt: Type.Optional(Timestamp),
});
export type NetworkPublication = Static<typeof NetworkPublication>;

export const IdentityStatus = strictObject({
  ...statusBase,
  publicKey: Type.Optional(Type.String({ maxLength: 256, description: "the Ed25519 public key, base64 (public by design)" })),
  keySecretRef: Type.Optional(NamespacedSecretReference),
  descriptorCID: Type.Optional(Type.String({ maxLength: 128, description: "CID of the current signed descriptor" })),
  descriptorIssuedAt: Type.Optional(Timestamp),
  descriptorExpiresAt: Type.Optional(Timestamp),
  networks: Type.Optional(
    Type.Array(NetworkPublication, { maxItems: 64, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["network"] }),
  ),
});
export type IdentityStatus = Static<typeof IdentityStatus>;

export const Identity = kindObject("Identity", IdentitySpec, IdentityStatus);
export type Identity = Static<typeof Identity>;

export const identityKind: KindDefinition = {
  group,
  version,
  kind: "Identity",
  plural: "identities",
  singular: "identity",
  listKind: "IdentityList",
  scope: "Cluster",
  shortNames: ["aid"],
  categories: [category],
  description: "This cluster's identity in the federation: name, API endpoint and signing key (in a Secret).",
  spec: IdentitySpec,
  status: IdentityStatus,
  printerColumns: [
    column("Cluster", ".spec.clusterName"),
    column("Endpoint", ".spec.apiEndpoint"),
    column("Descriptor", ".status.descriptorCID", { priority: 1 }),
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
  validations: [],
};
