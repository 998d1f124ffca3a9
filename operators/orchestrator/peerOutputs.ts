// Outputs of the peer's run brought to this cluster through its signed federation API: into the
// run's inputs in this cluster's artifact repository (where the next steps' pods find them), or
// into a storage Resource here. A File arrives as one stream; a Directory as its listing (checked
// before anything is asked for: plain names, at most 10,000 files and the byte limit), then each
// of its files as a stream, written under the Directory at its path. Nothing is held whole.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { podInputsDir } from "../pipeline/argo/conventions.ts";
import { listingProblem, maxPeerOutputBytes } from "../federation/peerRuns.ts";
import { type ArtifactStore, openObject, writeObjectStream } from "./artifactStore.ts";
import { CopyRefused, listPrefix, putStreamed, type S3Place } from "./objectCopy.ts";
import type { PeerEndpoint, PeerInputAt, PeerOutputStream, PeerRunsClient } from "./peerClient.ts";
import type { PeerInputComplete, PeerRunAnswer } from "../federation/peerRuns.ts";

/** The peer's run, as this cluster asks it. */
export interface PeerRunAt {
  ep: PeerEndpoint;
  namespace: string;
  name: string;
}

type Client = Pick<PeerRunsClient, "output" | "outputFile">;

/** Refuses a file that announces more than what is left of the limit (the transfer is cancelled). */
async function within(file: PeerOutputStream, left: number): Promise<PeerOutputStream> {
  if (file.size <= left) return file;
  await file.stream.cancel().catch(() => undefined);
  throw new CopyRefused(`${file.basename} is ${file.size} bytes; at most ${left} more are copied`);
}

/** Each file of a Directory output, in listing order, handed to `write` once opened; the bytes copied. */
async function eachFile(from: { client: Client; run: PeerRunAt; output: string }, listing: { files: { path: string }[] }, write: (path: string, file: PeerOutputStream) => Promise<void>, maxBytes: number): Promise<number> {
  const at = { namespace: from.run.namespace, name: from.run.name, output: from.output };
  let copied = 0;
  for (const { path } of listing.files) {
    const file = await within(await from.client.outputFile(from.run.ep, at, path), maxBytes - copied);
    await write(path, file);
    copied += file.size;
  }
  return copied;
}

const answerOf = (from: { client: Client; run: PeerRunAt; output: string }): ReturnType<Client["output"]> => from.client.output(from.run.ep, { namespace: from.run.namespace, name: from.run.name, output: from.output });

/** Brings one output into the run's inputs under `<inputsKey>/<output>/`; the job value the pods read it as. */
export async function bringPeerOutput(from: { client: Client; run: PeerRunAt; output: string }, into: { store: ArtifactStore; inputsKey: string }): Promise<{ class: "File" | "Directory"; location: string }> {
  const answer = await answerOf(from);
  const base = `${into.inputsKey}/${from.output}`;
  if (answer.kind === "File") {
    await writeObjectStream(into.store, `${base}/${answer.basename}`, answer.stream, answer.size);
    return { class: "File", location: pathToFileURL(`${podInputsDir}/${from.output}/${answer.basename}`).href };
  }
  const { name } = answer.listing;
  await eachFile(from, answer.listing, (path, file) => writeObjectStream(into.store, `${base}/${name}/${path}`, file.stream, file.size), maxPeerOutputBytes);
  return { class: "Directory", location: pathToFileURL(`${podInputsDir}/${from.output}/${name}`).href };
}

/** Copies one output into storage at `key` (a Directory: its files under `key/`), within `maxBytes`; whether it was a Directory. */
export async function deliverPeerOutput(from: { client: Client; run: PeerRunAt; output: string }, to: { place: S3Place; key: string }, limits: { ms: number; maxBytes: number }): Promise<{ directory: boolean }> {
  const answer = await answerOf(from);
  if (answer.kind === "File") {
    await putStreamed(to.place, to.key, await within(answer, limits.maxBytes), limits.ms);
    return { directory: false };
  }
  const problem = listingProblem(answer.listing, limits.maxBytes);
  if (problem) throw new CopyRefused(`the peer's Directory ${from.output} ${problem}`);
  await eachFile(from, answer.listing, async (path, file) => void (await putStreamed(to.place, `${to.key}/${path}`, file, limits.ms)), limits.maxBytes);
  return { directory: true };
}

type Sender = Pick<PeerRunsClient, "sendInputFile" | "completeInput">;

/** Sends one file as it arrives, hashing it on the way; its size and SHA-256 as sent. */
async function sendHashed(to: { client: Sender; ep: PeerEndpoint; at: PeerInputAt }, path: string, file: PeerOutputStream): Promise<PeerInputComplete["files"][number]> {
  const hash = createHash("sha256");
  const hashed = file.stream.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform: (chunk, out) => (hash.update(chunk), out.enqueue(chunk)) }));
  await to.client.sendInputFile(to.ep, to.at, { path, size: file.size }, hashed);
  return { path, size: file.size, sha256: hash.digest("hex") };
}

/**
 * Relays one output of a peer's run to another peer's run, as the input it awaits: each file
 * streamed from one to the other (never held here whole), then the completion naming every file's
 * size and SHA-256, which the receiving peer checks before its run may start. The receiver's answer.
 */
export async function relayPeerOutput(from: { client: Client; run: PeerRunAt; output: string }, to: { client: Sender; run: PeerRunAt; input: string }): Promise<PeerRunAnswer> {
  const answer = await answerOf(from);
  const target = { client: to.client, ep: to.run.ep, at: { namespace: to.run.namespace, name: to.run.name, input: to.input } };
  if (answer.kind === "File") {
    const sent = await sendHashed(target, answer.basename, answer);
    return to.client.completeInput(target.ep, target.at, { class: "File", name: answer.basename, files: [sent] });
  }
  const { listing } = answer;
  const files: PeerInputComplete["files"] = [];
  await eachFile(from, listing, async (path, file) => void files.push({ ...(await sendHashed(target, `${listing.name}/${path}`, file)), path }), maxPeerOutputBytes);
  return to.client.completeInput(target.ep, target.at, { class: "Directory", name: listing.name, files });
}

/** One object of this cluster's repository, as a peer's output arrives. */
async function repositoryFile(store: ArtifactStore, key: string, basename: string): Promise<PeerOutputStream> {
  const { size, stream } = await openObject(store, { bucket: store.repository.bucket, key }, maxPeerOutputBytes);
  return { basename, size, stream: Readable.toWeb(stream) as ReadableStream<Uint8Array> };
}

/**
 * Sends an output of a run of this cluster (its object, or a Directory's objects under its key, in
 * this cluster's repository: the caller checked it is in the run's area) to a peer's run, as the
 * input it awaits: as relayPeerOutput does with another peer's, each file streamed and hashed, then
 * the completion.
 */
export async function sendRepositoryOutput(store: ArtifactStore, from: { key: string; directory: boolean; ms: number }, to: { client: Sender; run: PeerRunAt; input: string }): Promise<PeerRunAnswer> {
  const target = { client: to.client, ep: to.run.ep, at: { namespace: to.run.namespace, name: to.run.name, input: to.input } };
  const key = from.key.replace(/\/+$/, "");
  const name = key.split("/").pop() ?? "";
  if (!from.directory) {
    const sent = await sendHashed(target, name, await repositoryFile(store, key, name));
    return to.client.completeInput(target.ep, target.at, { class: "File", name, files: [sent] });
  }
  const listed = (await listPrefix({ s3: store.s3, bucket: store.repository.bucket }, `${key}/`, from.ms)).filter((o) => !o.key.endsWith("/"));
  const listing = { name, files: listed.map((o) => ({ path: o.key.slice(key.length + 1), size: o.size })) };
  const problem = listingProblem(listing, maxPeerOutputBytes);
  if (problem) throw new CopyRefused(`the Directory ${name} ${problem}`);
  const files: PeerInputComplete["files"] = [];
  for (const f of listing.files) files.push({ ...(await sendHashed(target, `${name}/${f.path}`, await repositoryFile(store, `${key}/${f.path}`, f.path))), path: f.path });
  return to.client.completeInput(target.ep, target.at, { class: "Directory", name, files });
}
