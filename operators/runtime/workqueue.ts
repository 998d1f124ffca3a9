// The work queue of one controller, after client-go's rate-limited delaying queue. Keys are
// "namespace/name". A key waits at most once (de-duplicated); a key is handed to one worker at a
// time; a key added while a worker holds it is handed out again after `done`. Pure: the clock is
// injected, and the only side effects are the metric hooks.
import { DefaultControllerRateLimiter, type RateLimiter } from "./rateLimiter.ts";

/** What the queue reports; metrics.ts binds it to Prometheus, tests can record it. */
export interface QueueMetricsSink {
  depth(n: number): void;
  added(): void;
  /** Seconds a key waited in the queue before a worker took it. */
  queued(seconds: number): void;
  /** Seconds a worker held a key. */
  worked(seconds: number): void;
  retried(): void;
}

export const noQueueMetrics: QueueMetricsSink = { depth() {}, added() {}, queued() {}, worked() {}, retried() {} };

export interface WorkQueueOptions {
  clock: () => number;
  rateLimiter?: RateLimiter;
  metrics?: QueueMetricsSink;
  /** Called whenever a worker might now find work (add, done, delay expiry, shutdown). */
  onChange?: () => void;
}

export class WorkQueue {
  private readonly clock: () => number;
  private readonly limiter: RateLimiter;
  private readonly metrics: QueueMetricsSink;
  private readonly onChange: () => void;
  private ready: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Map<string, number>();
  private readonly enqueuedAt = new Map<string, number>();
  /** Delayed keys and when each becomes ready; a key keeps its earliest time. */
  private readonly waiting = new Map<string, number>();
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions) {
    this.clock = opts.clock;
    this.limiter = opts.rateLimiter ?? new DefaultControllerRateLimiter();
    this.metrics = opts.metrics ?? noQueueMetrics;
    this.onChange = opts.onChange ?? ((): void => {});
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics.added();
    this.dirty.add(key);
    this.enqueuedAt.set(key, this.clock());
    if (this.processing.has(key)) return;
    this.ready.push(key);
    this.metrics.depth(this.ready.length);
    this.onChange();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock() + delayMs;
    const current = this.waiting.get(key);
    if (current === undefined || at < current) this.waiting.set(key, at);
    this.onChange();
  }

  /** Re-adds `key` after its back-off (a failed attempt); counts a retry. */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.metrics.retried();
    this.addAfter(key, this.limiter.when(key, this.clock()));
  }

  /** Clears the back-off of `key` (its last attempt succeeded or will never be retried). */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.limiter.numRequeues(key);
  }

  /** The next key to work on, or undefined when none is ready (or the queue is shutting down). */
  get(): string | undefined {
    if (this.shuttingDown) return undefined;
    this.promoteDue();
    const key = this.ready.shift();
    if (key === undefined) return undefined;
    const now = this.clock();
    this.metrics.depth(this.ready.length);
    this.metrics.queued((now - (this.enqueuedAt.get(key) ?? now)) / 1000);
    this.enqueuedAt.delete(key);
    this.dirty.delete(key);
    this.processing.set(key, now);
    return key;
  }

  /** A worker finished `key`; if it was added meanwhile, it is ready again. */
  done(key: string): void {
    const started = this.processing.get(key);
    if (started === undefined) return;
    this.processing.delete(key);
    this.metrics.worked((this.clock() - started) / 1000);
    if (this.dirty.has(key) && !this.shuttingDown) {
      this.ready.push(key);
      this.metrics.depth(this.ready.length);
    }
    this.onChange();
  }

  /** Keys ready now (not counting delayed ones). */
  len(): number {
    return this.ready.length;
  }

  inFlight(): number {
    return this.processing.size;
  }

  /** When the earliest delayed key becomes ready, or undefined when none waits. */
  nextReadyAt(): number | undefined {
    let next: number | undefined;
    for (const at of this.waiting.values()) if (next === undefined || at < next) next = at;
    return next;
  }

  shutDown(): void {
    this.shuttingDown = true;
    this.onChange();
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  private promoteDue(): void {
    const now = this.clock();
    for (const [key, at] of this.waiting) {
      if (at > now) continue;
      this.waiting.delete(key);
      this.add(key);
    }
  }
}

/**
 * Lets async workers wait for a WorkQueue: `take()` resolves with the next key, or undefined once
 * the queue shuts down. The only timer is the one for the earliest delayed key.
 */
export class QueueWaiter {
  private readonly queue: WorkQueue;
  private readonly clock: () => number;
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt: number | undefined;

  constructor(queue: WorkQueue, clock: () => number = Date.now) {
    this.queue = queue;
    this.clock = clock;
  }

  /** Wakes every waiting worker; pass it as the queue's `onChange`. */
  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  async take(): Promise<string | undefined> {
    for (;;) {
      const key = this.queue.get();
      if (key !== undefined) return key;
      if (this.queue.isShuttingDown()) {
        this.clearTimer();
        return undefined;
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        this.armTimer();
      });
    }
  }

  private armTimer(): void {
    const next = this.queue.nextReadyAt();
    if (next === undefined || (this.timerAt !== undefined && this.timerAt <= next)) return;
    this.clearTimer();
    this.timerAt = next;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      this.wake();
    }, Math.max(0, next - this.clock()));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
  }
}
