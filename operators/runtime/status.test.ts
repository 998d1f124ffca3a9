import assert from "node:assert/strict";
import { setCondition } from "./conditions.ts";
import { statusDiffers } from "./status.ts";

const now = new Date("2026-01-01T00:00:00Z");
const ready = setCondition([], { type: "Ready", status: "True", reason: "Valid", message: "ok" }, 2, now);

describe("runtime/status statusDiffers", () => {
  it("is false when every owned field already holds the desired value", () => {
    const current = { conditions: ready, observedGeneration: 2, resourceCount: 0 };
    assert.equal(statusDiffers(current, { conditions: ready, observedGeneration: 2, resourceCount: 0 }), false);
  });

  it("ignores fields and condition types owned by other controllers", () => {
    const other = { type: "CapacityKnown", status: "True" as const, reason: "Nodes", message: "", lastTransitionTime: "2025-01-01T00:00:00Z" };
    const current = { conditions: [other, ...ready], observedGeneration: 2, compute: { source: "Nodes" } };
    assert.equal(statusDiffers(current, { conditions: ready, observedGeneration: 2 }), false);
  });

  it("is true when a condition, the generation or a count changes", () => {
    const current = { conditions: ready, observedGeneration: 2, resourceCount: 1 };
    const notReady = setCondition(ready, { type: "Ready", status: "False", reason: "InvalidSpec", message: "x" }, 2, now);
    assert.equal(statusDiffers(current, { conditions: notReady, observedGeneration: 2, resourceCount: 1 }), true);
    assert.equal(statusDiffers(current, { conditions: ready, observedGeneration: 3, resourceCount: 1 }), true);
    assert.equal(statusDiffers(current, { conditions: ready, observedGeneration: 2, resourceCount: 2 }), true);
    assert.equal(statusDiffers(undefined, { conditions: ready }), true);
  });

  it("treats a missing optional field in a condition like an absent one (JSON semantics)", () => {
    const withUndefined = ready.map((c) => ({ ...c, observedGeneration: undefined }));
    const without = ready.map(({ observedGeneration: _g, ...c }) => c);
    assert.equal(statusDiffers({ conditions: without }, { conditions: withUndefined }), false);
  });
});
