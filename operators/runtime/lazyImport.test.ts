import assert from "node:assert/strict";
import { onFirstUse } from "./lazyImport.ts";

describe("onFirstUse", () => {
  it("loads nothing until called, then once for every caller", async () => {
    let loads = 0;
    const load = onFirstUse(async () => ({ n: ++loads }));
    assert.equal(loads, 0);
    const [a, b] = await Promise.all([load(), load()]);
    assert.equal(loads, 1);
    assert.equal(a, b);
    assert.equal(await load(), a);
  });

  it("tries again after a failed load", async () => {
    let calls = 0;
    const load = onFirstUse(async () => {
      if (++calls === 1) throw new Error("not yet");
      return "module";
    });
    await assert.rejects(load(), /not yet/);
    assert.equal(await load(), "module");
    assert.equal(calls, 2);
  });
});
