// The Reservation controller. Steps: find the compute Provider (Pending/ProviderNotFound until it
// exists), hold the finalizer, make the one ledger change the reservation needs (admit, confirm
// or release) on the Provider's ledger with optimistic concurrency, derive the state from the
// ledger entry and the clock, enforce it with a ResourceQuota while Confirmed or Active, write
// status once, and wake up when the state changes by itself (hold lapses, window opens or ends).
// The ledger is the one serialization point of admission: docs/decisions/reservation-admission.md.
import { isDeepStrictEqual } from "node:util";
import { CoreV1Api, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.ts";
import { type NodeLike, nodeKindRef, providerCapacity } from "../catalog/computeCapacity.ts";
import { reportingInstance } from "../runtime/events.ts";
import { parseQuantity, QuantityError } from "../catalog/quantity.ts";
import type { Cache, ControllerOptions, KindRef, ObjectKey, ReconcileContext, Reconciler, ReconcileResult } from "../runtime/index.ts";
import { conditionMatches, type ConditionUpdate, setCondition } from "../runtime/conditions.ts";
import { EventRecorder } from "../runtime/events.ts";
import { ensureFinalizer, hasFinalizer, isBeingDeleted, removeFinalizer } from "../runtime/finalizers.ts";
import { StatusWriter } from "../runtime/status.ts";
import { apiVersion } from "../schema/common.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type Provider, providerKind } from "../schema/provider.ts";
import { type Reservation, reservationKind, type ReservationStatus } from "../schema/reservation.ts";
import { LedgerNameTakenError, LedgerStore } from "./ledgerStore.ts";
import { type Amounts, admitReservation, shortfallMessage } from "./reservationAdmission.ts";
import { holdingClaims, type Ledger, LedgerFormatError, type LedgerEntry, withEntry, withoutEntry } from "./reservationLedger.ts";
import { type NamespaceClaim, namespaceTotal, QuotaEnforcer } from "./reservationQuota.ts";
import { wantsWorkspace, workspaceUidKey } from "./reservationWorkspace.ts";
import { WorkspaceKeeper } from "./workspaceKeeper.ts";
import {
  admittedCondition,
  admittedType,
  confirmedEntry,
  decidedEntry,
  entryOf,
  isEnforced,
  ledgerAction,
  type Phase,
  phaseOf,
  readyCondition,
  readyType,
  releasedEntry,
  ReservationReason,
} from "./reservationState.ts";

export const reservationControllerName = "reservation";
export const reservationFinalizer = "archipel.io/reservation-ledger";
export const reservationFieldManager = "archipel-reservation-controller";
export const reservationReportingController = "archipel.io/reservation-controller";
export const reservationKindRef = kindRefOf(reservationKind);
const providerKindRef = kindRefOf(providerKind);
export const resourceQuotaKindRef: KindRef = { group: "", version: "v1", kind: "ResourceQuota", plural: "resourcequotas", namespaced: true };
const namespaceKindRef: KindRef = { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false };
const limitRangeKindRef: KindRef = { group: "", version: "v1", kind: "LimitRange", plural: "limitranges", namespaced: true };
const byProvider = "archipel.io/reservation-by-provider";
const byUid = "archipel.io/reservation-by-uid";

// Nothing is lost by waking early (level-triggered), and the queue's timer cannot hold more
// than 2^31 - 1 ms (about 24.8 days): a window a month ahead is re-checked hourly. The margin
// makes a wake-up land just after the instant (times are stored at second precision).
const maxWaitMs = 60 * 60 * 1000;
const minWaitMs = 1000;
const wakeMarginMs = 50;
/** A ConfigMap or ResourceQuota in the way is not watched: look again this often. */
const blockedRetryMs = 30_000;

const reservationProvider = (r: Reservation): string[] => (r.spec?.providerRef?.name ? [`${r.metadata?.namespace ?? ""}/${r.spec.providerRef.name}`] : []);

const indexed = new WeakSet<object>();
function indexedReservations(cache: Cache<Reservation>): Cache<Reservation> {
  if (indexed.has(cache)) return cache;
  cache.addIndex(byProvider, reservationProvider);
  cache.addIndex(byUid, (r) => [r.metadata.uid ?? ""]);
  indexed.add(cache);
  return cache;
}

export interface ReservationReconcilerDeps {
  status: StatusWriter;
  events: EventRecorder;
  core: CoreV1Api;
  now?: () => Date;
}

/** Objects from a list may lack apiVersion/kind; owner references need them. */
const typed = <T extends object>(obj: T, kind: string): T & KubernetesObject => ({ ...obj, apiVersion, kind }) as T & KubernetesObject;

/** What enforcing a phase made: the quota's name, a peer's reservation's workspace; or a Ready override when blocked. */
type Enforcement = { quota?: string; workspace?: string; blocked?: ConditionUpdate };

type Lookup = { provider: Provider & KubernetesObject; limits: Amounts } | { blocked: ConditionUpdate };

/** The Provider and its limit (capacity × overcommit), or why there is none to admit against. */
function lookupProvider(ctx: ReconcileContext, reservation: Reservation): Lookup {
  const namespace = reservation.metadata.namespace ?? "";
  const name = reservation.spec.providerRef.name;
  const provider = ctx.cache<Provider>(providerKindRef).get({ namespace, name });
  const blocked = (reason: ReservationReason, message: string): Lookup => ({ blocked: { type: admittedType, status: "False", reason, message } });
  if (!provider || isBeingDeleted(provider as KubernetesObject)) return blocked(ReservationReason.ProviderNotFound, `spec.providerRef: Provider "${name}" does not exist in namespace ${namespace}; create it or fix the reference`);
  if (provider.spec.type !== "compute" || !provider.spec.compute) return blocked(ReservationReason.ProviderNotCompute, `spec.providerRef: Provider "${name}" is of type ${provider.spec.type}, not compute`);
  try {
    const { allocatable } = providerCapacity(provider.spec.compute, ctx.cache<NodeLike>(nodeKindRef).list());
    return { provider: typed(provider, "Provider"), limits: allocatable };
  } catch (err) {
    if (!(err instanceof QuantityError)) throw err;
    return blocked(ReservationReason.InvalidCapacity, `Provider "${name}": ${err.message}`);
  }
}

/** The one ledger change `reservation` needs at `now`, or undefined. Pure. */
export function ledgerChange(ledger: Ledger, reservation: Reservation, limits: Amounts, now: number): Ledger | undefined {
  const name = reservation.metadata.name ?? "";
  const uid = reservation.metadata.uid ?? "";
  const entry = entryOf(ledger.get(name), uid);
  switch (ledgerAction(reservation.spec, entry, now)) {
    case "admit":
      return withEntry(ledger, name, admission(ledger, reservation, limits, now));
    case "confirm":
      return withEntry(ledger, name, confirmedEntry(entry!, now));
    case "release":
      return withEntry(ledger, name, releasedEntry(entry!, now));
    default:
      return undefined;
  }
}

function admission(ledger: Ledger, reservation: Reservation, limits: Amounts, now: number): LedgerEntry {
  const { spec } = reservation;
  const name = reservation.metadata.name ?? "";
  const uid = reservation.metadata.uid ?? "";
  const end = Date.parse(spec.end);
  if (end <= now) return decidedEntry(uid, spec, now, { reason: ReservationReason.WindowEnded, message: `spec.end ${spec.end} has passed: there is nothing left to reserve` });
  const candidate = { name, amounts: { cpu: parseQuantity(spec.cpu, "spec.cpu"), memory: parseQuantity(spec.memory, "spec.memory") }, start: Date.parse(spec.start), end };
  const decision = admitReservation(limits, holdingClaims(ledger, now, name), candidate);
  return decision.fits ? decidedEntry(uid, spec, now) : decidedEntry(uid, spec, now, { reason: ReservationReason.InsufficientCapacity, message: shortfallMessage(decision.shortfalls) });
}

const quiet: readonly string[] = [ReservationReason.AwaitingConfirmation, ReservationReason.Released];
const eventType = (ready: ConditionUpdate): "Normal" | "Warning" => (ready.status === "False" && !quiet.includes(ready.reason) ? "Warning" : "Normal");

const clampWait = (ms: number): number => Math.min(maxWaitMs, Math.max(minWaitMs, ms + wakeMarginMs));

export function createReservationReconciler(deps: ReservationReconcilerDeps): Reconciler {
  const now = deps.now ?? ((): Date => new Date());

  async function writeStatus(ctx: ReconcileContext, reservation: Reservation, updates: ConditionUpdate[], fields: Omit<ReservationStatus, "conditions" | "observedGeneration">): Promise<void> {
    const generation = reservation.metadata.generation;
    let conditions = reservation.status?.conditions;
    for (const u of updates) conditions = setCondition(conditions, u, generation, now());
    const owned = (conditions ?? []).filter((c) => c.type === admittedType || c.type === readyType);
    const wrote = await deps.status.apply(reservationKindRef, reservation, { conditions: owned, observedGeneration: generation, ...fields });
    const ready = updates.find((u) => u.type === readyType);
    if (!wrote || !ready || conditionMatches(reservation.status?.conditions, ready)) return;
    ctx.logger.info("reservation changed", { namespace: reservation.metadata.namespace, name: reservation.metadata.name, state: fields.state, reason: ready.reason });
    await deps.events.record(reservation as KubernetesObject, { type: eventType(ready), reason: ready.reason, action: "Reserve", note: ready.message });
  }

  async function finalize(ctx: ReconcileContext, reservation: Reservation & KubernetesObject): Promise<void> {
    if (!hasFinalizer(reservation, reservationFinalizer)) return;
    const lookup = lookupProvider(ctx, reservation);
    if ("provider" in lookup) {
      const uid = reservation.metadata.uid;
      const name = reservation.metadata.name ?? "";
      try {
        await new LedgerStore(deps.core, ctx.signal).update(lookup.provider, (l) => (entryOf(l.get(name), uid) ? withoutEntry(l, name) : undefined));
      } catch (err) {
        // A namesake ConfigMap holds nothing of ours; a broken ledger must not block deletion for ever.
        if (!(err instanceof LedgerNameTakenError || err instanceof LedgerFormatError)) throw err;
      }
    }
    await new QuotaEnforcer(deps.core, ctx.signal).remove(reservation);
    if (wantsWorkspace(reservation)) await new WorkspaceKeeper(ctx.client, deps.core, ctx.signal).remove(reservation);
    await removeFinalizer(ctx.client, reservation, reservationFinalizer);
  }

  /** A peer's reservation: its workspace while Confirmed or Active (its quota in it), none otherwise. */
  async function enforceInWorkspace(ctx: ReconcileContext, reservation: Reservation & KubernetesObject, phase: Phase): Promise<Enforcement> {
    const workspaces = new WorkspaceKeeper(ctx.client, deps.core, ctx.signal);
    // A quota in the reservation's own namespace is what a manager before workspaces made.
    await new QuotaEnforcer(deps.core, ctx.signal).remove(reservation);
    if (!isEnforced(phase.state)) {
      await workspaces.remove(reservation);
      return {};
    }
    const outcome = await workspaces.prepare(reservation);
    if (outcome.ok) return { quota: outcome.quota, workspace: outcome.namespace };
    return { blocked: { type: readyType, status: "False", reason: ReservationReason.NameTaken, message: outcome.message } };
  }

  /** Enforces `phase`: the quota while Confirmed or Active, none otherwise. Returns a Ready override when blocked. */
  async function enforce(ctx: ReconcileContext, reservation: Reservation & KubernetesObject, phase: Phase): Promise<Enforcement> {
    if (wantsWorkspace(reservation)) return enforceInWorkspace(ctx, reservation, phase);
    const quotas = new QuotaEnforcer(deps.core, ctx.signal);
    if (!isEnforced(phase.state)) {
      await quotas.remove(reservation);
      return {};
    }
    const self = { ...claimOf(reservation), enforced: true };
    const neighbours = ctx.cache<Reservation>(reservationKindRef).list(reservation.metadata.namespace ?? "").map(claimOf);
    const outcome = await quotas.ensure(reservation, namespaceTotal(self, neighbours));
    if (outcome.ok) return { quota: outcome.name };
    return { blocked: { type: readyType, status: "False", reason: ReservationReason.NameTaken, message: outcome.message } };
  }

  async function pending(ctx: ReconcileContext, reservation: Reservation & KubernetesObject, why: ConditionUpdate): Promise<void> {
    await new QuotaEnforcer(deps.core, ctx.signal).remove(reservation);
    if (wantsWorkspace(reservation)) await new WorkspaceKeeper(ctx.client, deps.core, ctx.signal).remove(reservation);
    const ready: ConditionUpdate = { type: readyType, status: "False", reason: ReservationReason.Pending, message: `not decided yet: ${why.message}` };
    await writeStatus(ctx, reservation, [why, ready], { state: "Pending" });
  }

  /** The ledger after this reservation's change, or the reason it cannot be read or written. */
  async function settle(ctx: ReconcileContext, reservation: Reservation, provider: Provider & KubernetesObject, limits: Amounts): Promise<Ledger | ConditionUpdate> {
    try {
      return await new LedgerStore(deps.core, ctx.signal).update(provider, (l) => ledgerChange(l, reservation, limits, now().getTime()));
    } catch (err) {
      if (err instanceof LedgerNameTakenError) return { type: admittedType, status: "Unknown", reason: ReservationReason.LedgerNameTaken, message: err.message };
      if (err instanceof LedgerFormatError) return { type: admittedType, status: "Unknown", reason: ReservationReason.LedgerInvalid, message: err.message };
      throw err;
    }
  }

  /** Status, quota and wake-up for the reservation's ledger entry. */
  async function report(ctx: ReconcileContext, reservation: Reservation & KubernetesObject, entry: LedgerEntry): Promise<ReconcileResult | void> {
    const phase = phaseOf(entry, now().getTime());
    const enforcement = await enforce(ctx, reservation, phase);
    const ready = enforcement.blocked ?? readyCondition(phase, entry);
    const enforced = { ...(enforcement.quota ? { quotaRef: { name: enforcement.quota } } : {}), ...(enforcement.workspace ? { workspace: enforcement.workspace } : {}) };
    await writeStatus(ctx, reservation, [admittedCondition(entry), ready], { ...statusFields(entry, phase), ...enforced });
    if (enforcement.blocked) return { requeueAfter: blockedRetryMs };
    if (phase.wakeAt !== undefined) return { requeueAfter: clampWait(phase.wakeAt - now().getTime()) };
  }

  return async (key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> => {
    const cached = indexedReservations(ctx.cache<Reservation>(reservationKindRef)).get(key);
    if (!cached) return;
    let reservation = typed(cached, "Reservation");
    if (isBeingDeleted(reservation)) return finalize(ctx, reservation);
    const lookup = lookupProvider(ctx, reservation);
    if ("blocked" in lookup) return pending(ctx, reservation, lookup.blocked);
    // The finalizer comes before any ledger entry, so every entry is removed with its Reservation.
    const updated = await ensureFinalizer(ctx.client, reservation, reservationFinalizer);
    if (updated) reservation = { ...reservation, metadata: { ...reservation.metadata, resourceVersion: updated.metadata?.resourceVersion } };
    const ledger = await settle(ctx, reservation, lookup.provider, lookup.limits);
    if (!(ledger instanceof Map)) {
      await pending(ctx, reservation, ledger);
      return { requeueAfter: blockedRetryMs };
    }
    const entry = entryOf(ledger.get(key.name), reservation.metadata.uid);
    if (!entry) throw new Error(`the ledger of Provider ${lookup.provider.metadata?.name} has no entry for Reservation ${key.name} after admission`);
    return report(ctx, reservation, entry);
  };
}

/** The status fields an entry and its phase stand for (conditions aside). */
function statusFields(entry: LedgerEntry, phase: Phase): Omit<ReservationStatus, "conditions" | "observedGeneration"> {
  return {
    state: phase.state,
    ...(entry.outcome !== "Rejected" ? { admittedAt: entry.decidedAt } : {}),
    ...(entry.holdUntil && !entry.confirmedAt ? { holdUntil: entry.holdUntil } : {}),
    ...(phase.releasedAt ? { releasedAt: phase.releasedAt } : {}),
  };
}

/** A Reservation's share of its namespace's quota, as the cache shows it (a peer's is enforced in its workspace instead). */
function claimOf(r: Reservation): NamespaceClaim {
  const enforced = isEnforced(r.status?.state ?? "Pending") && !isBeingDeleted(r as KubernetesObject) && !wantsWorkspace(r);
  return { name: r.metadata.name ?? "", cpu: r.spec.cpu, memory: r.spec.memory, enforced };
}

/**
 * The enforced Reservations of `obj`'s namespace other than `obj`: their quotas hold the
 * namespace's total, which changes when `obj` becomes enforced, stops being, or goes. Only such a
 * change wakes them (remembered per Reservation, from the cache: the watch calls this with the
 * old then the current version), not every status write of a busy namespace.
 */
function enforcedNeighbours(reservations: () => Cache<Reservation> | undefined): (obj: KubernetesObject) => ObjectKey[] {
  const seen = new Map<string, boolean>();
  return (obj) => {
    const cache = reservations();
    if (!cache) return [];
    const namespace = obj.metadata?.namespace ?? "";
    const name = obj.metadata?.name ?? "";
    const current = cache.get({ namespace, name });
    const enforced = current !== undefined && claimOf(current).enforced;
    const key = `${namespace}/${name}`;
    if ((seen.get(key) ?? false) === enforced) return [];
    if (enforced) seen.set(key, true);
    else seen.delete(key);
    return cache
      .list(namespace)
      .filter((r) => r.metadata.name !== name && claimOf(r).enforced)
      .map((r) => ({ namespace, name: r.metadata.name ?? "" }));
  };
}

/**
 * The peer's reservation a workspace, or an object made in it, was made for (its uid: the
 * namespace's annotation, the object's label): one deleted or changed there is made again.
 */
function workspaceOwner(reservations: () => Cache<Reservation> | undefined): (obj: KubernetesObject) => ObjectKey[] {
  return (obj) => {
    const uid = obj.metadata?.labels?.[workspaceUidKey] ?? obj.metadata?.annotations?.[workspaceUidKey];
    return uid ? keysOf((reservations()?.byIndex(byUid, uid) ?? []).filter(wantsWorkspace)) : [];
  };
}

/** For a LimitRange: its workspace's reservation (a copy changed), or the peers' reservations of its namespace (whose copies follow it). */
function workspacesCopying(reservations: () => Cache<Reservation> | undefined): (obj: KubernetesObject) => ObjectKey[] {
  const owner = workspaceOwner(reservations);
  return (obj) => (obj.metadata?.labels?.[workspaceUidKey] ? owner(obj) : keysOf((reservations()?.list(obj.metadata?.namespace ?? "") ?? []).filter(wantsWorkspace)));
}

const keysOf = (rs: readonly Reservation[]): ObjectKey[] => rs.map((r) => ({ namespace: r.metadata.namespace ?? "", name: r.metadata.name ?? "" }));

/** Only what the reservation controller makes there matters: not a quota's usage, a namespace's phase. */
const specChanged = (old: KubernetesObject, current: KubernetesObject): boolean =>
  !isDeepStrictEqual((old as { spec?: unknown }).spec, (current as { spec?: unknown }).spec) || old.metadata?.deletionTimestamp !== current.metadata?.deletionTimestamp;

/** Reservations that name `provider` (a Provider created late lets its Pending Reservations in). */
function reservationsOf(reservations: () => Cache<Reservation> | undefined): (obj: KubernetesObject) => ObjectKey[] {
  return (obj) => keysOf(reservations()?.byIndex(byProvider, `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`) ?? []);
}

/** The controller as the manager registers it. */
export function reservationController(kubeConfig: KubeConfig, opts: { logger?: Logger } = {}): ControllerOptions {
  const reconcile = createReservationReconciler({
    status: new StatusWriter(kubeConfig, reservationFieldManager),
    events: new EventRecorder(kubeConfig, { reportingController: reservationReportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
    core: kubeConfig.makeApiClient(CoreV1Api),
  });
  let reservations: Cache<Reservation> | undefined;
  return {
    name: reservationControllerName,
    for: reservationKindRef,
    reconcile: async (key, ctx) => {
      reservations ??= indexedReservations(ctx.cache<Reservation>(reservationKindRef));
      return reconcile(key, ctx);
    },
    // Admission is serialized by the ledger's resourceVersion, not by the queue: workers of one
    // Provider may race, and the loser recomputes from the fresh ledger.
    concurrency: 4,
    owns: [resourceQuotaKindRef],
    watches: [
      { kind: providerKindRef, map: reservationsOf(() => reservations) },
      { kind: reservationKindRef, map: enforcedNeighbours(() => reservations) },
      // A workspace, its quota and its LimitRanges are made again or put back when someone deletes or changes them.
      { kind: limitRangeKindRef, map: workspacesCopying(() => reservations), changed: specChanged },
      { kind: resourceQuotaKindRef, map: workspaceOwner(() => reservations), changed: specChanged },
      { kind: namespaceKindRef, map: workspaceOwner(() => reservations), changed: specChanged },
      // Nothing to wake (admission is decided once), but the node cache must have synced before
      // the first admission: capacity counted from an empty cache would reject everything.
      { kind: nodeKindRef, map: () => [] },
    ],
  };
}
