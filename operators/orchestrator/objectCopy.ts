// Objects copied by the orchestrator between S3 servers (a data input into the artifact repository,
// an output into a storage Resource), streamed from the reader to the writer: the process never
// holds a whole object. Each step is bounded in time: the answer's headers by the request deadline,
// the copy by that deadline plus one second per MiB (a slow link is waited for, a stalled one is not).
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { S3Client } from "@aws-sdk/client-s3";
import { s3Sdk } from "./artifactStore.ts";
import { maxStagedObjects, type StagedObject } from "./dataAccess.ts";

/**
 * A copy this cluster will not make, whatever is tried again: over the copy's limits, or a path or
 * location refused. The run that asked for it is told so (and fails on an output, see runAccess).
 */
export class CopyRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CopyRefused";
  }
}

/** An object opened for reading: its size and its bytes as they come. */
export interface OpenedObject {
  size: number;
  stream: Readable;
}

export interface S3Place {
  s3: S3Client;
  bucket: string;
}

const copyDeadlineMs = (requestMs: number, size: number): number => requestMs + Math.ceil(size / (1024 * 1024)) * 1000;

/**
 * Opens `key`, refusing an object larger than `maxBytes` before any byte is read. `signal` aborts
 * the answer and its body alike (the SDK keeps it attached until the body is read).
 */
async function openS3Object(from: S3Place, key: string, maxBytes: number, signal: AbortSignal): Promise<OpenedObject> {
  const { GetObjectCommand } = await s3Sdk();
  const read = await from.s3.send(new GetObjectCommand({ Bucket: from.bucket, Key: key }), { abortSignal: signal });
  const stream = read.Body as Readable | undefined;
  const size = read.ContentLength;
  if (!stream || size === undefined) {
    stream?.destroy();
    throw new Error(`s3://${from.bucket}/${key} has no body or no length`);
  }
  if (size > maxBytes) {
    stream.destroy();
    throw new CopyRefused(`s3://${from.bucket}/${key} is ${size} bytes; at most ${maxBytes} are copied`);
  }
  return { size, stream };
}

/** Writes the opened object's bytes into `key`; the source is closed whatever happens. */
export async function putOpened(to: S3Place, key: string, object: OpenedObject, signal: AbortSignal): Promise<number> {
  const { PutObjectCommand } = await s3Sdk();
  try {
    await to.s3.send(new PutObjectCommand({ Bucket: to.bucket, Key: key, Body: object.stream, ContentLength: object.size }), { abortSignal: signal });
    return object.size;
  } finally {
    object.stream.destroy();
  }
}

/** One object copied from one S3 to another: the answer within the request deadline, then the copy within what its size allows. */
export async function copyS3Object(from: S3Place, to: S3Place, copy: { source: string; target: string }, limits: { ms: number; maxBytes: number }): Promise<number> {
  const abort = new AbortController();
  let timer = setTimeout(() => abort.abort(new Error(`s3://${from.bucket}/${copy.source}: no answer in ${limits.ms} ms`)), limits.ms);
  try {
    const opened = await openS3Object(from, copy.source, limits.maxBytes, abort.signal);
    clearTimeout(timer);
    const copyMs = copyDeadlineMs(limits.ms, opened.size);
    timer = setTimeout(() => abort.abort(new Error(`s3://${from.bucket}/${copy.source}: the copy took over ${copyMs} ms`)), copyMs);
    return await putOpened(to, copy.target, opened, abort.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** Writes `size` bytes that arrive from elsewhere (a peer's answer) within what their size allows. */
export function putStreamed(to: S3Place, key: string, object: { size: number; stream: ReadableStream<Uint8Array> }, ms: number): Promise<number> {
  const stream = Readable.fromWeb(object.stream as NodeReadableStream<Uint8Array>);
  return putOpened(to, key, { size: object.size, stream }, AbortSignal.timeout(copyDeadlineMs(ms, object.size)));
}

/** The keys and sizes under `prefix`, one more than the copy limit at most (enough to refuse). */
export async function listPrefix(from: S3Place, prefix: string, ms: number): Promise<{ key: string; size: number }[]> {
  const { ListObjectsV2Command } = await s3Sdk();
  const listed: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await from.s3.send(new ListObjectsV2Command({ Bucket: from.bucket, Prefix: prefix, MaxKeys: 1000, ...(token ? { ContinuationToken: token } : {}) }), { abortSignal: AbortSignal.timeout(ms) });
    listed.push(...(page.Contents ?? []).map((o) => ({ key: o.Key ?? "", size: o.Size ?? 0 })));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token && listed.length <= maxStagedObjects);
  return listed;
}

/** Copies each object of a Directory, within `maxBytes` in all (an object that grew since the listing cannot take more); the bytes copied. */
export async function copyObjects(from: S3Place, to: S3Place, copies: readonly StagedObject[], limits: { ms: number; maxBytes: number }): Promise<number> {
  let copied = 0;
  for (const copy of copies) copied += await copyS3Object(from, to, copy, { ms: limits.ms, maxBytes: limits.maxBytes - copied });
  return copied;
}
