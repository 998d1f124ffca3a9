// A run's objects in this cluster's Argo artifact repository — its steps' outputs and the inputs
// staged for them, all under `<keyPrefix>/<namespace>/<workflow>/` (the Workflow's namespace: a
// served run's is its reservation's workspace) — belong to the run: deleting the run deletes them.
// A finalizer, added before anything is written there, holds the deleted run until
// they are gone. Argo's own artifact GC (`artifactGC: OnWorkflowDeletion`) is not used: it runs a
// pod per Workflow that needs the repository's credentials and RBAC on Argo's GC tasks in every
// run namespace, and a Workflow can be deleted without its run. Outputs a user keeps go to a
// storage Resource (`spec.outputs[].storageRef`), which a run never deletes.
import type { CoreV1Api, KubernetesObject, V1Secret } from "@kubernetes/client-node";
import { s3BackendError } from "../catalog/backends/s3Errors.ts";
import type { ReconcileContext } from "../runtime/index.ts";
import { errorMessage, isAlreadyExists, isNotFound } from "../runtime/errors.ts";
import type { EventRecorder } from "../runtime/events.ts";
import { ensureFinalizer, hasFinalizer, removeFinalizer } from "../runtime/finalizers.ts";
import { controllerMarks, isControlledAcross } from "../runtime/ownerReferences.ts";
import { present } from "../runtime/present.ts";
import { workflowKeyBase } from "../pipeline/argo/conventions.ts";
import type { S3Repository } from "../pipeline/argo/translate.ts";
import { timed } from "../pipeline/timed.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import { artifactStore, type ArtifactStoreSettings, s3Backend } from "./artifactStore.ts";
import { runCredentialNames, runCredentialsKeys, runCredentialsSecretName, withRunCredentials } from "./runCredentials.ts";

export const runArtifactsFinalizer = "archipel.io/run-artifacts";

/** The run's Workflow by namespace and name: its Secret is made there, its objects are keyed by both. */
export interface WorkflowPlace {
  namespace: string;
  name: string;
}

/**
 * What the run wrote in the repository's bucket (translate.ts's keys). A run that never ran its own
 * Workflow (no status.workflowRef: its name was taken) wrote at most the inputs it staged; the
 * rest of the prefix is the other Workflow's.
 */
export function runArtifactsPrefix(keyPrefix: string, run: PipelineRun, workflow: WorkflowPlace): string {
  const base = `${workflowKeyBase(keyPrefix, workflow.namespace, workflow.name)}/`;
  return run.status?.workflowRef ? base : `${base}inputs/`;
}

/**
 * Whether a failed deletion is retried: not once the repository's Secret or ConfigMap is gone (a
 * namespace being deleted takes its Secret first, and would otherwise wait on the run), nor after
 * `giveUpAfterMs` since the run was deleted.
 */
export function keepTrying(err: unknown, deletedAt: string | Date | undefined, now: number, giveUpAfterMs: number): boolean {
  if (isNotFound(err)) return false;
  const since = deletedAt ? new Date(deletedAt).getTime() : now;
  return now - since < giveUpAfterMs;
}

export interface RunArtifactsDeps {
  core: CoreV1Api;
  artifacts: ArtifactStoreSettings;
  events: EventRecorder;
  now: () => number;
  giveUpAfterMs: number;
  retryAfterMs: number;
  requestTimeoutMs: number;
}

/** A Secret of that name exists and is not the run's: it is never read, changed or adopted. */
export class CredentialsNameTaken extends Error {}

export function createRunArtifacts(deps: RunArtifactsDeps): {
  /** Marks the run as owning objects in the repository, before its first is written; the run as written. */
  hold(ctx: ReconcileContext, run: PipelineRun): Promise<PipelineRun>;
  /** A deleted run's objects deleted and its own user revoked (or given up on); the run as it is after, or when to try again. */
  release(ctx: ReconcileContext, run: PipelineRun, workflow: WorkflowPlace): Promise<{ run: PipelineRun } | { requeueAfter: number }>;
  /** The run's own user and its Secret (next to the Workflow), before its Workflow exists: the repository its pods use. */
  issueCredentials(ctx: ReconcileContext, run: PipelineRun, workflow: WorkflowPlace, repository: S3Repository): Promise<S3Repository>;
  /** The run's own user deleted: its key stops working (its Secret goes with the run, or with the workspace). */
  revokeCredentials(run: PipelineRun, workflow: WorkflowPlace): Promise<void>;
} {
  const { core } = deps;
  const ms = deps.requestTimeoutMs;

  async function readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await timed(`reading Secret ${namespace}/${name}`, core.readNamespacedSecret({ namespace, name }), ms);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  function mine(secret: V1Secret, run: PipelineRun): V1Secret {
    if (isControlledAcross(secret as KubernetesObject, run as KubernetesObject)) return secret;
    throw new CredentialsNameTaken(`Secret ${secret.metadata?.namespace ?? ""}/${secret.metadata?.name ?? ""} exists and is not this run's (it would hold the run's credentials to the artifact repository); delete it or rename the run`);
  }

  async function issueCredentials(ctx: ReconcileContext, run: PipelineRun, workflow: WorkflowPlace, repository: S3Repository): Promise<S3Repository> {
    const { namespace } = workflow;
    const name = runCredentialsSecretName(workflow.name);
    const existing = await readSecret(namespace, name);
    // Issued on an earlier pass: the Secret is written last, so its presence means the user is whole.
    if (existing) return (mine(existing, run), withRunCredentials(repository, workflow.name));
    // The repository's own credentials are read in the run's namespace (a workspace holds none).
    const store = await artifactStore(core, deps.artifacts, run.metadata.namespace ?? "");
    const names = runCredentialNames(repository, namespace, workflow.name);
    try {
      const { applyS3Grant, issueS3AccessKey } = await s3Backend();
      await applyS3Grant(store.admin, names, "write");
      const key = await issueS3AccessKey(store.admin, names);
      const marks = controllerMarks(run as KubernetesObject, namespace);
      const secret: V1Secret = {
        apiVersion: "v1",
        kind: "Secret",
        type: "Opaque",
        metadata: { name, namespace, ...marks, labels: { ...marks.labels, "archipel.io/pipelinerun": workflow.name.slice(0, 63) } },
        stringData: { [runCredentialsKeys.accessKey]: key.accessKeyId, [runCredentialsKeys.secretKey]: key.secretAccessKey },
      };
      await timed(`creating Secret ${namespace}/${name}`, core.createNamespacedSecret({ namespace, body: secret }), ms).catch(async (err: unknown) => {
        // Another pass (or someone else) wrote it meanwhile: ours is fine as it is, another's is not.
        if (!isAlreadyExists(err)) throw err;
        const found = await readSecret(namespace, name);
        if (found) mine(found, run);
      });
    } finally {
      store.s3.destroy();
    }
    ctx.logger.info("run's artifact credentials issued", { namespace, run: run.metadata.name, user: names.user, prefix: `s3://${names.bucket}/${names.prefix}` });
    return withRunCredentials(repository, workflow.name);
  }

  async function revokeCredentials(run: PipelineRun, workflow: WorkflowPlace): Promise<void> {
    const store = await artifactStore(core, deps.artifacts, run.metadata.namespace ?? "");
    try {
      const { revokeS3Grant } = await s3Backend();
      await revokeS3Grant(store.admin, runCredentialNames(store.repository, workflow.namespace, workflow.name));
    } finally {
      store.s3.destroy();
    }
  }

  async function hold(ctx: ReconcileContext, run: PipelineRun): Promise<PipelineRun> {
    const updated = await ensureFinalizer(ctx.client, run as KubernetesObject, runArtifactsFinalizer);
    // The pass goes on with the new resourceVersion: its status write would otherwise conflict.
    const written = updated?.metadata;
    return written ? { ...run, metadata: { ...run.metadata, ...present({ resourceVersion: written.resourceVersion, finalizers: written.finalizers }) } } : run;
  }

  async function release(ctx: ReconcileContext, run: PipelineRun, workflow: WorkflowPlace): Promise<{ run: PipelineRun } | { requeueAfter: number }> {
    if (!hasFinalizer(run as KubernetesObject, runArtifactsFinalizer)) return { run };
    const namespace = run.metadata.namespace ?? "";
    const prefix = runArtifactsPrefix(deps.artifacts.keyPrefix, run, workflow);
    let where = prefix;
    try {
      const store = await artifactStore(deps.core, deps.artifacts, namespace);
      where = `s3://${store.repository.bucket}/${prefix}`;
      const { deleteObjectsUnder } = await s3Backend();
      const deleted = await deleteObjectsUnder(store.s3, store.repository.bucket, prefix)
        .catch((err: unknown) => {
          throw s3BackendError(err, `deleting the objects under ${where}`);
        })
        .finally(() => store.s3.destroy());
      if (run.status?.artifactAccess?.revoked !== true) await revokeCredentials(run, workflow);
      ctx.logger.info("run's artifacts deleted", { namespace, run: run.metadata.name, prefix: where, objects: deleted });
    } catch (err) {
      if (keepTrying(err, run.metadata.deletionTimestamp, deps.now(), deps.giveUpAfterMs)) {
        ctx.logger.warn("run's artifacts not deleted yet; retrying", { namespace, run: run.metadata.name, prefix: where, error: errorMessage(err) });
        return { requeueAfter: deps.retryAfterMs };
      }
      return leave(ctx, run, `the run's objects under ${where} were not deleted (${errorMessage(err)}); delete them by hand`);
    }
    return letGo(ctx, run);
  }

  async function leave(ctx: ReconcileContext, run: PipelineRun, note: string): Promise<{ run: PipelineRun }> {
    await deps.events.record(run as KubernetesObject, { type: "Warning", reason: "ArtifactsLeftBehind", action: "Delete", note });
    return letGo(ctx, run);
  }

  async function letGo(ctx: ReconcileContext, run: PipelineRun): Promise<{ run: PipelineRun }> {
    const updated = await removeFinalizer(ctx.client, run as KubernetesObject, runArtifactsFinalizer);
    return { run: (updated as PipelineRun | undefined) ?? run };
  }

  return { hold, release, issueCredentials, revokeCredentials };
}
