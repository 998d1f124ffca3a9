// What a run needs from the catalog: for each input bound to a data Resource of this cluster, an
// AccessGrant (read) owned by the run, and where the object is staged for the pods; for each output
// sent to a storage Resource, a write grant obtained before anything runs, and where the output
// lands once the run has succeeded. Pure: names, bodies and verdicts; runAccess.ts does the I/O.
//
// Who the grant is for decides what visibility allows (the grant controller checks it): the Peer a
// served run was made for (the Reservation that owns the run names it), else the ServiceAccount the
// run's pods run as. The grant is the run's, so deleting the run revokes it (garbage collection).
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { pathToFileURL } from "node:url";
import { boundedName } from "../catalog/accessGrantPlan.ts";
import { podInputsDir } from "../pipeline/argo/conventions.ts";
import { controllerRef } from "../runtime/ownerReferences.ts";
import type { AccessGrant, Grantee } from "../schema/accessGrant.ts";
import type { PipelineInput, PipelineOutput, PipelineRun } from "../schema/pipelineRun.ts";
import type { Reservation } from "../schema/reservation.ts";
import type { Resource } from "../schema/resource.ts";
import type { KubernetesObject } from "@kubernetes/client-node";
import { requesterPeerLabel, requesterProjectAnnotation } from "../federation/peerRuns.ts";
import { RunReason } from "./reasons.ts";
import type { Blocked } from "./serviceResolution.ts";

/** How long a run's grant lasts at most: it is released when the run ends, this bounds a run that never does. */
export const runGrantLifetimeMs = 24 * 3600_000;

/** A grant the run needs: on which Resource, for what, and the field that asked for it. */
export interface GrantWant {
  /** the spec field naming the Resource (errors name it) */
  at: string;
  resource: string;
  grant: string;
  mode: "read" | "write";
}

/** A data input this cluster can stage: the object (or prefix) it reads and the grant that lets it. */
export interface DataInput extends GrantWant {
  input: string;
  bucket: string;
  /** an object key (a CWL File), or a prefix ending in "/" (a CWL Directory of the objects under it) */
  key: string;
  kind: "File" | "Directory";
}

/** What the orchestrator copies of one data input or storage output at most: the copy is bounded, and so is the time a pass spends on it. */
export const maxStagedBytes = 256 * 1024 * 1024;
export const maxStagedObjects = 10_000;

/** An output copied to a storage Resource of this cluster once the run has succeeded. */
export interface StorageOutput extends GrantWant {
  output: string;
  /** under the grant's area (spec.outputs[].prefix) */
  prefix: string;
}

/** The run's grant for one input or output: `<run>-<purpose>-<name>`, a DNS name whatever the CWL name's case. */
export function runGrantName(run: PipelineRun, purpose: "in" | "out", name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  // Two names that differ only in case or punctuation must not share a grant.
  const suffix = slug === name ? "" : `-${createHash("sha256").update(name).digest("hex").slice(0, 6)}`;
  return boundedName(`${run.metadata.name ?? ""}-${purpose}-${slug || "x"}`, suffix, 253);
}

/** The Reservation a run is served under: the one that owns it, made for the Peer the run is labelled for. */
export function servedReservationOf(run: PipelineRun, reservation: (name: string) => Reservation | undefined): Reservation | undefined {
  const labelled = run.metadata.labels?.[requesterPeerLabel];
  if (!labelled) return undefined;
  const owner = run.metadata.ownerReferences?.find((r) => r.kind === "Reservation");
  const held = owner ? reservation(owner.name) : undefined;
  return held && held.metadata.uid === owner?.uid && held.spec.requester?.peer === labelled ? held : undefined;
}

/** The Peer a served run reads data for: only when the Reservation that owns the run was made for that same Peer. */
export function servedPeerOf(run: PipelineRun, reservation: (name: string) => Reservation | undefined): string | undefined {
  return servedReservationOf(run, reservation)?.spec.requester?.peer;
}

export function runGrantee(run: PipelineRun, servedPeer: string | undefined): Grantee {
  const project = run.metadata.annotations?.[requesterProjectAnnotation];
  if (servedPeer) return { kind: "Peer", name: servedPeer, ...(project ? { project } : {}) };
  return { kind: "ServiceAccount", name: run.spec.serviceAccountName ?? "default", namespace: run.metadata.namespace ?? "" };
}

/** The grant as created: owned by the run (its controller), read or write, for the run's grantee. */
export function runGrantBody(run: PipelineRun, want: { name: string; resource: string; mode: "read" | "write"; grantee: Grantee; now: Date }): AccessGrant {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "AccessGrant",
    metadata: { name: want.name, namespace: run.metadata.namespace ?? "", ownerReferences: [controllerRef(run as KubernetesObject)], labels: { "archipel.io/pipelinerun": (run.metadata.name ?? "").slice(0, 63) } },
    spec: {
      resourceRef: { name: want.resource },
      grantee: want.grantee,
      mode: want.mode,
      expiresAt: new Date(want.now.getTime() + runGrantLifetimeMs).toISOString().replace(/\.\d{3}Z$/, "Z"),
      pipelineRunRef: { name: run.metadata.name ?? "" },
      purpose: `PipelineRun ${run.metadata.name ?? ""}: ${want.mode === "read" ? "read a data input" : "write an output"}`,
    },
  };
}

/** The data input's object, or why the run cannot read it here. */
export function dataInputOf(run: PipelineRun, index: number, resource: Resource | undefined): DataInput | Blocked {
  const binding = (run.spec.inputs ?? [])[index] as PipelineInput;
  const at = `spec.inputs[${index}].resourceRef`;
  const ref = binding.resourceRef;
  const namespace = run.metadata.namespace ?? "";
  if (ref.namespace !== undefined && ref.namespace !== namespace) return { reason: RunReason.CrossNamespaceNotSupported, message: `${at}.namespace: data of other namespaces is not read yet; grant it in namespace ${namespace}` };
  if (!resource) return { reason: RunReason.DataNotFound, message: `${at}: no Resource ${ref.name} in namespace ${namespace}` };
  if (resource.spec.type !== "data") return { reason: RunReason.NotData, message: `${at}: Resource ${ref.name} is ${resource.spec.type}, not data` };
  const s3 = resource.spec.data?.s3;
  if (!s3) return { reason: RunReason.DataInputsNotSupported, message: `${at}: data Resource ${ref.name} is not an S3 object or prefix; only S3 data is staged for steps yet` };
  const kind = s3.key.endsWith("/") ? "Directory" : "File";
  return { input: binding.name, at, resource: ref.name, bucket: s3.bucket, key: s3.key, kind, grant: runGrantName(run, "in", binding.name), mode: "read" };
}

/** The File's or Directory's own name: the object's last segment, or the prefix's. */
function stagedName(input: DataInput): string {
  return posix.basename(input.key) || "data";
}

/**
 * Where an input is put in the run's inputs: the File's object, or the Directory the objects under
 * the prefix go in (`data.` cannot begin an output name: no clash with outputs brought from a peer).
 */
export function stagedDataKey(inputsKey: string, input: DataInput): string {
  return `${inputsKey}/data.${input.input}/${stagedName(input)}`;
}

/** The job value the pods read the staged File or Directory as. */
export function stagedDataValue(input: DataInput): { class: "File" | "Directory"; location: string } {
  return { class: input.kind, location: pathToFileURL(`${podInputsDir}/data.${input.input}/${stagedName(input)}`).href };
}

/** One object of a Directory copied: from its key, to its key, and its size as listed. */
export interface StagedObject {
  source: string;
  target: string;
  size: number;
}

/**
 * The copies of a Directory, from a listing of its prefix: each object under `targetBase` at its
 * path below the prefix. Folder markers (keys ending in "/") carry no file. A path with an empty,
 * "." or ".." segment is refused, not copied: whoever writes the Directory out as files (the pods'
 * executor) would put such an object outside it.
 */
export function directoryCopies(from: { where: string; prefix: string }, targetBase: string, listed: readonly { key: string; size: number }[]): StagedObject[] | { problem: string } {
  const files = listed.filter((o) => !o.key.endsWith("/"));
  if (files.length === 0) return { problem: `no object under ${from.where} (an empty Directory is not copied)` };
  if (files.length > maxStagedObjects) return { problem: `over ${maxStagedObjects} objects under ${from.where}; at most ${maxStagedObjects} are copied` };
  const total = files.reduce((sum, o) => sum + o.size, 0);
  if (total > maxStagedBytes) return { problem: `the objects under ${from.where} hold ${total} bytes; at most ${maxStagedBytes} are copied` };
  const copies: StagedObject[] = [];
  for (const object of files) {
    const path = object.key.slice(from.prefix.length);
    if (!object.key.startsWith(from.prefix) || path.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) {
      return { problem: `object ${JSON.stringify(object.key)} under ${from.where} has an empty, "." or ".." path segment; it cannot be copied as a file of the Directory` };
    }
    copies.push({ source: object.key, target: `${targetBase}/${path}`, size: object.size });
  }
  return copies;
}

/** The objects a Directory input copies into the run's inputs (directoryCopies). */
export function directoryObjects(inputsKey: string, input: DataInput, listed: readonly { key: string; size: number }[]): StagedObject[] | { problem: string } {
  return directoryCopies({ where: `s3://${input.bucket}/${input.key}`, prefix: input.key }, stagedDataKey(inputsKey, input), listed);
}

/** Inputs bound to data of this cluster (no peer): the ones this cluster stages. */
export function localDataIndexes(run: PipelineRun, inputs: readonly PipelineInput[]): number[] {
  const all = run.spec.inputs ?? [];
  return inputs.filter((i) => i.resourceRef.peer === undefined).map((i) => all.findIndex((a) => a.name === i.name));
}

/** The grant's Ready status for its current generation ("True" only once its Secret is named), or undefined while undecided. */
function grantDecision(grant: AccessGrant): { status: string; reason: string; message: string } | undefined {
  const status = grant.status ?? {};
  if (status.observedGeneration !== grant.metadata.generation) return undefined;
  const ready = status.conditions?.find((c) => c.type === "Ready");
  if (!ready || ready.status === "Unknown" || (ready.status === "True" && !status.secretRef)) return undefined;
  return ready;
}

/** Whether the run may use its grant now: undefined when it is issued, else why not. */
export function grantVerdict(grant: AccessGrant, ours: boolean, input: GrantWant): Blocked | undefined {
  if (!ours) return { reason: RunReason.NameTaken, message: `${input.at}: AccessGrant ${input.grant} exists and is not this run's; delete it or rename the run` };
  const decided = grantDecision(grant);
  if (!decided) return { reason: RunReason.GrantPending, message: `${input.at}: waiting for AccessGrant ${input.grant} (${input.mode} on Resource ${input.resource}) to be issued` };
  if (decided.status === "True") return undefined;
  return { reason: RunReason.GrantRefused, message: `${input.at}: AccessGrant ${input.grant} on Resource ${input.resource}: ${decided.reason}: ${decided.message}` };
}

function storageElsewhere(ref: { peer?: string; namespace?: string }, at: string, namespace: string): Blocked | undefined {
  if (ref.peer !== undefined) return { reason: RunReason.StorageOutputsNotSupported, message: `${at}.peer: outputs go to storage of this cluster only yet` };
  if (ref.namespace !== undefined && ref.namespace !== namespace) return { reason: RunReason.CrossNamespaceNotSupported, message: `${at}.namespace: storage of other namespaces is not written yet` };
  return undefined;
}

/** The outputs that go to storage (by index in spec.outputs), or why one cannot. */
export function storageOutputOf(run: PipelineRun, index: number, resource: Resource | undefined): StorageOutput | Blocked {
  const output = (run.spec.outputs ?? [])[index] as PipelineOutput;
  const at = `spec.outputs[${index}].storageRef`;
  const ref = output.storageRef ?? { name: "" };
  const namespace = run.metadata.namespace ?? "";
  const elsewhere = storageElsewhere(ref, at, namespace);
  if (elsewhere) return elsewhere;
  if (!resource) return { reason: RunReason.StorageNotFound, message: `${at}: no Resource ${ref.name} in namespace ${namespace}` };
  if (resource.spec.type !== "storage" || !resource.spec.storage?.s3) return { reason: RunReason.NotStorage, message: `${at}: Resource ${ref.name} is not S3 storage (its type is ${resource.spec.type})` };
  return { output: output.name, at, resource: ref.name, grant: runGrantName(run, "out", output.name), mode: "write", prefix: output.prefix ?? "" };
}

/** Where an output lands: under the write grant's area, then the output's prefix, with the file's own name. */
export function deliveredKey(grantPrefix: string, output: StorageOutput, location: string): string {
  return `${grantPrefix}${output.prefix}${posix.basename(location)}`;
}

/**
 * An output's location, if it lies in the run's own area of the artifact repository. The location
 * comes from the Workflow's output object, which the step's own `cwl.output.json` can shape, and
 * the copy reads with the repository's credentials: a location elsewhere (another bucket, another
 * run's objects, a path that climbs out with "..") is refused rather than copied to storage.
 */
export function outputInRunArea(location: string, area: { bucket: string; prefix: string }): { bucket: string; key: string } | { problem: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  const [bucket, key] = [m?.[1] ?? "", m?.[2] ?? ""];
  const segments = key.replace(/\/+$/, "").split("/");
  if (bucket !== area.bucket || !key.startsWith(area.prefix) || segments.some((s) => s === "" || s === "." || s === "..")) {
    return { problem: `its location ${JSON.stringify(location)} is not in the run's area of the artifact repository (s3://${area.bucket}/${area.prefix})` };
  }
  return { bucket, key };
}

/** The indexes of the outputs that go to storage. */
export function storageIndexes(run: PipelineRun, outputs: readonly PipelineOutput[]): number[] {
  const all = run.spec.outputs ?? [];
  return outputs.filter((o) => o.storageRef !== undefined).map((o) => all.findIndex((a) => a.name === o.name));
}
