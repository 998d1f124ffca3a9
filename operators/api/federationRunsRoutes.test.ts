import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { peakRequests, servedSpec } from "./federationRunsRoutes.ts";

describe("federation runs routes, pure parts", () => {
  const cpu = (c: string, m: string): { cpu: string; memory: string } => ({ cpu: c, memory: m });

  it("a chain holds its largest step; steps that may run together their sum; without after, the sum", () => {
    const chain = [
      { name: "a", requests: cpu("500m", "256Mi") },
      { name: "b", requests: cpu("2", "1Gi"), after: ["a"] },
      { name: "c", requests: cpu("250m", "2Gi"), after: ["b"] },
    ];
    // cpu and memory each at their own widest moment: b's cpu, c's memory.
    assert.deepEqual(peakRequests(chain), { cpu: "2", memory: "2Gi" });
    assert.deepEqual(peakRequests(chain.map(({ name, requests }) => ({ name, requests }))), { cpu: "2750m", memory: "3328Mi" });
    const fan = [{ name: "split", requests: cpu("100m", "100Mi") }, ...["x", "y", "z"].map((n) => ({ name: n, requests: cpu("1", "512Mi"), after: ["split"] }))];
    assert.deepEqual(peakRequests(fan), { cpu: "3", memory: "1536Mi" });
  });

  it("rounds up to a millicore and a byte, and counts a step that says nothing as nothing", () => {
    assert.deepEqual(peakRequests([{ name: "a", requests: { cpu: "0.0001" } }, { name: "b", requests: {} }]), { cpu: "1m", memory: "0" });
  });

  it("the served run keeps the requester's timeout and retry policy", () => {
    const served = servedSpec({ namespace: "shared", name: "a-r-1", reservation: "h", steps: [{ name: "write", service: "writer" }], timeout: "10m", retry: { limit: 2, policy: "OnFailure" } }, "isle-1");
    assert.deepEqual([served.timeout, served.retry], ["10m", { limit: 2, policy: "OnFailure" }]);
  });
});
