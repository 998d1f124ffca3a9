import assert from "node:assert/strict";
import { ttlCache } from "./catalogRoutes.ts";

/** A lookup whose answers the test settles in order, counting calls. */
function controlledLookup(): { compute: () => Promise<string>; calls: () => number; settle: (value: string | Error) => Promise<void> } {
  const started: { resolve: (v: string) => void; reject: (e: Error) => void }[] = [];
  let settled = 0;
  return {
    compute: () => new Promise<string>((resolve, reject) => started.push({ resolve, reject })),
    calls: () => started.length,
    settle: async (value) => {
      const next = started[settled++];
      if (!next) throw new Error("no lookup in flight");
      if (value instanceof Error) next.reject(value);
      else next.resolve(value);
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe("api: the review cache (TTL, refreshed ahead)", () => {
  const ttl = 10_000;

  /** A cache whose key "k" was looked up at time 0 and answered "v1"; `at(t)` moves the clock. */
  async function primed(): Promise<{ get: () => Promise<string>; at: (t: number) => void; lookup: ReturnType<typeof controlledLookup> }> {
    let now = 0;
    const cache = ttlCache<string>(ttl, () => now);
    const lookup = controlledLookup();
    const get = (): Promise<string> => cache("k", lookup.compute);
    const first = get();
    await lookup.settle("v1");
    assert.equal(await first, "v1");
    return { get, lookup, at: (t) => void (now = t) };
  }

  it("answers a fresh hit without a lookup, and refreshes a hit past half its TTL in the background", async () => {
    const { get, at, lookup } = await primed();
    at(4_000);
    assert.equal(await get(), "v1");
    assert.equal(lookup.calls(), 1, "a hit younger than half the TTL looks nothing up");
    at(6_000);
    assert.equal(await get(), "v1", "answered at once with what it has");
    assert.equal(lookup.calls(), 2, "one lookup started in the background");
    at(7_000);
    assert.equal(await get(), "v1");
    assert.equal(lookup.calls(), 2, "one refresh at a time");
    await lookup.settle("v2");
    at(10_500);
    assert.equal(await get(), "v2", "the refreshed answer (v1's TTL is over), aged from when its lookup started");
    assert.equal(lookup.calls(), 2);
  });

  it("never answers past the TTL: a caller idle that long waits for a new lookup", async () => {
    const { get, at, lookup } = await primed();
    at(10_000);
    const second = get();
    assert.equal(lookup.calls(), 2);
    await lookup.settle("v2");
    assert.equal(await second, "v2");
  });

  it("forgets an entry whose refresh failed: the next call looks up again and sees the failure", async () => {
    const { get, at, lookup } = await primed();
    at(6_000);
    assert.equal(await get(), "v1");
    await lookup.settle(new Error("token revoked"));
    const after = get();
    assert.equal(lookup.calls(), 3, "no stale answer after a failed refresh");
    await lookup.settle(new Error("token revoked"));
    await assert.rejects(after, /token revoked/);
  });
});
