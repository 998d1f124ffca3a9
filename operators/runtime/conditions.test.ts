import assert from "node:assert/strict";
import { conditionMatches, conditionTime, findCondition, isFalse, isTrue, removeCondition, setCondition, type Condition } from "./conditions.ts";

const t0 = new Date("2026-01-01T10:00:00.123Z");
const t1 = new Date("2026-01-01T10:05:00.999Z");
const ready = { type: "Ready", status: "True", reason: "Valid", message: "ok" } as const;

describe("runtime/conditions", () => {
  it("adds a new condition with observedGeneration and a second-precision transition time", () => {
    const list = setCondition(undefined, ready, 3, t0);
    assert.deepEqual(list, [{ ...ready, observedGeneration: 3, lastTransitionTime: "2026-01-01T10:00:00Z" }]);
  });

  it("keeps lastTransitionTime when only reason, message or generation change", () => {
    const first = setCondition([], ready, 1, t0);
    const second = setCondition(first, { ...ready, reason: "StillValid", message: "still ok" }, 2, t1);
    assert.equal(second[0]?.lastTransitionTime, "2026-01-01T10:00:00Z");
    assert.equal(second[0]?.reason, "StillValid");
    assert.equal(second[0]?.observedGeneration, 2);
  });

  it("moves lastTransitionTime when status flips", () => {
    const first = setCondition([], ready, 1, t0);
    const flipped = setCondition(first, { type: "Ready", status: "False", reason: "InvalidSpec", message: "bad" }, 2, t1);
    assert.equal(flipped[0]?.lastTransitionTime, "2026-01-01T10:05:00Z");
  });

  it("replaces in place, keeps other types, and never mutates its input", () => {
    const other: Condition = { type: "Synced", status: "Unknown", reason: "Pending", message: "", lastTransitionTime: "2025-12-31T00:00:00Z" };
    const before = setCondition([other], ready, 1, t0);
    const frozen = structuredClone(before);
    const after = setCondition(before, { ...ready, status: "False", reason: "InvalidSpec" }, 2, t1);
    assert.deepEqual(before, frozen);
    assert.deepEqual(after.map((c) => c.type), ["Synced", "Ready"]);
    assert.deepEqual(after[0], other);
  });

  it("setting the same condition twice yields an equal list (so status writes can be skipped)", () => {
    const once = setCondition([], ready, 4, t0);
    assert.deepEqual(setCondition(once, ready, 4, t1), once);
  });

  it("finds, tests and removes", () => {
    const list = setCondition([], ready, 1, t0);
    assert.equal(findCondition(list, "Ready")?.reason, "Valid");
    assert.equal(isTrue(list, "Ready"), true);
    assert.equal(isFalse(list, "Ready"), false);
    assert.equal(isTrue(list, "Missing"), false);
    assert.equal(isTrue(undefined, "Ready"), false);
    assert.deepEqual(removeCondition(list, "Ready"), []);
    assert.equal(conditionMatches(list, ready), true);
    assert.equal(conditionMatches(list, { ...ready, message: "other" }), false);
  });

  it("truncates very long messages to the API server's limit", () => {
    const list = setCondition([], { ...ready, message: "x".repeat(40_000) }, 1, t0);
    assert.equal(list[0]?.message.length, 32768);
    assert.equal(conditionTime(new Date("2026-02-03T04:05:06.789Z")), "2026-02-03T04:05:06Z");
  });
});
