// Federation (serving side) of peer steps: an Accepted peer, by signed request, holds compute
// capacity here (a Reservation, two-phase: Tentative, then confirm or release) and runs steps of
// its pipeline on this cluster's own Argo (a PipelineRun of this cluster, in the reservation).
// Nothing here decides admission or runs anything: the Reservation and PipelineRun controllers
// do, as for local users; the peer never gets credentials to this API server. The admin opens a
// namespace to peers' runs with the label archipel.io/peer-runs=true; the namespace must be ready
// for Argo (hack/argo up --namespace). A peer sees and changes only objects made for it (the
// Reservation's spec.requester.peer, the PipelineRun's requester label); anything else is a 404.
import { createHash } from "node:crypto";
import { type ConfigurationOptions, CoreV1Api, CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { withDeadline } from "../runtime/apiDeadline.ts";
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { decideVisibility } from "../catalog/visibility.ts";
import { projectMemberships } from "../catalog/search.ts";
import type { Cache } from "../runtime/index.ts";
import { present } from "../runtime/present.ts";
import { federationReservationsPath, federationRunsPath, maxPeerOutputBytes, maxPeerOutputFiles, outputPathProblem, peerOutputBasenameHeader, type PeerOutputListing, type PeerReservationAnswer, PeerReservationRequest, type PeerRunAnswer, PeerRunRequest, requesterPeerLabel,
  requesterProjectAnnotation, servedName, awaitedInputsAnnotation, federationQuotesPath, type PeerQuoteAnswer, PeerQuoteRequest, peerRunUsagePath, peerRunReceiptsPath, type PeerUsageAnswer, PeerUsageReceiptsRequest, type PeerUsageReceiptsAnswer } from "../federation/peerRuns.ts";
import { UsageLabel } from "../billing/metering.ts";
import { requesterReceiptAnnotation, type ServedReceipt, usageDigest } from "../billing/peerUsage.ts";
import { type UsageRecord, usageRecordKind } from "../schema/usageRecord.ts";
import { type Price, priceKind } from "../schema/price.ts";
import { onFirstUse } from "../runtime/lazyImport.ts";
import { peakRequests } from "../compute/concurrentPeak.ts";
import { largestFree } from "../catalog/computeCapacity.ts";

// The CWL library and the quote arithmetic load on the first quote asked (most API processes never serve one).
const quoting = onFirstUse(async () => ({ ...(await import("../orchestrator/serviceResolution.ts")), ...(await import("../orchestrator/runQuote.ts")) }));

export { requesterPeerLabel };
import { artifactStore, type ArtifactStoreSettings, openObject } from "../orchestrator/artifactStore.ts";
import { outputInRunArea } from "../orchestrator/dataAccess.ts";
import { recordedWorkflowNamespace } from "../orchestrator/runWorkspace.ts";
import { listPrefix, type S3Place } from "../orchestrator/objectCopy.ts";
import { workflowKeyBase } from "../pipeline/argo/conventions.ts";
import { apiVersion } from "../schema/common.ts";
import { type PipelineRun, pipelineRunKind } from "../schema/pipelineRun.ts";
import type { Project } from "../schema/project.ts";
import { type Provider, providerKind } from "../schema/provider.ts";
import { type Reservation, reservationKind } from "../schema/reservation.ts";
import type { Resource } from "../schema/resource.ts";
import { captureRawBody, type FederationAuthDeps, type PeerCaller, peerFinder, requirePeer } from "./federationAuth.ts";
import type { Peer } from "../schema/peer.ts";
import { ApiError, notFound } from "./errors.ts";
import { NamespaceName, ObjectName } from "./kind-schemas.ts";
import { registerRunInputsRoutes } from "./federationInputsRoutes.ts";
import { awaitedInputsProblem, awaitedInputsValue, awaitingOf } from "../orchestrator/sentInputs.ts";

export const peerRunsLabel = "archipel.io/peer-runs";

export interface FederationRunsDeps {
  /** The API's own kubeconfig: create/get/patch Reservations, create/get/delete PipelineRuns, get Namespaces and Providers. */
  kubeConfig: KubeConfig;
  auth: FederationAuthDeps;
  peers(): readonly Peer[];
  resources: Cache<Resource>;
  projects: Cache<Project>;
  requestTimeoutMs?: number;
  /** Where the outputs of peers' runs are read (Argo's artifact repository, host-side endpoint). */
  artifacts: ArtifactStoreSettings;
}

const NamedParams = Type.Object({ namespace: NamespaceName, name: ObjectName });
const OutputParams = Type.Object({ namespace: NamespaceName, name: ObjectName, output: Type.String({ minLength: 1, maxLength: 128 }) });
const OutputQuery = Type.Object({ path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: "a file of a Directory output: its path below the Directory" })) }, { additionalProperties: false });
const ActionParams = Type.Object({ namespace: NamespaceName, name: ObjectName, action: Type.Union([Type.Literal("confirm"), Type.Literal("release")]) });
const tags = ["federation"];
const hash = (s: string): string => createHash("sha256").update(s).digest("hex");

function peerObjectName(deps: FederationRunsDeps, caller: PeerCaller): string {
  const found = peerFinder(deps.peers)(caller.cluster);
  const name = found.kind === "found" ? found.peer.metadata?.name : undefined;
  if (!name) throw new ApiError(401, "PeerUnknown", `peer ${caller.cluster} is not known here`);
  return name;
}

const ready = (o: { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }, type: string): { status: string; reason?: string; message?: string } | undefined => {
  const c = o.status?.conditions?.find((x) => x.type === type);
  return c ? { status: c.status, ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}) } : undefined;
};

/** The serving cluster's PipelineRun for a peer's request: its steps, data and outputs, in the peer's reservation. */
export function servedSpec(body: PeerRunRequest, requester: string): PipelineRun["spec"] {
  return {
    steps: body.steps.map((s) => ({ name: s.name, serviceRef: { name: s.service }, ...(s.in ? { in: s.in } : {}) })),
    ...present({
      outputs: body.outputs?.length ? body.outputs : undefined,
      inputs: body.inputs?.length ? body.inputs.map((d) => ({ name: d.name, resourceRef: { name: d.resource } })) : undefined,
      job: body.job,
      timeout: body.timeout,
      retry: body.retry,
      budget: body.budget,
    }),
    placement: { strategy: "Local", reservationRef: { name: body.reservation } },
    description: `steps of a pipeline of peer ${requester}`,
  };
}

export function reservationAnswer(r: Reservation): PeerReservationAnswer {
  const admitted = ready(r as never, "Admitted") ?? ready(r as never, "Ready");
  return {
    namespace: r.metadata.namespace ?? "",
    name: r.metadata.name ?? "",
    ...(r.status?.state ? { state: r.status.state } : {}),
    ...(admitted?.reason ? { reason: admitted.reason } : {}),
    ...(admitted?.message ? { message: admitted.message } : {}),
  };
}

export function runAnswer(run: PipelineRun): PeerRunAnswer {
  const s = run.status;
  return {
    namespace: run.metadata.namespace ?? "",
    name: run.metadata.name ?? "",
    ...present({ phase: s?.phase, ready: ready(run as never, "Ready"), succeeded: ready(run as never, "Succeeded"), startedAt: s?.startedAt, finishedAt: s?.finishedAt }),
    steps: (s?.steps ?? []).map((step) => ({ name: step.name, phase: step.phase, ...present({ startedAt: step.startedAt, finishedAt: step.finishedAt, message: step.message }) })),
    outputs: (s?.outputs ?? []).map((o) => ({ ...o })),
    ...present({ awaiting: awaitingOf(run) }),
  };
}

const objectKeyOf = (run: PipelineRun): string => `${run.metadata.namespace ?? ""}/${run.metadata.name ?? ""}`;

/** The output a peer asks for: one of a succeeded run's, with the Workflow that made it (and its namespace: the run's, or its reservation's workspace). */
function succeededOutput(run: PipelineRun, output: string): { location: string; workflow: string; workflowNamespace: string; directory: boolean } {
  const which = `run ${objectKeyOf(run)}`;
  const status = run.status ?? {};
  if (status.phase !== "Succeeded") throw new ApiError(409, "RunNotSucceeded", `${which} is ${status.phase ?? "Pending"}; its outputs exist once it has succeeded`);
  const found = (status.outputs ?? []).find((o) => o.name === output);
  const workflow = status.workflowRef?.name;
  if (!found?.location || !workflow) throw new ApiError(404, "NotFound", `${which} has no File or Directory output ${output}`, { field: "output" });
  return { location: found.location, workflow, workflowNamespace: recordedWorkflowNamespace(run), directory: found.class === "Directory" };
}

/**
 * Where the output is, if in the run's own area of the artifact repository (a location elsewhere,
 * which a step's output object could name, is not served).
 */
function servedOutput(run: PipelineRun, output: string, repository: { bucket: string; keyPrefix: string }): { bucket: string; key: string; directory: boolean } {
  const { namespace = "", name = "" } = run.metadata;
  const found = succeededOutput(run, output);
  const where = outputInRunArea(found.location, { bucket: repository.bucket, prefix: `${workflowKeyBase(repository.keyPrefix, found.workflowNamespace, found.workflow)}/` });
  if ("problem" in where) throw new ApiError(404, "NotFound", `run ${namespace}/${name}: output ${output} is not served (${where.problem})`, { field: "output" });
  return { bucket: where.bucket, key: where.key.replace(/\/+$/, ""), directory: found.directory };
}

/** The object a request names: a File output itself, or a file of a Directory output by its path below it. */
function objectKey(served: { key: string; directory: boolean }, path: string | undefined): string {
  if (!served.directory) {
    if (path !== undefined) throw new ApiError(400, "BadRequest", "query.path: the output is a File; path names a file of a Directory output", { field: "query.path" });
    return served.key;
  }
  const problem = outputPathProblem(path ?? "");
  if (problem) throw new ApiError(400, "BadRequest", `query.path: ${JSON.stringify(path)} ${problem}`, { field: "query.path" });
  return `${served.key}/${path ?? ""}`;
}

/** A Directory output's files, listed under its prefix (folder markers carry no file). */
async function directoryListing(from: S3Place, key: string, ms: number): Promise<PeerOutputListing> {
  const prefix = `${key}/`;
  const files = (await listPrefix(from, prefix, ms)).filter((o) => !o.key.endsWith("/")).map((o) => ({ path: o.key.slice(prefix.length), size: o.size }));
  if (files.length > maxPeerOutputFiles) throw new ApiError(409, "TooManyFiles", `the Directory holds over ${maxPeerOutputFiles} files; at most ${maxPeerOutputFiles} cross`);
  return { name: key.split("/").pop() ?? "", files };
}

/** `after` names steps of the request, never the step itself: anything else is a mistake the requester should hear of. */
function checkAfter(steps: PeerQuoteRequest["steps"]): void {
  const names = new Set(steps.map((s) => s.name));
  for (const [i, s] of steps.entries()) {
    const j = (s.after ?? []).findIndex((name) => !names.has(name) || name === s.name);
    if (j >= 0) throw new ApiError(400, "BadRequest", `body.steps[${i}].after[${j}]: ${s.after?.[j] ?? ""} is not another step of this request`, { field: `body.steps[${i}].after[${j}]` });
  }
}

/** The namespace must exist and be opened to peers' runs; either failure is the same 403. */
async function requireOpenNamespace(core: CoreV1Api, namespace: string, options: ConfigurationOptions): Promise<void> {
  const ns = await core.readNamespace({ name: namespace }, options).catch(() => undefined);
  if (ns?.metadata?.labels?.[peerRunsLabel] !== "true") {
    throw new ApiError(403, "NamespaceNotOpenToPeers", `namespace ${namespace} is not open to peers' runs (an admin labels it ${peerRunsLabel}="true")`, { field: "body.namespace" });
  }
}

const isCode = (err: unknown, code: number): boolean => (err as { code?: number }).code === code;

export function registerFederationRunsRoutes(app: FastifyInstance, deps: FederationRunsDeps): void {
  const custom = deps.kubeConfig.makeApiClient(CustomObjectsApi);
  const core = deps.kubeConfig.makeApiClient(CoreV1Api);
  const timeout = deps.requestTimeoutMs ?? 10_000;
  const opts = (): ConfigurationOptions => withDeadline(timeout);
  const reservations = { group: reservationKind.group, version: reservationKind.version, plural: reservationKind.plural };
  const runs = { group: pipelineRunKind.group, version: pipelineRunKind.version, plural: pipelineRunKind.plural };
  const usageRecords = { group: usageRecordKind.group, version: usageRecordKind.version, plural: usageRecordKind.plural };

  /**
   * The signed records of the run made for `peerName` (found by the run label and the records'
   * requester: they outlive the run, so the run need not exist any more).
   */
  async function peersRecords(namespace: string, name: string, peerName: string): Promise<UsageRecord[]> {
    const list = (await custom.listNamespacedCustomObject({ ...usageRecords, namespace, labelSelector: `${UsageLabel.run}=${name}` }, opts())) as { items: UsageRecord[] };
    return list.items.filter((r) => r.spec.requester?.peer === peerName && r.spec.pipelineRunRef.name === name && r.spec.signature !== undefined);
  }

  /** The reservation made for `peerName`, or a 404 (another requester's is answered as absent). */
  async function peersReservation(namespace: string, name: string, peerName: string, field?: string): Promise<Reservation> {
    const r = (await custom.getNamespacedCustomObject({ ...reservations, namespace, name }, opts()).catch(() => undefined)) as Reservation | undefined;
    if (!r || r.spec.requester?.peer !== peerName) throw new ApiError(404, "NotFound", `${field ? `${field}: ` : ""}no reservation ${namespace}/${name} for peer ${peerName}`, field ? { field } : {});
    return r;
  }

  async function peersRun(namespace: string, name: string, peerName: string): Promise<PipelineRun> {
    const run = (await custom.getNamespacedCustomObject({ ...runs, namespace, name }, opts()).catch(() => undefined)) as PipelineRun | undefined;
    if (!run || run.metadata.labels?.[requesterPeerLabel] !== peerName) throw notFound(`no run ${namespace}/${name} for peer ${peerName}`);
    return run;
  }

  /** body.provider, or the namespace's only compute Provider. */
  async function computeProvider(body: PeerReservationRequest): Promise<string> {
    if (body.provider) return body.provider;
    const list = (await custom.listNamespacedCustomObject({ group: providerKind.group, version: providerKind.version, plural: providerKind.plural, namespace: body.namespace }, opts())) as { items: Provider[] };
    const compute = list.items.filter((p) => p.spec.type === "compute").map((p) => p.metadata.name ?? "");
    if (compute.length === 1 && compute[0]) return compute[0];
    const found = compute.length === 0 ? "none" : compute.join(", ");
    throw new ApiError(422, "ProviderAmbiguous", `body.provider: namespace ${body.namespace} has ${compute.length} compute Providers (${found}); name one`, { field: "body.provider" });
  }

  /**
   * Every step's service, and every data input, must be a Resource of that type in the namespace
   * that the peer may see (the run's AccessGrant on the data checks it again when it is issued).
   */
  function requireVisible(body: Pick<PeerRunRequest, "namespace" | "steps" | "inputs">, caller: PeerCaller): void {
    const memberships = projectMemberships(deps.projects.list());
    const visible = (name: string, type: string): boolean => {
      const resource = deps.resources.get({ namespace: body.namespace, name });
      return resource !== undefined && resource.spec.type === type && decideVisibility({ visibility: resource.spec.visibility, projects: resource.spec.projects ?? [], namespace: body.namespace }, caller, memberships).visible;
    };
    const wanted = [
      ...body.steps.map((s, i) => ({ name: s.service, type: "service", field: `body.steps[${i}].service` })),
      ...(body.inputs ?? []).map((d, i) => ({ name: d.resource, type: "data", field: `body.inputs[${i}].resource` })),
    ];
    const missing = wanted.find((w) => !visible(w.name, w.type));
    if (missing) throw new ApiError(404, "NotFound", `${missing.field}: no ${missing.type} ${missing.name} in namespace ${body.namespace} is visible to peer ${caller.cluster}`, { field: missing.field });
  }

  async function createOrFind<T>(create: () => Promise<unknown>, find: () => Promise<T>): Promise<{ created: boolean; object: T }> {
    try {
      return { created: true, object: (await create()) as T };
    } catch (err) {
      if (!isCode(err, 409)) throw err;
      return { created: false, object: await find() };
    }
  }

  void app.register(async (scope) => {
    captureRawBody(scope);
    registerRunInputsRoutes(scope, { custom, core, opts, auth: deps.auth, artifacts: deps.artifacts, peerName: (caller) => peerObjectName(deps, caller), peersRun, answer: runAnswer });

    scope.post(federationReservationsPath, {
      schema: { summary: "Federation: hold compute capacity for the signing peer (Tentative until confirmed)", tags, body: PeerReservationRequest },
      handler: async (request, reply) => {
        const peerName = peerObjectName(deps, requirePeer(request, deps.auth));
        const body = request.body as PeerReservationRequest;
        await requireOpenNamespace(core, body.namespace, opts());
        const name = servedName(peerName, body.name, hash);
        const provider = await computeProvider(body);
        const object = {
          apiVersion,
          kind: "Reservation",
          metadata: { name, namespace: body.namespace },
          spec: { providerRef: { name: provider }, cpu: body.cpu, memory: body.memory, start: body.start, end: body.end, ...(body.holdSeconds ? { holdSeconds: body.holdSeconds } : {}), requester: { peer: peerName } },
        };
        const { created, object: r } = await createOrFind<Reservation>(
          () => custom.createNamespacedCustomObject({ ...reservations, namespace: body.namespace, body: object }, opts()),
          () => peersReservation(body.namespace, name, peerName),
        );
        return reply.code(created ? 201 : 200).send(reservationAnswer(r));
      },
    });

    scope.get(`${federationReservationsPath}/:namespace/:name`, {
      schema: { summary: "Federation: a reservation held for the signing peer", tags, params: NamedParams },
      handler: async (request) => {
        const peerName = peerObjectName(deps, requirePeer(request, deps.auth));
        const { namespace, name } = request.params as Static<typeof NamedParams>;
        return reservationAnswer(await peersReservation(namespace, name, peerName));
      },
    });

    scope.post(`${federationReservationsPath}/:namespace/:name/:action`, {
      schema: { summary: "Federation: confirm (second phase) or release a reservation held for the signing peer", tags, params: ActionParams },
      handler: async (request) => {
        const peerName = peerObjectName(deps, requirePeer(request, deps.auth));
        const { namespace, name, action } = request.params as Static<typeof ActionParams>;
        await peersReservation(namespace, name, peerName);
        const field = action === "confirm" ? "confirmed" : "release";
        const patched = await custom.patchNamespacedCustomObject({ ...reservations, namespace, name, body: { spec: { [field]: true } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch, opts()));
        return reservationAnswer(patched as Reservation);
      },
    });

    scope.post(federationQuotesPath, {
      schema: { summary: "Federation: what steps would cost here, at this cluster's rates for the signing peer (nothing is held)", tags, body: PeerQuoteRequest },
      handler: async (request): Promise<PeerQuoteAnswer> => {
        const caller = requirePeer(request, deps.auth);
        const peerName = peerObjectName(deps, caller);
        const body = request.body as PeerQuoteRequest;
        checkAfter(body.steps);
        await requireOpenNamespace(core, body.namespace, opts());
        requireVisible({ namespace: body.namespace, steps: body.steps }, caller);
        const { loadService, quoteSteps, requestsOf } = await quoting();
        const steps = [];
        for (const [i, s] of body.steps.entries()) {
          const service = deps.resources.get({ namespace: body.namespace, name: s.service });
          if (!service) continue; // requireVisible found it a moment ago
          try {
            // A document held in a ConfigMap is not read here (the API may not read ConfigMaps): such a service cannot be quoted.
            steps.push({ step: s.name, service, process: (await loadService(service, { configMap: () => undefined })).process, ...present({ after: s.after }) });
          } catch (err) {
            return { priced: false, totals: [], message: `body.steps[${i}].service: ${s.service} cannot be quoted: ${(err as Error).message}` };
          }
        }
        const list = (plural: string): Promise<unknown> => custom.listNamespacedCustomObject({ group: priceKind.group, version: priceKind.version, plural, namespace: body.namespace }, opts());
        const [prices, providers] = (await Promise.all([list(priceKind.plural), list(providerKind.plural)])) as [{ items: Price[] }, { items: Provider[] }];
        const quoted = quoteSteps({ namespace: body.namespace, audience: { peer: peerName }, ...present({ expectedDuration: body.expectedDuration }), steps, prices: prices.items, at: new Date() });
        const requests = peakRequests(steps.map((s) => ({ name: s.step, requests: requestsOf(s.process), ...present({ after: s.after }) })));
        const answered = { requests, ...present({ free: largestFree(providers.items) }) };
        return quoted.priced ? { priced: true, totals: quoted.totals, message: quoted.message, ...answered } : { priced: false, totals: [], message: quoted.message, ...answered };
      },
    });

    scope.post(federationRunsPath, {
      schema: { summary: "Federation: run steps for the signing peer on this cluster's Argo, within its reservation", tags, body: PeerRunRequest },
      handler: async (request, reply) => {
        const caller = requirePeer(request, deps.auth);
        const peerName = peerObjectName(deps, caller);
        const body = request.body as PeerRunRequest;
        await requireOpenNamespace(core, body.namespace, opts());
        const awaited = awaitedInputsProblem(body);
        if (awaited) throw new ApiError(400, "BadRequest", awaited.message, { field: awaited.field });
        const reservation = await peersReservation(body.namespace, body.reservation, peerName, "body.reservation");
        requireVisible(body, caller);
        const name = servedName(peerName, body.name, hash);
        const object = {
          apiVersion,
          kind: "PipelineRun",
          metadata: {
            name,
            namespace: body.namespace,
            labels: { [requesterPeerLabel]: peerName },
            annotations: present({ [requesterProjectAnnotation]: caller.project, [awaitedInputsAnnotation]: body.awaitedInputs?.length ? awaitedInputsValue(body.awaitedInputs) : undefined }),
            // Deleting the reservation deletes the run (and its Workflow) with it.
            ownerReferences: [{ apiVersion, kind: "Reservation", name: reservation.metadata.name ?? "", uid: reservation.metadata.uid ?? "" }],
          },
          spec: servedSpec(body, caller.cluster),
        };
        const { created, object: run } = await createOrFind<PipelineRun>(
          () => custom.createNamespacedCustomObject({ ...runs, namespace: body.namespace, body: object }, opts()),
          () => peersRun(body.namespace, name, peerName),
        );
        return reply.code(created ? 201 : 200).send(runAnswer(run));
      },
    });

    scope.get(`${federationRunsPath}/:namespace/:name`, {
      schema: { summary: "Federation: the state, steps and outputs of a run made for the signing peer", tags, params: NamedParams },
      handler: async (request) => {
        const peerName = peerObjectName(deps, requirePeer(request, deps.auth));
        const { namespace, name } = request.params as Static<typeof NamedParams>;
        return runAnswer(await peersRun(namespace, name, peerName));
      },
    });

    scope.get(`${federationRunsPath}/:namespace/:name/outputs/:output`, {
      schema: { summary: "Federation: one output of a succeeded run made for the signing peer: a File's bytes, streamed (application/octet-stream; its name in x-archipel-basename), or a Directory's listing (application/json), each of its files then asked for with ?path=", tags, params: OutputParams, querystring: OutputQuery },
      handler: async (request, reply) => {
        const peerName = peerObjectName(deps, requirePeer(request, deps.auth));
        const { namespace, name, output } = request.params as Static<typeof OutputParams>;
        const { path } = request.query as Static<typeof OutputQuery>;
        const run = await peersRun(namespace, name, peerName);
        succeededOutput(run, output);
        const store = await artifactStore(core, deps.artifacts, namespace);
        // The S3 client lives as long as the answer: closed when it ends, fails, or the peer goes away.
        reply.raw.once("close", () => store.s3.destroy());
        const served = servedOutput(run, output, { bucket: store.repository.bucket, keyPrefix: deps.artifacts.keyPrefix });
        if (served.directory && path === undefined) return directoryListing({ s3: store.s3, bucket: served.bucket }, served.key, deps.artifacts.requestTimeoutMs);
        const key = objectKey(served, path);
        const { size, stream } = await openObject(store, { bucket: served.bucket, key }, maxPeerOutputBytes);
        void reply
          .header("content-type", "application/octet-stream")
          .header("content-length", size)
          .header(peerOutputBasenameHeader, encodeURIComponent(key.split("/").pop() ?? output))
          .header("cache-control", "no-store");
        return reply.send(stream);
      },
    });

    scope.get(peerRunUsagePath(":namespace", ":name"), {
      schema: { summary: "Federation: the UsageRecords of a run made for the signing peer, as this cluster signed them", tags, params: NamedParams },
      handler: async (request): Promise<PeerUsageAnswer> => {
        const peerName = peerObjectName(deps, requirePeer(request, deps.auth));
        const { namespace, name } = request.params as Static<typeof NamedParams>;
        const records = await peersRecords(namespace, name, peerName);
        return { records: records.map((r) => ({ name: r.metadata.name ?? "", spec: r.spec as unknown as Record<string, unknown> })) };
      },
    });

    scope.post(peerRunReceiptsPath(":namespace", ":name"), {
      schema: { summary: "Federation: the signing peer's verdict on the UsageRecords of its run (shown on each record as its Agreed condition)", tags, params: NamedParams, body: PeerUsageReceiptsRequest },
      handler: async (request): Promise<PeerUsageReceiptsAnswer> => {
        const peerName = peerObjectName(deps, requirePeer(request, deps.auth));
        const { namespace, name } = request.params as Static<typeof NamedParams>;
        const own = new Map((await peersRecords(namespace, name, peerName)).map((r) => [r.metadata.name ?? "", r]));
        const at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        const answers: PeerUsageReceiptsAnswer["records"] = [];
        for (const receipt of (request.body as PeerUsageReceiptsRequest).receipts) {
          const record = own.get(receipt.name);
          if (!record) {
            answers.push({ name: receipt.name, found: false, matches: false });
            continue;
          }
          const kept: ServedReceipt = { digest: receipt.digest, agreed: receipt.agreed, reason: receipt.reason, ...present({ message: receipt.message }), at };
          // The usage controller turns the receipt into the record's Agreed condition (the spec, a fact, is never touched).
          const body = { metadata: { annotations: { [requesterReceiptAnnotation]: JSON.stringify(kept) } } };
          await custom.patchNamespacedCustomObject({ ...usageRecords, namespace, name: receipt.name, body }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch, opts()));
          answers.push({ name: receipt.name, found: true, matches: usageDigest(record.spec) === receipt.digest });
        }
        return { records: answers };
      },
    });

    scope.delete(`${federationRunsPath}/:namespace/:name`, {
      schema: { summary: "Federation: cancel a run made for the signing peer (its Workflow goes with it)", tags, params: NamedParams },
      handler: async (request, reply) => {
        const peerName = peerObjectName(deps, requirePeer(request, deps.auth));
        const { namespace, name } = request.params as Static<typeof NamedParams>;
        await peersRun(namespace, name, peerName);
        await custom.deleteNamespacedCustomObject({ ...runs, namespace, name }, opts()).catch((err: unknown) => {
          if (!isCode(err, 404)) throw err;
        });
        return reply.code(204).send();
      },
    });
  });
}
