// Checksum downloads are the one probe that reads a whole object: at most `perProvider` run at once
// for one Provider and at most `total` in the whole process, so many Resources (or one user's many
// Resources on one Provider) cannot make the manager download without bound. Waiters are served
// in arrival order among those whose Provider has room.

export interface DownloadSlotLimits {
  total: number;
  perProvider: number;
}

export const defaultDownloadSlotLimits: DownloadSlotLimits = { total: 4, perProvider: 2 };

interface Waiter {
  provider: string;
  grant: () => void;
}

export class DownloadSlots {
  readonly limits: DownloadSlotLimits;
  private running = 0;
  private readonly perProvider = new Map<string, number>();
  private readonly waiting: Waiter[] = [];

  constructor(limits: DownloadSlotLimits = defaultDownloadSlotLimits) {
    if (!(limits.total >= 1 && limits.perProvider >= 1)) throw new Error("download slot limits must be at least 1");
    this.limits = limits;
  }

  /** Downloads in flight now (total, and for one Provider). */
  inFlight(provider?: string): number {
    return provider === undefined ? this.running : (this.perProvider.get(provider) ?? 0);
  }

  /** Runs `fn` once a slot for `provider` (namespace/name) is free; the slot is freed after. */
  async run<T>(provider: string, fn: () => Promise<T>): Promise<T> {
    await this.acquire(provider);
    try {
      return await fn();
    } finally {
      this.release(provider);
    }
  }

  private hasRoom(provider: string): boolean {
    return this.running < this.limits.total && this.inFlight(provider) < this.limits.perProvider;
  }

  private take(provider: string): void {
    this.running++;
    this.perProvider.set(provider, this.inFlight(provider) + 1);
  }

  private acquire(provider: string): Promise<void> {
    if (this.hasRoom(provider) && this.waiting.length === 0) {
      this.take(provider);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push({ provider, grant: resolve });
      this.serve();
    });
  }

  private release(provider: string): void {
    this.running--;
    const left = this.inFlight(provider) - 1;
    if (left > 0) this.perProvider.set(provider, left);
    else this.perProvider.delete(provider);
    this.serve();
  }

  private serve(): void {
    for (let i = 0; i < this.waiting.length && this.running < this.limits.total; ) {
      const w = this.waiting[i]!;
      if (!this.hasRoom(w.provider)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.take(w.provider);
      w.grant();
    }
  }
}
