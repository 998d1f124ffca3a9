import assert from "node:assert/strict";
import { DefaultControllerRateLimiter, TokenBucket } from "./rateLimiter.ts";

describe("runtime/rateLimiter", () => {
  it("token bucket lets a burst through, then spaces callers at 1/qps", () => {
    const bucket = new TokenBucket(10, 100);
    const delays = Array.from({ length: 100 }, () => bucket.reserve(0));
    assert.ok(delays.every((d) => d === 0));
    assert.equal(bucket.reserve(0), 100);
    assert.equal(bucket.reserve(0), 200);
  });

  it("token bucket refills with time up to the burst", () => {
    const bucket = new TokenBucket(10, 2);
    bucket.reserve(0);
    bucket.reserve(0);
    assert.equal(bucket.reserve(0), 100);
    // 10 s later the debt is paid and the bucket is full again (2 tokens, not 100).
    assert.equal(bucket.reserve(10_000), 0);
    assert.equal(bucket.reserve(10_000), 0);
    assert.ok(bucket.reserve(10_000) > 0);
  });

  it("refuses a bucket that could never hand out a token", () => {
    assert.throws(() => new TokenBucket(0, 1), /qps > 0/);
  });

  it("default limiter is the larger of item back-off and the bucket", () => {
    const limiter = new DefaultControllerRateLimiter({ qps: 1, burst: 1 });
    assert.equal(limiter.when("a", 0), 5); // bucket has a token: back-off wins
    assert.equal(limiter.when("b", 0), 1000); // bucket empty: its wait wins over b's 5 ms
    assert.equal(limiter.numRequeues("a"), 1);
    limiter.forget("a");
    assert.equal(limiter.numRequeues("a"), 0);
  });
});
