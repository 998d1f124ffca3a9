// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection package:
// a candidate takes the Lease when it is free or its holder has not renewed it for a lease
// duration (measured on our own clock from when we last saw the record change, so clock skew
// between machines does not matter); the leader renews every retry period and steps down when it
// could not renew within the renew deadline; release empties the holder so another takes over at
// once. Every write carries the read resourceVersion: two candidates cannot both win.
// Stepping down is awaited: the elector does not campaign again until onStoppedLeading's promise
// settles, so the Manager can abort and wait for in-flight reconciles first. The leader steps
// down exactly at (start of its last successful renewal + renew deadline), leaving the rest of the
// lease duration (leaseExpiresAtMs) for that wait before any other candidate can take the Lease.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease, type V1LeaseSpec } from "@kubernetes/client-node";
import type { Logger } from "./logger.ts";
import { isAlreadyExists, isConflict, isNotFound, errorMessage } from "./errors.ts";

export interface LeaderElectionOptions {
  leaseName: string;
  leaseNamespace: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface LeaseTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** controller-runtime's defaults. */
export const defaultLeaseTimings: LeaseTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

export function leaseTimings(opts: LeaderElectionOptions): LeaseTimings {
  const t = {
    leaseDurationMs: opts.leaseDurationMs ?? defaultLeaseTimings.leaseDurationMs,
    renewDeadlineMs: opts.renewDeadlineMs ?? defaultLeaseTimings.renewDeadlineMs,
    retryPeriodMs: opts.retryPeriodMs ?? defaultLeaseTimings.retryPeriodMs,
  };
  if (!(t.leaseDurationMs > t.renewDeadlineMs && t.renewDeadlineMs > t.retryPeriodMs && t.retryPeriodMs > 0)) {
    throw new Error(`leaderElection: need leaseDurationMs > renewDeadlineMs > retryPeriodMs > 0 (got ${JSON.stringify(t)})`);
  }
  if (t.leaseDurationMs % 1000 !== 0) throw new Error("leaderElection.leaseDurationMs must be whole seconds (the Lease stores seconds)");
  return t;
}

/** The part of a Lease spec whose change counts as "the holder is alive". */
export function recordFingerprint(spec: V1LeaseSpec | undefined): string {
  const time = (d: Date | string | undefined): string | undefined => (d === undefined ? undefined : new Date(d).toISOString());
  return JSON.stringify([spec?.holderIdentity ?? "", spec?.leaseDurationSeconds, time(spec?.renewTime), spec?.leaseTransitions ?? 0]);
}

/** True when someone holds the Lease and has renewed it within its duration of our observing it. */
export function heldByOther(spec: V1LeaseSpec | undefined, identity: string, observedAtMs: number, nowMs: number): boolean {
  const holder = spec?.holderIdentity ?? "";
  if (holder === "" || holder === identity) return false;
  const durationMs = (spec?.leaseDurationSeconds ?? 0) * 1000;
  return observedAtMs + durationMs > nowMs;
}

/** The spec after `identity` takes or renews the Lease at `nowMs`. */
export function acquiredSpec(old: V1LeaseSpec | undefined, identity: string, nowMs: number, leaseDurationMs: number): V1LeaseSpec {
  const now = new V1MicroTime(nowMs);
  const renewing = old?.holderIdentity === identity;
  return {
    ...old,
    holderIdentity: identity,
    leaseDurationSeconds: Math.round(leaseDurationMs / 1000),
    acquireTime: renewing && old?.acquireTime ? new V1MicroTime(new Date(old.acquireTime).getTime()) : now,
    renewTime: now,
    // As client-go: any change of holder (a released lease too) counts; a new Lease starts at 0.
    leaseTransitions: (old?.leaseTransitions ?? 0) + (renewing || old === undefined ? 0 : 1),
  };
}

/**
 * How long a leader's next attempt may take before it must step down: its last successful
 * renewal started at `lastRenewMs`, and the renew deadline counts from there. 0 = step down now.
 */
export function renewBudgetMs(lastRenewMs: number, renewDeadlineMs: number, nowMs: number): number {
  return Math.max(0, lastRenewMs + renewDeadlineMs - nowMs);
}

/** The spec that hands the Lease back: no holder, a 1 s duration (client-go's ReleaseOnCancel). */
export function releasedSpec(old: V1LeaseSpec | undefined, nowMs: number): V1LeaseSpec {
  const now = new V1MicroTime(nowMs);
  return { ...old, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  /** The elector campaigns again only once this settles (its rejection is ignored). */
  onStoppedLeading(): void | Promise<void>;
  onLeaderObserved?(identity: string): void;
}

export class LeaderElector {
  readonly identity: string;
  private readonly opts: LeaderElectionOptions;
  private readonly timings: LeaseTimings;
  private readonly api: CoordinationV1Api;
  private readonly logger: Logger;
  private readonly callbacks: LeaderCallbacks;
  private readonly clock: () => number;
  private leader = false;
  private stopped = false;
  private observed = "";
  private observedAtMs = 0;
  private lastRenewMs = 0;
  /** The last attempt found the Lease held, and renewed, by another candidate while we led. */
  private lostToOther = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(kc: KubeConfig, opts: LeaderElectionOptions & { identity: string }, deps: { logger: Logger; callbacks: LeaderCallbacks; clock?: () => number }) {
    this.opts = opts;
    this.identity = opts.identity;
    this.timings = leaseTimings(opts);
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.logger = deps.logger.child({ lease: `${opts.leaseNamespace}/${opts.leaseName}`, identity: opts.identity });
    this.callbacks = deps.callbacks;
    this.clock = deps.clock ?? Date.now;
  }

  isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    this.running ??= this.run();
  }

  /**
   * When, on our clock, another candidate may take the Lease at the earliest, as far as our own
   * renewals go: the start of our last successful renewal plus the lease duration (a candidate
   * counts the duration from when it saw that renewal, which is later).
   */
  leaseExpiresAtMs(): number {
    return this.lastRenewMs + this.timings.leaseDurationMs;
  }

  /**
   * Stops campaigning; a leader steps down first, then hands the Lease back. `release: false`
   * keeps the record so nobody else leads before it expires (the Manager's choice when
   * reconciles did not return in time).
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
    if (this.leader) {
      this.leader = false;
      await Promise.resolve(this.callbacks.onStoppedLeading()).catch(() => undefined);
    }
    if (opts.release ?? true) await this.release();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const started = this.clock();
      const budget = this.leader ? renewBudgetMs(this.lastRenewMs, this.timings.renewDeadlineMs, started) : this.timings.renewDeadlineMs;
      const ok = budget > 0 && (await this.tryAcquireOrRenew(budget));
      if (this.stopped) break;
      await this.afterAttempt(ok, started);
      await this.sleep(this.nextDelayMs());
    }
  }

  private nextDelayMs(): number {
    const retry = this.timings.retryPeriodMs;
    // A leader wakes up no later than its renew deadline, so it steps down on time.
    if (this.leader) return Math.min(retry, renewBudgetMs(this.lastRenewMs, this.timings.renewDeadlineMs, this.clock()));
    // client-go jitters the acquire retry by up to 20 % so candidates do not move in lockstep.
    return retry + Math.random() * 0.2 * retry;
  }

  private async afterAttempt(ok: boolean, startedMs: number): Promise<void> {
    // The renewal counts from when it was sent: others measure the lease from later than that.
    if (ok) this.lastRenewMs = startedMs;
    if (ok && !this.leader) {
      this.leader = true;
      this.logger.info("acquired the lease: leading");
      this.callbacks.onStartedLeading();
      return;
    }
    if (ok || !this.leader) return;
    const lost = this.lostToOther;
    if (!lost && this.clock() - this.lastRenewMs < this.timings.renewDeadlineMs) return;
    this.leader = false;
    if (lost) this.logger.error("another candidate holds the lease: stepping down");
    else this.logger.error("could not renew the lease within the renew deadline: stepping down", { renewDeadlineMs: this.timings.renewDeadlineMs });
    // Nothing is attempted until the step-down is complete (in-flight reconciles returned).
    await Promise.resolve(this.callbacks.onStoppedLeading()).catch((err: unknown) => void this.logger.error("stepping down failed", { error: errorMessage(err) }));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One attempt; false when someone else holds the Lease, we lost a race, or the API failed. */
  async tryAcquireOrRenew(budgetMs = this.timings.renewDeadlineMs): Promise<boolean> {
    this.lostToOther = false;
    try {
      return await this.withDeadline(this.acquireOrRenewOnce(), budgetMs);
    } catch (err) {
      const lost = isConflict(err) || isAlreadyExists(err);
      (lost ? this.logger.debug : this.logger.warn)("lease attempt failed", { error: errorMessage(err) });
      return false;
    }
  }

  private async acquireOrRenewOnce(): Promise<boolean> {
    const { leaseName: name, leaseNamespace: namespace } = this.opts;
    const now = this.clock();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const spec = acquiredSpec(undefined, this.identity, now, this.timings.leaseDurationMs);
      await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } });
      this.observe(spec, now);
      return true;
    }
    this.observe(lease.spec, now);
    if (heldByOther(lease.spec, this.identity, this.observedAtMs, now)) {
      this.lostToOther = this.leader;
      return false;
    }
    const spec = acquiredSpec(lease.spec, this.identity, now, this.timings.leaseDurationMs);
    // The body keeps metadata.resourceVersion: a concurrent writer makes this a 409.
    await this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } });
    this.observe(spec, now);
    return true;
  }

  private observe(spec: V1LeaseSpec | undefined, now: number): void {
    const fingerprint = recordFingerprint(spec);
    if (fingerprint === this.observed) return;
    this.observed = fingerprint;
    this.observedAtMs = now;
    const holder = spec?.holderIdentity ?? "";
    if (holder && holder !== this.identity) this.callbacks.onLeaderObserved?.(holder);
  }

  private async release(): Promise<void> {
    const { leaseName: name, leaseNamespace: namespace } = this.opts;
    try {
      const lease = await this.api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== this.identity) return;
      await this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: releasedSpec(lease.spec, this.clock()) } });
      this.logger.info("released the lease");
    } catch (err) {
      if (!isNotFound(err)) this.logger.warn("could not release the lease: others take over when it expires", { error: errorMessage(err) });
    }
  }

  private withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`lease request took longer than ${ms} ms (renew deadline)`)), ms);
    });
    return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
  }
}
