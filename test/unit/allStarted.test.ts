import assert from "node:assert/strict";
import { allStarted } from "../support/allStarted.ts";

describe("starting a suite's servers together (test/support/allStarted.ts)", () => {
  it("lets every start finish and assign its server before saying one failed, so the after-hook stops them all", async () => {
    let fast: string | undefined;
    let slow: string | undefined;
    const late = new Promise<string>((resolve) => setTimeout(() => resolve("slow server"), 50));
    await assert.rejects(
      allStarted([Promise.resolve("fast server").then((x) => (fast = x)), Promise.reject(new Error("postgres did not start")), late.then((x) => (slow = x))]),
      /postgres did not start/,
    );
    assert.deepEqual([fast, slow], ["fast server", "slow server"], "Promise.all would have rejected before the slow one was assigned");
  });

  it("resolves once all have started", async () => {
    let a = 0;
    await allStarted([Promise.resolve(1).then((x) => (a = x))]);
    assert.equal(a, 1);
  });
});
