// What a grant issued, as pure decisions: the record written before the backend is touched (so
// revocation needs neither the Resource nor the Provider), the plan hash that lets an unchanged
// grant skip the backend, which Peer changes matter to grants, and a status-safe summary of a
// backend error. No I/O and no clock here.
import { createHash } from "node:crypto";
import type { IssuedRecord } from "../schema/accessGrant.ts";
import type { GrantAction } from "./accessGrantPlan.ts";
import { defaultViewName, grantNames } from "./backends/postgresGrant.ts";
import { s3GrantNames } from "./backends/s3Grant.ts";

/** The record of what issuing `action` for the grant `key` creates (no planHash, no key id yet). */
export function issuedRecordOf(action: GrantAction, key: string): IssuedRecord {
  const adminSecretRef = { name: action.connection.credentialsSecretRef.name };
  if (action.kind === "postgres-read" || action.kind === "postgres-write") {
    const c = action.connection;
    const names = grantNames(key);
    const place =
      action.kind === "postgres-read" ? { role: names.role, schema: names.schema, view: defaultViewName } : { role: names.role, schema: action.schema };
    return { backend: action.kind, adminSecretRef, postgres: { host: c.host, port: c.port ?? 5432, database: c.database, ...(c.sslMode ? { sslMode: c.sslMode } : {}), ...place } };
  }
  const c = action.connection;
  const n = s3GrantNames(key, action.scope);
  return {
    backend: action.kind,
    adminSecretRef,
    s3: { endpoint: c.endpoint, region: c.region ?? "us-east-1", forcePathStyle: c.forcePathStyle ?? true, user: n.user, policyName: n.policyName, bucket: n.bucket, prefix: n.prefix, owned: n.owned },
  };
}

/** JSON with object keys sorted, so equal values hash alike whatever order they were built in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Where the record points: everything but the plan hash and the key id. */
function targetOf(record: IssuedRecord): unknown {
  const { planHash: _hash, ...rest } = record;
  if (!rest.s3) return rest;
  const { keyId: _key, ...s3 } = rest.s3;
  return { ...rest, s3 };
}

/** True when both records name the same backend objects (same role, user, place, endpoint). */
export function sameTarget(a: IssuedRecord, b: IssuedRecord): boolean {
  return canonicalJson(targetOf(a)) === canonicalJson(targetOf(b));
}

export interface PlanInput {
  action: GrantAction;
  record: IssuedRecord;
  expiresAt: string;
  /** The grant's `archipel.io/reissue` annotation: changing it forces one full re-issue. */
  reissue?: string;
}

/** A hash of everything the backend state of a grant derives from. Equal hash: nothing to apply. */
export function planHash(input: PlanInput): string {
  const body = canonicalJson({ action: input.action, target: targetOf(input.record), expiresAt: input.expiresAt, reissue: input.reissue ?? "" });
  return createHash("sha256").update(body).digest("hex").slice(0, 32);
}

/**
 * Remembers each Peer's approval as last seen and says when it changed. Only approval decides
 * what a Peer grantee may see, so a heartbeat (status.lastSeen) or descriptor refresh is no change.
 */
export class PeerApprovalTracker {
  private readonly seen = new Map<string, string>();

  /** `approval` is undefined for a Peer that no longer exists. */
  changed(peer: string, approval: string | undefined): boolean {
    const now = approval ?? "<absent>";
    const before = this.seen.get(peer);
    if (approval === undefined) this.seen.delete(peer);
    else this.seen.set(peer, now);
    return before !== now && !(before === undefined && approval === undefined);
  }
}

/** A short, status-safe account of a backend failure: a code, never the server's text. */
export function backendFailure(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number } };
  const code = typeof e.code === "string" ? e.code : undefined;
  if (code && /^[0-9A-Z]{5}$/.test(code)) return `PostgreSQL error ${code}`;
  const http = e.$metadata?.httpStatusCode;
  if (http) return `S3/IAM error ${typeof e.name === "string" ? e.name : "unknown"} (HTTP ${http})`;
  if (code && /^E[A-Z]+$/.test(code)) return `cannot reach the backend (${code})`;
  return "the backend call failed";
}
