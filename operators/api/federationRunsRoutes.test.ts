import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { servedSpec } from "./federationRunsRoutes.ts";

describe("federation runs routes, pure parts", () => {
  it("the served run keeps the requester's timeout and retry policy", () => {
    const served = servedSpec({ namespace: "shared", name: "a-r-1", reservation: "h", steps: [{ name: "write", service: "writer" }], timeout: "10m", retry: { limit: 2, policy: "OnFailure" } }, "isle-1");
    assert.deepEqual([served.timeout, served.retry], ["10m", { limit: 2, policy: "OnFailure" }]);
  });
});
