// The I/O of a run's data inputs and storage outputs (decisions in dataAccess.ts): the run's
// AccessGrants (created owned by the run, never adopted), the credentials they issue (read from the
// Secret the grant controls, used for the copy and never logged), each input (an object, or the
// objects under a prefix) streamed into the run's inputs in the artifact repository, where the pods
// find it (dataStaging.ts), and each output sent to storage copied there once the run has
// succeeded. The grants are released when the run ends.
import type { CoreV1Api, KubernetesObject } from "@kubernetes/client-node";
import type { S3Client } from "@aws-sdk/client-s3";
import { timed } from "../pipeline/timed.ts";
import type { EgressPolicy } from "../runtime/egress.ts";
import { errorMessage, isAlreadyExists, isNotFound } from "../runtime/errors.ts";
import type { ReconcileContext } from "../runtime/index.ts";
import { isControlledBy } from "../runtime/ownerReferences.ts";
import { type AccessGrant, accessGrantKind } from "../schema/accessGrant.ts";
import { kindRefOf } from "../schema/kind.ts";
import type { PipelineInput, PipelineOutput, PipelineRun, PipelineRunStatus } from "../schema/pipelineRun.ts";
import { type Reservation, reservationKind } from "../schema/reservation.ts";
import type { Resource } from "../schema/resource.ts";
import { resourceKindRef } from "../catalog/providerReconciler.ts";
import { type ArtifactStore, s3Backend } from "./artifactStore.ts";
import { copyObjects, CopyRefused, copyS3Object, listPrefix, type S3Place } from "./objectCopy.ts";
import { dataInputOf, deliveredKey, directoryCopies, outputInRunArea, type GrantWant, grantVerdict, type StorageOutput, storageIndexes, storageOutputOf, localDataIndexes, runGrantBody, runGrantee, runGrantName, servedPeerOf, stagedDataValue, maxStagedBytes } from "./dataAccess.ts";
import { stageData } from "./dataStaging.ts";
import { RunReason } from "./reasons.ts";
import type { Blocked } from "./serviceResolution.ts";

export const accessGrantKindRef = kindRefOf(accessGrantKind);
const reservationKindRef = kindRefOf(reservationKind);

/** Outputs sent to storage are bounded as data inputs are. */
export { maxStagedBytes };

export interface RunAccessDeps {
  core: CoreV1Api;
  egress: EgressPolicy;
  requestTimeoutMs: number;
  now: () => Date;
}

const isBlocked = (x: unknown): x is Blocked => typeof x === "object" && x !== null && "reason" in x && "message" in x;

type Outputs = NonNullable<PipelineRunStatus["outputs"]>;

/**
 * Where a run's outputs are copied from for delivery: this cluster's artifact repository, or a
 * peer through the federation API (an output of a step run there). Each copy is streamed into
 * `to` (objectCopy.ts).
 */
export interface OutputSource {
  /**
   * Copies the output to `key` (a Directory: its objects under `key/`); whether it was a Directory.
   * `directory` is what the run's status says; a peer's answer says it for itself.
   */
  copy(output: string, from: { location: string; directory: boolean }, to: S3Place, key: string): Promise<{ directory: boolean }>;
  close(): void;
}

/** Outputs of this cluster's Workflow, read from its area of the artifact repository (`prefix`, ending in "/"). */
export function repositorySource(store: ArtifactStore, area: { prefix: string; ms: number }): OutputSource {
  const { ms } = area;
  const limits = { ms, maxBytes: maxStagedBytes };
  const copyDirectory = async (source: S3Place, key: string, to: S3Place, base: string): Promise<void> => {
    const prefix = `${key.replace(/\/+$/, "")}/`;
    const copies = directoryCopies({ where: `s3://${source.bucket}/${prefix}`, prefix }, base, await listPrefix(source, prefix, ms));
    if ("problem" in copies) throw new CopyRefused(copies.problem);
    await copyObjects(source, to, copies, limits);
  };
  return {
    copy: async (_output, from, to, key) => {
      const found = outputInRunArea(from.location, { bucket: store.repository.bucket, prefix: area.prefix });
      if ("problem" in found) throw new CopyRefused(found.problem);
      const source = { s3: store.s3, bucket: found.bucket };
      if (from.directory) await copyDirectory(source, found.key, to, key);
      else await copyS3Object(source, to, { source: found.key, target: key }, limits);
      return { directory: from.directory };
    },
    close: () => store.s3.destroy(),
  };
}

export interface RunAccess {
  stageDataInputs: (ctx: ReconcileContext, run: PipelineRun, inputs: readonly PipelineInput[], into: { store: ArtifactStore; inputsKey: string }) => Promise<Record<string, unknown> | Blocked>;
  /** The write grants of the outputs sent to storage, obtained before anything runs. */
  storageGrants: (ctx: ReconcileContext, run: PipelineRun, outputs: readonly PipelineOutput[]) => Promise<Blocked | undefined>;
  /** Copies the succeeded run's outputs that go to storage there: the outputs with their new locations. */
  deliverOutputs: (ctx: ReconcileContext, run: PipelineRun, outputs: readonly PipelineOutput[], observed: { outputs: Outputs; open: () => Promise<OutputSource> }) => Promise<Outputs | Blocked>;
  releaseGrants: (ctx: ReconcileContext, run: PipelineRun) => Promise<void>;
}

export function createRunAccess(deps: RunAccessDeps): RunAccess {
  const ms = deps.requestTimeoutMs;

  /** The run's grant, created if missing; Ready with a Secret, or why not yet. */
  async function ensureGrant(ctx: ReconcileContext, run: PipelineRun, input: GrantWant): Promise<AccessGrant | Blocked> {
    const namespace = run.metadata.namespace ?? "";
    let grant = ctx.cache<AccessGrant>(accessGrantKindRef).get({ namespace, name: input.grant });
    if (!grant) {
      const servedPeer = servedPeerOf(run, (name) => ctx.cache<Reservation>(reservationKindRef).get({ namespace, name }));
      const body = runGrantBody(run, { name: input.grant, resource: input.resource, mode: input.mode, grantee: runGrantee(run, servedPeer), now: deps.now() });
      grant = await createOrRead(ctx, body);
      ctx.logger.info("access grant created for a run", { namespace, run: run.metadata.name, grant: input.grant, resource: input.resource });
    }
    return grantVerdict(grant, isControlledBy(grant as KubernetesObject, run as KubernetesObject), input) ?? grant;
  }

  async function createOrRead(ctx: ReconcileContext, body: AccessGrant): Promise<AccessGrant> {
    const { namespace = "", name = "" } = body.metadata;
    try {
      return (await timed(`creating AccessGrant ${namespace}/${name}`, ctx.client.create(body as KubernetesObject), ms)) as AccessGrant;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      return (await timed(`reading AccessGrant ${namespace}/${name}`, ctx.client.read({ apiVersion: body.apiVersion, kind: body.kind, metadata: { namespace, name } }), ms)) as AccessGrant;
    }
  }

  /** The grant's credentials, from the Secret it controls (a Secret another owner holds is never read from). */
  async function credentialsOf(grant: AccessGrant): Promise<Record<string, string>> {
    const namespace = grant.metadata.namespace ?? "";
    const name = grant.status?.secretRef?.name ?? "";
    const secret = await timed(`reading the credentials of AccessGrant ${namespace}/${grant.metadata.name ?? ""}`, deps.core.readNamespacedSecret({ namespace, name }), ms);
    if (!isControlledBy(secret as KubernetesObject, grant as KubernetesObject)) throw new Error(`Secret ${name} is not controlled by AccessGrant ${grant.metadata.name ?? ""}`);
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
  }

  /** An S3 client as the grant's grantee, bounded and through the egress policy. */
  const granteeS3 = async (creds: Record<string, string>): Promise<S3Client> =>
    (await s3Backend()).adminS3({ endpoint: creds.endpoint ?? "", region: creds.region ?? "us-east-1", accessKeyId: creds.accessKeyId ?? "", secretAccessKey: creds.secretAccessKey ?? "", egress: deps.egress });

  async function stageOne(ctx: ReconcileContext, run: PipelineRun, index: number, into: { store: ArtifactStore; inputsKey: string }): Promise<[string, unknown] | Blocked> {
    const ref = (run.spec.inputs ?? [])[index]?.resourceRef;
    const resource = ref ? ctx.cache<Resource>(resourceKindRef).get({ namespace: run.metadata.namespace ?? "", name: ref.name }) : undefined;
    const input = dataInputOf(run, index, resource);
    if (isBlocked(input)) return input;
    const grant = await ensureGrant(ctx, run, input);
    if (isBlocked(grant)) return grant;
    const source = await granteeS3(await credentialsOf(grant));
    try {
      const bytes = await stageData(source, input, into, ms);
      ctx.logger.debug("data input staged", { namespace: run.metadata.namespace, run: run.metadata.name, input: input.input, kind: input.kind, bytes });
    } catch (err) {
      return { reason: RunReason.DataUnavailable, message: `${input.at}: reading s3://${input.bucket}/${input.key} of Resource ${input.resource} through AccessGrant ${input.grant}: ${errorMessage(err)} (trying again in 30 s)` };
    } finally {
      source.destroy();
    }
    return [input.input, stagedDataValue(input)];
  }

  async function stageDataInputs(ctx: ReconcileContext, run: PipelineRun, inputs: readonly PipelineInput[], into: { store: ArtifactStore; inputsKey: string }): Promise<Record<string, unknown> | Blocked> {
    const job: Record<string, unknown> = {};
    for (const index of localDataIndexes(run, inputs)) {
      const staged = await stageOne(ctx, run, index, into);
      if (isBlocked(staged)) return staged;
      job[staged[0]] = staged[1];
    }
    if (Object.keys(job).length > 0) ctx.logger.info("data inputs staged", { namespace: run.metadata.namespace, name: run.metadata.name, inputs: Object.keys(job) });
    return job;
  }

  function storageOutputs(ctx: ReconcileContext, run: PipelineRun, outputs: readonly PipelineOutput[]): (StorageOutput | Blocked)[] {
    const resources = ctx.cache<Resource>(resourceKindRef);
    return storageIndexes(run, outputs).map((index) => {
      const ref = (run.spec.outputs ?? [])[index]?.storageRef;
      return storageOutputOf(run, index, ref ? resources.get({ namespace: run.metadata.namespace ?? "", name: ref.name }) : undefined);
    });
  }

  async function storageGrants(ctx: ReconcileContext, run: PipelineRun, outputs: readonly PipelineOutput[]): Promise<Blocked | undefined> {
    for (const wanted of storageOutputs(ctx, run, outputs)) {
      if (isBlocked(wanted)) return wanted;
      const grant = await ensureGrant(ctx, run, wanted);
      if (isBlocked(grant)) return grant;
    }
    return undefined;
  }

  /** Copies the output under the write grant's area, as the grantee; its location there. */
  async function deliverOne(output: StorageOutput, grant: AccessGrant, from: { location: string; directory: boolean; source: OutputSource }): Promise<string> {
    const creds = await credentialsOf(grant);
    const to = { s3: await granteeS3(creds), bucket: creds.bucket ?? "" };
    const key = deliveredKey(creds.prefix ?? "", output, from.location);
    try {
      const { directory } = await from.source.copy(output.output, from, to, key);
      return `s3://${to.bucket}/${key}${directory ? "/" : ""}`;
    } finally {
      to.s3.destroy();
    }
  }

  /** A refused copy ends the run (OutputsRefused); any other failure is tried again. */
  function copyFailed(output: StorageOutput, err: unknown): Blocked {
    const copying = `${output.at}: copying output ${output.output} to storage Resource ${output.resource}: ${errorMessage(err)}`;
    if (err instanceof CopyRefused) return { reason: RunReason.OutputsRefused, message: copying };
    return { reason: RunReason.OutputsUndelivered, message: `${copying} (trying again in 30 s)` };
  }

  async function deliverOutputs(ctx: ReconcileContext, run: PipelineRun, outputs: readonly PipelineOutput[], observed: { outputs: Outputs; open: () => Promise<OutputSource> }): Promise<Outputs | Blocked> {
    const wanted = storageOutputs(ctx, run, outputs);
    if (wanted.length === 0) return observed.outputs;
    const source = await observed.open();
    const delivered = new Map<string, string>();
    try {
      for (const output of wanted) {
        if (isBlocked(output)) return output;
        const grant = await ensureGrant(ctx, run, output);
        if (isBlocked(grant)) return grant;
        const found = observed.outputs.find((o) => o.name === output.output);
        try {
          delivered.set(output.output, await deliverOne(output, grant, { location: found?.location ?? "", directory: found?.class === "Directory", source }));
        } catch (err) {
          return copyFailed(output, err);
        }
      }
    } finally {
      source.close();
    }
    ctx.logger.info("outputs delivered to storage", { namespace: run.metadata.namespace, name: run.metadata.name, outputs: [...delivered.keys()] });
    return observed.outputs.map((o) => (delivered.has(o.name) ? { ...o, location: delivered.get(o.name) ?? "" } : o));
  }

  /** Deletes the run's grants (only those it controls): the credentials stop working once the run has ended. */
  async function releaseGrants(ctx: ReconcileContext, run: PipelineRun): Promise<void> {
    const namespace = run.metadata.namespace ?? "";
    const names = [...(run.spec.inputs ?? []).map((i) => runGrantName(run, "in", i.name)), ...(run.spec.outputs ?? []).filter((o) => o.storageRef).map((o) => runGrantName(run, "out", o.name))];
    for (const name of names) {
      const grant = ctx.cache<AccessGrant>(accessGrantKindRef).get({ namespace, name });
      if (!grant || grant.metadata.deletionTimestamp || !isControlledBy(grant as KubernetesObject, run as KubernetesObject)) continue;
      try {
        await timed(`deleting AccessGrant ${namespace}/${name}`, ctx.client.delete(grant as KubernetesObject), ms);
        ctx.logger.info("access grant released", { namespace, run: run.metadata.name, grant: name });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  return { stageDataInputs, storageGrants, deliverOutputs, releaseGrants };
}
