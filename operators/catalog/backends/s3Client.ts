// Thin executor of S3 storage grants (s3Grant.ts) against an S3 server with an IAM-compatible API
// (AWS IAM, SeaweedFS's embedded IAM on its S3 port), as the provider's admin identity.
// No decision is taken here.
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  GetUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUserPoliciesCommand,
  PutUserPolicyCommand,
} from "@aws-sdk/client-iam";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import type { EgressPolicy } from "../../runtime/egress.ts";
import { checkUrl, egressAgents } from "../../runtime/egressHttp.ts";
import { s3BackendError } from "./s3Errors.ts";
import { type S3Access, type S3GrantNames, s3PolicyDocument } from "./s3Grant.ts";

/** How the provider reaches its S3 server as admin. */
export interface S3Admin {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The IAM API's URL when it is not the S3 endpoint (AWS: the IAM endpoint). */
  iamEndpoint?: string;
  /** Address buckets as endpoint/bucket (default true: self-hosted servers have no per-bucket DNS names). */
  forcePathStyle?: boolean;
  /** The egress policy the endpoints are checked against (the manager always sets it). */
  egress?: EgressPolicy;
  /** Bounds of every S3 and IAM request (default defaultS3Timeouts). */
  timeouts?: S3Timeouts;
}

/** How long one S3 or IAM request may take to connect, and in all (the SDK retries a timed-out request up to twice). */
export interface S3Timeouts {
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

/** A silent endpoint (accepts, never answers) must fail the grant pass, not hold a controller worker forever. */
export const defaultS3Timeouts: S3Timeouts = { connectionTimeoutMs: 5_000, requestTimeoutMs: 30_000 };

/** The SDK's node handler options: without throwOnRequestTimeout an expired request only logs a warning and goes on waiting. */
function requestHandler(timeouts: S3Timeouts): { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true } {
  return { connectionTimeout: timeouts.connectionTimeoutMs, requestTimeout: timeouts.requestTimeoutMs, throwOnRequestTimeout: true };
}

/** What the grantee gets (the reconciler puts it in the grant's Secret). */
export interface S3GrantCredentials {
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** An S3 client whose every request is bounded (defaultS3Timeouts; the caller may add an abortSignal per call). */
export function s3ClientFor(
  endpoint: string,
  region: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  forcePathStyle = true,
): S3Client {
  return adminS3({ endpoint, region, accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, forcePathStyle });
}

/**
 * Every request bounded in time, and connections through the egress policy: the endpoint
 * checked now, host names at each connect.
 */
function handlerFor(admin: S3Admin, endpoint: string): ReturnType<typeof requestHandler> & Partial<ReturnType<typeof egressAgents>> {
  const bounded = requestHandler(admin.timeouts ?? defaultS3Timeouts);
  if (!admin.egress) return bounded;
  checkUrl(new URL(endpoint), "data", admin.egress);
  return { ...bounded, ...egressAgents(admin.egress) };
}

/** An S3 client as `admin` (any identity: a grant's too), bounded and through its egress policy. */
export function adminS3(admin: S3Admin): S3Client {
  const credentials = { accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey };
  return new S3Client({ endpoint: admin.endpoint, region: admin.region, credentials, forcePathStyle: admin.forcePathStyle ?? true, requestHandler: handlerFor(admin, admin.endpoint) });
}

function adminIam(admin: S3Admin): IAMClient {
  const endpoint = admin.iamEndpoint ?? admin.endpoint;
  const credentials = { accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey };
  return new IAMClient({ endpoint, region: admin.region, credentials, requestHandler: handlerFor(admin, endpoint) });
}

function errorName(err: unknown): string {
  return (err as { name?: string }).name ?? "";
}

function isNoSuchEntity(err: unknown): boolean {
  return ["NoSuchEntity", "NoSuchEntityException"].includes(errorName(err));
}

function isMissingBucket(err: unknown): boolean {
  return ["NotFound", "NoSuchBucket"].includes(errorName(err)) || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (err) {
    if (!isMissingBucket(err)) throw err;
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (errorName(err) !== "BucketAlreadyOwnedByYou") throw err;
  }
}

async function ensureUser(iam: IAMClient, user: string): Promise<void> {
  try {
    await iam.send(new GetUserCommand({ UserName: user }));
  } catch (err) {
    if (!isNoSuchEntity(err)) throw err;
    await iam.send(new CreateUserCommand({ UserName: user }));
  }
}

/**
 * Creates or converges the grant's user and policy, and its bucket when the grant owns it
 * (idempotent; issues no key). A bucket the grant does not own must exist: it is the provider's.
 */
async function convergeS3Grant(admin: S3Admin, names: S3GrantNames, access: S3Access): Promise<void> {
  const document = JSON.stringify(s3PolicyDocument(names, access));
  const s3 = adminS3(admin);
  if (names.owned) await ensureBucket(s3, names.bucket);
  else await s3.send(new HeadBucketCommand({ Bucket: names.bucket }));
  const iam = adminIam(admin);
  await ensureUser(iam, names.user);
  await iam.send(new PutUserPolicyCommand({ UserName: names.user, PolicyName: names.policyName, PolicyDocument: document }));
}

async function deleteAccessKeys(iam: IAMClient, user: string): Promise<void> {
  const keys = await iam.send(new ListAccessKeysCommand({ UserName: user }));
  for (const key of keys.AccessKeyMetadata ?? []) {
    if (key.AccessKeyId) await iam.send(new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: key.AccessKeyId }));
  }
}

/** Replaces the user's access keys by a new one (first issue, or rotation) and returns it. */
async function replaceS3AccessKey(admin: S3Admin, names: S3GrantNames): Promise<S3GrantCredentials> {
  const iam = adminIam(admin);
  await deleteAccessKeys(iam, names.user);
  const created = await iam.send(new CreateAccessKeyCommand({ UserName: names.user }));
  const key = created.AccessKey;
  if (!key?.AccessKeyId || !key.SecretAccessKey) throw new Error(`the IAM API returned no access key for user ${names.user}`);
  return {
    endpoint: admin.endpoint,
    region: admin.region,
    bucket: names.bucket,
    prefix: names.prefix,
    accessKeyId: key.AccessKeyId,
    secretAccessKey: key.SecretAccessKey,
  };
}

/** Deletes every object under `prefix` (the whole bucket when empty); returns how many. */
export async function deleteObjectsUnder(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, MaxKeys: 1000 }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length === 0) return deleted;
    const answer = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    // Listed again next round, a key the server refused to delete would loop forever.
    const refused = answer.Errors?.[0];
    if (refused) throw new Error(`s3://${bucket}/${refused.Key ?? ""} not deleted: ${refused.Code ?? ""} ${refused.Message ?? ""}`.trim());
    deleted += keys.length;
  }
}

async function removeGrantData(s3: S3Client, names: S3GrantNames): Promise<void> {
  try {
    await deleteObjectsUnder(s3, names.bucket, names.prefix);
    if (names.prefix === "") await s3.send(new DeleteBucketCommand({ Bucket: names.bucket }));
  } catch (err) {
    if (!isMissingBucket(err)) throw err;
  }
}

/**
 * Ends a grant: its keys, policy and user are deleted, so the credentials stop working. The data
 * stays (pipeline results outlive the grant that wrote them) unless `removeData`, which only a
 * grant that owns its bucket or prefix may ask for.
 */
async function endS3Grant(admin: S3Admin, names: S3GrantNames, opts: { removeData?: boolean }): Promise<void> {
  const iam = adminIam(admin);
  try {
    await deleteAccessKeys(iam, names.user);
    const policies = await iam.send(new ListUserPoliciesCommand({ UserName: names.user }));
    for (const policy of policies.PolicyNames ?? []) {
      await iam.send(new DeleteUserPolicyCommand({ UserName: names.user, PolicyName: policy }));
    }
    await iam.send(new DeleteUserCommand({ UserName: names.user }));
  } catch (err) {
    if (!isNoSuchEntity(err)) throw err;
  }
  if (opts.removeData) await removeGrantData(adminS3(admin), names);
}

/** Failures leave as a BackendError (s3Errors.ts): a reason and a message of ours, the server's text kept aside. */
async function mapped<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw s3BackendError(err, what);
  }
}

/**
 * Creates or converges the grant's user and policy, and its bucket when the grant owns it
 * (idempotent; issues no key). A bucket the grant does not own must exist: it is the provider's.
 */
export function applyS3Grant(admin: S3Admin, names: S3GrantNames, access: S3Access): Promise<void> {
  return mapped("issuing the grant", () => convergeS3Grant(admin, names, access));
}

/** Replaces the user's access keys by a new one (first issue, or rotation) and returns it. */
export function issueS3AccessKey(admin: S3Admin, names: S3GrantNames): Promise<S3GrantCredentials> {
  return mapped("issuing the grant's key", () => replaceS3AccessKey(admin, names));
}

/**
 * Ends a grant: its keys, policy and user are deleted, so the credentials stop working. The data
 * stays unless `removeData`, which only a grant that owns its bucket or prefix may ask for.
 */
export async function revokeS3Grant(admin: S3Admin, names: S3GrantNames, opts: { removeData?: boolean } = {}): Promise<void> {
  if (opts.removeData && !names.owned) {
    throw new Error(`removeData: ${names.bucket}/${names.prefix} is shared by the Resource's grantees, not owned by this grant`);
  }
  return mapped("revoking the grant", () => endS3Grant(admin, names, opts));
}
