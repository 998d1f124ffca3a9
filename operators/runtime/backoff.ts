// Per-item exponential back-off, after controller-runtime's ItemExponentialFailureRateLimiter:
// the n-th consecutive failure of a key waits base·2^(n-1), capped at max; success forgets the key.

export const defaultBaseDelayMs = 5;
export const defaultMaxDelayMs = 1_000_000;

/** base·2^(failures-1) capped at max; 0 failures → 0. Safe for huge counts (no overflow to Infinity). */
export function exponentialDelay(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  const exponent = Math.min(failures - 1, 62);
  return Math.min(baseMs * 2 ** exponent, maxMs);
}

export class ItemExponentialBackoff {
  private readonly failures = new Map<string, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(baseMs = defaultBaseDelayMs, maxMs = defaultMaxDelayMs) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  /** Records one more failure of `key` and returns how long to wait before retrying it. */
  when(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    return exponentialDelay(n, this.baseMs, this.maxMs);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}
