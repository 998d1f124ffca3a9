// The Price controller: writes Ready (from the pure readiness chain in priceReadiness.ts) and
// observedGeneration. It reads only caches: the Price, the Prices of the same target (conflicts)
// and the target Resource or Provider. It wakes again when validFrom or validUntil is reached.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.ts";
import { providerKindRef, resourceKindRef } from "../catalog/providerReconciler.ts";
import { reportingInstance } from "../runtime/events.ts";
import type { Cache, ControllerOptions, KindRef, ObjectKey, ReconcileContext, Reconciler, ReconcileResult } from "../runtime/index.ts";
import { conditionMatches, type ConditionUpdate, setCondition } from "../runtime/conditions.ts";
import { EventRecorder } from "../runtime/events.ts";
import { StatusWriter } from "../runtime/status.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type Price, priceKind } from "../schema/price.ts";
import { priceReadiness, type PriceVerdict } from "./priceReadiness.ts";

export const priceControllerName = "price";
export const priceFieldManager = "archipel-price-controller";
export const priceReportingController = "archipel.io/price-controller";
export const priceKindRef = kindRefOf(priceKind);
const readyType = "Ready";
const byTarget = "archipel.io/price-by-target";

// Nothing is lost by waking up early (the reconciler is level-triggered), and the work queue's
// timer cannot hold a delay beyond 2^31 - 1 ms (about 24.8 days); a Price a year ahead is
// re-checked hourly. The floor keeps a wake-up a few ms early from spinning.
const maxWaitMs = 60 * 60 * 1000;
const minWaitMs = 1000;

/** "namespace/Kind/name" of what a Price targets: the index key. */
function targetKey(namespace: string | undefined, kind: string, name: string): string {
  return `${namespace ?? ""}/${kind}/${name}`;
}

const priceTargetKey = (p: Price): string[] => (p.spec?.targetRef ? [targetKey(p.metadata?.namespace, p.spec.targetRef.kind, p.spec.targetRef.name)] : []);

const indexed = new WeakSet<object>();

/** Adds the by-target index to the Price cache once (Store indexes existing objects). */
function indexedPrices(cache: Cache<Price>): Cache<Price> {
  if (indexed.has(cache)) return cache;
  cache.addIndex(byTarget, priceTargetKey);
  indexed.add(cache);
  return cache;
}

export interface PriceReconcilerDeps {
  status: StatusWriter;
  events: EventRecorder;
  now?: () => Date;
}

function targetExists(ctx: ReconcileContext, price: Price): boolean {
  const ref = price.spec.targetRef;
  const kind: KindRef = ref.kind === "Resource" ? resourceKindRef : providerKindRef;
  return ctx.cache<KubernetesObject>(kind).get({ namespace: price.metadata.namespace ?? "", name: ref.name }) !== undefined;
}

export function createPriceReconciler(deps: PriceReconcilerDeps): Reconciler {
  const now = deps.now ?? ((): Date => new Date());

  async function writeReady(ctx: ReconcileContext, price: Price, verdict: PriceVerdict): Promise<void> {
    const generation = price.metadata.generation;
    const update: ConditionUpdate = { type: readyType, status: verdict.ready ? "True" : "False", reason: verdict.reason, message: verdict.message };
    const conditions = setCondition(price.status?.conditions, update, generation, now()).filter((c) => c.type === readyType);
    const wrote = await deps.status.apply(priceKindRef, price, { conditions, observedGeneration: generation });
    if (!wrote || conditionMatches(price.status?.conditions, update)) return;
    ctx.logger.info("price readiness changed", { namespace: price.metadata.namespace, name: price.metadata.name, status: update.status, reason: update.reason });
    await deps.events.record(price as KubernetesObject, { type: verdict.ready ? "Normal" : "Warning", reason: verdict.reason, action: "Validate", note: verdict.message });
  }

  return async (key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> => {
    const prices = indexedPrices(ctx.cache<Price>(priceKindRef));
    const price = prices.get(key);
    if (!price) return;
    const others = prices.byIndex(byTarget, priceTargetKey(price)[0] ?? "");
    const verdict = priceReadiness(price, { targetExists: targetExists(ctx, price), others, now: now() });
    await writeReady(ctx, price, verdict);
    if (verdict.changesInMs === undefined) return;
    return { requeueAfter: Math.min(maxWaitMs, Math.max(minWaitMs, verdict.changesInMs)) };
  };
}

/** Prices whose target is `obj` (a Resource or a Provider) or, for a Price, those of its target. */
function pricesOf(prices: () => Cache<Price> | undefined, kind: "Resource" | "Provider" | "Price"): (obj: KubernetesObject) => ObjectKey[] {
  return (obj) => {
    const cache = prices();
    if (!cache) return [];
    const keys = kind === "Price" ? priceTargetKey(obj as Price) : [targetKey(obj.metadata?.namespace, kind, obj.metadata?.name ?? "")];
    return keys.flatMap((k) => cache.byIndex(byTarget, k)).map((p) => ({ namespace: p.metadata.namespace ?? "", name: p.metadata.name ?? "" }));
  };
}

/** The controller as the manager registers it. */
export function priceController(kubeConfig: KubeConfig, opts: { logger?: Logger } = {}): ControllerOptions {
  const reconcile = createPriceReconciler({
    status: new StatusWriter(kubeConfig, priceFieldManager),
    events: new EventRecorder(kubeConfig, { reportingController: priceReportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
  });
  let prices: Cache<Price> | undefined;
  return {
    name: priceControllerName,
    for: priceKindRef,
    reconcile: async (key, ctx) => {
      prices ??= indexedPrices(ctx.cache<Price>(priceKindRef));
      return reconcile(key, ctx);
    },
    concurrency: 2,
    watches: [
      // A Price created, changed or deleted can start or end a conflict for the others of its target.
      { kind: priceKindRef, map: pricesOf(() => prices, "Price") },
      { kind: resourceKindRef, map: pricesOf(() => prices, "Resource") },
      { kind: providerKindRef, map: pricesOf(() => prices, "Provider") },
    ],
  };
}
