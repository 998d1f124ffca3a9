// The Resource controller: whether each catalog entry can be served. Steps: find the Provider
// (gate: exists, Ready, same type and source), then per type either admit compute against the
// provider's capacity (pure, from the cache) or ask the backend (resourceProbes.ts) — at most
// every few minutes once Ready, with back-off while failing — and write Ready, observedGeneration
// and the observed facts (status.data, status.service) once, only when they changed.
import { createHash } from "node:crypto";
import { CoreV1Api, type KubeConfig, type KubernetesObject, type V1ConfigMap } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.ts";
import type { Cache, ControllerOptions, KindRef, ObjectKey, ReconcileContext, Reconciler, ReconcileResult } from "../runtime/index.ts";
import { conditionMatches, type ConditionUpdate, conditionTime, findCondition, setCondition } from "../runtime/conditions.ts";
import { isNotFound } from "../runtime/errors.ts";
import { EventRecorder } from "../runtime/events.ts";
import { isBeingDeleted } from "../runtime/finalizers.ts";
import { StatusWriter } from "../runtime/status.ts";
import type { Provider } from "../schema/provider.ts";
import type { Resource, ResourceStatus } from "../schema/resource.ts";
import { admissionOrderKey, admitComputeResources, type Capacity, type NodeLike, nodeKindRef, providerCapacity } from "./computeCapacity.ts";

export { nodeKindRef };
import { providerKindRef, resourceKindRef } from "./providerReconciler.ts";
import { reportingInstance } from "../runtime/events.ts";
import type { EgressPolicy } from "../runtime/egress.ts";
import { defaultProbeEnv, type ProbeEnv, type ProbeResult, probeFor, runProbe } from "./resourceProbes.ts";
import {
  available,
  checkInputs,
  type CheckRecord,
  checkStillValid,
  dataStatus,
  defaultRecheckPolicy,
  nextRecord,
  notReady,
  providerGate,
  providerRelevance,
  type RecheckPolicy,
  ResourceReason,
  recheckDelay,
  type Verdict,
} from "./resourceReadiness.ts";

export const resourceControllerName = "resource";
export const resourceFieldManager = "archipel-resource-controller";
export const resourceReportingController = "archipel.io/resource-controller";
const readyType = "Ready";

export const configMapKindRef: KindRef = { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true };

// Index names of this controller on the shared Resource cache (the Provider controller has its own).
const byProvider = "archipel.io/resource-by-provider";
const byConfigMap = "archipel.io/resource-by-configmap";
const byType = "archipel.io/resource-by-type";

const indexers: Record<string, (r: Resource) => string[]> = {
  [byProvider]: (r) => (r.spec?.providerRef?.name ? [`${r.metadata?.namespace ?? ""}/${r.spec.providerRef.name}`] : []),
  [byConfigMap]: (r) => {
    const ref = r.spec?.service?.cwl?.configMapRef;
    return ref ? [`${r.metadata?.namespace ?? ""}/${ref.name}`] : [];
  },
  [byType]: (r) => (r.spec?.type ? [r.spec.type] : []),
};

const indexed = new WeakSet<object>();

/** Adds this controller's indexes to the Resource cache once (Store indexes existing objects). */
export function indexedResources(cache: Cache<Resource>): Cache<Resource> {
  if (indexed.has(cache)) return cache;
  for (const [name, fn] of Object.entries(indexers)) cache.addIndex(name, fn);
  indexed.add(cache);
  return cache;
}

export interface ResourceReconcilerDeps {
  status: StatusWriter;
  events: EventRecorder;
  /** Secrets are read live (never cached by this process): credentials for the probes. */
  readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  now?: () => Date;
  policy?: RecheckPolicy;
  probe?: Partial<Omit<ProbeEnv, "secret" | "configMap">>;
}

interface Remembered {
  record: CheckRecord;
  result: ProbeResult;
}

function fingerprintOf(resource: Resource, provider: Provider, configMapVersion: string | undefined): string {
  return createHash("sha256").update(JSON.stringify(checkInputs(resource, provider, configMapVersion))).digest("base64url");
}

function capacityOf(ctx: ReconcileContext, provider: Provider): Capacity | Verdict {
  const name = provider.metadata?.name ?? "";
  if (!provider.spec.compute) return notReady(ResourceReason.ProviderNotReady, `Provider "${name}" has no spec.compute`);
  try {
    return providerCapacity(provider.spec.compute, ctx.cache<NodeLike>(nodeKindRef).list());
  } catch (err) {
    return notReady(ResourceReason.ProviderNotReady, `Provider "${name}": ${(err as Error).message}`);
  }
}

function computeVerdict(ctx: ReconcileContext, resource: Resource, provider: Provider): Verdict {
  const capacity = capacityOf(ctx, provider);
  if ("reason" in capacity) return capacity;
  const siblings = indexedResources(ctx.cache<Resource>(resourceKindRef))
    .byIndex(byProvider, `${resource.metadata?.namespace ?? ""}/${resource.spec.providerRef.name}`)
    .filter((r) => r.spec.type === "compute" && !isBeingDeleted(r as KubernetesObject));
  const verdict = admitComputeResources(capacity, siblings).verdicts.get(resource.metadata?.name ?? "");
  if (!verdict) return notReady(ResourceReason.InvalidSpec, "the Resource is not in the cache yet");
  if (!verdict.admitted) return notReady(ResourceReason[verdict.reason], verdict.message);
  return available(`admitted: ${resource.spec.compute?.cpu} CPU and ${resource.spec.compute?.memory} memory within the provider's free capacity`);
}

/**
 * An Event is owed for a problem, and for the recovery from one. A Resource Ready the first time
 * is what its status says: an Event each would double the writes of a catalog filling up (one per
 * Resource on top of its status; bench/reconcile-floor.ts).
 */
function eventOwed(resource: Resource, verdict: Verdict): boolean {
  return !verdict.ready || findCondition(resource.status?.conditions, readyType)?.status === "False";
}

export function createResourceReconciler(deps: ResourceReconcilerDeps): Reconciler {
  const now = deps.now ?? ((): Date => new Date());
  const policy = deps.policy ?? defaultRecheckPolicy;
  const remembered = new Map<string, Remembered>();

  function probeEnv(ctx: ReconcileContext, namespace: string): ProbeEnv {
    return {
      ...defaultProbeEnv,
      ...deps.probe,
      secret: (name) => deps.readSecret(namespace, name),
      configMap: (name) => ctx.cache<V1ConfigMap>(configMapKindRef).get({ namespace, name })?.data,
    };
  }

  async function writeStatus(ctx: ReconcileContext, resource: Resource, verdict: Verdict, facts: Pick<ResourceStatus, "data" | "service">): Promise<void> {
    const generation = resource.metadata?.generation;
    const update: ConditionUpdate = { type: readyType, status: verdict.ready ? "True" : "False", reason: verdict.reason, message: verdict.message };
    const conditions = setCondition(resource.status?.conditions, update, generation, now()).filter((c) => c.type === readyType);
    const wrote = await deps.status.apply(resourceKindRef, resource, { conditions, observedGeneration: generation, data: facts.data, service: facts.service });
    if (!wrote || conditionMatches(resource.status?.conditions, update)) return;
    await readinessChanged(ctx, resource, verdict);
  }

  async function readinessChanged(ctx: ReconcileContext, resource: Resource, verdict: Verdict): Promise<void> {
    const { namespace, name } = resource.metadata ?? {};
    ctx.logger.info("resource readiness changed", { namespace, name, status: verdict.ready ? "True" : "False", reason: verdict.reason });
    if (!eventOwed(resource, verdict)) return;
    await deps.events.record(resource as KubernetesObject, { type: verdict.ready ? "Normal" : "Warning", reason: verdict.reason, action: "Validate", note: verdict.message });
  }

  function configMapVersion(ctx: ReconcileContext, resource: Resource): string | undefined {
    const name = resource.spec.service?.cwl?.configMapRef?.name;
    if (!name) return undefined;
    const cm = ctx.cache<V1ConfigMap>(configMapKindRef).get({ namespace: resource.metadata?.namespace ?? "", name });
    return cm?.metadata?.resourceVersion ?? "absent";
  }

  /** The backend's answer: remembered while it stands, asked again when due or when inputs changed. */
  async function probed(ctx: ReconcileContext, key: string, resource: Resource, provider: Provider): Promise<Remembered> {
    const probe = probeFor(provider);
    const fingerprint = fingerprintOf(resource, provider, configMapVersion(ctx, resource));
    const previous = remembered.get(key);
    const at = now().getTime();
    if (previous && checkStillValid(previous.record, fingerprint, at, policy)) return previous;
    const result = probe
      ? await runProbe(probe, resource, provider, probeEnv(ctx, resource.metadata?.namespace ?? ""))
      : { verdict: notReady(ResourceReason.InvalidSpec, `no check exists for ${provider.spec.type} providers of this configuration`) };
    const entry = { record: nextRecord(previous?.record, fingerprint, result.verdict, at), result };
    remembered.set(key, entry);
    if (!result.verdict.ready) ctx.logger.debug("resource check failed", { key, reason: result.verdict.reason });
    return entry;
  }

  return async (key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> => {
    const id = `${key.namespace ?? ""}/${key.name}`;
    const resource = indexedResources(ctx.cache<Resource>(resourceKindRef)).get(key);
    if (!resource || isBeingDeleted(resource as KubernetesObject)) {
      remembered.delete(id);
      return;
    }
    const provider = ctx.cache<Provider>(providerKindRef).get({ namespace: key.namespace ?? "", name: resource.spec.providerRef.name });
    // A gate failure needs no retry: a Provider change enqueues this Resource again.
    const gate = providerGate(resource, provider);
    if (gate || !provider) return writeStatus(ctx, resource, gate ?? notReady(ResourceReason.ProviderNotFound, "no provider"), {});
    if (resource.spec.type === "compute") return writeStatus(ctx, resource, computeVerdict(ctx, resource, provider), {});
    const { record, result } = await probed(ctx, id, resource, provider);
    const data = result.data ? dataStatus(resource, result.data, conditionTime(new Date(record.checkedAt))) : undefined;
    await writeStatus(ctx, resource, result.verdict, { data, service: result.service });
    return { requeueAfter: Math.max(1000, record.checkedAt + recheckDelay(record, policy) - now().getTime()) };
  };
}

function decodeSecret(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

/** Keys of the cached Resources in `index` under `value`, for watches (empty until the first reconcile). */
function resourcesIn(cache: () => Cache<Resource> | undefined, index: string, value: (obj: KubernetesObject) => string | undefined): (obj: KubernetesObject) => ObjectKey[] {
  return (obj) => {
    const resources = cache();
    const v = value(obj);
    if (!resources || v === undefined) return [];
    return resources.byIndex(index, v).map((r) => ({ namespace: r.metadata?.namespace ?? "", name: r.metadata?.name ?? "" }));
  };
}

const namespacedName = (obj: KubernetesObject): string => `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;

/** What admission reads of a compute Resource: its spec (generation) and whether it is going away. */
function admissionFingerprint(r: Resource | undefined): string {
  return r ? `${r.metadata?.generation ?? ""}/${r.metadata?.deletionTimestamp ? "deleting" : ""}/${r.spec.type}/${r.spec.providerRef.name}` : "gone";
}

/** True once per change admission reads (remembered in `seen`, by namespace/name). */
function admissionChanged(seen: Map<string, string>, resources: Cache<Resource>, obj: KubernetesObject): boolean {
  const key = namespacedName(obj);
  const fingerprint = admissionFingerprint(resources.get({ namespace: obj.metadata?.namespace ?? "", name: obj.metadata?.name ?? "" }));
  if (seen.get(key) === fingerprint) return false;
  if (fingerprint === "gone") seen.delete(key);
  else seen.set(key, fingerprint);
  return true;
}

/**
 * Compute Resource events → the siblings whose admission they can move. Admission is first come,
 * first served (admissionOrderKey), so a change moves only the Resources ordered after the one
 * that changed, and only a change admission reads: a status write (ours, on every reconcile)
 * moves nothing. Without this, each of N Resources woke all N (N² reconciles, each O(N)).
 * It reads the cached Resource, not the event's object (called with old then current).
 */
export function computeSiblingsToWake(cache: () => Cache<Resource> | undefined): (obj: KubernetesObject) => ObjectKey[] {
  const seen = new Map<string, string>();
  return (obj) => {
    const resources = cache();
    const changed = obj as Resource;
    if (!resources || changed.spec?.type !== "compute") return [];
    if (!admissionChanged(seen, resources, obj)) return [];
    const after = admissionOrderKey(changed);
    return resources
      .byIndex(byProvider, namespacedName({ metadata: { namespace: obj.metadata?.namespace ?? "", name: changed.spec.providerRef.name } }))
      .filter((r) => r.spec.type === "compute" && admissionOrderKey(r) > after)
      .map((r) => ({ namespace: r.metadata?.namespace ?? "", name: r.metadata?.name ?? "" }));
  };
}

/**
 * Provider events → its Resources, only when providerRelevance changed (or the Provider is
 * gone). It reads the cached Provider, not the event's object: the watch calls this with the
 * old then the current version, and only the first call after a change may enqueue.
 */
function onRelevantProviderChange(caches: () => { resources: Cache<Resource>; providers: Cache<Provider> } | undefined): (obj: KubernetesObject) => ObjectKey[] {
  const seen = new Map<string, string>();
  return (obj) => {
    const c = caches();
    if (!c) return [];
    const key = namespacedName(obj);
    const current = c.providers.get({ namespace: obj.metadata?.namespace ?? "", name: obj.metadata?.name ?? "" });
    const relevance = current ? providerRelevance(current) : undefined;
    if (relevance !== undefined && seen.get(key) === relevance) return [];
    if (relevance === undefined) seen.delete(key);
    else seen.set(key, relevance);
    return c.resources.byIndex(byProvider, key).map((r) => ({ namespace: r.metadata?.namespace ?? "", name: r.metadata?.name ?? "" }));
  };
}

/** The controller as the manager registers it. */
export function resourceController(kubeConfig: KubeConfig, opts: { logger?: Logger; policy?: RecheckPolicy; egress?: EgressPolicy } = {}): ControllerOptions {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const reconcile = createResourceReconciler({
    status: new StatusWriter(kubeConfig, resourceFieldManager),
    events: new EventRecorder(kubeConfig, { reportingController: resourceReportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
    readSecret: async (namespace, name) => {
      try {
        return decodeSecret((await core.readNamespacedSecret({ namespace, name })).data);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.egress ? { probe: { egress: opts.egress } } : {}),
  });
  let resources: Cache<Resource> | undefined;
  let providers: Cache<Provider> | undefined;
  return {
    name: resourceControllerName,
    for: resourceKindRef,
    reconcile: async (key, ctx) => {
      resources ??= indexedResources(ctx.cache<Resource>(resourceKindRef));
      providers ??= ctx.cache<Provider>(providerKindRef);
      return reconcile(key, ctx);
    },
    concurrency: 4,
    watches: [
      { kind: providerKindRef, map: onRelevantProviderChange(() => (resources && providers ? { resources, providers } : undefined)) },
      { kind: configMapKindRef, map: resourcesIn(() => resources, byConfigMap, namespacedName) },
      { kind: nodeKindRef, map: resourcesIn(() => resources, byType, () => "compute") },
      // Admission is first come, first served: a change to a compute Resource can move those after it.
      { kind: resourceKindRef, map: computeSiblingsToWake(() => resources) },
    ],
  };
}
