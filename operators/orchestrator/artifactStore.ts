// Host-side access to the cluster's Argo artifact repository: the S3 repository of Argo's own
// controller ConfigMap, with the credentials of the Secret it names in a workflow namespace. Used to
// move a step's output between clusters (the serving cluster reads it, the requesting cluster puts
// it where its next step's pods find it). The repository's endpoint is where pods reach S3; a
// process outside the cluster's network gives its own (`s3Endpoint`, ARCHIPEL_ARTIFACTS_S3_ENDPOINT).
// Every request is bounded in time (s3ClientFor). The credentials are used, never logged or returned.
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { S3Client } from "@aws-sdk/client-s3";
import type { CoreV1Api } from "@kubernetes/client-node";
import type { S3Admin } from "../catalog/backends/s3Client.ts";
import { onFirstUse } from "../runtime/lazyImport.ts";
import type { S3Repository } from "../pipeline/argo/translate.ts";
import { repositoryFromConfig } from "../pipeline/runner/argoStaging.ts";
import { timed } from "../pipeline/timed.ts";

/** The AWS SDK (~30 MiB) and the S3 client settings, loaded with the first transfer: an idle orchestrator does not hold them. */
export const s3Sdk = onFirstUse(() => import("@aws-sdk/client-s3"));
export const s3Backend = onFirstUse(() => import("../catalog/backends/s3Client.ts"));

export interface ArtifactStoreSettings {
  argoNamespace: string;
  argoConfigMap: string;
  keyPrefix: string;
  /** Where this process reaches the repository's S3, when not at the endpoint pods use. */
  s3Endpoint?: string;
  requestTimeoutMs: number;
}

export interface ArtifactStore {
  repository: S3Repository;
  s3: S3Client;
  /** The Secret's identity at this process's endpoint: issues and revokes a run's own user (runArtifacts.ts). */
  admin: S3Admin;
}

/** The repository, and an S3 client with the credentials of `namespace`'s artifact Secret. */
export async function artifactStore(core: CoreV1Api, settings: ArtifactStoreSettings, namespace: string): Promise<ArtifactStore> {
  const { argoNamespace, argoConfigMap, requestTimeoutMs: ms } = settings;
  const cm = await timed(`reading ConfigMap ${argoNamespace}/${argoConfigMap}`, core.readNamespacedConfigMap({ namespace: argoNamespace, name: argoConfigMap }), ms);
  const repository = repositoryFromConfig(cm.data?.artifactRepository, settings.keyPrefix);
  const value = async (ref: { name: string; key: string }, what: string): Promise<string> => {
    const secret = await timed(`reading Secret ${namespace}/${ref.name}`, core.readNamespacedSecret({ namespace, name: ref.name }), ms);
    const encoded = secret.data?.[ref.key];
    if (encoded === undefined) throw new Error(`Secret ${namespace}/${ref.name} has no key ${ref.key} (the artifact repository's ${what})`);
    return Buffer.from(encoded, "base64").toString("utf8");
  };
  const accessKeyId = await value(repository.accessKeySecret, "access key");
  const secretAccessKey = await value(repository.secretKeySecret, "secret key");
  const endpoint = settings.s3Endpoint ?? `${repository.insecure ? "http" : "https"}://${repository.endpoint}`;
  const { s3ClientFor } = await s3Backend();
  const admin = { endpoint, region: "us-east-1", accessKeyId, secretAccessKey };
  return { repository, s3: s3ClientFor(endpoint, "us-east-1", { accessKeyId, secretAccessKey }), admin };
}

/** `s3://bucket/key` → its parts, or undefined. */
export function parseS3Location(location: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  return m?.[1] && m[2] ? { bucket: m[1], key: m[2] } : undefined;
}

/** One object's size and bytes as they come, refused beyond `maxBytes` before any is read. */
export async function openObject(store: ArtifactStore, where: { bucket: string; key: string }, maxBytes: number): Promise<{ size: number; stream: Readable }> {
  const { GetObjectCommand } = await s3Sdk();
  const object = await store.s3.send(new GetObjectCommand({ Bucket: where.bucket, Key: where.key }));
  const body = object.Body as Readable | undefined;
  const size = object.ContentLength;
  if (!body || size === undefined) throw new Error(`s3://${where.bucket}/${where.key} has no body or no length`);
  if (size > maxBytes) {
    body.destroy();
    throw new Error(`s3://${where.bucket}/${where.key} is ${size} bytes; at most ${maxBytes} pass between clusters`);
  }
  return { size, stream: body };
}

/** Writes `size` bytes as they come into `key` of the repository's bucket (one PutObject: at most 5 GiB). */
export async function writeObjectStream(store: ArtifactStore, key: string, stream: ReadableStream<Uint8Array>, size: number): Promise<void> {
  await putObjectStream(store, { key, size }, Readable.fromWeb(stream as NodeReadableStream<Uint8Array>));
}

/** writeObjectStream for a Node stream; `signal` aborts it (the object is then not written). */
export async function putObjectStream(store: ArtifactStore, object: { key: string; size: number }, body: Readable, signal?: AbortSignal): Promise<void> {
  const { key, size } = object;
  const { PutObjectCommand } = await s3Sdk();
  await store.s3.send(new PutObjectCommand({ Bucket: store.repository.bucket, Key: key, Body: body, ContentLength: size }), signal ? { abortSignal: signal } : {});
}
