// A controller: one reconciler of one kind, fed by a work queue that informer events fill.
// Reconcilers are level-triggered: they get a key, never the event that woke them.
import type { KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import type { Logger } from "./logger.ts";
import { apiVersionOf, keyString, objectKey, parseKey, type Cache, type KindRef, type ObjectKey } from "./cache.ts";
import { errorMessage, isConflict, isTerminal } from "./errors.ts";
import type { InformerHandlers } from "./informer.ts";
import type { ReconcileResultLabel, RuntimeMetrics } from "./metrics.ts";
import { QueueWaiter, WorkQueue } from "./workqueue.ts";

export interface ReconcileResult {
  /** Reconcile this key again after this many ms (also on success). */
  requeueAfter?: number;
}

export interface ReconcileContext {
  logger: Logger;
  cache: <T>(kind: KindRef) => Cache<T>;
  client: KubernetesObjectApi;
  /**
   * Aborted when this replica must stop reconciling: it lost the Lease, or it is shutting down.
   * A long reconcile checks it (or passes it to its I/O) and returns early; the Manager waits
   * for every reconcile to return before anyone, this replica included, can lead again.
   * Always set by the Controller (optional only for reconcilers that tests call directly).
   */
  signal?: AbortSignal;
}

export type Reconciler = (key: ObjectKey, ctx: ReconcileContext) => Promise<ReconcileResult | void>;

export interface ControllerOptions {
  name: string;
  for: KindRef;
  reconcile: Reconciler;
  /** Objects whose controlling ownerReference points at a `for` object enqueue that owner. */
  owns?: KindRef[];
  /**
   * Other kinds whose events enqueue the keys `map` returns (e.g. Resource → its Provider). An
   * update enqueues only when `changed` (if given) says it changed something the reconciler reads:
   * another controller's status writes otherwise wake it for nothing (controller-runtime's predicates).
   */
  watches?: { kind: KindRef; map: (obj: KubernetesObject) => ObjectKey[]; changed?: (old: KubernetesObject, current: KubernetesObject) => boolean }[];
  /** Workers of this controller (default 1). */
  concurrency?: number;
  /** Re-enqueue every object of the `for` kind this often (default 10 h, like controller-runtime; 0 = never). */
  resyncPeriodMs?: number;
}

/** What the controller needs from its Manager. */
export interface ControllerDeps {
  informer(kind: KindRef): { store: Cache<KubernetesObject>; addHandlers(h: InformerHandlers<KubernetesObject>): void };
  cache: <T>(kind: KindRef) => Cache<T>;
  client: KubernetesObjectApi;
  logger: Logger;
  metrics: RuntimeMetrics;
  clock?: () => number;
}

export const defaultResyncPeriodMs = 10 * 60 * 60 * 1000;

/** What to do with a key after a reconcile: its metric label, the queue action and how to log. */
export interface Outcome {
  result: ReconcileResultLabel;
  next: "forget" | "backoff" | "after";
  afterMs?: number;
  log?: "debug" | "error";
  terminal?: boolean;
}

/** Pure decision table of the reconcile contract. */
export function outcomeOf(res: ReconcileResult | void, err?: unknown): Outcome {
  if (err !== undefined) {
    if (isTerminal(err)) return { result: "error", next: "forget", log: "error", terminal: true };
    // A 409 means our read was stale: normal under concurrency, retried quietly with back-off.
    if (isConflict(err)) return { result: "requeue", next: "backoff", log: "debug" };
    return { result: "error", next: "backoff", log: "error" };
  }
  const after = res?.requeueAfter;
  if (after !== undefined && after > 0) return { result: "requeue_after", next: "after", afterMs: after };
  return { result: "success", next: "forget" };
}

/** Keys of the `owner`-kind objects that control `obj` (ownerReferences with controller: true). */
export function controllerOwnerKeys(obj: KubernetesObject, owner: KindRef): ObjectKey[] {
  const apiGroup = owner.group;
  const refs = obj.metadata?.ownerReferences ?? [];
  const namespace = owner.namespaced ? obj.metadata?.namespace : undefined;
  return refs
    .filter((r) => r.controller === true && r.kind === owner.kind && groupOf(r.apiVersion) === apiGroup)
    .map((r) => (namespace ? { namespace, name: r.name } : { name: r.name }));
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

export class Controller {
  readonly name: string;
  private readonly opts: ControllerOptions;
  private readonly deps: ControllerDeps;
  private readonly clock: () => number;
  private queue: WorkQueue | undefined;
  private workers: Promise<void>[] = [];
  /** Workers of any run (the current one or a stopped one) that have not returned yet. */
  private liveWorkers = 0;
  private abort = new AbortController();
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;

  constructor(opts: ControllerOptions, deps: ControllerDeps) {
    this.name = opts.name;
    this.opts = opts;
    this.deps = deps;
    this.clock = deps.clock ?? Date.now;
    this.logger = deps.logger.child({ controller: opts.name });
    deps.metrics.registerController(opts.name, this.concurrency());
    this.watchSources();
  }

  /** The kinds whose caches must be synced before workers start. */
  kinds(): KindRef[] {
    return [this.opts.for, ...(this.opts.owns ?? []), ...(this.opts.watches ?? []).map((w) => w.kind)];
  }

  isRunning(): boolean {
    return this.queue !== undefined && !this.queue.isShuttingDown();
  }

  /** Starts workers on a fresh queue holding every cached object (a new leader owes them all a reconcile). */
  start(): void {
    if (this.isRunning()) return;
    // A key must never be reconciled by an old and a new worker at once.
    if (this.liveWorkers > 0) throw new Error(`controller "${this.name}" cannot start: ${this.liveWorkers} worker(s) of its previous run are still reconciling`);
    this.abort = new AbortController();
    const hooks = { wake: (): void => {} };
    const queue = new WorkQueue({ clock: this.clock, metrics: this.deps.metrics.queueSink(this.name), onChange: () => hooks.wake() });
    const waiter = new QueueWaiter(queue, this.clock);
    hooks.wake = () => waiter.wake();
    this.queue = queue;
    this.enqueueAll();
    const signal = this.abort.signal;
    this.workers = Array.from({ length: this.concurrency() }, () => this.work(queue, waiter, signal));
    const period = this.opts.resyncPeriodMs ?? defaultResyncPeriodMs;
    if (period > 0) this.resyncTimer = setInterval(() => this.enqueueAll(), period);
    this.logger.info("controller started", { workers: this.concurrency(), kind: this.opts.for.kind });
  }

  /**
   * Stops taking work, aborts the signal of in-flight reconciles and waits (at most `timeoutMs`;
   * Infinity waits for ever) for them to return; true if all did. Workers that did not are
   * still awaited by a later stop(), and start() refuses to run beside them.
   */
  async stop(timeoutMs = 30_000): Promise<boolean> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    this.queue?.shutDown();
    this.abort.abort(new Error(`controller "${this.name}" is stopping`));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      if (Number.isFinite(timeoutMs)) timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
    });
    const finished = await Promise.race([Promise.all(this.workers).then(() => true as const), timedOut]);
    clearTimeout(timer);
    if (!finished) this.logger.warn("reconciles still running after the stop grace period", { timeoutMs, workers: this.liveWorkers });
    else this.workers = [];
    return finished;
  }

  /** Workers (of this or a stopped run) still inside a reconcile or about to return. */
  runningWorkers(): number {
    return this.liveWorkers;
  }

  /** Adds a key to the queue (ignored while stopped). */
  enqueue(key: ObjectKey): void {
    this.queue?.add(keyString(key));
  }

  private concurrency(): number {
    return Math.max(1, this.opts.concurrency ?? 1);
  }

  private enqueueAll(): void {
    for (const obj of this.deps.informer(this.opts.for).store.list()) this.enqueue(objectKey(obj));
  }

  private watchSources(): void {
    const self = (obj: KubernetesObject): ObjectKey[] => [objectKey(obj)];
    this.subscribe(this.opts.for, self);
    for (const kind of this.opts.owns ?? []) this.subscribe(kind, (obj) => controllerOwnerKeys(obj, this.opts.for));
    for (const w of this.opts.watches ?? []) this.subscribe(w.kind, w.map, w.changed);
  }

  private subscribe(kind: KindRef, keysOf: (obj: KubernetesObject) => ObjectKey[], changed?: (old: KubernetesObject, current: KubernetesObject) => boolean): void {
    const enqueueFor = (obj: KubernetesObject): void => {
      for (const key of keysOf(obj)) this.enqueue(key);
    };
    this.deps.informer(kind).addHandlers({
      onAdd: enqueueFor,
      // The old version matters for owned objects whose owner changed, and for `watches` maps.
      onUpdate: (old, current) => {
        if (changed && !changed(old, current)) return;
        enqueueFor(old);
        enqueueFor(current);
      },
      onDelete: enqueueFor,
    });
  }

  private async work(queue: WorkQueue, waiter: QueueWaiter, signal: AbortSignal): Promise<void> {
    this.liveWorkers++;
    try {
      for (let key = await waiter.take(); key !== undefined; key = await waiter.take()) {
        this.deps.metrics.activeWorkers.inc({ controller: this.name });
        try {
          await this.processOne(queue, key, signal);
        } finally {
          this.deps.metrics.activeWorkers.dec({ controller: this.name });
          queue.done(key);
        }
      }
    } finally {
      this.liveWorkers--;
    }
  }

  /** Runs one reconcile of `key` and files the outcome with the queue, metrics and log. */
  async processOne(queue: WorkQueue, key: string, signal: AbortSignal = this.abort.signal): Promise<Outcome> {
    const started = this.clock();
    const logger = this.logger.child({ key, kind: this.opts.for.kind, apiVersion: apiVersionOf(this.opts.for) });
    const ctx: ReconcileContext = { logger, cache: this.deps.cache, client: this.deps.client, signal };
    let outcome: Outcome;
    let failure: unknown;
    try {
      outcome = outcomeOf(await this.opts.reconcile(parseKey(key), ctx));
    } catch (err) {
      failure = err ?? new Error("reconciler threw a nullish value");
      outcome = outcomeOf(undefined, failure);
    }
    this.deps.metrics.reconciled(this.name, outcome.result, (this.clock() - started) / 1000);
    this.file(queue, key, outcome);
    this.report(logger, outcome, failure, queue.numRequeues(key));
    return outcome;
  }

  private file(queue: WorkQueue, key: string, outcome: Outcome): void {
    if (outcome.next === "backoff") {
      queue.addRateLimited(key);
      return;
    }
    queue.forget(key);
    if (outcome.next === "after") queue.addAfter(key, outcome.afterMs ?? 0);
    if (outcome.terminal) this.deps.metrics.terminalErrors.inc({ controller: this.name });
  }

  private report(logger: Logger, outcome: Outcome, failure: unknown, retries: number): void {
    if (failure === undefined) return;
    const fields = { error: errorMessage(failure), retries, terminal: outcome.terminal ?? false };
    if (outcome.log === "debug") logger.debug("reconcile conflict: retrying", fields);
    else if (outcome.terminal) logger.error("reconcile failed terminally: not retrying", fields);
    else logger.error("reconcile failed: retrying with back-off", { ...fields, stack: failure instanceof Error ? failure.stack : undefined });
  }
}

/** A watch predicate: the object's spec changed (its generation), not only its status. */
export function generationChanged(old: KubernetesObject, current: KubernetesObject): boolean {
  return old.metadata?.generation !== current.metadata?.generation;
}
