// Rate limits for retries, after client-go's DefaultControllerRateLimiter: the larger of the
// per-item exponential back-off and an overall token bucket (10 qps, burst 100). Time is passed in.
import { ItemExponentialBackoff } from "./backoff.ts";

/**
 * A token bucket that hands out reservations like golang.org/x/time/rate: a caller over the
 * limit is told how long to wait (the bucket goes into debt), it is never refused.
 */
export class TokenBucket {
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private lastMs: number | undefined;

  constructor(qps: number, burst: number) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`token bucket needs qps > 0 and burst >= 1 (got qps=${qps}, burst=${burst})`);
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
  }

  /** Takes one token at `nowMs`; returns the delay in ms before the caller may proceed. */
  reserve(nowMs: number): number {
    const elapsedMs = this.lastMs === undefined ? 0 : Math.max(0, nowMs - this.lastMs);
    this.lastMs = nowMs;
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.qps) / 1000);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.qps);
  }
}

export interface RateLimiter {
  /** Delay in ms before `key` may be retried; counts one more failure of it. */
  when(key: string, nowMs: number): number;
  numRequeues(key: string): number;
  forget(key: string): void;
}

export interface RateLimiterOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  qps?: number;
  burst?: number;
}

/** max(per-item exponential back-off, overall token bucket) — client-go's default controller limiter. */
export class DefaultControllerRateLimiter implements RateLimiter {
  private readonly backoff: ItemExponentialBackoff;
  private readonly bucket: TokenBucket;

  constructor(opts: RateLimiterOptions = {}) {
    this.backoff = new ItemExponentialBackoff(opts.baseDelayMs, opts.maxDelayMs);
    this.bucket = new TokenBucket(opts.qps ?? 10, opts.burst ?? 100);
  }

  when(key: string, nowMs: number): number {
    return Math.max(this.backoff.when(key), this.bucket.reserve(nowMs));
  }

  numRequeues(key: string): number {
    return this.backoff.numRequeues(key);
  }

  forget(key: string): void {
    this.backoff.forget(key);
  }
}
