import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import { retryAfterMs, retryTooManyRequests } from "./tooManyRequests.ts";

const tooMany = (retryAfter?: string): ApiException<string> =>
  new ApiException(429, "Too Many Requests", JSON.stringify({ reason: "TooManyRequests", message: "storage is (re)initializing" }), retryAfter === undefined ? {} : { "retry-after": retryAfter });

describe("retryTooManyRequests", () => {
  it("retries a 429 after its Retry-After and returns the answer that follows", async () => {
    const waits: number[] = [];
    let calls = 0;
    const answer = await retryTooManyRequests(
      async () => {
        calls++;
        if (calls < 3) throw tooMany("1");
        return "items";
      },
      { retries: 5, maxWaitMs: 2_000, sleep: async (ms) => void waits.push(ms) },
    );
    assert.equal(answer, "items");
    assert.equal(calls, 3);
    assert.deepEqual(waits, [1000, 1000]);
  });

  it("gives up after its retries and throws the last 429", async () => {
    let calls = 0;
    await assert.rejects(
      retryTooManyRequests(async () => { calls++; throw tooMany("1"); }, { retries: 2, maxWaitMs: 10, sleep: async () => {} }),
      (err: unknown) => err instanceof ApiException && err.code === 429,
    );
    assert.equal(calls, 3);
  });

  it("does not retry other errors", async () => {
    let calls = 0;
    await assert.rejects(retryTooManyRequests(async () => { calls++; throw new ApiException(403, "Forbidden", "{}", {}); }, { retries: 5, maxWaitMs: 10, sleep: async () => {} }));
    assert.equal(calls, 1);
  });

  it("reads Retry-After in seconds, caps it, and waits 1 s when it is absent or unreadable", () => {
    assert.equal(retryAfterMs(tooMany("3"), 10_000), 3000);
    assert.equal(retryAfterMs(tooMany("30"), 2_000), 2000);
    assert.equal(retryAfterMs(tooMany(), 2_000), 1000);
    assert.equal(retryAfterMs(tooMany("soon"), 2_000), 1000);
  });
});
