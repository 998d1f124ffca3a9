// The copy of a data input into the run's inputs in the artifact repository: its object (a File) or
// every object under its prefix (a Directory), read as the grant's grantee and written with the
// repository's credentials, each streamed from one to the other (the process never holds a whole
// object). What is copied, where, and the limits are decided in dataAccess.ts.
import type { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import type { ArtifactStore } from "./artifactStore.ts";
import { s3Sdk } from "./artifactStore.ts";
import { type DataInput, directoryObjects, maxStagedBytes, maxStagedObjects, stagedDataKey, type StagedObject } from "./dataAccess.ts";

/** A copy may take its request deadline plus one second per MiB: a slow link is waited for, a stalled one is not. */
const copyDeadlineMs = (requestMs: number, size: number): number => requestMs + Math.ceil(size / (1024 * 1024)) * 1000;

/** The keys and sizes under the Directory's prefix, one more than the limit at most (enough to refuse). */
async function listPrefix(source: S3Client, input: DataInput, ms: number): Promise<{ key: string; size: number }[]> {
  const { ListObjectsV2Command } = await s3Sdk();
  const listed: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await source.send(new ListObjectsV2Command({ Bucket: input.bucket, Prefix: input.key, MaxKeys: 1000, ...(token ? { ContinuationToken: token } : {}) }), { abortSignal: AbortSignal.timeout(ms) });
    listed.push(...(page.Contents ?? []).map((o) => ({ key: o.Key ?? "", size: o.Size ?? 0 })));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token && listed.length <= maxStagedObjects);
  return listed;
}

/** One object streamed from the data's S3 into the repository, refused before any byte if it is larger than `maxBytes`. */
async function copyObject(from: { source: S3Client; bucket: string }, object: StagedObject, into: ArtifactStore, limits: { ms: number; maxBytes: number }): Promise<number> {
  const { GetObjectCommand, PutObjectCommand } = await s3Sdk();
  const { source, bucket } = from;
  // One deadline for the answer's headers, then one that the object's size allows for the copy.
  const abort = new AbortController();
  let deadline = setTimeout(() => abort.abort(new Error(`no answer in ${limits.ms} ms`)), limits.ms);
  let body: Readable | undefined;
  try {
    const read = await source.send(new GetObjectCommand({ Bucket: bucket, Key: object.source }), { abortSignal: abort.signal });
    body = read.Body as Readable | undefined;
    const size = read.ContentLength ?? 0;
    if (!body) throw new Error(`s3://${bucket}/${object.source} has no body`);
    if (size > limits.maxBytes) throw new Error(`s3://${bucket}/${object.source} is ${size} bytes; at most ${limits.maxBytes} are staged for a step`);
    clearTimeout(deadline);
    const copyMs = copyDeadlineMs(limits.ms, size);
    deadline = setTimeout(() => abort.abort(new Error(`the copy took over ${copyMs} ms`)), copyMs);
    await into.s3.send(new PutObjectCommand({ Bucket: into.repository.bucket, Key: object.target, Body: body, ContentLength: size }), { abortSignal: abort.signal });
    return size;
  } finally {
    clearTimeout(deadline);
    body?.destroy();
  }
}

/** Copies the data input into the run's inputs under `inputsKey`; the bytes copied. */
export async function stageData(source: S3Client, input: DataInput, into: { store: ArtifactStore; inputsKey: string }, ms: number): Promise<number> {
  if (input.kind === "File") {
    return copyObject({ source, bucket: input.bucket }, { source: input.key, target: stagedDataKey(into.inputsKey, input), size: 0 }, into.store, { ms, maxBytes: maxStagedBytes });
  }
  const objects = directoryObjects(into.inputsKey, input, await listPrefix(source, input, ms));
  if ("problem" in objects) throw new Error(objects.problem);
  let copied = 0;
  // Each object within what is left of the input's limit: one that grew since the listing cannot take more.
  for (const object of objects) copied += await copyObject({ source, bucket: input.bucket }, object, into.store, { ms, maxBytes: maxStagedBytes - copied });
  return copied;
}
