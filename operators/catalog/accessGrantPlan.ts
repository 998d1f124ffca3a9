// What an AccessGrant means, as pure decisions: which backend action its Resource and mode call
// for (or why none), whether it is live or expired, who it is for as a visibility Caller, and the
// names derived from it. No I/O and no clock here: the reconciler passes `now` in.
import { createHash } from "node:crypto";
import type { PeerApproval, Caller } from "./visibility.ts";
import type { ReadSource } from "./backends/postgresGrant.ts";
import type { S3GrantScope } from "./backends/s3Grant.ts";
import type { AccessGrant, Grantee } from "../schema/accessGrant.ts";
import type { PostgresConnection, Provider, S3Connection } from "../schema/provider.ts";
import type { Resource } from "../schema/resource.ts";

export const AccessGrantReason = {
  Issued: "Issued",
  UnsupportedGrant: "UnsupportedGrant",
  ResourceNotFound: "ResourceNotFound",
  ProviderNotFound: "ProviderNotFound",
  CredentialsNotFound: "CredentialsNotFound",
  NotVisible: "NotVisible",
  BackendError: "BackendError",
  Expired: "Expired",
  /** A child's name (Secret, Role, RoleBinding) is held by an object this grant does not control. */
  NameTaken: "NameTaken",
  /** Revocation did not succeed: the finalizer stays and the controller retries. */
  RevokeFailed: "RevokeFailed",
} as const;
export type AccessGrantReason = (typeof AccessGrantReason)[keyof typeof AccessGrantReason];

/** The backend action one grant calls for. */
export type GrantAction =
  | { kind: "postgres-read"; connection: PostgresConnection; source: ReadSource }
  | { kind: "postgres-write"; connection: PostgresConnection; schema: string }
  | { kind: "s3-read"; connection: S3Connection; scope: S3GrantScope }
  | { kind: "s3-write"; connection: S3Connection; scope: S3GrantScope };

export type GrantActionDecision = { ok: true; action: GrantAction } | { ok: false; reason: AccessGrantReason; message: string };

function unsupported(message: string): GrantActionDecision {
  return { ok: false, reason: AccessGrantReason.UnsupportedGrant, message };
}

function postgresReadSource(pg: NonNullable<NonNullable<Resource["spec"]["data"]>["postgres"]>): ReadSource | undefined {
  if (pg.query) return { kind: "query", sql: pg.query };
  if (!pg.table) return undefined;
  return { kind: "table", schema: pg.table.schema ?? "public", table: pg.table.name, ...(pg.table.columns ? { columns: pg.table.columns } : {}) };
}

function sourceOf(provider: Provider): string {
  return provider.spec.data?.source ?? "unknown";
}

function dataAction(resource: Resource, provider: Provider): GrantActionDecision {
  const data = resource.spec.data ?? {};
  const backend = provider.spec.data;
  const source = data.postgres ? postgresReadSource(data.postgres) : undefined;
  if (source && backend?.postgres) return { ok: true, action: { kind: "postgres-read", connection: backend.postgres, source } };
  if (data.s3 && backend?.s3) return { ok: true, action: { kind: "s3-read", connection: backend.s3, scope: { kind: "exact", bucket: data.s3.bucket, prefix: data.s3.key } } };
  return unsupported(`spec.mode read is not supported for this data Resource (source ${sourceOf(provider)}): only postgres and s3 data can be granted`);
}

/** The Resource's prefix is the Resource's; each grant writes under a prefix of its own below it. */
function grantsUnder(prefix: string | undefined): { under?: string } {
  if (!prefix) return {};
  return { under: prefix.endsWith("/") ? prefix : `${prefix}/` };
}

function storageAction(resource: Resource, provider: Provider): GrantActionDecision {
  const storage = resource.spec.storage ?? {};
  const backend = provider.spec.storage;
  if (storage.s3 && backend?.s3) {
    return { ok: true, action: { kind: "s3-write", connection: backend.s3, scope: { kind: "prefix", bucket: storage.s3.bucket, ...grantsUnder(storage.s3.prefix) } } };
  }
  if (storage.postgres && backend?.postgres) return { ok: true, action: { kind: "postgres-write", connection: backend.postgres, schema: storage.postgres.schema } };
  return unsupported("spec.mode write: the storage Resource and its Provider do not name the same backend (s3 or postgres)");
}

/** The backend action for `mode` on `resource` of `provider`, or why there is none. */
export function decideGrantAction(mode: string, resource: Resource, provider: Provider): GrantActionDecision {
  const type = resource.spec.type;
  if (type === "data" && mode === "read") return dataAction(resource, provider);
  if (type === "storage" && mode === "write") return storageAction(resource, provider);
  return unsupported(`spec.mode ${mode} is not supported on a ${type} Resource: grant read on data, write on storage`);
}

/** A grant's phase at `now`: live (with the delay until it expires) or expired. */
export function grantPhase(expiresAt: string, now: Date): { expired: true } | { expired: false; remainingMs: number } {
  const at = Date.parse(expiresAt);
  if (Number.isNaN(at)) return { expired: true };
  const remainingMs = at - now.getTime();
  return remainingMs <= 0 ? { expired: true } : { expired: false, remainingMs };
}

/**
 * The visibility Caller a grantee stands for; a ServiceAccount is a local user. A local grantee
 * sees private Resources ("all" listable namespaces): RBAC already let the grant's creator create
 * it in the Resource's namespace.
 */
export function granteeCaller(grantee: Grantee, peerApproval: (peer: string) => PeerApproval, groupsOfUser: readonly string[] = [], clusterOfPeer: (peer: string) => string = (peer) => peer): Caller {
  switch (grantee.kind) {
    case "Peer":
      return { kind: "peer", cluster: clusterOfPeer(grantee.name), approval: peerApproval(grantee.name), signature: "Verified", ...(grantee.project ? { project: grantee.project } : {}) };
    case "Group":
      return { kind: "local", user: "", groups: [grantee.name], listableNamespaces: "all" };
    case "ServiceAccount":
      return { kind: "local", user: `system:serviceaccount:${grantee.namespace ?? ""}:${grantee.name}`, groups: [], listableNamespaces: "all" };
    default:
      return { kind: "local", user: grantee.name, groups: groupsOfUser, listableNamespaces: "all" };
  }
}

/** Longest name of a Secret, Role or RoleBinding (a DNS subdomain). */
const maxObjectName = 253;
/** Longest label value. */
const maxLabelValue = 63;

/**
 * `base` + `suffix` in at most `max` characters. A base too long is cut and a hash of all of it
 * appended, so names stay deterministic and two long bases cut alike still differ.
 */
export function boundedName(base: string, suffix: string, max: number): string {
  const whole = `${base}${suffix}`;
  if (whole.length <= max) return whole;
  const hash = createHash("sha256").update(base).digest("hex").slice(0, 10);
  const cut = base.slice(0, Math.max(0, max - suffix.length - hash.length - 1)).replace(/[-._]+$/, "");
  return cut ? `${cut}-${hash}${suffix}` : `${hash}${suffix}`;
}

/** The Secret holding the grant's credentials. */
export function credentialsSecretName(grantName: string): string {
  return boundedName(grantName, "-credentials", maxObjectName);
}

/** The Role and RoleBinding that let the grantee read that Secret (one name for both). */
export function credentialsReaderName(grantName: string): string {
  return boundedName(grantName, "-credentials-reader", maxObjectName);
}

/** The grant's name as a label value (at most 63 characters). */
export function grantLabelValue(grantName: string): string {
  return boundedName(grantName, "", maxLabelValue);
}

/** Backend names come from the UID: a deleted and re-created grant of the same name gets new ones. */
export function grantKey(grant: AccessGrant): string {
  const uid = grant.metadata?.uid;
  if (!uid) throw new Error("an AccessGrant without metadata.uid cannot be issued");
  return `g-${uid}`;
}

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/**
 * The RBAC subject that may read the grant's Secret. A Peer has no identity in this cluster: it
 * gets its credentials through the API's signed federation route, so the API's ServiceAccount
 * (`peerReader`) reads them on its behalf; without one, nobody is bound.
 */
export function granteeSubject(grantee: Grantee, peerReader?: ServiceAccountRef): { kind: string; name: string; apiGroup?: string; namespace?: string } | undefined {
  if (grantee.kind === "User" || grantee.kind === "Group") return { kind: grantee.kind, name: grantee.name, apiGroup: "rbac.authorization.k8s.io" };
  if (grantee.kind === "ServiceAccount") return { kind: "ServiceAccount", name: grantee.name, namespace: grantee.namespace ?? "" };
  return peerReader ? { kind: "ServiceAccount", name: peerReader.name, namespace: peerReader.namespace } : undefined;
}
