import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { servedSpec } from "./federationRunsRoutes.ts";

describe("federation runs routes, pure parts", () => {
  it("the served run keeps the requester's timeout and retry policy", () => {
    const served = servedSpec({ namespace: "shared", name: "a-r-1", reservation: "h", steps: [{ name: "write", service: "writer" }], timeout: "10m", retry: { limit: 2, policy: "OnFailure" } }, "isle-1");
    assert.deepEqual([served.timeout, served.retry], ["10m", { limit: 2, policy: "OnFailure" }]);
  });

  it("the served run has the budget the requester left for it (its own orchestrator stops it there), and none when none was sent", () => {
    const body = { namespace: "shared", name: "a-r-1", reservation: "h", steps: [{ name: "write", service: "writer" }] };
    assert.deepEqual(servedSpec({ ...body, budget: { amount: "6.75", currency: "EUR" } }, "isle-1").budget, { amount: "6.75", currency: "EUR" });
    assert.equal(servedSpec(body, "isle-1").budget, undefined);
  });
});
