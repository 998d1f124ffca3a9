// AccessGrant: credentials a provider issues for one Resource to one grantee (read for data,
// write for storage), until expiresAt. The credentials go into a Secret the grant owns; status
// names the Secret, never its content.
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
  immutable,
  kindObject,
  LocalObjectReference,
  ObjectName,
  readyColumn,
  reasonColumn,
  SecretReference,
  statusBase,
  StringEnum,
  strictObject,
  Timestamp,
  version,
} from "./common.ts";

export const granteeKinds = ["User", "Group", "ServiceAccount", "Peer"] as const;
export const grantModes = ["read", "write"] as const;

export const Grantee = strictObject(
  {
    kind: StringEnum(granteeKinds),
    name: Type.String({ minLength: 1, maxLength: 253 }),
    namespace: Type.Optional(DnsLabel),
    peer: Type.Optional(ObjectName),
    project: Type.Optional(
      described(DnsLabel, "for a Peer grantee: the project it acts for (a restricted Resource is granted to a peer only for one of its projects that lists the peer's cluster)"),
    ),
  },
  {
    description: "who receives the credentials; peer: the Peer whose cluster the user or group belongs to",
    "x-kubernetes-validations": [
      cel(
        "has(self.namespace) == (self.kind == 'ServiceAccount')",
        "spec.grantee.namespace must be set for a ServiceAccount grantee, and only then",
        ".namespace",
      ),
      cel("!has(self.project) || self.kind == 'Peer'", "spec.grantee.project is for a Peer grantee only", ".project"),
      cel("self == oldSelf", "spec.grantee is immutable; create a new AccessGrant"),
    ],
  },
);
export type Grantee = Static<typeof Grantee>;

export const AccessGrantSpec = strictObject({
  resourceRef: strictObject(
    { name: ObjectName },
    { description: "the Resource in this namespace", ...immutable("spec.resourceRef", "create a new AccessGrant") },
  ),
  grantee: Grantee,
  mode: StringEnum(grantModes, {
    description: "read (data resources) or write (storage resources)",
    ...immutable("spec.mode", "create a new AccessGrant"),
  }),
  expiresAt: described(Timestamp, "the credentials stop working then, and are deleted"),
  purpose: Type.Optional(Type.String({ maxLength: 1024 })),
  pipelineRunRef: Type.Optional(LocalObjectReference),
});
export type AccessGrantSpec = Static<typeof AccessGrantSpec>;

export const issuedBackends = ["postgres-read", "postgres-write", "s3-read", "s3-write"] as const;

/**
 * What was issued, recorded before the backend is touched: revocation works from this record
 * alone (plus the admin Secret it names), even when the Resource or Provider is gone. No secret.
 */
export const IssuedRecord = strictObject(
  {
    backend: StringEnum(issuedBackends),
    adminSecretRef: SecretReference,
    postgres: Type.Optional(
      strictObject({
        host: Type.String({ minLength: 1, maxLength: 253 }),
        port: Type.Integer({ minimum: 1, maximum: 65535 }),
        database: Type.String({ minLength: 1, maxLength: 63 }),
        sslMode: Type.Optional(Type.String({ maxLength: 16 })),
        role: Type.String({ maxLength: 63 }),
        schema: Type.String({ maxLength: 63 }),
        view: Type.Optional(Type.String({ maxLength: 63 })),
      }),
    ),
    s3: Type.Optional(
      strictObject({
        endpoint: Type.String({ minLength: 1, maxLength: 2048 }),
        region: Type.String({ maxLength: 64 }),
        forcePathStyle: Type.Boolean(),
        user: Type.String({ maxLength: 64 }),
        policyName: Type.String({ maxLength: 128 }),
        bucket: Type.String({ maxLength: 63 }),
        prefix: Type.String({ maxLength: 1024 }),
        owned: Type.Boolean(),
        keyId: Type.Optional(Type.String({ maxLength: 128, description: "the access key id issued (not its secret)" })),
      }),
    ),
    planHash: Type.Optional(Type.String({ maxLength: 64, description: "hash of the plan last applied in full; absent until the backend has it" })),
  },
  { description: "what was issued in the backend, kept so revocation needs neither the Resource nor the Provider" },
);
export type IssuedRecord = Static<typeof IssuedRecord>;

export const AccessGrantStatus = strictObject({
  ...statusBase,
  secretRef: Type.Optional(SecretReference),
  issued: Type.Optional(IssuedRecord),
  issuedAt: Type.Optional(Timestamp),
  revokedAt: Type.Optional(Timestamp),
  access: Type.Optional(
    strictObject(
      {
        endpoint: Type.Optional(Type.String({ maxLength: 2048 })),
        bucket: Type.Optional(Type.String({ maxLength: 63 })),
        prefix: Type.Optional(Type.String({ maxLength: 1024 })),
        database: Type.Optional(Type.String({ maxLength: 63 })),
        schema: Type.Optional(Type.String({ maxLength: 63 })),
        view: Type.Optional(Type.String({ maxLength: 127 })),
        role: Type.Optional(Type.String({ maxLength: 63 })),
      },
      { description: "where the credentials work (no secret here)" },
    ),
  ),
});
export type AccessGrantStatus = Static<typeof AccessGrantStatus>;

export const AccessGrant = kindObject("AccessGrant", AccessGrantSpec, AccessGrantStatus);
export type AccessGrant = Static<typeof AccessGrant>;

export const accessGrantKind: KindDefinition = {
  group,
  version,
  kind: "AccessGrant",
  plural: "accessgrants",
  singular: "accessgrant",
  listKind: "AccessGrantList",
  scope: "Namespaced",
  shortNames: ["agrant"],
  categories: [category],
  description: "Credentials a provider issues for one Resource to one grantee (read or write), until expiresAt.",
  spec: AccessGrantSpec,
  status: AccessGrantStatus,
  printerColumns: [
    column("Resource", ".spec.resourceRef.name"),
    column("Mode", ".spec.mode"),
    column("Grantee Kind", ".spec.grantee.kind", { priority: 1 }),
    column("Grantee", ".spec.grantee.name"),
    column("Expires", ".spec.expiresAt"),
    column("Secret", ".status.secretRef.name", { priority: 1 }),
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
  validations: [],
};
