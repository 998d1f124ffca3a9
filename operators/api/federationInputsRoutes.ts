// Federation (serving side): the inputs a requester sends to the run it asked for here, before
// that run starts (orchestrator/sentInputs.ts says why and what is checked). Each file is streamed
// into the run's inputs in the artifact repository as it arrives; the signed completion names
// every file's size and SHA-256, checked against what was stored (read back here) before the
// input is recorded sent on the run (its sent-inputs annotation), which lets the run start. Only
// the run's requester, only the inputs its request named, only before the run's Workflow exists.
import { createHash } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type ConfigurationOptions, type CoreV1Api, type CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { federationRunsPath, maxPeerOutputBytes, PeerInputComplete, sentInputsAnnotation } from "../federation/peerRuns.ts";
import { artifactStore, type ArtifactStore, type ArtifactStoreSettings, openObject, putObjectStream } from "../orchestrator/artifactStore.ts";
import { listPrefix } from "../orchestrator/objectCopy.ts";
import { workflowNamespaceOf } from "../orchestrator/runWorkspace.ts";
import { awaitedInputsOf, completionProblem, sentFilePath, sentFileProblem, sentInputsOf, withSentInput } from "../orchestrator/sentInputs.ts";
import { workflowKeyBase } from "../pipeline/argo/conventions.ts";
import { pipelineRunKind, type PipelineRun } from "../schema/pipelineRun.ts";
import { reservationKind, type Reservation } from "../schema/reservation.ts";
import { ApiError } from "./errors.ts";
import { type FederationAuthDeps, requirePeer } from "./federationAuth.ts";
import { NamespaceName, ObjectName } from "./kind-schemas.ts";

export interface RunInputsDeps {
  custom: CustomObjectsApi;
  core: CoreV1Api;
  opts: () => ConfigurationOptions;
  auth: FederationAuthDeps;
  artifacts: ArtifactStoreSettings;
  /** The Peer object's name of the signing peer (401 when unknown). */
  peerName: (caller: ReturnType<typeof requirePeer>) => string;
  /** The run made for `peerName`, or a 404. */
  peersRun: (namespace: string, name: string, peerName: string) => Promise<PipelineRun>;
  /** The run as the requester sees it (the answer to the completion). */
  answer: (run: PipelineRun) => unknown;
}

const InputParams = Type.Object({ namespace: NamespaceName, name: ObjectName, input: Type.String({ minLength: 1, maxLength: 128 }) });
const FileQuery = Type.Object(
  { path: Type.String({ minLength: 1, maxLength: 1024, description: "the File's name, or <Directory>/<path below it>" }), size: Type.Integer({ minimum: 0, maximum: maxPeerOutputBytes, description: "the file's bytes" }) },
  { additionalProperties: false },
);
const tags = ["federation"];
const inputRoute = `${federationRunsPath}/:namespace/:name/inputs/:input`;
/** The largest completion body: 10,000 files of up to 1,024-character paths, their sizes and digests. */
const completionBodyLimit = 16 << 20;

/** The input may still be sent: one the run awaits, not complete yet, the run not started. */
function requireOpenInput(run: PipelineRun, input: string): void {
  const which = `run ${run.metadata.namespace ?? ""}/${run.metadata.name ?? ""}`;
  if (!awaitedInputsOf(run).includes(input)) throw new ApiError(404, "NotFound", `params.input: ${which} awaits no input ${input}`, { field: "params.input" });
  if (input in sentInputsOf(run)) throw new ApiError(409, "InputComplete", `params.input: ${which} already has input ${input}; it is sent once`, { field: "params.input" });
  if (run.status?.workflowRef) throw new ApiError(409, "RunStarted", `${which} has started; its inputs can no longer change`);
}

/**
 * The body, counted as it passes to S3: when it turns out longer or shorter than `size`, or the
 * sender goes away, the PutObject is aborted (the object is never completed) with why, and the
 * rest of the body is read and dropped so that the answer can be sent.
 */
function counted(body: Readable, size: number, abort: AbortController): Transform {
  let seen = 0;
  const stop = (why: Error): void => {
    if (abort.signal.aborted) return;
    abort.abort(why);
    body.unpipe(through);
    body.resume();
  };
  const through = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > size) stop(new ApiError(400, "BadRequest", `query.size: the body is longer than ${size} bytes`, { field: "query.size" }));
      done(null, abort.signal.aborted ? undefined : chunk);
    },
    flush(done) {
      if (seen !== size) stop(new ApiError(400, "BadRequest", `query.size: the body has ${seen} bytes, not ${size}`, { field: "query.size" }));
      done();
    },
  });
  body.once("error", (err) => stop(err));
  body.pipe(through);
  return through;
}

async function sha256Of(store: ArtifactStore, key: string): Promise<string> {
  const { stream } = await openObject(store, { bucket: store.repository.bucket, key }, maxPeerOutputBytes);
  const hash = createHash("sha256");
  await pipeline(stream, hash);
  return hash.digest("hex");
}

export function registerRunInputsRoutes(scope: FastifyInstance, deps: RunInputsDeps): void {
  const runs = { group: pipelineRunKind.group, version: pipelineRunKind.version, plural: pipelineRunKind.plural };

  /** The folder of the run's input in the repository: under its Workflow's inputs (in the workspace of the reservation that owns it). */
  async function inputFolder(run: PipelineRun, input: string): Promise<string> {
    const held = run.metadata.ownerReferences?.find((r) => r.kind === "Reservation")?.name ?? "";
    const reservation = (await deps.custom
      .getNamespacedCustomObject({ group: reservationKind.group, version: reservationKind.version, plural: reservationKind.plural, namespace: run.metadata.namespace ?? "", name: held }, deps.opts())
      .catch(() => undefined)) as Reservation | undefined;
    const namespace = workflowNamespaceOf(run, (name) => (name === held ? reservation : undefined));
    if (typeof namespace !== "string") throw new ApiError(409, "WorkspaceNotReady", namespace.message);
    return `${workflowKeyBase(deps.artifacts.keyPrefix, namespace, run.metadata.name ?? "")}/inputs/${input}`;
  }

  /** The run's store, closed when `use` is done with it. */
  async function withStore<T>(run: PipelineRun, use: (store: ArtifactStore) => Promise<T>): Promise<T> {
    const store = await artifactStore(deps.core, deps.artifacts, run.metadata.namespace ?? "");
    try {
      return await use(store);
    } finally {
      store.s3.destroy();
    }
  }

  // The file's bytes are the body as sent: not parsed, not held (the route streams them on).
  scope.addContentTypeParser("application/octet-stream", (_request, payload, done) => done(null, payload));

  scope.put(inputRoute, {
    schema: { summary: "Federation: one file of an input the signing peer's run awaits, streamed (application/octet-stream; unsigned body, checked at completion)", tags, params: InputParams, querystring: FileQuery },
    handler: async (request, reply) => {
      const peerName = deps.peerName(requirePeer(request, deps.auth, { unsignedPayload: true }));
      const { namespace, name, input } = request.params as Static<typeof InputParams>;
      const { path, size } = request.query as Static<typeof FileQuery>;
      const problem = sentFileProblem(path, size);
      if (problem) throw new ApiError(400, "BadRequest", problem.message, { field: problem.field });
      const run = await deps.peersRun(namespace, name, peerName);
      requireOpenInput(run, input);
      const key = `${await inputFolder(run, input)}/${path}`;
      const abort = new AbortController();
      await withStore(run, (store) => putObjectStream(store, { key, size }, counted(request.body as Readable, size, abort), abort.signal)).catch((err: unknown) => {
        throw abort.signal.aborted ? abort.signal.reason : err;
      });
      return reply.code(201).send({ path, size });
    },
  });

  scope.post(inputRoute, {
    // A Directory's completion names up to 10,000 files (path, size, digest): more than the default 1 MiB.
    bodyLimit: completionBodyLimit,
    schema: { summary: "Federation: complete an input the signing peer's run awaits: every file sent is checked against the sizes and SHA-256 named here; the run starts once all its inputs are complete", tags, params: InputParams, body: PeerInputComplete },
    handler: async (request) => {
      const peerName = deps.peerName(requirePeer(request, deps.auth));
      const { namespace, name, input } = request.params as Static<typeof InputParams>;
      const body = request.body as PeerInputComplete;
      const run = await deps.peersRun(namespace, name, peerName);
      requireOpenInput(run, input);
      const folder = await inputFolder(run, input);
      await withStore(run, async (store) => {
        const stored = (await listPrefix({ s3: store.s3, bucket: store.repository.bucket }, `${folder}/`, deps.artifacts.requestTimeoutMs)).map((o) => ({ path: o.key.slice(folder.length + 1), size: o.size }));
        const problem = completionProblem(body, stored);
        if (problem) throw new ApiError(409, "InputIncomplete", problem, { field: "body.files" });
        for (const [i, f] of body.files.entries()) {
          if ((await sha256Of(store, `${folder}/${sentFilePath(body, f)}`)) !== f.sha256) throw new ApiError(409, "InputIncomplete", `body.files[${i}].sha256: ${sentFilePath(body, f)} as stored has another digest (sent again, or changed on the way)`, { field: `body.files[${i}].sha256` });
        }
      });
      return deps.answer(await recordSent({ namespace, name, peerName }, input, body));
    },
  });

  /**
   * Records the input sent on the run as read (a run that changed since is read again: one that
   * started, or got this input meanwhile, is refused, never overwritten). The orchestrator writing
   * the run's status in between is a conflict tried again, not a refusal.
   */
  async function recordSent(at: { namespace: string; name: string; peerName: string }, input: string, body: PeerInputComplete): Promise<PipelineRun> {
    for (let attempt = 1; ; attempt++) {
      const run = await deps.peersRun(at.namespace, at.name, at.peerName);
      requireOpenInput(run, input);
      const patch = { metadata: { resourceVersion: run.metadata.resourceVersion, annotations: { [sentInputsAnnotation]: withSentInput(run, input, body) } } };
      try {
        return (await deps.custom.patchNamespacedCustomObject({ ...runs, namespace: at.namespace, name: at.name, body: patch }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch, deps.opts()))) as PipelineRun;
      } catch (err) {
        if ((err as { code?: number }).code !== 409 || attempt >= 5) throw err;
      }
    }
  }
}
