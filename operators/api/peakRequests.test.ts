import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { peakRequests } from "./federationRunsRoutes.ts";

describe("peakRequests (the hold a peer's quote asks for)", () => {
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
});
