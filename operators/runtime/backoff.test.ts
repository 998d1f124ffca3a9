import assert from "node:assert/strict";
import { exponentialDelay, ItemExponentialBackoff } from "./backoff.ts";

describe("runtime/backoff", () => {
  it("starts at 5 ms and doubles per failure of the same key", () => {
    const b = new ItemExponentialBackoff();
    assert.deepEqual([1, 2, 3, 4].map(() => b.when("ns/a")), [5, 10, 20, 40]);
    assert.equal(b.numRequeues("ns/a"), 4);
  });

  it("caps at 1000 s and never overflows", () => {
    const b = new ItemExponentialBackoff();
    let last = 0;
    for (let i = 0; i < 2000; i++) last = b.when("k");
    assert.equal(last, 1_000_000);
    assert.equal(exponentialDelay(1e9, 5, 1_000_000), 1_000_000);
  });

  it("keeps keys apart and forgets on success", () => {
    const b = new ItemExponentialBackoff();
    b.when("a");
    b.when("a");
    assert.equal(b.when("b"), 5);
    b.forget("a");
    assert.equal(b.numRequeues("a"), 0);
    assert.equal(b.when("a"), 5);
  });

  it("gives no delay for no failures", () => {
    assert.equal(exponentialDelay(0, 5, 100), 0);
  });
});
