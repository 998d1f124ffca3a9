import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { peakRequests, type TimedStep, widestMoment } from "./concurrentPeak.ts";

const step = (name: string, weight: number, after: string[] = []): TimedStep => ({ name, weight, after });

/** Every set of steps of which none comes after another (n ≤ 12): the reference the flow must match. */
function bruteForce(steps: TimedStep[]): number {
  const before = new Map(steps.map((s) => [s.name, new Set<string>()]));
  const ancestors = (name: string, seen = new Set<string>()): Set<string> => {
    for (const a of steps.find((s) => s.name === name)?.after ?? []) {
      if (!seen.has(a)) {
        seen.add(a);
        ancestors(a, seen);
      }
    }
    return seen;
  };
  for (const s of steps) before.set(s.name, ancestors(s.name));
  const comparable = (a: string, b: string): boolean => before.get(a)!.has(b) || before.get(b)!.has(a);
  let best = 0;
  for (let mask = 0; mask < 1 << steps.length; mask++) {
    const chosen = steps.filter((_, i) => mask & (1 << i));
    if (chosen.some((a, i) => chosen.slice(i + 1).some((b) => comparable(a.name, b.name)))) continue;
    best = Math.max(best, chosen.reduce((sum, s) => sum + s.weight, 0));
  }
  return best;
}

describe("widestMoment", () => {
  it("a chain needs its largest step, parallel steps their sum, a diamond its widest layer", () => {
    assert.equal(widestMoment([step("a", 100), step("b", 500, ["a"]), step("c", 200, ["b"])]), 500);
    assert.equal(widestMoment([step("a", 100), step("b", 500), step("c", 200)]), 800);
    assert.equal(widestMoment([step("top", 1000), step("left", 300, ["top"]), step("right", 400, ["top"]), step("join", 200, ["left", "right"])]), 1000);
    assert.equal(widestMoment([step("top", 100), step("left", 300, ["top"]), step("right", 400, ["top"]), step("join", 200, ["left", "right"])]), 700);
    assert.equal(widestMoment([]), 0);
  });

  it("sees through a step: two steps ordered through a third never run together", () => {
    // a → b → c and d parallel to all: {a or b or c} + d, the largest of the chain plus d.
    assert.equal(widestMoment([step("a", 10), step("b", 1, ["a"]), step("c", 30, ["b"]), step("d", 5)]), 35);
    // x → m → y with x and y heavy: they are ordered (through m), so never together.
    assert.equal(widestMoment([step("x", 100), step("m", 1, ["x"]), step("y", 100, ["m"])]), 100);
  });

  it("ignores names that are no step of the set and a step naming itself", () => {
    assert.equal(widestMoment([step("a", 10, ["elsewhere", "a"]), step("b", 20)]), 30);
  });

  it("matches every antichain's weight on random orders (against a brute force over all subsets)", () => {
    let seed = 12345;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(random() * 10);
      const steps: TimedStep[] = [];
      for (let i = 0; i < n; i++) {
        const after = steps.filter(() => random() < 0.3).map((s) => s.name);
        steps.push(step(`s${i}`, Math.floor(random() * 1000), after));
      }
      assert.equal(widestMoment(steps), bruteForce(steps), JSON.stringify(steps));
    }
  });
});

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
