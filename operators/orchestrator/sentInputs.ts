// Inputs a requesting cluster sends to the run it asked a peer for: outputs of its run's steps
// elsewhere (on another peer, relayed through the requester; or its own, run first in the run's
// prelude), which the served run's steps read. The served run names them (the awaited-inputs
// annotation, from the request) and does not start until each is recorded sent (the sent-inputs
// annotation: spec.job is immutable), which the federation API writes only once every file sent
// was checked against the sizes and SHA-256 digests the requester signed. The orchestrator turns
// those records into the job's values. The files sit under the served run's inputs in the
// artifact repository, where its pods find them (podInputsDir), as the outputs a requester brings
// home do. Pure.
import { pathToFileURL } from "node:url";
import { awaitedInputsAnnotation, sentInputsAnnotation, basenameProblem, maxPeerOutputBytes, maxPeerOutputFiles, outputPathProblem, type PeerInputComplete, type PeerRunRequest } from "../federation/peerRuns.ts";
import { podInputsDir } from "../pipeline/argo/conventions.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import { RunReason } from "./reasons.ts";
import type { Blocked } from "./serviceResolution.ts";

/** The inputs the run's requester sends, as the request named them. */
export function awaitedInputsOf(run: PipelineRun): string[] {
  const names = run.metadata.annotations?.[awaitedInputsAnnotation] ?? "";
  return names.split(",").filter((n) => n !== "");
}

/** What is wrong with a request's awaitedInputs, or undefined: each is read by a step, and given no value otherwise. */
export function awaitedInputsProblem(body: Pick<PeerRunRequest, "steps" | "awaitedInputs" | "job" | "inputs">): { field: string; message: string } | undefined {
  const read = new Set(body.steps.flatMap((s) => Object.values(s.in ?? {})));
  for (const [i, name] of (body.awaitedInputs ?? []).entries()) {
    const field = `body.awaitedInputs[${i}]`;
    if (!read.has(name)) return { field, message: `${field}: no step reads input ${name}` };
    if (body.job && name in body.job) return { field, message: `${field}: input ${name} has a value in body.job already` };
    if (body.inputs?.some((d) => d.name === name)) return { field, message: `${field}: input ${name} is a data input (body.inputs) already` };
  }
  return undefined;
}

/** The annotation's value for `names` (input names hold no comma: they are CWL identifiers). */
export const awaitedInputsValue = (names: readonly string[]): string => names.join(",");

type SentInput = Pick<PeerInputComplete, "class" | "name">;

/** The inputs the requester has sent and completed, as the API recorded them (anything malformed is not one). */
export function sentInputsOf(run: PipelineRun): Record<string, SentInput> {
  let recorded: unknown;
  try {
    recorded = JSON.parse(run.metadata.annotations?.[sentInputsAnnotation] ?? "{}");
  } catch {
    return {};
  }
  if (typeof recorded !== "object" || recorded === null) return {};
  const wellFormed = (v: unknown): v is SentInput => {
    const { class: kind, name } = (v ?? {}) as { class?: unknown; name?: unknown };
    return (kind === "File" || kind === "Directory") && typeof name === "string" && basenameProblem(name) === undefined;
  };
  return Object.fromEntries(Object.entries(recorded).filter(([, v]) => wellFormed(v))) as Record<string, SentInput>;
}

/** The annotation recording one more input sent and completed. */
export function withSentInput(run: PipelineRun, input: string, sent: SentInput): string {
  return JSON.stringify({ ...sentInputsOf(run), [input]: { class: sent.class, name: sent.name } });
}

/** The job values of the awaited inputs sent so far: where the pods read them. */
export function sentJob(run: PipelineRun): Record<string, { class: "File" | "Directory"; location: string }> {
  const sent = sentInputsOf(run);
  return Object.fromEntries(awaitedInputsOf(run).flatMap((name) => (sent[name] ? [[name, sentInputValue(name, sent[name])]] : [])));
}

/** The awaited inputs not sent and completed yet. */
export function missingInputs(run: PipelineRun): string[] {
  const sent = sentInputsOf(run);
  return awaitedInputsOf(run).filter((name) => !(name in sent));
}

/** For the requester: the inputs still awaited, or undefined for a run that awaits none. */
export const awaitingOf = (run: PipelineRun): string[] | undefined => (awaitedInputsOf(run).length > 0 ? missingInputs(run) : undefined);

/** Why the run cannot start yet: inputs its requester has not sent. */
export function inputsAwaited(run: PipelineRun, requester: string): Blocked | undefined {
  const missing = missingInputs(run);
  if (missing.length === 0) return undefined;
  return { reason: RunReason.InputsAwaited, message: `waiting for peer ${requester} to send input${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (outputs of its steps elsewhere); the run starts once all have arrived` };
}

/** The job value of a completed input: where the pods read it. */
export function sentInputValue(input: string, body: Pick<PeerInputComplete, "class" | "name">): { class: "File" | "Directory"; location: string } {
  return { class: body.class, location: pathToFileURL(`${podInputsDir}/${input}/${body.name}`).href };
}

/** A file's path under the input's folder: a File's name, or a Directory's name and the file's path below it. */
export function sentFilePath(body: Pick<PeerInputComplete, "class" | "name">, file: { path: string }): string {
  return body.class === "File" ? body.name : `${body.name}/${file.path}`;
}

/** Why a file cannot be sent to `path` with `size` bytes, or undefined. */
export function sentFileProblem(path: string, size: number): { field: string; message: string } | undefined {
  const problem = outputPathProblem(path);
  if (problem) return { field: "query.path", message: `query.path: ${JSON.stringify(path)} ${problem}` };
  if (!Number.isSafeInteger(size) || size < 0 || size > maxPeerOutputBytes) return { field: "query.size", message: `query.size: ${size} is not a size from 0 to ${maxPeerOutputBytes} bytes` };
  return undefined;
}

/** What the completion says is wrong in itself (names, paths, counts, total), or undefined. */
function completionShapeProblem(body: PeerInputComplete): string | undefined {
  const name = basenameProblem(body.name);
  if (name) return `body.name: ${JSON.stringify(body.name)} ${name}`;
  if (body.class === "File" && (body.files.length !== 1 || body.files[0]?.path !== body.name)) return "body.files: a File is one file, whose path is its name";
  return filesProblem(body.files);
}

/** The files' paths are plain, each named once, within the counts and bytes that cross. */
function filesProblem(files: PeerInputComplete["files"]): string | undefined {
  const bad = files.findIndex((f) => outputPathProblem(f.path) !== undefined);
  if (bad >= 0) return `body.files[${bad}].path: ${JSON.stringify(files[bad]?.path)} ${outputPathProblem(files[bad]?.path ?? "") ?? ""}`;
  if (new Set(files.map((f) => f.path)).size !== files.length) return "body.files: a path is named twice";
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (files.length > maxPeerOutputFiles || total > maxPeerOutputBytes) return `body.files: ${files.length} files of ${total} bytes; at most ${maxPeerOutputFiles} files and ${maxPeerOutputBytes} bytes cross`;
  return undefined;
}

/**
 * What is wrong with a completion against what is stored under the input's folder (paths relative
 * to it, with sizes), or undefined: every file named is there with its size, and nothing else is
 * (a file left by an earlier attempt would appear in the pods' Directory). Digests are checked
 * after, by reading what this leaves.
 */
export function completionProblem(body: PeerInputComplete, stored: readonly { path: string; size: number }[]): string | undefined {
  const shape = completionShapeProblem(body);
  if (shape) return shape;
  const sizes = new Map(stored.map((o) => [o.path, o.size]));
  for (const [i, f] of body.files.entries()) {
    const path = sentFilePath(body, f);
    const size = sizes.get(path);
    if (size === undefined) return `body.files[${i}]: ${path} was not sent (PUT it first)`;
    if (size !== f.size) return `body.files[${i}]: ${path} was sent with ${size} bytes, not ${f.size}`;
  }
  const named = new Set(body.files.map((f) => sentFilePath(body, f)));
  const extra = stored.find((o) => !named.has(o.path));
  return extra ? `body.files: ${extra.path} was sent but is not named here (the pods would see it): name every file sent` : undefined;
}
