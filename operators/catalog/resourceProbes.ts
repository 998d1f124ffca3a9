// The I/O half of the Resource controller: ask a backend about one Resource and return what it
// answered as a Verdict (resourceReadiness.ts) plus the facts status shows. No decision beyond
// mapping a backend's answer to a reason; every call has a deadline.
import { createHash, randomUUID } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import os from "node:os";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import type pg from "pg";
import type { Response } from "undici";
import type { PostgresConnection, Provider, S3Connection } from "../schema/provider.ts";
import type { Checksum, Resource, ResourceStatus } from "../schema/resource.ts";
import { defaultEgressPolicy, type EgressPolicy, withinBase } from "../runtime/egress.ts";
import { BodyTooLarge, checkUrl, EgressRefused, egressAgents, egressFetch, readCapped, resolveChecked, unwrap } from "../runtime/egressHttp.ts";
import type { DescribedColumn } from "./backends/postgresClient.ts";
import { classifyPostgresError, sqlstateOf } from "./backends/postgresErrors.ts";
import { checkStorageSchema, checkViewQuery, queryField } from "./backends/postgresGrant.ts";
import { allowedReadSchemas, checkReadSchema } from "./backends/sqlCheck.ts";
import { checkBucketName, checkKeyPrefix } from "./backends/s3Grant.ts";
import { DownloadSlots } from "./downloadSlots.ts";
import { quoteIdent, quoteQualified } from "./backends/sql.ts";
import { available, notReady, type ObservedFile, ResourceReason, trimMessage, type Verdict, verifyFileFacts } from "./resourceReadiness.ts";
import { externalReference, serviceSummary } from "./serviceDocument.ts";
import { stacItemCount, stacSearchBody, stacSearchParams, stacUrl } from "./stacSearch.ts";
import { onFirstUse } from "../runtime/lazyImport.ts";

// Each backend's library is imported by the first Resource that needs it: most catalogs use one
// or two of them, and each costs the process memory from the moment it is loaded.
const s3Sdk = onFirstUse(() => import("@aws-sdk/client-s3"));
const postgresDriver = onFirstUse(async () => (await import("pg")).default);
const postgresBackend = onFirstUse(() => import("./backends/postgresClient.ts"));
const cwlLibrary = onFirstUse(() => import("../pipeline/cwl/load.ts"));
const yamlParser = onFirstUse(async () => (await import("yaml")).parse);

export interface ProbeResult {
  verdict: Verdict;
  data?: NonNullable<ResourceStatus["data"]>;
  service?: NonNullable<ResourceStatus["service"]>;
}

/** What probes read besides the backend: Secrets and ConfigMaps of the Resource's namespace. */
export interface ProbeEnv {
  /** A Secret's data decoded, or undefined when it does not exist. */
  secret(name: string): Promise<Record<string, string> | undefined>;
  /** A ConfigMap's data (from the cache), or undefined when it does not exist. */
  configMap(name: string): Record<string, string> | undefined;
  timeoutMs: number;
  /** Content longer than this is not downloaded to verify a checksum. */
  maxChecksumBytes: number;
  /** Where CWL documents are written for the CWL library, which reads files. */
  scratchDir: string;
  /** Where probes may connect (data URLs, STAC, S3 endpoints, PostgreSQL hosts). */
  egress: EgressPolicy;
  /** Checksum downloads in flight, per Provider and in all. */
  downloads: DownloadSlots;
}

export const defaultProbeEnv = {
  timeoutMs: 10_000,
  maxChecksumBytes: 1 << 30,
  scratchDir: path.join(os.tmpdir(), "archipel-cwl"),
  egress: defaultEgressPolicy,
  downloads: new DownloadSlots(),
};

class ProbeFailure extends Error {
  readonly verdict: Verdict;
  constructor(verdict: Verdict) {
    super(verdict.message);
    this.verdict = verdict;
  }
}

const fail = (reason: ResourceReason, message: string): never => {
  throw new ProbeFailure(notReady(reason, trimMessage(message)));
};

const messageOf = (err: unknown): string => {
  const e = err as { message?: string; cause?: { message?: string; code?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return `${e.message ?? String(err)}${cause ? ` (${cause})` : ""}`;
};

/** An egress refusal becomes EgressRefused naming the host and the rule; anything else is rethrown. */
function failIfRefused(err: unknown, field: string): void {
  const e = unwrap(err);
  if (e instanceof EgressRefused) fail(ResourceReason.EgressRefused, `${field}: ${e.message}`);
}

const providerKey = (provider: Provider): string => `${provider.metadata?.namespace ?? ""}/${provider.metadata?.name ?? ""}`;

async function secretKeys(env: ProbeEnv, name: string, keys: string[], field: string): Promise<Record<string, string>> {
  const data = await env.secret(name);
  if (!data) return fail(ResourceReason.CredentialsNotFound, `${field}: Secret "${name}" does not exist in this namespace`);
  const absent = keys.filter((k) => !data[k]);
  if (absent.length > 0) return fail(ResourceReason.CredentialsNotFound, `${field}: Secret "${name}" has no key ${absent.join(", ")}`);
  return data;
}

// ---------------------------------------------------------------- data/url

async function urlHeaders(env: ProbeEnv, provider: Provider): Promise<Record<string, string>> {
  const ref = provider.spec.data?.url?.headersSecretRef;
  return ref ? secretKeys(env, ref.name, [], "Provider spec.data.url.headersSecretRef") : {};
}

function totalFromContentRange(value: string | null): number | undefined {
  const match = /\/(\d+)\s*$/.exec(value ?? "");
  return match ? Number(match[1]) : undefined;
}

function checkHttpStatus(res: Response, url: string): void {
  if (res.ok) return;
  if (res.status === 404 || res.status === 410) fail(ResourceReason.ObjectNotFound, `spec.data.url.url: ${url} answered ${res.status}; correct the URL`);
  fail(ResourceReason.SourceUnreachable, `spec.data.url.url: ${url} answered ${res.status} ${res.statusText}`);
}

/** Size from HEAD, or from a one-byte ranged GET when HEAD is refused or does not say. */
async function urlSize(url: string, headers: Record<string, string>, env: ProbeEnv): Promise<number | undefined> {
  const head = await egressFetch(url, { method: "HEAD", headers, signal: AbortSignal.timeout(env.timeoutMs) }, { policy: env.egress, purpose: "data" });
  const length = head.headers.get("content-length");
  if (head.ok && length !== null) return Number(length);
  if (![405, 501].includes(head.status)) checkHttpStatus(head, url);
  const ranged = await egressFetch(url, { headers: { ...headers, range: "bytes=0-0" }, signal: AbortSignal.timeout(env.timeoutMs) }, { policy: env.egress, purpose: "data" });
  checkHttpStatus(ranged, url);
  await ranged.body?.cancel();
  return ranged.status === 206 ? totalFromContentRange(ranged.headers.get("content-range")) : Number(ranged.headers.get("content-length") ?? Number.NaN) || undefined;
}

/** Streams `body` through the digest, refusing more than `cap` bytes. */
async function digestOf(body: AsyncIterable<Uint8Array>, algorithm: Checksum["algorithm"], cap: number, at: string): Promise<string> {
  const hash = createHash(algorithm);
  let read = 0;
  for await (const chunk of body) {
    read += chunk.byteLength;
    if (read > cap) fail(ResourceReason.ContentTooLarge, `${at}: content is larger than ${cap} bytes, too large to verify ${at}.checksum; remove the checksum or split the file`);
    hash.update(chunk);
  }
  return hash.digest("hex");
}

function checkSizeCap(size: number | undefined, env: ProbeEnv, at: string): void {
  if (size !== undefined && size > env.maxChecksumBytes) {
    fail(ResourceReason.ContentTooLarge, `${at}: content is ${size} bytes, more than the ${env.maxChecksumBytes} bytes verified for ${at}.checksum; remove the checksum or split the file`);
  }
}

/** Size, and the digest when a checksum is declared, of the file behind `url`. */
async function observeUrl(url: string, checksum: Checksum | undefined, headers: Record<string, string>, env: ProbeEnv & { provider: string }): Promise<ObservedFile> {
  const size = await urlSize(url, headers, env);
  const observed: ObservedFile = size === undefined ? {} : { sizeBytes: size };
  if (!checksum) return observed;
  checkSizeCap(size, env, "spec.data.url");
  // The checksum download gets the deadline per 16 MiB on top of the first one (counted from its slot).
  const deadline = env.timeoutMs * (1 + Math.ceil((size ?? 0) / (16 << 20)));
  observed.digest = await env.downloads.run(env.provider, async () => {
    const res = await egressFetch(url, { headers, signal: AbortSignal.timeout(deadline) }, { policy: env.egress, purpose: "data" });
    checkHttpStatus(res, url);
    if (!res.body) return fail(ResourceReason.SourceUnreachable, `spec.data.url.url: ${url} sent no content`);
    return digestOf(res.body, checksum.algorithm, env.maxChecksumBytes, "spec.data.url");
  });
  return observed;
}

async function probeUrlFile(resource: Resource, provider: Provider, env: ProbeEnv): Promise<ObservedFile> {
  const spec = resource.spec.data?.url;
  if (!spec) return fail(ResourceReason.InvalidSpec, "spec.data.url is required for a url data provider");
  const base = provider.spec.data?.url?.baseURL;
  // The provider's baseURL bounds what its Resources may make the operator fetch (and send its
  // headers to): the same origin and whole path segments, never a string prefix.
  if (base && !withinBase(base, spec.url)) {
    fail(ResourceReason.InvalidSpec, `spec.data.url.url must start with the Provider's baseURL ${base} (the same scheme, host and port, and whole path segments)`);
  }
  const headers = await urlHeaders(env, provider);
  try {
    return await observeUrl(spec.url, spec.checksum, headers, { ...env, provider: providerKey(provider) });
  } catch (err) {
    if (err instanceof ProbeFailure) throw err;
    failIfRefused(err, "spec.data.url.url");
    return fail(ResourceReason.SourceUnreachable, `spec.data.url.url: ${spec.url} is unreachable: ${messageOf(err)}`);
  }
}

// ---------------------------------------------------------------- S3

/** An S3 client whose connections go through the egress policy (the endpoint checked, names resolved by the checked lookup). */
async function s3For(connection: S3Connection, env: ProbeEnv, field: string): Promise<S3Client> {
  try {
    checkUrl(new URL(connection.endpoint), "data", env.egress);
  } catch (err) {
    failIfRefused(err, `${field}.endpoint`);
    return fail(ResourceReason.InvalidSpec, `${field}.endpoint: ${connection.endpoint} is not a URL`);
  }
  const creds = await secretKeys(env, connection.credentialsSecretRef.name, ["accessKeyId", "secretAccessKey"], `${field}.credentialsSecretRef`);
  const { S3Client } = await s3Sdk();
  return new S3Client({
    endpoint: connection.endpoint,
    region: connection.region ?? "us-east-1",
    credentials: { accessKeyId: creds.accessKeyId!, secretAccessKey: creds.secretAccessKey! },
    forcePathStyle: connection.forcePathStyle ?? true,
    requestHandler: egressAgents(env.egress),
  });
}

const s3Status = (err: unknown): number | undefined => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const s3Name = (err: unknown): string => (err as { name?: string }).name ?? "";
const s3Missing = (err: unknown, names: string[]): boolean => s3Status(err) === 404 || names.includes(s3Name(err));

async function probeS3Object(client: S3Client, spec: NonNullable<NonNullable<Resource["spec"]["data"]>["s3"]>, env: ProbeEnv & { provider: string }): Promise<ObservedFile> {
  const where = `s3://${spec.bucket}/${spec.key}`;
  const { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } = await s3Sdk();
  if (spec.key.endsWith("/")) {
    const list = await client.send(new ListObjectsV2Command({ Bucket: spec.bucket, Prefix: spec.key, MaxKeys: 1 }), { abortSignal: AbortSignal.timeout(env.timeoutMs) });
    if ((list.KeyCount ?? 0) === 0) fail(ResourceReason.ObjectNotFound, `spec.data.s3.key: no object under ${where}`);
    return {};
  }
  const head = await client.send(new HeadObjectCommand({ Bucket: spec.bucket, Key: spec.key }), { abortSignal: AbortSignal.timeout(env.timeoutMs) });
  const observed: ObservedFile = head.ContentLength === undefined ? {} : { sizeBytes: head.ContentLength };
  if (!spec.checksum) return observed;
  checkSizeCap(head.ContentLength, env, "spec.data.s3");
  const deadline = env.timeoutMs * (1 + Math.ceil((head.ContentLength ?? 0) / (16 << 20)));
  const algorithm = spec.checksum.algorithm;
  observed.digest = await env.downloads.run(env.provider, async () => {
    const got = await client.send(new GetObjectCommand({ Bucket: spec.bucket, Key: spec.key }), { abortSignal: AbortSignal.timeout(deadline) });
    return digestOf(got.Body as AsyncIterable<Uint8Array>, algorithm, env.maxChecksumBytes, "spec.data.s3");
  });
  return observed;
}

async function probeS3File(resource: Resource, provider: Provider, env: ProbeEnv): Promise<ObservedFile> {
  const spec = resource.spec.data?.s3;
  const connection = provider.spec.data?.s3;
  if (!spec || !connection) return fail(ResourceReason.InvalidSpec, "spec.data.s3 is required for an s3 data provider");
  const client = await s3For(connection, env, "Provider spec.data.s3");
  try {
    return await probeS3Object(client, spec, { ...env, provider: providerKey(provider) });
  } catch (err) {
    if (err instanceof ProbeFailure) throw err;
    failIfRefused(err, "Provider spec.data.s3.endpoint");
    if (s3Status(err) === 404 || ["NotFound", "NoSuchKey", "NoSuchBucket"].includes(s3Name(err))) {
      return fail(ResourceReason.ObjectNotFound, `spec.data.s3: s3://${spec.bucket}/${spec.key} does not exist on ${connection.endpoint}`);
    }
    return fail(ResourceReason.SourceUnreachable, `spec.data.s3: ${connection.endpoint} did not answer for s3://${spec.bucket}/${spec.key}: ${s3Name(err) || messageOf(err)}`);
  } finally {
    client.destroy();
  }
}

async function probeFile(resource: Resource, provider: Provider, env: ProbeEnv, source: "url" | "s3"): Promise<ProbeResult> {
  const observed = source === "url" ? await probeUrlFile(resource, provider, env) : await probeS3File(resource, provider, env);
  const declared = source === "url" ? resource.spec.data?.url : resource.spec.data?.s3;
  const data = observed.sizeBytes === undefined ? {} : { sizeBytes: observed.sizeBytes };
  const mismatch = verifyFileFacts(`spec.data.${source}`, declared ?? {}, observed);
  return { verdict: mismatch ?? available(fileMessage(source, observed, declared?.checksum)), data };
}

function fileMessage(source: "url" | "s3", observed: ObservedFile, checksum: Checksum | undefined): string {
  const verified = checksum ? `, ${checksum.algorithm} verified` : "";
  const size = observed.sizeBytes === undefined ? "" : ` (${observed.sizeBytes} bytes${verified})`;
  return `the ${source === "url" ? "URL" : "object"} answers${size}`;
}

// ---------------------------------------------------------------- data/stac

async function stacHeaders(provider: Provider, env: ProbeEnv): Promise<Record<string, string>> {
  const ref = provider.spec.data?.stac?.credentialsSecretRef;
  if (!ref) return {};
  const data = await secretKeys(env, ref.name, ["token"], "Provider spec.data.stac.credentialsSecretRef");
  return { authorization: `Bearer ${data.token!}` };
}

// A /search answer is an ItemCollection of at most `limit` items: a few MiB is generous.
const maxStacAnswerBytes = 8 << 20;

async function stacJson(res: Response, what: string): Promise<unknown> {
  try {
    return JSON.parse((await readCapped(res, maxStacAnswerBytes)).toString("utf8"));
  } catch (err) {
    if (err instanceof BodyTooLarge) return fail(ResourceReason.SourceUnreachable, `the STAC API's ${what} answer is larger than ${maxStacAnswerBytes} bytes`);
    return fail(ResourceReason.SourceUnreachable, `the STAC API's ${what} answer is not JSON`);
  }
}

// The remote body never reaches status: only the status code does.
async function stacRefused(res: Response, what: string): Promise<never> {
  await res.body?.cancel().catch(() => undefined);
  return fail(ResourceReason.SourceUnreachable, `the STAC API's ${what} answered ${res.status}`);
}

async function stacSearch(apiURL: string, body: ReturnType<typeof stacSearchBody>, headers: Record<string, string>, env: ProbeEnv): Promise<unknown> {
  const egress = { policy: env.egress, purpose: "data" } as const;
  const post = await egressFetch(stacUrl(apiURL, "search"), {
    method: "POST",
    headers: { ...headers, "content-type": "application/json", accept: "application/geo+json, application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(env.timeoutMs),
  }, egress);
  if (post.ok) return stacJson(post, "POST /search");
  if (![404, 405, 501].includes(post.status)) return stacRefused(post, "POST /search");
  await post.body?.cancel().catch(() => undefined);
  const url = stacUrl(apiURL, "search");
  url.search = stacSearchParams(body).toString();
  const get = await egressFetch(url, { headers, signal: AbortSignal.timeout(env.timeoutMs) }, egress);
  if (!get.ok) return stacRefused(get, "GET /search");
  return stacJson(get, "GET /search");
}

async function checkCollection(apiURL: string, id: string, headers: Record<string, string>, env: ProbeEnv): Promise<void> {
  const collection = await egressFetch(stacUrl(apiURL, `collections/${encodeURIComponent(id)}`), { headers, signal: AbortSignal.timeout(env.timeoutMs) }, { policy: env.egress, purpose: "data" });
  await collection.body?.cancel();
  if (collection.status === 404) fail(ResourceReason.CollectionNotFound, `spec.data.stac.collection: the STAC API at ${apiURL} has no collection "${id}"`);
  if (!collection.ok) fail(ResourceReason.SourceUnreachable, `the STAC API at ${apiURL} answered ${collection.status} for collection "${id}"`);
}

async function probeStac(resource: Resource, provider: Provider, env: ProbeEnv): Promise<ProbeResult> {
  const spec = resource.spec.data?.stac;
  const apiURL = provider.spec.data?.stac?.apiURL;
  if (!spec || !apiURL) return fail(ResourceReason.InvalidSpec, "spec.data.stac is required for a stac data provider");
  const headers = await stacHeaders(provider, env);
  try {
    await checkCollection(apiURL, spec.collection, headers, env);
    const body = stacSearchBody(spec);
    const count = stacItemCount(await stacSearch(apiURL, body, headers, env), body.limit);
    if (count === undefined) return fail(ResourceReason.SourceUnreachable, `the STAC API at ${apiURL} did not answer /search with an ItemCollection`);
    return { verdict: available(`${count} item(s) of collection "${spec.collection}" match`), data: { itemCount: count } };
  } catch (err) {
    if (err instanceof ProbeFailure) throw err;
    failIfRefused(err, "Provider spec.data.stac.apiURL");
    return fail(ResourceReason.SourceUnreachable, `the STAC API at ${apiURL} is unreachable: ${messageOf(err)}`);
  }
}

// ---------------------------------------------------------------- PostgreSQL
// Every call is bounded (boundedConfig: connect, statement, lock and read timeouts). The server's
// error text never reaches the status: a failure becomes a short message of ours with its SQLSTATE
// (postgresErrors.ts). A query is checked on its text (sqlCheck.ts) and then only parsed and
// described by the server, never planned or run.

/** The checked address to connect to (pg then connects to that address, not to a second lookup). */
async function postgresAddress(host: string, env: ProbeEnv, field: string): Promise<string> {
  try {
    return await resolveChecked(host, env.egress);
  } catch (err) {
    failIfRefused(err, `${field}.host`);
    return fail(ResourceReason.BackendUnreachable, `${field}: cannot resolve ${host}: ${messageOf(err)}`);
  }
}

async function postgresClient(connection: PostgresConnection, env: ProbeEnv, field: string): Promise<pg.Client> {
  const creds = await secretKeys(env, connection.credentialsSecretRef.name, ["username", "password"], `${field}.credentialsSecretRef`);
  const ssl = connection.sslMode === undefined || connection.sslMode === "disable" ? false : { rejectUnauthorized: connection.sslMode !== "require", ...(isIP(connection.host) ? {} : { servername: connection.host }) };
  const timeouts = { connectionTimeoutMillis: env.timeoutMs, statement_timeout: env.timeoutMs, lock_timeout: env.timeoutMs, query_timeout: env.timeoutMs + 1000 };
  const host = await postgresAddress(connection.host, env, field);
  const config = { host, port: connection.port ?? 5432, database: connection.database, user: creds.username, password: creds.password, ssl, ...timeouts };
  const [pgDriver, { boundedConfig }] = await Promise.all([postgresDriver(), postgresBackend()]);
  const client = new pgDriver.Client(boundedConfig(config, "archipel-resource-check"));
  client.on("error", () => undefined); // a dropped connection surfaces on the pending query
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    const failure = classifyPostgresError(err);
    return fail(ResourceReason.BackendUnreachable, `${field}: cannot connect to ${connection.host}:${connection.port ?? 5432}/${connection.database}: ${failure.message} [${failure.reason}]`);
  }
  return client;
}

type PostgresTable = NonNullable<NonNullable<NonNullable<Resource["spec"]["data"]>["postgres"]>["table"]>;

/** The Provider's allowed schemas, or the verdict refusing its declaration. */
function readSchemas(connection: PostgresConnection): string[] | Verdict {
  try {
    return allowedReadSchemas(connection.schemas, "Provider spec.data.postgres.schemas");
  } catch (err) {
    return notReady(ResourceReason.InvalidSpec, (err as Error).message);
  }
}

async function checkTable(client: pg.Client, table: PostgresTable, allowed: readonly string[]): Promise<Verdict> {
  const schema = table.schema ?? "public";
  try {
    checkReadSchema(schema, allowed, "spec.data.postgres.table.schema");
  } catch (err) {
    return notReady(ResourceReason.InvalidSpec, (err as Error).message);
  }
  const res = await client.query<{ column_name: string }>(
    "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
    [schema, table.name],
  );
  if (res.rowCount === 0) {
    return notReady(ResourceReason.TableNotFound, `spec.data.postgres.table: ${quoteQualified(schema, table.name)} does not exist (or has no columns) in the provider's database`);
  }
  const have = new Set(res.rows.map((r) => r.column_name));
  const absent = (table.columns ?? []).filter((c) => !have.has(c));
  if (absent.length > 0) return notReady(ResourceReason.ColumnNotFound, `spec.data.postgres.table.columns: ${absent.join(", ")} not in ${quoteQualified(schema, table.name)}`);
  return available(`table ${quoteQualified(schema, table.name)} has ${table.columns?.length ?? have.size} column(s) to serve`);
}

/** Schemas outside `allowed` that the described columns come from (the server names each column's table). */
async function schemasOutside(client: pg.Client, columns: DescribedColumn[], allowed: readonly string[]): Promise<string[]> {
  const tables = [...new Set(columns.map((c) => c.tableID).filter((id) => id > 0))];
  if (tables.length === 0) return [];
  const res = await client.query<{ nspname: string }>(
    "SELECT DISTINCT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[]) AND NOT (n.nspname = ANY($2::text[])) ORDER BY 1",
    [tables, allowed],
  );
  return res.rows.map((r) => r.nspname);
}

function refusedQuery(err: unknown): Verdict {
  const failure = classifyPostgresError(err);
  const position = (err as { position?: string }).position;
  const at = position ? ` at character ${position}` : "";
  return notReady(ResourceReason.InvalidQuery, `${queryField}: the database refused it${at}: ${failure.message}`);
}

/** Parses and describes the query (never runs it) with the grants' search_path, in a read-only transaction always rolled back. */
async function checkQuery(client: pg.Client, sql: string, allowed: readonly string[]): Promise<Verdict> {
  let statement: string;
  try {
    statement = checkViewQuery(sql);
  } catch (err) {
    return notReady(ResourceReason.InvalidQuery, (err as Error).message);
  }
  const { describeColumns } = await postgresBackend();
  await client.query("BEGIN TRANSACTION READ ONLY");
  try {
    await client.query(`SET LOCAL search_path TO ${allowed.map(quoteIdent).join(", ")}`);
    let columns: DescribedColumn[];
    try {
      columns = await describeColumns(client, statement);
    } catch (err) {
      if (sqlstateOf(err) === undefined) throw err; // the connection, not the query
      return refusedQuery(err);
    }
    const outside = await schemasOutside(client, columns, allowed);
    if (outside.length > 0) return notReady(ResourceReason.InvalidQuery, `${queryField}: reads schema ${outside.join(", ")}, which the Provider does not allow (${allowed.join(", ")})`);
    return available(`the query is a valid SELECT of ${columns.length} column(s): ${trimMessage(columns.map((c) => c.name).join(", "), 300)}`);
  } finally {
    await client.query("ROLLBACK").catch(() => undefined);
  }
}

async function withPostgres(connection: PostgresConnection, env: ProbeEnv, field: string, fn: (client: pg.Client) => Promise<Verdict>): Promise<Verdict> {
  const client = await postgresClient(connection, env, field);
  try {
    return await fn(client);
  } catch (err) {
    const failure = classifyPostgresError(err);
    return notReady(ResourceReason.BackendUnreachable, `${field}: ${failure.message} [${failure.reason}]`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function probePostgresData(resource: Resource, provider: Provider, env: ProbeEnv): Promise<ProbeResult> {
  const spec = resource.spec.data?.postgres;
  const connection = provider.spec.data?.postgres;
  if (!spec || !connection) return fail(ResourceReason.InvalidSpec, "spec.data.postgres is required for a postgres data provider");
  const allowed = readSchemas(connection);
  if (!Array.isArray(allowed)) return { verdict: allowed };
  const verdict = await withPostgres(connection, env, "Provider spec.data.postgres", (client) =>
    spec.table ? checkTable(client, spec.table, allowed) : checkQuery(client, spec.query ?? "", allowed),
  );
  return { verdict };
}

// ---------------------------------------------------------------- storage

function storageS3Invalid(spec: { bucket: string; prefix?: string }): Verdict | undefined {
  try {
    checkBucketName(spec.bucket);
    if (spec.prefix) checkKeyPrefix(spec.prefix);
    return undefined;
  } catch (err) {
    return notReady(ResourceReason.InvalidSpec, `spec.storage.s3: ${(err as Error).message}`);
  }
}

async function probeStorageS3(resource: Resource, provider: Provider, env: ProbeEnv): Promise<ProbeResult> {
  const spec = resource.spec.storage?.s3;
  const connection = provider.spec.storage?.s3;
  if (!spec || !connection) return fail(ResourceReason.InvalidSpec, "spec.storage.s3 is required for an s3 storage provider");
  const invalid = storageS3Invalid(spec);
  if (invalid) return { verdict: invalid };
  const client = await s3For(connection, env, "Provider spec.storage.s3");
  const { HeadBucketCommand } = await s3Sdk();
  try {
    await client.send(new HeadBucketCommand({ Bucket: spec.bucket }), { abortSignal: AbortSignal.timeout(env.timeoutMs) });
    return { verdict: available(`bucket ${spec.bucket} exists on ${connection.endpoint}`) };
  } catch (err) {
    const refused = unwrap(err);
    if (refused instanceof EgressRefused) return { verdict: notReady(ResourceReason.EgressRefused, `Provider spec.storage.s3.endpoint: ${refused.message}`) };
    if (s3Missing(err, ["NotFound", "NoSuchBucket"])) {
      return { verdict: available(`${connection.endpoint} answers; bucket ${spec.bucket} does not exist yet and is created by the first grant`) };
    }
    return { verdict: notReady(ResourceReason.BackendUnreachable, trimMessage(`Provider spec.storage.s3: ${connection.endpoint} refused HeadBucket ${spec.bucket}: ${s3Name(err) || messageOf(err)}`)) };
  } finally {
    client.destroy();
  }
}

async function probeStoragePostgres(resource: Resource, provider: Provider, env: ProbeEnv): Promise<ProbeResult> {
  const spec = resource.spec.storage?.postgres;
  const connection = provider.spec.storage?.postgres;
  if (!spec || !connection) return fail(ResourceReason.InvalidSpec, "spec.storage.postgres is required for a postgres storage provider");
  try {
    checkStorageSchema(spec.schema);
  } catch (err) {
    return { verdict: notReady(ResourceReason.InvalidSpec, (err as Error).message) };
  }
  const verdict = await withPostgres(connection, env, "Provider spec.storage.postgres", async (client) => {
    const res = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [spec.schema]);
    const state = (res.rowCount ?? 0) > 0 ? "exists" : "does not exist yet and is created by the first grant";
    return available(`${connection.host}:${connection.port ?? 5432}/${connection.database} answers; schema ${spec.schema} ${state}`);
  });
  return { verdict };
}

// ---------------------------------------------------------------- service

async function cwlText(resource: Resource, env: ProbeEnv): Promise<unknown> {
  const cwl = resource.spec.service?.cwl;
  if (cwl?.document) return cwl.document;
  const ref = cwl?.configMapRef;
  if (!ref) return fail(ResourceReason.InvalidSpec, "spec.service.cwl needs document or configMapRef");
  const data = env.configMap(ref.name);
  if (!data) return fail(ResourceReason.CWLNotFound, `spec.service.cwl.configMapRef: ConfigMap "${ref.name}" does not exist in this namespace`);
  const text = data[ref.key];
  if (text === undefined) return fail(ResourceReason.CWLNotFound, `spec.service.cwl.configMapRef: ConfigMap "${ref.name}" has no key "${ref.key}"`);
  const parseYaml = await yamlParser();
  try {
    return parseYaml(text);
  } catch (err) {
    return fail(ResourceReason.InvalidCWL, `ConfigMap "${ref.name}" key "${ref.key}" is not YAML or JSON: ${(err as Error).message}`);
  }
}

async function probeService(resource: Resource, provider: Provider, env: ProbeEnv): Promise<ProbeResult> {
  const image = resource.spec.service?.image ?? provider.spec.service?.defaultImage;
  if (!image) return fail(ResourceReason.InvalidSpec, `spec.service.image is required: Provider "${resource.spec.providerRef.name}" has no defaultImage`);
  const doc = await cwlText(resource, env);
  const external = externalReference(doc);
  if (external) return fail(ResourceReason.InvalidCWL, `the CWL document must be self-contained: ${external} refers to another file; inline it`);
  // The library reads files. One file per probe: Resources sharing a document are probed
  // concurrently, and one probe's cleanup must not remove another's file. It leaves the cache after.
  const json = JSON.stringify(doc);
  const file = path.join(env.scratchDir, `${randomUUID()}.cwl`);
  const { forgetDocument, loadProcess } = await cwlLibrary();
  await mkdir(env.scratchDir, { recursive: true });
  await writeFile(file, json);
  try {
    const process = await loadProcess(file);
    return { verdict: available(`${process.class} (${process.cwlVersion}) with ${process.inputs.length} input(s), ${process.outputs.length} output(s)`), service: serviceSummary(process, image) };
  } catch (err) {
    const message = messageOf(err).replaceAll(file, "document").replaceAll(path.dirname(file), ".");
    return fail(ResourceReason.InvalidCWL, `spec.service.cwl: ${message}`);
  } finally {
    forgetDocument(file);
    await rm(file, { force: true });
  }
}

// ---------------------------------------------------------------- dispatch

type Probe = (resource: Resource, provider: Provider, env: ProbeEnv) => Promise<ProbeResult>;

const probes: Record<string, Probe> = {
  "data/url": (r, p, e) => probeFile(r, p, e, "url"),
  "data/s3": (r, p, e) => probeFile(r, p, e, "s3"),
  "data/stac": probeStac,
  "data/postgres": probePostgresData,
  "storage/s3": probeStorageS3,
  "storage/postgres": probeStoragePostgres,
  "service/": probeService,
};

/** The probe of a Resource of a Provider (same type, gate passed), or undefined for compute. */
export function probeFor(provider: Provider): Probe | undefined {
  const spec = provider.spec;
  const selector = spec.type === "data" ? spec.data?.source : spec.type === "storage" ? spec.storage?.backend : "";
  return probes[`${spec.type}/${selector ?? ""}`];
}

/** Runs the probe; a ProbeFailure becomes its verdict, anything else propagates (a bug or the API). */
export async function runProbe(probe: Probe, resource: Resource, provider: Provider, env: ProbeEnv): Promise<ProbeResult> {
  try {
    return await probe(resource, provider, env);
  } catch (err) {
    if (err instanceof ProbeFailure) return { verdict: err.verdict };
    throw err;
  }
}
