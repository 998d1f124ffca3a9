// The PipelineRun controller. Each pass plans where the steps run (placement.ts); steps placed on a
// peer are driven through the peer's signed federation API (peerSteps.ts). Steps that run here:
// find the run's Workflow (named after the run); if it exists and is ours, keep spec.suspend on it
// and mirror its status (runStatus.ts); if another owner holds the name, say NameTaken; if there is
// none, check what this slice supports, resolve the steps' services, build the one CWL Workflow
// (pipelineWorkflow.ts), translate it with the artifact repository of Argo's own ConfigMap, and
// create it owned by the run, so that deleting the run deletes it (garbage collection).
import { CoreV1Api, type KubeConfig, type KubernetesObject, PatchStrategy, type V1ConfigMap } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.ts";
import { providerKindRef, resourceKindRef } from "../catalog/providerReconciler.ts";
import type { Provider } from "../schema/provider.ts";
import { placedOnPeerByAuto, withAutoPins } from "./autoPlacement.ts";
import { createAutoSurvey } from "./autoSurvey.ts";
import { reportingInstance } from "../runtime/events.ts";
import { configMapKindRef } from "../catalog/resourceReconciler.ts";
import type { S3Repository } from "../pipeline/argo/translate.ts";
import type { Workflow } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Workflow";
import { podInputsDir, workflowKeyBase } from "../pipeline/argo/conventions.ts";
import { pathToFileURL } from "node:url";
import { repositoryFromConfig } from "../pipeline/runner/argoStaging.ts";
import type { Cache, ControllerOptions, ObjectKey, ReconcileContext, Reconciler, ReconcileResult } from "../runtime/index.ts";
import { conditionMatches, conditionTime, type ConditionUpdate, setCondition } from "../runtime/conditions.ts";
import { errorMessage, isAlreadyExists, isNotFound } from "../runtime/errors.ts";
import { EventRecorder } from "../runtime/events.ts";
import { isBeingDeleted } from "../runtime/finalizers.ts";
import { createRunArtifacts, CredentialsNameTaken, type WorkflowPlace } from "./runArtifacts.ts";
import { runCredentialsSecretName } from "./runCredentials.ts";
import { controllerMarks, controllerRef, isControlledAcross, isControlledBy, markedOwnerOf } from "../runtime/ownerReferences.ts";
import { StatusWriter } from "../runtime/status.ts";
import { identityKind, type Identity } from "../schema/identity.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type PipelineRun, pipelineRunKind, type PipelineRunSpec, type PipelineRunStatus, type PipelineStep } from "../schema/pipelineRun.ts";
import type { Resource } from "../schema/resource.ts";
import { pipelineWorkflow, type ServiceProcess, workflowDeadlineSeconds } from "./pipelineWorkflow.ts";
import { RunReason } from "./reasons.ts";
import { type ArgoWorkflow, workflowKindRef } from "../pipeline/argo/workflow.ts";
import { observeWorkflow, type RunObservation } from "./runStatus.ts";
import { type Blocked, loadService, serviceVerdict, unsupported, unsupportedReservation } from "./serviceResolution.ts";
import { timed } from "../pipeline/timed.ts";
import { cachedSigningIdentity, loadSigningIdentity } from "../federation/client.ts";
import type { EgressPolicy } from "../runtime/egress.ts";
import { reservationKind, type Reservation } from "../schema/reservation.ts";
import type { ArtifactStoreSettings } from "./artifactStore.ts";
import { artifactStoreSettingsFrom, defaultOrchestratorSettings, type OrchestratorSettings } from "./settings.ts";
import { PeerRunsClient } from "./peerClient.ts";
import { defaultPeerRunSettings, keptObservation, plannedSteps, wholeRun } from "./peerRun.ts";
import { afterFailedCopy, awaitingDelivery, deliveredObservation, deliveryRefused, runDecided, succeededOnceDelivered } from "./storageDelivery.ts";
import { createPeerSteps, type HoldEnded, type PeerGroup, peerEndpoint, peerKindRef, peerPartsSucceeded, peerRecordOf } from "./peerSteps.ts";
import { projectKindRef, runProject } from "./runProject.ts";
import { createPeerUsage, usageRecordKindRef } from "./peerUsage.ts";
import type { PeerEndpoint } from "./peerClient.ts";
import { artifactStore } from "./artifactStore.ts";
import { awaitedFromHere, type CrossClusterSplit, type LocalPart, peerPhaseOfMixedRun, splitAcrossClusters, type Transfer, withKept } from "./crossCluster.ts";
import { keptPreludeShown, preludeName, preludeOfLabel, type PreludeShown, preludeShown, type PreludeSplit, preludeSplit, preludeSucceeded, whilePrelude, withPreludeShown } from "./preludeRun.ts";
import { withInputsArtifact } from "../pipeline/runner/argoStaging.ts";
import type { Peer } from "../schema/peer.ts";
import { admiraltyTargets, placementPlan, type StepPlacement } from "./placement.ts";
import { budgetRefusal, runQuote, type RunQuote } from "./runQuote.ts";
import { meteringHold } from "../billing/meteringHold.ts";
import { unmeteredSteps } from "../billing/metering.ts";
import { sumByCurrency } from "../billing/money.ts";
import { type UsageMetrics, usageMetricsOf } from "../billing/usageMetrics.ts";
import type { Registry } from "prom-client";
import { onFirstUse } from "../runtime/lazyImport.ts";
import { present } from "../runtime/present.ts";
import { apiVersion, type Money } from "../schema/common.ts";
import { outputInRunArea } from "./dataAccess.ts";
import { CopyRefused } from "./objectCopy.ts";
import { type Price, priceKind } from "../schema/price.ts";
import { accessGrantKindRef, createRunAccess, maxStagedBytes, type OutputSource, repositorySource } from "./runAccess.ts";
import { bringPeerOutput, deliverPeerOutput, type PeerRunAt, sendRepositoryOutput } from "./peerOutputs.ts";
import { recordedWorkflowNamespace, workflowNamespaceOf } from "./runWorkspace.ts";
import { budgetCheckIntervalMs, budgetStop, budgetWatched, stoppedAnnotation, stoppedObservation, stopWorkflow } from "./runBudget.ts";
import { spentWithout } from "../billing/budget.ts";
import type { UsageRecord } from "../schema/usageRecord.ts";
import type { StepPlan } from "../billing/quote.ts";
import { awaitedInputsOf, inputsAwaited, sentJob } from "./sentInputs.ts";
import { type PeerRunAnswer, requesterPeerLabel } from "../federation/peerRuns.ts";

export const pipelineRunControllerName = "pipelinerun";
export const pipelineRunFieldManager = "archipel-pipelinerun-controller";
export const pipelineRunReportingController = "archipel.io/pipelinerun-controller";
export const pipelineRunKindRef = kindRefOf(pipelineRunKind);
const identityKindRef = kindRefOf(identityKind);
const reservationKindRef = kindRefOf(reservationKind);
const priceKindRef = kindRefOf(priceKind);
const byService = "archipel.io/pipelinerun-by-service";
/** The translator and Argo's models (~26 MiB), loaded with the first Workflow built: an idle orchestrator does not hold them. */
const translator = onFirstUse(() => import("../pipeline/argo/translate.ts"));
const byReservation = "archipel.io/pipelinerun-by-reservation";
/** The most peers one run's steps may be placed on (status.peerRuns has one entry each). */
export const maxPeersPerRun = 8;

export { type OrchestratorSettings, defaultOrchestratorSettings, orchestratorSettingsFrom, artifactStoreSettingsFrom } from "./settings.ts";

/** The run's Workflow: one per run, named after it (deterministic, so a restart finds it). */
export function workflowNameOf(run: PipelineRun): string {
  return run.metadata.name ?? "";
}

const workflowFinished = (w: ArgoWorkflow): boolean => ["Succeeded", "Failed", "Error"].includes(w.status?.phase ?? "");

const indexed = new WeakSet<object>();

function indexedRuns(cache: Cache<PipelineRun>): Cache<PipelineRun> {
  if (indexed.has(cache)) return cache;
  cache.addIndex(byService, (r) => (r.spec?.steps ?? []).filter((s) => s.serviceRef.peer === undefined).map((s) => `${s.serviceRef.namespace ?? r.metadata?.namespace ?? ""}/${s.serviceRef.name}`));
  cache.addIndex(byReservation, (r) => (r.spec?.placement?.reservationRef && !r.spec.placement.reservationRef.peer ? [`${r.metadata?.namespace ?? ""}/${r.spec.placement.reservationRef.name}`] : []));
  indexed.add(cache);
  return cache;
}

export interface PipelineRunReconcilerDeps {
  status: StatusWriter;
  events: EventRecorder;
  settings: OrchestratorSettings;
  /** Reads the artifact repository's Secret (outputs brought from a peer are written there). */
  core: CoreV1Api;
  artifacts: ArtifactStoreSettings;
  /** Signed requests to peers (steps placed on a peer). */
  peers: PeerRunsClient;
  /** Where the data of a run's inputs may be read from (the run's AccessGrant credentials are used through it). */
  egress: EgressPolicy;
  /** Counters of the peers' records received (absent: not counted). */
  usageMetrics?: UsageMetrics;
  now?: () => Date;
}

/** status.workflowRef: the Workflow's name, and its namespace when not the run's. */
function workflowRefOf(run: PipelineRun, workflow: KubernetesObject): NonNullable<PipelineRunStatus["workflowRef"]> {
  const { name = "", namespace = "" } = workflow.metadata ?? {};
  return namespace && namespace !== run.metadata.namespace ? { name, namespace } : { name };
}

type Mirrored = Pick<PipelineRunStatus, "phase" | "workflowRef" | "startedAt" | "finishedAt" | "progress" | "steps" | "outputs" | "peerRuns" | "quote" | "autoPlacement" | "autoRefused" | "artifactAccess">;
type KeptField = "peerRuns" | "quote" | "autoPlacement" | "autoRefused" | "artifactAccess";

/** The plan's reason on each mirrored step (a step Argo has not reached keeps its planned entry). */
function withPlacement(steps: PipelineRunStatus["steps"], plan: StepPlacement[]): PipelineRunStatus["steps"] {
  return steps?.map((s) => {
    const placed = plan.find((p) => p.step === s.name);
    return placed ? { ...s, placement: placed.reason } : s;
  });
}

/** The run ended here and said how (its Workflow ran): that record is kept as written. */
function finishedRecord(run: PipelineRun): boolean {
  const decided = run.status?.conditions?.find((c) => c.type === "Succeeded")?.status;
  return run.status?.workflowRef !== undefined && (decided === "True" || decided === "False");
}

/** This cluster's name: its Identity (`self`, else the oldest), else the configured fallback. */
function clusterName(ctx: ReconcileContext, fallback: string): string {
  const identities = ctx.cache<Identity>(identityKindRef).list();
  const self = identities.find((i) => i.metadata.name === "self");
  const oldest = [...identities].sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""))[0];
  return (self ?? oldest)?.spec.clusterName ?? fallback;
}

/** A run across clusters: what the peers quoted for their parts, added to the quote of the steps here. */
function withPeerQuote(run: PipelineRun, here: RunQuote): RunQuote {
  const peerQuotes = (run.status?.peerRuns ?? []).flatMap((r) => (r.quote ? [r.quote] : []));
  return peerQuotes.length > 0 && here.priced ? { ...here, totals: sumByCurrency([...here.totals, ...peerQuotes], "quote") } : here;
}

export function createPipelineRunReconciler(deps: PipelineRunReconcilerDeps): Reconciler {
  /** A quote made this pass, until the status write that carries it (by run uid). */
  const quotes = new Map<string, Money>();

  /**
   * Where the run's steps are on a peer, its quote, and where Auto placed its steps are never
   * forgotten by a write that does not mention them (server-side apply drops what its manager leaves out).
   */
  function kept(run: PipelineRun, fields: Mirrored, forget: readonly KeptField[]): Pick<PipelineRunStatus, KeptField> {
    const known = run.status ?? {};
    const quote = quotes.get(run.metadata.uid ?? "") ?? fields.quote ?? known.quote;
    const all = { peerRuns: fields.peerRuns ?? known.peerRuns, quote, autoPlacement: fields.autoPlacement ?? known.autoPlacement, autoRefused: fields.autoRefused ?? known.autoRefused, artifactAccess: fields.artifactAccess ?? known.artifactAccess };
    for (const field of forget) delete all[field];
    return present(all);
  }
  const now = deps.now ?? ((): Date => new Date());
  const { settings } = deps;

  /** `forget`: fields kept otherwise that this write removes. */
  async function writeStatus(ctx: ReconcileContext, run: PipelineRun, decision: { ready: ConditionUpdate; succeeded: ConditionUpdate }, written: Mirrored & { forget?: readonly KeptField[] }): Promise<void> {
    const { forget = [], ...own } = written;
    // The rest of a run whose prelude ran first: its steps and outputs beside the rest's.
    const shown = (run as { [preludeMark]?: PreludeShown })[preludeMark];
    const fields = shown ? withPreludeShown(own, shown) : own;
    const generation = run.metadata.generation;
    let conditions = setCondition(run.status?.conditions, decision.ready, generation, now());
    conditions = setCondition(conditions, decision.succeeded, generation, now()).filter((c) => c.type === "Ready" || c.type === "Succeeded");
    const wrote = await deps.status.apply(pipelineRunKindRef, run, { conditions, observedGeneration: generation, ...fields, ...kept(run, fields, forget) });
    quotes.delete(run.metadata.uid ?? "");
    if (!wrote || conditionMatches(run.status?.conditions, decision.ready)) return;
    ctx.logger.info("pipeline run changed", { namespace: run.metadata.namespace, name: run.metadata.name, reason: decision.ready.reason });
    const warning = decision.ready.status === "False";
    await deps.events.record(run as KubernetesObject, { type: warning ? "Warning" : "Normal", reason: decision.ready.reason, action: "Run", note: decision.ready.message });
  }

  /** Ready=False with the reason; Succeeded stays Unknown (nothing ran, a fix can still let it run). */
  function block(ctx: ReconcileContext, run: PipelineRun, blocked: Blocked, where?: { plan: StepPlacement[]; kept?: LocalPart["kept"] }): Promise<void> {
    const { plan, kept } = where ?? {};
    const decision = {
      ready: { type: "Ready", status: "False" as const, reason: blocked.reason, message: blocked.message },
      succeeded: { type: "Succeeded", status: "Unknown" as const, reason: blocked.reason, message: blocked.message },
    };
    const planned = plan ? plannedSteps(plan, (p) => (p.site.kind === "peer" ? p.site.peer : clusterName(ctx, settings.fallbackClusterName))) : undefined;
    // A run whose peer part has run keeps that part's steps and outputs as they ended.
    const steps = kept && planned ? [...kept.steps, ...planned.filter((p) => !kept.steps.some((k) => k.name === p.name))] : planned;
    const done = steps?.filter((s) => s.phase === "Succeeded").length ?? 0;
    return writeStatus(ctx, run, decision, { phase: "Pending", progress: `${done}/${run.spec.steps.length}`, ...(steps ? { steps } : {}), ...(kept?.outputs.length ? { outputs: kept.outputs } : {}) });
  }

  const peerSteps = createPeerSteps({
    client: deps.peers,
    events: deps.events,
    settings: defaultPeerRunSettings,
    now,
    giveUpAfterMs: 10 * 60_000,
    collectUsage: createPeerUsage({ client: deps.peers, status: deps.status, events: deps.events, now, waitMs: settings.peerUsageWaitMs, requestTimeoutMs: settings.requestTimeoutMs, ...present({ metrics: deps.usageMetrics }) }),
    write: (ctx, run, o, { peerRuns, quote }) => writeStatus(ctx, run, o, { phase: o.phase, progress: o.progress, steps: o.steps, startedAt: o.startedAt, finishedAt: o.finishedAt, outputs: o.outputs, ...present({ peerRuns, quote }) }),
  });

  // A deleted run waits this long at most for its steps' records, looking this often.
  const meteringWaitMs = 60_000;
  const meteringPollMs = 1_000;

  const runArtifacts = createRunArtifacts({ core: deps.core, artifacts: deps.artifacts, events: deps.events, now: () => now().getTime(), giveUpAfterMs: 10 * 60_000, retryAfterMs: 30_000, requestTimeoutMs: settings.requestTimeoutMs });

  /**
   * A deleted run: once its steps here are metered, its objects in the repository, then what it
   * holds on a peer, let go. A Workflow in a reservation's workspace has no owner reference to go
   * with the run: it goes with the workspace, when the requester releases the hold (at once after
   * cancelling the run) or the window ends. The orchestrator deletes no Workflow itself.
   */
  async function deleted(ctx: ReconcileContext, run: PipelineRun): Promise<ReconcileResult | void> {
    if (await awaitingMetering(ctx, run)) return { requeueAfter: meteringPollMs };
    // Where its Workflow is, or would have been (inputs a requester sent sit there before it exists).
    const planned = workflowNamespaceOf(run, reservationOf(ctx, run));
    const namespace = typeof planned === "string" ? planned : recordedWorkflowNamespace(run);
    const artifacts = await runArtifacts.release(ctx, run, { namespace, name: run.status?.workflowRef?.name ?? workflowNameOf(run) });
    return "run" in artifacts ? peerSteps.cleanup(ctx, artifacts.run) : artifacts;
  }

  /** A run's area of this cluster's repository: under its Workflow's key base. */
  const runArea = (run: PipelineRun): string => workflowKeyBase(settings.keyPrefix, recordedWorkflowNamespace(run), run.status?.workflowRef?.name ?? workflowNameOf(run));

  /** The Reservations of the run's namespace, by name, from the cache. */
  const reservationOf = (ctx: ReconcileContext, run: PipelineRun) => (name: string): Reservation | undefined => ctx.cache<Reservation>(reservationKindRef).get({ namespace: run.metadata.namespace ?? "", name });

  /** The run's Workflow from the cache, where status says it is, if the run controls it. */
  function ownWorkflowOf(ctx: ReconcileContext, run: PipelineRun): (ArgoWorkflow & KubernetesObject) | undefined {
    const workflow = ctx.cache<ArgoWorkflow & KubernetesObject>(workflowKindRef).get({ namespace: recordedWorkflowNamespace(run), name: run.status?.workflowRef?.name ?? workflowNameOf(run) });
    return workflow && isControlledAcross(workflow, run as KubernetesObject) ? workflow : undefined;
  }

  /**
   * Whether a deleted run still waits for the records of the steps that ran a pod here: records
   * outlive their run, but only the run and its Workflow say what ran (a step still running is
   * metered up to the deletion). Only where this manager runs the usage controller; at most
   * meteringWaitMs, then a Warning names the steps that go unmetered.
   */
  async function awaitingMetering(ctx: ReconcileContext, run: PipelineRun): Promise<boolean> {
    // Without its Workflow nothing more can be metered: nothing to wait for.
    const workflow = settings.holdForMetering ? ownWorkflowOf(ctx, run) : undefined;
    if (!workflow) return false;
    const waiting = unmeteredSteps(run, workflow, ctx.cache<UsageRecord>(usageRecordKindRef).list(run.metadata.namespace ?? ""));
    if (waiting.length === 0) return false;
    if (now().getTime() - Date.parse(run.metadata.deletionTimestamp ?? "") < meteringWaitMs) return true;
    const note = `step(s) ${waiting.join(", ")} not metered within ${meteringWaitMs / 1000} s of the run's deletion: it goes without their UsageRecords (is the usage controller running?)`;
    await deps.events.record(run as KubernetesObject, { type: "Warning", reason: "StepsNotMetered", action: "Delete", note });
    return false;
  }

  /** A run that names a Reservation of this namespace starts only while it holds capacity. */
  function reservationBlocker(ctx: ReconcileContext, run: PipelineRun): Blocked | undefined {
    const ref = run.spec.placement?.reservationRef;
    if (!ref) return undefined;
    const reservation = ctx.cache<Reservation>(reservationKindRef).get({ namespace: run.metadata.namespace ?? "", name: ref.name });
    if (!reservation) return { reason: RunReason.ReservationNotFound, message: `spec.placement.reservationRef: Reservation ${ref.name} does not exist in namespace ${run.metadata.namespace ?? ""}` };
    const state = reservation.status?.state ?? "Pending";
    if (state === "Confirmed" || state === "Active") return undefined;
    return { reason: RunReason.ReservationNotActive, message: `spec.placement.reservationRef: Reservation ${ref.name} is ${state}; the run starts once it is Confirmed or Active` };
  }

  /** Each step's service process, or why one cannot be had. */
  async function resolveServices(ctx: ReconcileContext, run: PipelineRun, spec: PipelineRunSpec): Promise<Map<string, ServiceProcess> | Blocked> {
    const namespace = run.metadata.namespace ?? "";
    const resources = ctx.cache<Resource>(resourceKindRef);
    const configMaps = ctx.cache<V1ConfigMap>(configMapKindRef);
    const services = new Map<string, ServiceProcess>();
    for (const step of spec.steps) {
      const index = run.spec.steps.findIndex((s) => s.name === step.name);
      const at = `spec.steps[${index}].serviceRef`;
      const resource = resources.get({ namespace, name: step.serviceRef.name });
      const verdict = serviceVerdict(resource, step.serviceRef.name, at);
      if (verdict || !resource) return verdict ?? { reason: RunReason.ServiceNotFound, message: at };
      try {
        services.set(step.name, await loadService(resource, { configMap: (name) => configMaps.get({ namespace, name })?.data }));
      } catch (err) {
        return { reason: RunReason.ServiceNotReady, message: `${at}: service Resource ${step.serviceRef.name}: ${errorMessage(err)}` };
      }
    }
    return services;
  }

  /** The S3 repository Argo's controller is configured with (the same one the CLI runner uses). */
  async function artifactRepository(ctx: ReconcileContext): Promise<ReturnType<typeof repositoryFromConfig> | Blocked> {
    const { argoNamespace: namespace, argoConfigMap: name } = settings;
    try {
      const cm = (await timed(`reading ConfigMap ${namespace}/${name}`, ctx.client.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { namespace, name } }), settings.requestTimeoutMs)) as V1ConfigMap;
      return repositoryFromConfig(cm.data?.artifactRepository, settings.keyPrefix);
    } catch (err) {
      return { reason: RunReason.ArtifactRepositoryUnavailable, message: `Argo's ConfigMap ${namespace}/${name}: ${errorMessage(err)}` };
    }
  }

  /** The Argo Workflow of the run, or why it cannot be built. */
  const inputsKeyOf = (namespace: string, workflow: string): string => `${workflowKeyBase(settings.keyPrefix, namespace, workflow)}/inputs`;

  /** Outputs brought from a peer are in the pods at podInputsDir, as a CLI run's local files are. */
  function withBroughtInputs(workflow: Workflow, repository: S3Repository, brought: boolean): Workflow {
    return brought ? withInputsArtifact(workflow, repository, inputsKeyOf(workflow.metadata?.namespace ?? "", workflow.metadata?.name ?? "")) : workflow;
  }

  const access = createRunAccess({ core: deps.core, egress: deps.egress, requestTimeoutMs: settings.requestTimeoutMs, now: () => now() });

  /** What the orchestrator puts where the pods find it: a peer's outputs, then the data inputs read here. */
  async function stagedInputs(ctx: ReconcileContext, run: PipelineRun, part: LocalPart, workflow: WorkflowPlace): Promise<Record<string, unknown> | Blocked> {
    const inputsKey = inputsKeyOf(workflow.namespace, workflow.name);
    // Inputs a requester sent are in the run's inputs already (orchestrator/sentInputs.ts).
    const brought = part.stage ? ((await part.stage(ctx, inputsKey)) as Record<string, unknown> | Blocked) : sentJob(run);
    const data = part.spec.inputs ?? [];
    if ("reason" in brought || data.length === 0) return brought;
    const store = await artifactStore(deps.core, deps.artifacts, run.metadata.namespace ?? "");
    try {
      const read = await access.stageDataInputs(ctx, run, data, { store, inputsKey });
      return "reason" in read ? (read as Blocked) : { ...brought, ...read };
    } finally {
      store.s3.destroy();
    }
  }

  /** Each run's steps' requests and rates as quoted (by namespace/name, for its uid): what its cost so far is computed from while it runs. */
  const quotedPlans = new Map<string, { uid: string; plans: StepPlan[] }>();
  const runKey = (run: PipelineRun): string => `${run.metadata.namespace ?? ""}/${run.metadata.name ?? ""}`;
  const plansOf = (run: PipelineRun): StepPlan[] | undefined => {
    const kept = quotedPlans.get(runKey(run));
    return kept && kept.uid === run.metadata.uid ? kept.plans : undefined;
  };

  function quoteOf(ctx: ReconcileContext, run: PipelineRun, part: LocalPart, services: Map<string, ServiceProcess>): ReturnType<typeof runQuote> {
    const namespace = run.metadata.namespace ?? "";
    const resources = ctx.cache<Resource>(resourceKindRef);
    const steps = part.spec.steps.flatMap((s) => {
      const service = resources.get({ namespace, name: s.serviceRef.name });
      const process = services.get(s.name)?.process;
      return service && process ? [{ step: s.name, service, process }] : [];
    });
    const quoted = runQuote(run, steps, ctx.cache<Price>(priceKindRef).list(), now());
    if (quoted.priced) quotedPlans.set(runKey(run), { uid: run.metadata.uid ?? "", plans: quoted.plans });
    return quoted;
  }

  /**
   * Until the peer's part is sent, the steps that will run here afterwards are quoted too: the
   * budget covers the whole run (checked before anything is held), and the peer's part may spend
   * what this quote leaves of it. Undefined once sent, or while their services cannot be loaded
   * (the local part says why when its turn comes).
   */
  async function localQuoteBeforeHold(ctx: ReconcileContext, run: PipelineRun, spec: PipelineRunSpec): Promise<RunQuote | undefined> {
    if (run.status?.peerRuns?.some((r) => r.name)) return undefined;
    const services = await resolveServices(ctx, run, spec);
    return services instanceof Map ? quoteOf(ctx, run, { spec }, services) : undefined;
  }

  /** The quote of the steps that run here (plus what the peer quoted for its part, if any), and the budget's verdict on it (before anything runs here). */
  function quoteAndBudget(ctx: ReconcileContext, run: PipelineRun, part: LocalPart, services: Map<string, ServiceProcess>): Blocked | undefined {
    const quoted = withPeerQuote(run, quoteOf(ctx, run, part, services));
    const refusal = budgetRefusal(run, quoted, runProject(ctx, run));
    const quote = quoted.priced ? quoted.totals[0] : undefined;
    if (quote) quotes.set(run.metadata.uid ?? "", quote);
    return refusal ? { reason: refusal.reason as RunReason, message: refusal.message } : undefined;
  }

  /** What must hold before a run starts here: what this slice supports, its reservation, its services, its budget, its write grants. */
  async function admitted(ctx: ReconcileContext, run: PipelineRun, part: LocalPart): Promise<Map<string, ServiceProcess> | Blocked> {
    const blocked = unsupported({ ...run, spec: part.spec }, { kind: "local" }) ?? reservationBlocker(ctx, run) ?? inputsAwaited(run, run.metadata.labels?.[requesterPeerLabel] ?? "");
    if (blocked) return blocked;
    const services = await resolveServices(ctx, run, part.spec);
    if (!(services instanceof Map)) return services;
    return quoteAndBudget(ctx, run, part, services) ?? (await access.storageGrants(ctx, run, part.spec.outputs ?? [])) ?? services;
  }

  /** The run's Workflow, its inputs staged in the repository; or why it cannot be built. */
  async function desiredWorkflow(ctx: ReconcileContext, run: PipelineRun, at: { part: LocalPart; namespace: string }, services: Map<string, ServiceProcess>): Promise<KubernetesObject | Blocked> {
    const { part, namespace } = at;
    const name = workflowNameOf(run);
    const staged = await stagedInputs(ctx, run, part, { namespace, name });
    if ("reason" in staged) return staged as Blocked;
    const built = pipelineWorkflow(part.spec, services, staged);
    if (!built.ok) return { reason: RunReason.InvalidSpec, message: built.errors.join("; ") };
    const configured = await artifactRepository(ctx);
    if ("reason" in configured) return configured;
    const repository = await runCredentials(ctx, run, { namespace, name }, configured);
    if ("reason" in repository) return repository;
    const plan = placementPlan(part.spec);
    const placement = plan.ok ? admiraltyTargets(plan.steps) : undefined;
    const retry = run.spec.retry ? { limit: run.spec.retry.limit, policy: run.spec.retry.policy ?? ("OnError" as const) } : undefined;
    const config = { name, namespace, defaultImage: settings.defaultImage, entrypoint: ["archipel-cwl-entrypoint"], artifacts: repository, ...present({ placement, retry }) };
    const { translate } = await translator();
    const workflow = withBroughtInputs(translate(built.workflow, built.job, config), repository, Object.keys(staged).length > 0);
    return ownedBody(run, workflow.toJSON() as KubernetesObject & { spec: Record<string, unknown> });
  }

  /** The repository with the run's own credentials (its prefix only), issued before its Workflow exists; or why not. */
  async function runCredentials(ctx: ReconcileContext, run: PipelineRun, workflow: WorkflowPlace, repository: S3Repository): Promise<S3Repository | Blocked> {
    try {
      return await runArtifacts.issueCredentials(ctx, run, workflow, repository);
    } catch (err) {
      if (err instanceof CredentialsNameTaken) return { reason: RunReason.NameTaken, message: err.message };
      return { reason: RunReason.ArtifactRepositoryUnavailable, message: `issuing the run's credentials to the artifact repository: ${errorMessage(err)}` };
    }
  }

  /**
   * Once the Workflow has finished no pod of the run reads or writes the repository any more: its
   * user is deleted (status records it, so a finished run costs no IAM request per pass). A
   * failure is said in the log and tried on the next pass; the run's outcome does not wait for it.
   */
  async function revokedAccess(ctx: ReconcileContext, run: PipelineRun, workflow: ArgoWorkflow & KubernetesObject): Promise<NonNullable<PipelineRunStatus["artifactAccess"]>> {
    const name = workflow.metadata?.name ?? "";
    const access = { secretName: runCredentialsSecretName(name) };
    if (!workflowFinished(workflow)) return access;
    if (run.status?.artifactAccess?.revoked === true) return { ...access, revoked: true };
    try {
      await runArtifacts.revokeCredentials(run, { namespace: workflow.metadata?.namespace ?? "", name });
      ctx.logger.info("run's artifact credentials revoked", { namespace: run.metadata.namespace, run: run.metadata.name });
      return { ...access, revoked: true };
    } catch (err) {
      ctx.logger.warn("run's artifact credentials not revoked yet; retrying", { namespace: run.metadata.namespace, run: run.metadata.name, error: errorMessage(err) });
      return access;
    }
  }

  /** The Workflow as created: controlled by the run (its owner reference; in a workspace, its marks and the metering hold), labelled with it, with the run's account and suspension. */
  function ownedBody(run: PipelineRun, body: KubernetesObject & { spec: Record<string, unknown> }): KubernetesObject {
    const name = workflowNameOf(run);
    const marks = controllerMarks(run as KubernetesObject, body.metadata?.namespace ?? "");
    body.metadata = { ...body.metadata, ...marks, labels: { ...body.metadata?.labels, ...marks.labels, "archipel.io/pipelinerun": name.slice(0, 63) } };
    // Outside the run's namespace it goes with its namespace, not with the run: held until metered.
    if (settings.holdForMetering && body.metadata.namespace !== run.metadata.namespace) body.metadata.finalizers = [...(body.metadata.finalizers ?? []), meteringHold];
    if (run.spec.serviceAccountName) body.spec.serviceAccountName = run.spec.serviceAccountName;
    if (run.spec.suspend === true) body.spec.suspend = true;
    const deadline = workflowDeadlineSeconds(run.spec);
    if (deadline !== undefined) body.spec.activeDeadlineSeconds = deadline;
    return body;
  }

  async function readWorkflow(ctx: ReconcileContext, namespace: string, name: string): Promise<ArgoWorkflow & KubernetesObject | undefined> {
    try {
      return (await timed(`reading Workflow ${namespace}/${name}`, ctx.client.read({ apiVersion: "argoproj.io/v1alpha1", kind: "Workflow", metadata: { namespace, name } }), settings.requestTimeoutMs)) as ArgoWorkflow & KubernetesObject;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Creates the Workflow; an existing one (a stale cache, a name taken) is returned as found. */
  async function createWorkflow(ctx: ReconcileContext, body: KubernetesObject): Promise<ArgoWorkflow & KubernetesObject> {
    const { namespace = "", name = "" } = body.metadata ?? {};
    try {
      const created = await timed(`creating Workflow ${namespace}/${name}`, ctx.client.create(body, undefined, undefined, pipelineRunFieldManager), settings.requestTimeoutMs);
      ctx.logger.info("workflow created", { namespace, name });
      return created as ArgoWorkflow & KubernetesObject;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const found = await readWorkflow(ctx, namespace, name);
      if (!found) throw new Error(`Workflow ${namespace}/${name} exists and vanished: retrying`, { cause: err });
      return found;
    }
  }

  /** Keeps Argo's spec.suspend equal to the run's (merge patch of that one field). */
  async function ensureSuspend(ctx: ReconcileContext, run: PipelineRun, workflow: ArgoWorkflow & KubernetesObject): Promise<ArgoWorkflow & KubernetesObject> {
    const want = run.spec.suspend === true;
    if ((workflow.spec?.suspend === true) === want || workflowFinished(workflow)) return workflow;
    const { namespace, name } = workflow.metadata ?? {};
    const patch = { apiVersion: "argoproj.io/v1alpha1", kind: "Workflow", metadata: { namespace, name }, spec: { suspend: want } } as KubernetesObject;
    const patched = await timed("patching Workflow spec.suspend", ctx.client.patch(patch, undefined, undefined, pipelineRunFieldManager, undefined, PatchStrategy.MergePatch), settings.requestTimeoutMs);
    ctx.logger.info(want ? "workflow suspended" : "workflow resumed", { namespace, name });
    return patched as ArgoWorkflow & KubernetesObject;
  }

  /**
   * The run's outputs: as the Workflow left them; those sent to storage copied there once it has
   * succeeded (the run succeeds only then); a finished run's as its record says (copied once).
   */
  async function outputsOf(ctx: ReconcileContext, run: PipelineRun, o: RunObservation, part: LocalPart): Promise<{ outputs?: RunObservation["outputs"]; blocked?: Blocked }> {
    if (finishedRecord(run)) return { outputs: run.status?.outputs };
    if (o.succeeded.status !== "True" || !o.outputs) return { outputs: o.outputs };
    // Every output of the run sent to storage: a run across clusters' peer outputs too (kept in status).
    const delivered = await access.deliverOutputs(ctx, run, run.spec.outputs ?? [], { outputs: o.outputs, open: outputSource(ctx, run, part.outputPeers ?? new Map()) });
    return "reason" in delivered ? { blocked: delivered } : { outputs: delivered };
  }

  /** Where outputs are copied from for delivery: those of steps on a peer (output → Peer) through the federation API, the others from this cluster's repository. */
  function outputSource(ctx: ReconcileContext, run: PipelineRun, fromPeer: ReadonlyMap<string, string>): () => Promise<OutputSource> {
    return () => {
      let repository: OutputSource | undefined;
      const area = `${runArea(run)}/`;
      const limits = { ms: settings.requestTimeoutMs, maxBytes: maxStagedBytes };
      return Promise.resolve({
        copy: async (output, from, to, key) => {
          const peer = fromPeer.get(output);
          if (peer === undefined) {
            repository ??= repositorySource(await artifactStore(deps.core, deps.artifacts, run.metadata.namespace ?? ""), { prefix: area, ms: settings.requestTimeoutMs });
            return repository.copy(output, from, to, key);
          }
          const source = peerRunSource(ctx, run, peer);
          if ("reason" in source) throw new Error(source.message);
          return deliverPeerOutput({ client: deps.peers, run: source, output }, { place: to, key }, limits);
        },
        close: () => repository?.close(),
      });
    };
  }

  /** The steps' requests and rates quoted again (a manager restarted while the run ran). */
  async function requotedPlans(ctx: ReconcileContext, run: PipelineRun, part: LocalPart): Promise<StepPlan[] | undefined> {
    const services = await resolveServices(ctx, run, part.spec);
    const quoted = services instanceof Map ? quoteOf(ctx, run, part, services) : undefined;
    return quoted?.priced ? quoted.plans : undefined;
  }

  /**
   * A running run with a budget: stopped once its cost so far has reached it, else looked at again
   * shortly. The steps' rates are the quote's (recomputed after a restart).
   */
  /** The run's Project: its budget, and its spending by other runs (this run's own records are in its cost so far). */
  function projectSpending(ctx: ReconcileContext, run: PipelineRun): { name: string; budget?: Money; spent?: Money[] } | undefined {
    const project = runProject(ctx, run);
    const name = project?.metadata.name;
    if (!name || !project.spec.budget) return undefined;
    const own = ctx.cache<UsageRecord>(usageRecordKindRef).list(run.metadata.namespace ?? "").filter((r) => r.spec.pipelineRunRef.uid === run.metadata.uid && r.spec.projectRef?.name === name);
    const spent = spentWithout(project.status?.spent ?? [], own.flatMap((r) => (r.spec.cost ? [r.spec.cost] : [])));
    return { name, budget: project.spec.budget, spent };
  }

  async function watchBudget(ctx: ReconcileContext, run: PipelineRun, workflow: ArgoWorkflow & KubernetesObject, where: { observed: RunObservation; part: LocalPart }): Promise<ReconcileResult | void> {
    const project = projectSpending(ctx, run);
    if (!budgetWatched(run, project) || workflow.metadata?.annotations?.[stoppedAnnotation]) return undefined;
    const plans = plansOf(run) ?? (await requotedPlans(ctx, run, where.part));
    const stop = plans ? budgetStop({ run, workflow, observed: where.observed, plans, now: now(), ...present({ project }) }) : undefined;
    if (!stop) return { requeueAfter: budgetCheckIntervalMs };
    await stopWorkflow(ctx, workflow, stop, { fieldManager: pipelineRunFieldManager, timeoutMs: settings.requestTimeoutMs });
    await deps.events.record(run as KubernetesObject, { type: "Warning", reason: stop.reason, action: "Stop", note: stop.message });
  }

  /** A copy to storage that failed is tried again, unless it was refused (that ended the run). */
  const triedAgain = (blocked: Blocked | undefined): boolean => blocked !== undefined && blocked.reason !== RunReason.OutputsRefused;

  /** The run as its Workflow shows it; a refused copy ended the run, and that record stands whatever the Workflow says. */
  function observedRun(ctx: ReconcileContext, run: PipelineRun, workflow: ArgoWorkflow & KubernetesObject, part: LocalPart): RunObservation {
    if (deliveryRefused(run)) return keptObservation(run.status);
    return stoppedObservation(withKept(observeWorkflow(part.spec, workflow, clusterName(ctx, settings.fallbackClusterName)), part.kept), workflow);
  }

  async function mirror(ctx: ReconcileContext, run: PipelineRun, workflow: ArgoWorkflow & KubernetesObject, where: { plan: StepPlacement[]; part: LocalPart }): Promise<ReconcileResult | void> {
    const observed = observedRun(ctx, run, workflow, where.part);
    const { outputs, blocked } = await outputsOf(ctx, run, observed, where.part);
    const o = blocked ? afterFailedCopy(observed, blocked) : observed;
    const artifactAccess = await revokedAccess(ctx, run, workflow);
    const fields: Mirrored = { phase: o.phase, workflowRef: workflowRefOf(run, workflow), progress: o.progress, steps: withPlacement(o.steps, where.plan), startedAt: o.startedAt, finishedAt: o.finishedAt, outputs, artifactAccess, ...present({ peerRuns: run.status?.peerRuns }) };
    await writeStatus(ctx, run, o, fields);
    if (triedAgain(blocked) || (workflowFinished(workflow) && !artifactAccess.revoked)) return { requeueAfter: 30_000 };
    if (!workflowFinished(workflow)) return watchBudget(ctx, run, workflow, { observed, part: where.part });
    // What the run obtained is given back once it has ended (the staged copies are the pods' own).
    await access.releaseGrants(ctx, run);
    quotedPlans.delete(runKey(run));
  }

  function nameTaken(ctx: ReconcileContext, run: PipelineRun, workflow: KubernetesObject): Promise<void> {
    const owner = workflow.metadata?.ownerReferences?.find((r) => r.controller === true);
    const by = owner ? `${owner.kind} ${owner.name}` : "no controller";
    return block(ctx, run, { reason: RunReason.NameTaken, message: `Workflow ${workflow.metadata?.namespace ?? ""}/${workflow.metadata?.name ?? ""} exists and is not this run's (controlled by ${by}); delete it or rename the run` });
  }

  /**
   * The Workflow is gone after this run created it (status names it): a finished run keeps its
   * record; an unfinished one fails, and is never run twice.
   */
  function workflowGone(ctx: ReconcileContext, run: PipelineRun): Promise<void> | undefined {
    const ref = run.status?.workflowRef;
    if (!ref) return undefined;
    const succeeded = run.status?.conditions?.find((c) => c.type === "Succeeded")?.status;
    if (succeeded === "True" || succeeded === "False") return Promise.resolve();
    const message = `Workflow ${recordedWorkflowNamespace(run)}/${ref.name} was deleted before it finished; create a new run to run the pipeline again`;
    const decision = { ready: { type: "Ready", status: "False" as const, reason: RunReason.WorkflowFailed, message }, succeeded: { type: "Succeeded", status: "False" as const, reason: RunReason.WorkflowFailed, message } };
    const { workflowRef, startedAt, progress, steps } = run.status ?? {};
    return writeStatus(ctx, run, decision, { phase: "Failed", workflowRef, startedAt, progress, steps, finishedAt: conditionTime(now()) });
  }

  async function converge(ctx: ReconcileContext, run: PipelineRun, workflow: ArgoWorkflow & KubernetesObject, where: { plan: StepPlacement[]; part: LocalPart }): Promise<ReconcileResult | void> {
    if (!isControlledAcross(workflow, run as KubernetesObject)) return nameTaken(ctx, run, workflow);
    return mirror(ctx, run, await ensureSuspend(ctx, run, workflow), where);
  }

  /** Blockers that change without an event this controller watches: look again later. */
  const retriedBlockers = new Set<string>([RunReason.ArtifactRepositoryUnavailable, RunReason.PeerOutputUnavailable, RunReason.DataUnavailable]);

  /** Steps that run here: on this cluster's Argo, through the run's Workflow. */
  async function runLocally(ctx: ReconcileContext, run: PipelineRun, plan: StepPlacement[], part: LocalPart = { spec: run.spec }): Promise<ReconcileResult | void> {
    const where = { plan, part };
    const namespace = workflowNamespaceOf(run, reservationOf(ctx, run));
    if (typeof namespace !== "string") return blockedHere(ctx, run, namespace, where);
    const cached = ctx.cache<ArgoWorkflow & KubernetesObject>(workflowKindRef).get({ namespace, name: workflowNameOf(run) });
    if (cached) return converge(ctx, run, cached, where);
    // The cache may lag behind a Workflow created a moment ago: ask the API server before creating.
    const live = await readWorkflow(ctx, namespace, workflowNameOf(run));
    if (live) return converge(ctx, run, live, where);
    const gone = workflowGone(ctx, run);
    if (gone) return gone;
    // A run awaiting inputs owns its area of the repository before they come: its requester writes there.
    const owning = awaitedInputsOf(run).length > 0 ? await runArtifacts.hold(ctx, run) : run;
    const services = await admitted(ctx, owning, part);
    if (!(services instanceof Map)) return blockedHere(ctx, owning, services, where);
    // Inputs are staged in the repository next: the run owns its objects there from here on.
    const held = await runArtifacts.hold(ctx, owning);
    const desired = await desiredWorkflow(ctx, held, { part, namespace }, services);
    if ("reason" in desired) return blockedHere(ctx, held, desired, where);
    return converge(ctx, held, await createWorkflow(ctx, desired), where);
  }

  async function blockedHere(ctx: ReconcileContext, run: PipelineRun, blocked: Blocked, where: { plan: StepPlacement[]; part: LocalPart }): Promise<ReconcileResult | void> {
    await block(ctx, run, blocked, { plan: where.plan, kept: where.part.kept });
    return retriedBlockers.has(blocked.reason) ? { requeueAfter: 30_000 } : undefined;
  }

  /**
   * The peer Auto chose did not hold the steps (its hold was rejected or expired before they were
   * sent): the run forgets that peer's hold and the pins, keeps why in status.autoRefused, and the
   * next pass ranks the steps again without that peer. Nothing ran there and nothing is held.
   */
  async function rankAgainWithout(ctx: ReconcileContext, run: PipelineRun, ended: HoldEnded): Promise<ReconcileResult> {
    const refusal = { peer: ended.peer, reservation: ended.reservation, state: ended.state, at: conditionTime(now()), ...present({ message: ended.message?.slice(0, 1024) }) };
    const known = run.status?.autoRefused ?? [];
    // Once per hold: a pass that read the run before this write landed finds it there.
    const autoRefused = known.some((r) => r.peer === ended.peer && r.reservation === ended.reservation) ? known : [...known, refusal].slice(-16);
    const why = { reason: RunReason.PeerHoldEnded, message: `peer ${ended.peer} (${ended.cluster}) did not hold the steps Auto placed there: reservation ${ended.reservation} is ${ended.state}${ended.message ? ` (${ended.message})` : ""}; ranking them again without it` };
    await writeStatus(ctx, run, { ready: { type: "Ready", status: "Unknown", ...why }, succeeded: { type: "Succeeded", status: "Unknown", ...why } }, { phase: "Pending", autoRefused, forget: ["peerRuns", "autoPlacement", "quote"] });
    return { requeueAfter: 1000 };
  }

  /** What a peer's hold that ended early does: sends Auto's steps to be ranked again, or (undefined) fails the run. */
  const holdEndedOf = (run: PipelineRun, peerName: string): Pick<PeerGroup, "onHoldEnded"> =>
    placedOnPeerByAuto(run.spec, run.status?.autoPlacement, peerName) ? { onHoldEnded: (ctx, ended) => rankAgainWithout(ctx, run, ended) } : {};

  /** The peers' parts of a run across clusters, driven together (Auto's single peer may send them elsewhere). */
  const groupOf = (run: PipelineRun, plan: StepPlacement[], parts: CrossClusterSplit["peers"], first?: FirstHere): PeerGroup => ({
    run,
    jobs: parts.map(({ peer, part }) => ({ peerName: peer, part, plan: plan.filter((p) => p.site.kind === "peer" && p.site.peer === peer) })),
    ...(parts.length === 1 && parts[0] ? holdEndedOf(run, parts[0].peer) : {}),
    ...(first ? { sendFromHere: (_ctx: ReconcileContext, output: string, to: PeerRunAt & { input: string }) => sendFromHere(first.run, output, to) } : {}),
  });

  /** A run with steps here and on peers: the peers' parts first, side by side, then this cluster's with their outputs. */
  async function runAcrossClusters(ctx: ReconcileContext, run: PipelineRun, plan: StepPlacement[], first?: FirstHere): Promise<ReconcileResult | void> {
    const split = splitAcrossClusters(run.spec, plan, first?.fromHere);
    if ("message" in split) return block(ctx, run, { reason: RunReason.InvalidSpec, message: split.message }, { plan });
    const blocked = unsupported({ ...run, spec: split.local }, { kind: "local" }) ?? (await storageGrantsBeforeHold(ctx, run));
    if (blocked) return block(ctx, run, blocked, { plan });
    const localPlan = plan.filter((p) => p.site.kind === "local");
    const here = clusterName(ctx, settings.fallbackClusterName);
    const group = groupOf(run, plan, split.peers, first);
    const peerOutputs = split.peerOutputs.map((o) => o.name);
    if (!peerPartsSucceeded(run, split.peers.map((p) => p.peer))) {
      const shape = (o: RunObservation): RunObservation => peerPhaseOfMixedRun(o, plannedSteps(localPlan, () => here), peerOutputs);
      return peerSteps.drive(ctx, { ...group, shape, ...present({ localQuote: await localQuoteBeforeHold(ctx, run, split.local) }) });
    }
    // The holds on the peers are given back as soon as their parts have ended (a no-op once they are).
    const settled = await peerSteps.drive(ctx, { run, jobs: group.jobs });
    const kept = keptOfPeers(run, peerOutputs);
    const outputPeers = new Map(split.peerOutputs.map((o) => [o.name, o.peer]));
    const local = await runLocally(ctx, run, plan, { spec: split.local, kept, outputPeers, stage: stageAfterPeers(run, split, first) });
    return local ?? settled;
  }

  /**
   * The write grants of the outputs sent to storage here, obtained before anything is held on a
   * peer (as a run here obtains them before its Workflow): a storage that refuses fails nothing held.
   * Once the run has ended without a Workflow here, they are given back.
   */
  async function storageGrantsBeforeHold(ctx: ReconcileContext, run: PipelineRun): Promise<Blocked | undefined> {
    if (!(run.spec.outputs ?? []).some((o) => o.storageRef)) return undefined;
    // A run that ended before holding anything gives its grants back (never asks for them again).
    if (runDecided(run)) {
      if (!run.status?.workflowRef) await access.releaseGrants(ctx, run);
      return undefined;
    }
    if (run.status?.peerRuns?.some((r) => r.reservation)) return undefined;
    return access.storageGrants(ctx, run, run.spec.outputs ?? []);
  }

  /**
   * Every step on peers: on one, the whole run is its part; on several, each gets the steps placed
   * there. Outputs sent to storage here are copied once every part has succeeded.
   */
  async function runOnPeers(ctx: ReconcileContext, run: PipelineRun, plan: StepPlacement[], first?: FirstHere): Promise<ReconcileResult | void> {
    const peers = peersOf(plan);
    const split = peerParts(run, plan, peers, first?.fromHere);
    if ("message" in split) return block(ctx, run, { reason: RunReason.InvalidSpec, message: split.message }, { plan });
    const blocked = onPeersUnsupported(run, peers) ?? (await storageGrantsBeforeHold(ctx, run));
    if (blocked) return block(ctx, run, blocked, { plan });
    const stored = (run.spec.outputs ?? []).some((o) => o.storageRef);
    const fromPeer = new Map(split.peerOutputs.map((o) => [o.name, o.peer]));
    if (stored && awaitingDelivery(run)) return deliverPeerOutputs(ctx, run, fromPeer);
    return peerSteps.drive(ctx, { ...groupOf(run, plan, split.peers, first), ...(stored ? { shape: (o: RunObservation) => succeededOnceDelivered(run, o) } : {}) });
  }

  /** Copies the peers' outputs to storage here; the run succeeds once they are (retried every 30 s until then). */
  async function deliverPeerOutputs(ctx: ReconcileContext, run: PipelineRun, fromPeer: ReadonlyMap<string, string>): Promise<ReconcileResult | void> {
    const held = keptObservation(run.status);
    const delivered = await access.deliverOutputs(ctx, run, run.spec.outputs ?? [], { outputs: held.outputs ?? [], open: outputSource(ctx, run, fromPeer) });
    const write = (o: RunObservation): Promise<void> => writeStatus(ctx, run, o, { phase: o.phase, progress: o.progress, steps: o.steps, startedAt: o.startedAt, finishedAt: o.finishedAt, outputs: o.outputs });
    if ("reason" in delivered) {
      await write(afterFailedCopy(held, delivered));
      // A refusal ended the run: the next pass gives the grants back.
      return { requeueAfter: delivered.reason === RunReason.OutputsRefused ? 1000 : 30_000 };
    }
    const clusters = (run.status?.peerRuns ?? []).map((r) => r.cluster);
    const message = `all ${held.steps.length} steps succeeded on peer${clusters.length > 1 ? "s" : ""} ${clusters.join(", ")}; outputs copied to storage`;
    // The next pass gives the grants back (storageGrantsBeforeHold), as for any run that has ended.
    await write(deliveredObservation(held, delivered, message, conditionTime(now())));
    return { requeueAfter: 1000 };
  }

  /** Where a peer's run of this run's steps is, if this cluster may ask it now. */
  function peerRunSource(ctx: ReconcileContext, run: PipelineRun, peer: string): { ep: PeerEndpoint; namespace: string; name: string; cluster: string } | Blocked {
    const known = peerRecordOf(run, peer);
    const ep = peerEndpoint(ctx.cache<Peer>(peerKindRef).get({ namespace: "", name: peer }), peer);
    if ("endpoint" in ep && known?.name) return { ep, namespace: known.namespace, name: known.name, cluster: known.cluster };
    return { reason: RunReason.PeerOutputUnavailable, message: `peer ${peer}'s run is not known, or its Peer is not usable now (${"message" in ep ? ep.message : "no run"})` };
  }

  /** The peers' outputs the steps here read, copied into this cluster's artifact repository; the job values naming them in the pods. */
  async function bringPeerOutputs(ctx: ReconcileContext, run: PipelineRun, transfers: Transfer[], inputsKey: string): Promise<Record<string, unknown> | Blocked> {
    const store = await artifactStore(deps.core, deps.artifacts, run.metadata.namespace ?? "");
    let bringing: Transfer | undefined;
    try {
      const job: Record<string, unknown> = {};
      for (const t of transfers) {
        bringing = t;
        const source = peerRunSource(ctx, run, t.peer);
        if ("reason" in source) return source;
        job[t.input] = await bringPeerOutput({ client: deps.peers, run: source, output: t.output }, { store, inputsKey });
      }
      ctx.logger.info("peer outputs brought here", { namespace: run.metadata.namespace, name: run.metadata.name, outputs: transfers.map((t) => t.source) });
      return job;
    } catch (err) {
      const cluster = bringing ? (peerRecordOf(run, bringing.peer)?.cluster ?? bringing.peer) : "";
      return { reason: RunReason.PeerOutputUnavailable, message: `bringing ${bringing?.source ?? ""} from peer ${cluster}: ${errorMessage(err)} (trying again in 30 s)` };
    } finally {
      store.s3.destroy();
    }
  }

  const auto = createAutoSurvey({
    client: deps.peers,
    settings: defaultPeerRunSettings,
    now,
    peers: (ctx) => ctx.cache<Peer>(peerKindRef).list(),
    services: (ctx, namespace, name) => ctx.cache<Resource>(resourceKindRef).get({ namespace, name }),
    prices: (ctx) => ctx.cache<Price>(priceKindRef).list(),
    providers: (ctx, namespace) => ctx.cache<Provider>(providerKindRef).list(namespace),
    load: (ctx, run, steps) => resolveServices(ctx, run, { ...run.spec, steps }),
  });

  /**
   * The run as the rest of this pass runs it: its Auto steps where status.autoPlacement pinned them.
   * A run not yet placed is ranked first and the pins written (the plan is in status before anything
   * runs); a run that had started before Auto ranked keeps running where it was.
   */
  async function placedRun(ctx: ReconcileContext, run: PipelineRun): Promise<{ run: PipelineRun } | { done: ReconcileResult | void }> {
    const pins = run.status?.autoPlacement;
    if (pins?.length) return { run: { ...run, spec: withAutoPins(run.spec, pins) } };
    const ranked = new Set(auto.steps(run).map((s) => s.name));
    const plan = placementPlan(run.spec);
    if (ranked.size === 0 || !plan.ok || startedUnranked(run)) return { run };
    const placed = await auto.place(ctx, run, plan.steps.filter((p) => !ranked.has(p.step)));
    if ("reason" in placed) {
      await block(ctx, run, placed, { plan: plan.steps });
      return { done: { requeueAfter: 60_000 } };
    }
    const pinnedPlan = placementPlan(withAutoPins(run.spec, placed.pins), placed.pins);
    const steps = pinnedPlan.ok ? plannedSteps(pinnedPlan.steps, (p) => (p.site.kind === "peer" ? p.site.peer : clusterName(ctx, settings.fallbackClusterName))) : undefined;
    const where = placed.pins.map((p) => `${p.step}: ${p.peer ? `peer ${p.peer}` : "this cluster"}`).join(", ");
    const why = { reason: RunReason.Placed, message: `Auto placed ${where}; starting` };
    await writeStatus(ctx, run, { ready: { type: "Ready", status: "Unknown", ...why }, succeeded: { type: "Succeeded", status: "Unknown", ...why } }, { phase: "Pending", autoPlacement: placed.pins, ...present({ steps }) });
    return { done: { requeueAfter: 1000 } };
  }

  const reconcile = async (key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> => {
    const cached = indexedRuns(ctx.cache<PipelineRun>(pipelineRunKindRef)).get(key);
    if (!cached) {
      quotedPlans.delete(`${key.namespace}/${key.name}`);
      return;
    }
    if (isBeingDeleted(cached as KubernetesObject)) return deleted(ctx, cached);
    const placed = await placedRun(ctx, cached);
    return "done" in placed ? placed.done : runWhere(ctx, placed.run);
  };

  /** Runs the steps where the plan puts them: here, on peers, or both. */
  function runWhere(ctx: ReconcileContext, run: PipelineRun): Promise<ReconcileResult | void> {
    const plan = placementPlan(run.spec, run.status?.autoPlacement);
    if (!plan.ok) return block(ctx, run, { reason: RunReason.InvalidSpec, message: plan.message });
    const peers = [...new Set(plan.steps.flatMap((p) => (p.site.kind === "peer" ? [p.site.peer] : [])))];
    if (peers.length > maxPeersPerRun) {
      return block(ctx, run, { reason: RunReason.InvalidSpec, message: `spec.steps: the plan places steps on ${peers.length} peers (${peers.join(", ")}); a run may use at most ${maxPeersPerRun}` }, { plan: plan.steps });
    }
    if (peers.length === 0) return runLocally(ctx, run, plan.steps);
    const prelude = preludeSplit(run, plan.steps);
    if (prelude && "message" in prelude) return block(ctx, run, { reason: RunReason.InvalidSpec, message: prelude.message }, { plan: plan.steps });
    if (prelude) return runAfterPrelude(ctx, run, plan.steps, prelude);
    return runOnClusters(ctx, run, plan.steps);
  }

  /** Steps on peers, and here or not. */
  function runOnClusters(ctx: ReconcileContext, run: PipelineRun, plan: StepPlacement[], first?: FirstHere): Promise<ReconcileResult | void> {
    if (plan.every((p) => p.site.kind === "peer")) return runOnPeers(ctx, run, plan, first);
    return runAcrossClusters(ctx, run, plan, first);
  }

  /**
   * A run whose steps on peers read steps here: those run first, as a run of its own that this one
   * owns (preludeRun.ts); once it has succeeded the rest goes as any run across clusters, the
   * prelude's outputs sent to the peers' parts that read them and copied for the steps here after.
   */
  async function runAfterPrelude(ctx: ReconcileContext, run: PipelineRun, plan: StepPlacement[], prelude: PreludeSplit): Promise<ReconcileResult | void> {
    const restPlan = plan.filter((p) => !prelude.steps.includes(p.step));
    const outputs = (prelude.spec.outputs ?? []).map((o) => o.name);
    // A run that has ended never makes its prelude again (one deleted by hand would run its steps again): it settles with them as its status has them.
    if (runDecided(run) && !ctx.cache<PipelineRun>(pipelineRunKindRef).get({ namespace: run.metadata.namespace ?? "", name: preludeName(run) })) {
      return runOnClusters(ctx, Object.assign({ ...run, spec: prelude.rest }, { [preludeMark]: keptPreludeShown(run, prelude, outputs) }), restPlan);
    }
    const first = await ensurePrelude(ctx, run, prelude.spec);
    if ("reason" in first) return block(ctx, run, first, { plan });
    const shown = preludeShown(first, prelude, outputs, clusterName(ctx, settings.fallbackClusterName));
    const rest = Object.assign({ ...run, spec: prelude.rest }, { [preludeMark]: shown });
    if (!preludeSucceeded(first)) {
      const o = whilePrelude(first);
      const steps = plannedSteps(restPlan, (p) => (p.site.kind === "peer" ? p.site.peer : clusterName(ctx, settings.fallbackClusterName)));
      await writeStatus(ctx, rest, o, { phase: o.phase, steps, ...present({ finishedAt: o.finishedAt }) });
      return runDecided(run) || o.phase === "Failed" ? undefined : { requeueAfter: 5_000 };
    }
    const fromHere = new Map(prelude.fromHere.map((f) => [f.input, f.output]));
    return runOnClusters(ctx, rest, restPlan, { run: first, fromHere });
  }

  /** The run's prelude run: made once, owned by the run; a same-named run of anyone else is never used. */
  async function ensurePrelude(ctx: ReconcileContext, run: PipelineRun, spec: PipelineRunSpec): Promise<PipelineRun | Blocked> {
    const namespace = run.metadata.namespace ?? "";
    const name = preludeName(run);
    const ours = (found: PipelineRun): PipelineRun | Blocked =>
      isControlledBy(found as KubernetesObject, run as KubernetesObject) ? found : { reason: RunReason.NameTaken, message: `PipelineRun ${namespace}/${name} exists and is not this run's (it would run the steps here that its steps on peers read); delete or rename it` };
    const cached = ctx.cache<PipelineRun>(pipelineRunKindRef).get({ namespace, name });
    if (cached) return ours(cached);
    const body = { apiVersion, kind: "PipelineRun", metadata: { name, namespace, labels: { [preludeOfLabel]: (run.metadata.name ?? "").slice(0, 63) }, ownerReferences: [controllerRef(run as KubernetesObject)] }, spec };
    try {
      const created = (await timed(`creating PipelineRun ${namespace}/${name}`, ctx.client.create(body as KubernetesObject, undefined, undefined, pipelineRunFieldManager), settings.requestTimeoutMs)) as PipelineRun;
      ctx.logger.info("prelude run created", { namespace, name, for: run.metadata.name });
      return created;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const live = (await timed(`reading PipelineRun ${namespace}/${name}`, ctx.client.read({ apiVersion, kind: "PipelineRun", metadata: { namespace, name } }), settings.requestTimeoutMs)) as PipelineRun;
      return ours(live);
    }
  }

  /** Where a prelude run's output is in this cluster's repository (only in its own area), or why not. */
  function preludeOutput(first: PipelineRun, output: string, bucket: string): { key: string; directory: boolean; location: string } {
    const found = (first.status?.outputs ?? []).find((o) => o.name === output);
    const location = found?.location ?? "";
    const where = location ? outputInRunArea(location, { bucket, prefix: `${runArea(first)}/` }) : { problem: "it has no such output" };
    if ("problem" in where) throw new CopyRefused(`output ${output} of run ${first.metadata.name ?? ""}: ${where.problem}`);
    return { key: where.key, directory: found?.class === "Directory", location };
  }


  /** Sends a prelude output to the peer's run that awaits it. */
  async function sendFromHere(first: PipelineRun, output: string, to: PeerRunAt & { input: string }): Promise<PeerRunAnswer> {
    const store = await artifactStore(deps.core, deps.artifacts, first.metadata.namespace ?? "");
    try {
      const from = { ...preludeOutput(first, output, store.repository.bucket), ms: settings.requestTimeoutMs };
      return await sendRepositoryOutput(store, from, { client: deps.peers, run: to, input: to.input });
    } finally {
      store.s3.destroy();
    }
  }

  /** What the steps here after the peers' read, put in their inputs: the peers' outputs, then the prelude's. */
  function stageAfterPeers(run: PipelineRun, split: CrossClusterSplit, first: FirstHere | undefined): NonNullable<LocalPart["stage"]> {
    return async (ctx, inputsKey) => {
      const brought = await bringPeerOutputs(ctx, run, split.transfers, inputsKey);
      if ("reason" in brought || !first) return brought;
      const fromHere = await bringFromHere(ctx, first, split.local.steps, inputsKey);
      return "reason" in fromHere ? fromHere : { ...brought, ...fromHere };
    };
  }

  /** The prelude outputs the steps here after the peers' read, copied into their inputs; the job values naming them. */
  async function bringFromHere(ctx: ReconcileContext, used: FirstHere, steps: readonly PipelineStep[], inputsKey: string): Promise<Record<string, unknown> | Blocked> {
    const wanted = awaitedFromHere(steps, used.fromHere);
    if (wanted.length === 0) return {};
    const store = await artifactStore(deps.core, deps.artifacts, used.run.metadata.namespace ?? "");
    const source = repositorySource(store, { prefix: `${runArea(used.run)}/`, ms: settings.requestTimeoutMs });
    try {
      const job: Record<string, unknown> = {};
      for (const { input, output } of wanted) {
        const found = preludeOutput(used.run, output, store.repository.bucket);
        const name = found.key.replace(/\/+$/, "").split("/").pop() ?? output;
        await source.copy(output, { location: found.location, directory: found.directory }, { s3: store.s3, bucket: store.repository.bucket }, `${inputsKey}/${input}/${name}`);
        job[input] = { class: found.directory ? "Directory" : "File", location: pathToFileURL(`${podInputsDir}/${input}/${name}`).href };
      }
      ctx.logger.info("prelude outputs brought to the steps after the peers'", { namespace: used.run.metadata.namespace, run: used.run.metadata.name, inputs: wanted.map((w) => w.input) });
      return job;
    } catch (err) {
      return { reason: RunReason.PeerOutputUnavailable, message: `copying the outputs of run ${used.run.metadata.name ?? ""} for the steps here: ${errorMessage(err)} (trying again in 30 s)` };
    } finally {
      source.close();
    }
  }

  return reconcile;
}

/** The parts of a run whose every step is on peers: on one, the whole run; on several, the steps placed on each. */
function peerParts(run: PipelineRun, plan: StepPlacement[], peers: string[], fromHere?: ReadonlyMap<string, string>): Pick<CrossClusterSplit, "peers" | "peerOutputs"> | { message: string } {
  const [only] = peers;
  if (peers.length !== 1 || only === undefined) return splitAcrossClusters(run.spec, plan, fromHere);
  return { peers: [{ peer: only, part: wholeRun(run, fromHere) }], peerOutputs: (run.spec.outputs ?? []).map((o) => ({ name: o.name, peer: only })) };
}

/** What the peers' parts of a run across clusters left in its status: their steps and the run's outputs they made. */
function keptOfPeers(run: PipelineRun, peerOutputs: readonly string[]): NonNullable<LocalPart["kept"]> {
  return { steps: (run.status?.steps ?? []).filter((s) => s.peer !== undefined), outputs: (run.status?.outputs ?? []).filter((o) => peerOutputs.includes(o.name)) };
}

/** The peers the plan places steps on, each once. */
const peersOf = (plan: readonly StepPlacement[]): string[] => [...new Set(plan.flatMap((p) => (p.site.kind === "peer" ? [p.site.peer] : [])))];

/** What this slice cannot do for a run every step of which is on peers (on several, the split has placed each data input with its steps already). */
function onPeersUnsupported(run: PipelineRun, peers: readonly string[]): Blocked | undefined {
  const site = { kind: "peer" as const, peer: peers[0] ?? "" };
  return peers.length === 1 ? unsupported(run, site) : unsupportedReservation(run, site);
}

/** A run's prelude once it has succeeded, and the pipeline inputs that are its outputs (input → its output). */
interface FirstHere {
  run: PipelineRun;
  fromHere: ReadonlyMap<string, string>;
}

/** On the rest of a run whose prelude ran first: what its status shows of the prelude (writeStatus puts it beside). */
const preludeMark = Symbol("prelude");

/** A run that had started, or ended, before Auto ranked offers: it stays where it was. */
const startedUnranked = (run: PipelineRun): boolean => Boolean(run.status?.workflowRef || run.status?.peerRuns?.length || runDecided(run));

/** Runs that name a Resource (any change to it can unblock them). */
function runsOfService(runs: () => Cache<PipelineRun> | undefined): (obj: KubernetesObject) => ObjectKey[] {
  return (obj) =>
    (runs()?.byIndex(byService, `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`) ?? []).map((r) => ({ namespace: r.metadata.namespace ?? "", name: r.metadata.name ?? "" }));
}

/** The runs of the object's namespace that have not started (their quote depends on its Prices). */
function runsOfNamespace(runs: () => Cache<PipelineRun> | undefined): (obj: KubernetesObject) => ObjectKey[] {
  return (obj) => (runs()?.list() ?? []).filter((r) => r.metadata.namespace === obj.metadata?.namespace && !r.status?.workflowRef).map((r) => ({ namespace: r.metadata.namespace ?? "", name: r.metadata.name ?? "" }));
}

/** The runs billed to a Project that have not started. */
function runsOfProject(runs: () => Cache<PipelineRun> | undefined): (obj: KubernetesObject) => ObjectKey[] {
  return (obj) => (runs()?.list() ?? []).filter((r) => r.spec.projectRef?.name === obj.metadata?.name && !r.status?.workflowRef).map((r) => ({ namespace: r.metadata.namespace ?? "", name: r.metadata.name ?? "" }));
}

/** The run a copy of a peer's UsageRecord is bound to (records metered here are the usage controller's). */
function copiedRunOf(obj: KubernetesObject & { spec?: { peer?: string; pipelineRunRef?: { name?: string } } }): ObjectKey[] {
  const name = obj.spec?.peer ? obj.spec.pipelineRunRef?.name : undefined;
  return name ? [{ namespace: obj.metadata?.namespace ?? "", name }] : [];
}

/** Runs that name a Reservation of their namespace (it becoming Confirmed lets them start). */
function runsOfReservation(runs: () => Cache<PipelineRun> | undefined): (obj: KubernetesObject) => ObjectKey[] {
  return (obj) =>
    (runs()?.byIndex(byReservation, `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`) ?? []).map((r) => ({ namespace: r.metadata.namespace ?? "", name: r.metadata.name ?? "" }));
}

/** The controller as the manager registers it. */
export function pipelineRunController(kubeConfig: KubeConfig, opts: { logger?: Logger; settings?: OrchestratorSettings; egress: EgressPolicy; artifacts?: ArtifactStoreSettings; registry?: Registry }): ControllerOptions {
  const settings = opts.settings ?? defaultOrchestratorSettings;
  const reconcile = createPipelineRunReconciler({
    status: new StatusWriter(kubeConfig, pipelineRunFieldManager),
    events: new EventRecorder(kubeConfig, { reportingController: pipelineRunReportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
    settings,
    core: kubeConfig.makeApiClient(CoreV1Api),
    artifacts: opts.artifacts ?? artifactStoreSettingsFrom({}),
    peers: new PeerRunsClient({ identity: cachedSigningIdentity(() => loadSigningIdentity(kubeConfig)), egress: opts.egress, deadlineMs: settings.requestTimeoutMs }),
    egress: opts.egress,
    ...(opts.registry ? { usageMetrics: usageMetricsOf(opts.registry) } : {}),
  });
  let runs: Cache<PipelineRun> | undefined;
  return {
    name: pipelineRunControllerName,
    for: pipelineRunKindRef,
    reconcile: async (key, ctx) => {
      runs ??= indexedRuns(ctx.cache<PipelineRun>(pipelineRunKindRef));
      return reconcile(key, ctx);
    },
    concurrency: 2,
    // A run's AccessGrants being issued (or refused) moves it on.
    owns: [workflowKindRef, accessGrantKindRef],
    watches: [
      // A served run's Workflow in its reservation's workspace carries marks, not an owner reference.
      { kind: workflowKindRef, map: markedOwnerOf(pipelineRunKind.kind) },
      { kind: resourceKindRef, map: runsOfService(() => runs) },
      { kind: reservationKindRef, map: runsOfReservation(() => runs) },
      { kind: peerKindRef, map: () => [] },
      { kind: providerKindRef, map: () => [] },
      // A Price or a Project's budget changing may let a run over budget start (or quote it).
      { kind: priceKindRef, map: runsOfNamespace(() => runs) },
      { kind: projectKindRef, map: runsOfProject(() => runs) },
      // Caches the reconciler reads, registered so that they have synced before it runs.
      { kind: configMapKindRef, map: () => [] },
      { kind: identityKindRef, map: () => [] },
      // A copy of a peer's record (spec.peer) moves its run's collection of them on.
      { kind: usageRecordKindRef, map: (obj) => copiedRunOf(obj as KubernetesObject & { spec?: { peer?: string; pipelineRunRef?: { name?: string } } }) },
    ],
  };
}
