// Thin I/O of one grant's backend action: issue (converge role/view/schema or S3 user/policy, with
// the credentials kept in the grant's Secret) and revoke. Decisions are in accessGrantPlan.ts and
// backends/*Grant.ts.
import { grantNames, readGrantPlan, revokeReadGrantPlan, revokeStorageGrantPlan, storageGrantPlan } from "./backends/postgresGrant.ts";
import type { PostgresAdmin } from "./backends/postgresClient.ts";
import { randomBytes } from "node:crypto";
import { scramSha256Verifier } from "./backends/scram.ts";
import { s3GrantNames } from "./backends/s3Grant.ts";
import type { S3Admin } from "./backends/s3Client.ts";
import type { GrantAction } from "./accessGrantPlan.ts";
import type { PostgresConnection, S3Connection } from "../schema/provider.ts";
import type { IssuedRecord } from "../schema/accessGrant.ts";
import type { EgressPolicy } from "../runtime/egress.ts";
import { onFirstUse } from "../runtime/lazyImport.ts";

// The backends' clients (pg; the AWS SDK's S3 and IAM) are imported by the first grant on them.
const postgresBackend = onFirstUse(() => import("./backends/postgresClient.ts"));
const s3Backend = onFirstUse(() => import("./backends/s3Client.ts"));

/** Where the credentials work (status.access: no secret). */
export interface GrantAccess {
  endpoint?: string;
  bucket?: string;
  prefix?: string;
  database?: string;
  schema?: string;
  view?: string;
  role?: string;
}

export interface IssueResult {
  /** Secret data to store (all keys, including the kept password or key). */
  secret: Record<string, string>;
  access: GrantAccess;
}

export function postgresAdmin(conn: PostgresConnection, creds: Record<string, string>, egress?: EgressPolicy): PostgresAdmin {
  const ssl = conn.sslMode && conn.sslMode !== "disable" ? { rejectUnauthorized: conn.sslMode !== "require" } : undefined;
  return { host: conn.host, port: conn.port ?? 5432, database: conn.database, user: creds.username, password: creds.password, ...(ssl ? { ssl } : {}), ...(egress ? { egress } : {}) };
}

export function s3Admin(conn: S3Connection, creds: Record<string, string>, egress?: EgressPolicy): S3Admin {
  return {
    ...(egress ? { egress } : {}),
    endpoint: conn.endpoint,
    region: conn.region ?? "us-east-1",
    accessKeyId: creds.accessKeyId ?? "",
    secretAccessKey: creds.secretAccessKey ?? "",
    forcePathStyle: conn.forcePathStyle ?? true,
  };
}

interface IssueInput {
  action: GrantAction;
  key: string;
  adminCreds: Record<string, string>;
  /** The grant's Secret as it is now (its password or key is reused, never rotated per pass). */
  existing: Record<string, string> | undefined;
  expiresAt: Date;
  /** Where the backend may be reached (the manager's --egress-* flags). */
  egress?: EgressPolicy;
}

async function issuePostgres(input: IssueInput & { action: { kind: "postgres-read" | "postgres-write" } }): Promise<IssueResult> {
  const { action, key, existing } = input;
  const { applyGrantPlan, credentialsUrl } = await postgresBackend();
  const admin = postgresAdmin(action.connection, input.adminCreds, input.egress);
  const names = grantNames(key);
  const password = existing?.password || randomBytes(24).toString("base64url");
  const role = { database: action.connection.database, passwordVerifier: scramSha256Verifier(password, randomBytes(16)), validUntil: input.expiresAt };
  const storageNames = { role: names.role, schema: action.kind === "postgres-write" ? action.schema : names.schema };
  const plan =
    action.kind === "postgres-read"
      ? readGrantPlan({ ...role, names, source: action.source, allowedSchemas: action.connection.schemas })
      : storageGrantPlan({ ...role, names: storageNames, sharedSchema: true });
  await applyGrantPlan(admin, plan);
  const host = action.connection.host;
  const port = action.connection.port ?? 5432;
  const schema = plan.names.schema;
  const view = plan.view?.name;
  const url = credentialsUrl({ host, port, database: action.connection.database, user: names.role, password, schema, ...(view ? { view } : {}) });
  const secret: Record<string, string> = { host, port: String(port), database: action.connection.database, username: names.role, password, schema, url };
  if (view) secret.view = view;
  return { secret, access: { endpoint: `${host}:${port}`, database: action.connection.database, schema, role: names.role, ...(view ? { view } : {}) } };
}

async function issueS3(input: IssueInput & { action: { kind: "s3-read" | "s3-write" } }): Promise<IssueResult> {
  const { action, key, existing } = input;
  const { applyS3Grant, issueS3AccessKey } = await s3Backend();
  const admin = s3Admin(action.connection, input.adminCreds, input.egress);
  const names = s3GrantNames(key, action.scope);
  await applyS3Grant(admin, names, action.kind === "s3-write" ? "write" : "read");
  const kept = existing?.accessKeyId && existing.secretAccessKey ? { accessKeyId: existing.accessKeyId, secretAccessKey: existing.secretAccessKey } : undefined;
  const keys = kept ?? (await issueS3AccessKey(admin, names));
  const secret = {
    endpoint: admin.endpoint,
    region: admin.region,
    bucket: names.bucket,
    prefix: names.prefix,
    accessKeyId: keys.accessKeyId,
    secretAccessKey: keys.secretAccessKey,
  };
  return { secret, access: { endpoint: admin.endpoint, bucket: names.bucket, prefix: names.prefix, role: names.user } };
}

/** Converges the backend for the grant and returns its credentials (reused when kept). */
export function issueGrant(input: IssueInput): Promise<IssueResult> {
  const action = input.action;
  if (action.kind === "postgres-read" || action.kind === "postgres-write") return issuePostgres({ ...input, action });
  return issueS3({ ...input, action });
}

/**
 * Ends what `record` says was issued, from the record alone (the Resource and Provider may be
 * gone); idempotent. Throws when the backend cannot confirm it: the caller keeps its finalizer.
 */
export async function revokeIssued(record: IssuedRecord, adminCreds: Record<string, string>, egress?: EgressPolicy): Promise<void> {
  if (record.postgres) {
    const p = record.postgres;
    const conn: PostgresConnection = { host: p.host, port: p.port, database: p.database, credentialsSecretRef: record.adminSecretRef, ...(p.sslMode ? { sslMode: p.sslMode as PostgresConnection["sslMode"] } : {}) };
    const names = { role: p.role, schema: p.schema };
    const plan = record.backend === "postgres-read" ? revokeReadGrantPlan(names) : revokeStorageGrantPlan(names, { sharedSchema: true });
    const { applyRevokePlan } = await postgresBackend();
    return applyRevokePlan(postgresAdmin(conn, adminCreds, egress), plan);
  }
  if (record.s3) {
    const r = record.s3;
    const conn: S3Connection = { endpoint: r.endpoint, region: r.region, forcePathStyle: r.forcePathStyle, credentialsSecretRef: record.adminSecretRef };
    const { revokeS3Grant } = await s3Backend();
    return revokeS3Grant(s3Admin(conn, adminCreds, egress), { user: r.user, policyName: r.policyName, bucket: r.bucket, prefix: r.prefix, owned: r.owned });
  }
  throw new Error(`the issued record of backend ${record.backend} names no ${record.backend.startsWith("s3") ? "s3" : "postgres"} target`);
}

/** The Provider connection's admin Secret name. */
export function adminSecretName(action: GrantAction): string {
  return action.connection.credentialsSecretRef.name;
}
