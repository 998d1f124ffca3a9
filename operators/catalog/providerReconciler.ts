// The Provider controller: keeps Ready (from the pure readiness chain), observedGeneration and
// resourceCount in status, and holds the `archipel.io/provider-in-use` finalizer while Resources
// of the same namespace still reference the Provider.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.ts";
import type { Cache, ControllerOptions, ObjectKey, ReconcileContext, Reconciler } from "../runtime/index.ts";
import { conditionMatches, type ConditionUpdate, setCondition } from "../runtime/conditions.ts";
import { EventRecorder, reportingInstance } from "../runtime/events.ts";
import { ensureFinalizer, hasFinalizer, isBeingDeleted, removeFinalizer } from "../runtime/finalizers.ts";
import { StatusWriter } from "../runtime/status.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type ComputeStatus, type Provider, providerKind } from "../schema/provider.ts";
import { type Reservation, reservationKind } from "../schema/reservation.ts";
import { type Resource, resourceKind } from "../schema/resource.ts";
import { admitComputeResources, computeStatusOf, type NodeLike, nodeKindRef, providerCapacity, reservedNow } from "./computeCapacity.ts";
import { deletionBlockedMessage, ProviderReason, providerReadiness } from "./providerReadiness.ts";

export const providerControllerName = "provider";
export const providerFinalizer = "archipel.io/provider-in-use";
export const providerFieldManager = "archipel-provider-controller";
export const providerReportingController = "archipel.io/provider-controller";
const readyType = "Ready";
const resourcesByProvider = "spec.providerRef.name";

export const providerKindRef = kindRefOf(providerKind);
export const resourceKindRef = kindRefOf(resourceKind);
const reservationKindRef = kindRefOf(reservationKind);

/** "namespace/provider" for a Resource's (or Reservation's) providerRef: the index key and the Provider it wakes. */
function providerOf(resource: Pick<Resource, "metadata"> & { spec?: { providerRef?: { name?: string } } }): ObjectKey | undefined {
  const namespace = resource.metadata?.namespace;
  const name = resource.spec?.providerRef?.name;
  return namespace && name ? { namespace, name } : undefined;
}

export interface ProviderReconcilerDeps {
  status: StatusWriter;
  events: EventRecorder;
  now?: () => Date;
}

export function createProviderReconciler(deps: ProviderReconcilerDeps): Reconciler {
  const indexed = new WeakSet<object>();
  const now = deps.now ?? ((): Date => new Date());

  /** The Resources that reference `key`, from a cache index (no LIST per reconcile). */
  function referencingResources(ctx: ReconcileContext, key: ObjectKey): Resource[] {
    const resources = ctx.cache<Resource>(resourceKindRef);
    ensureIndex(resources);
    return resources.byIndex(resourcesByProvider, `${key.namespace ?? ""}/${key.name}`);
  }

  // The index is added on first use so it does not matter whether the manager creates the
  // Resource cache before or after this controller is registered; Store indexes existing objects.
  function ensureIndex(resources: Cache<Resource>): void {
    if (indexed.has(resources)) return;
    resources.addIndex(resourcesByProvider, (r) => {
      const p = providerOf(r);
      return p ? [`${p.namespace}/${p.name}`] : [];
    });
    indexed.add(resources);
  }

  async function writeReady(ctx: ReconcileContext, provider: Provider, update: ConditionUpdate, figures: { resourceCount: number; compute?: ComputeStatus }): Promise<void> {
    const generation = provider.metadata?.generation;
    const conditions = setCondition(provider.status?.conditions, update, generation, now());
    const ready = conditions.filter((c) => c.type === readyType);
    const wrote = await deps.status.apply(providerKindRef, provider, { conditions: ready, observedGeneration: generation, resourceCount: figures.resourceCount, compute: figures.compute });
    if (!wrote || conditionMatches(provider.status?.conditions, update)) return;
    ctx.logger.info("provider readiness changed", { namespace: provider.metadata?.namespace, name: provider.metadata?.name, status: update.status, reason: update.reason });
    await deps.events.record(provider as KubernetesObject, {
      type: update.status === "True" ? "Normal" : "Warning",
      reason: update.reason,
      action: update.reason === ProviderReason.DeletionBlocked ? "Delete" : "Validate",
      note: update.message,
    });
  }

  /**
   * The cache may not hold a Resource created a moment ago. Releasing the finalizer cannot be
   * undone, so that one decision (once per Provider) is confirmed with a live LIST.
   */
  async function liveUsers(ctx: ReconcileContext, provider: Provider): Promise<string[]> {
    const namespace = provider.metadata?.namespace ?? "";
    const list = await ctx.client.list<Resource & KubernetesObject>(`${resourceKindRef.group}/${resourceKindRef.version}`, resourceKindRef.kind, namespace);
    return list.items.filter((r) => providerOf(r)?.name === provider.metadata?.name).map((r) => r.metadata?.name ?? "").sort();
  }

  async function finalize(ctx: ReconcileContext, provider: Provider, cachedUsers: string[]): Promise<void> {
    if (!hasFinalizer(provider as KubernetesObject, providerFinalizer)) return;
    const users = cachedUsers.length > 0 ? cachedUsers : await liveUsers(ctx, provider);
    if (users.length > 0) {
      const update = { type: readyType, status: "False", reason: ProviderReason.DeletionBlocked, message: deletionBlockedMessage(users) } as const;
      await writeReady(ctx, provider, update, { resourceCount: users.length });
      return;
    }
    await removeFinalizer(ctx.client, provider as KubernetesObject, providerFinalizer);
    ctx.logger.info("finalizer removed: no Resource references the provider any more", { namespace: provider.metadata?.namespace, name: provider.metadata?.name });
  }

  return async (key: ObjectKey, ctx: ReconcileContext): Promise<void> => {
    const cached = ctx.cache<Provider>(providerKindRef).get(key);
    if (!cached) return;
    const referencing = referencingResources(ctx, key);
    const users = referencing.map((r) => r.metadata?.name ?? "").sort();
    if (isBeingDeleted(cached as KubernetesObject)) return finalize(ctx, cached, users);
    // Status goes with the resourceVersion the finalizer patch returned, not the cached one.
    const updated = await ensureFinalizer(ctx.client, cached as KubernetesObject, providerFinalizer);
    const provider = updated ? { ...cached, metadata: { ...cached.metadata, resourceVersion: updated.metadata?.resourceVersion } } : cached;
    const readiness = providerReadiness(provider.spec);
    if (!readiness.ready) ctx.logger.debug("provider not ready", { ...key, check: readiness.failedCheck, reason: readiness.reason });
    const status = readiness.ready ? "True" : "False";
    const compute = readiness.ready ? computeFigures(ctx, provider, referencing) : undefined;
    await writeReady(ctx, provider, { type: readyType, status, reason: readiness.reason, message: readiness.message }, { resourceCount: users.length, ...(compute ? { compute } : {}) });
  };
}

/**
 * status.compute of a Ready compute Provider: the same pure functions the Resource controller
 * admits with (computeCapacity.ts), on the same caches. A malformed quantity leaves it out
 * (the Resource controller reports it on each Resource).
 */
function computeFigures(ctx: ReconcileContext, provider: Provider, referencing: Resource[]): ComputeStatus | undefined {
  if (provider.spec.type !== "compute" || !provider.spec.compute) return undefined;
  try {
    const capacity = providerCapacity(provider.spec.compute, ctx.cache<NodeLike>(nodeKindRef).list());
    const offers = referencing.filter((r) => r.spec?.type === "compute" && !isBeingDeleted(r as KubernetesObject));
    const reservations = ctx.cache<Reservation>(reservationKindRef).list(provider.metadata?.namespace ?? "").filter((r) => r.spec?.providerRef?.name === provider.metadata?.name);
    return computeStatusOf(capacity, admitComputeResources(capacity, offers), reservedNow(reservations));
  } catch (err) {
    ctx.logger.debug("no compute figures", { name: provider.metadata?.name, error: (err as Error).message });
    return undefined;
  }
}

/** Compute Providers (from the cache) that a Node change may concern. */
function computeProviders(providers: () => Cache<Provider> | undefined): (obj: KubernetesObject) => ObjectKey[] {
  return () =>
    (providers()?.list() ?? [])
      .filter((p) => p.spec?.type === "compute" && !p.spec.compute?.capacity)
      .map((p) => ({ namespace: p.metadata?.namespace ?? "", name: p.metadata?.name ?? "" }));
}

/** The controller as the manager registers it. */
export function providerController(kubeConfig: KubeConfig, opts: { logger?: Logger } = {}): ControllerOptions {
  const reconcile = createProviderReconciler({
    status: new StatusWriter(kubeConfig, providerFieldManager),
    events: new EventRecorder(kubeConfig, { reportingController: providerReportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
  });
  let providers: Cache<Provider> | undefined;
  return {
    name: providerControllerName,
    for: providerKindRef,
    reconcile: async (key, ctx) => {
      providers ??= ctx.cache<Provider>(providerKindRef);
      return reconcile(key, ctx);
    },
    concurrency: 2,
    watches: [
      { kind: resourceKindRef, map: (obj: KubernetesObject) => [providerOf(obj as Resource)].filter((k): k is ObjectKey => k !== undefined) },
      // Node allocatable feeds status.compute of the compute Providers that count nodes.
      { kind: nodeKindRef, map: computeProviders(() => providers) },
      // A Reservation turning Active (or leaving Active) changes status.compute.reserved and free.
      { kind: reservationKindRef, map: (obj: KubernetesObject) => [providerOf(obj as Reservation)].filter((k): k is ObjectKey => k !== undefined) },
    ],
  };
}
