import assert from "node:assert/strict";
import { formatCpu, formatMemory, parseQuantity, QuantityError, scaleByRatio } from "./quantity.ts";

const G = 1_000_000_000n;

describe("quantity", () => {
  it("parses plain, decimal-SI, binary-SI and exponent forms exactly", () => {
    assert.equal(parseQuantity("4"), 4n * G);
    assert.equal(parseQuantity("500m"), 500_000_000n);
    assert.equal(parseQuantity("1.5"), 1_500_000_000n);
    assert.equal(parseQuantity("0.1"), 100_000_000n);
    assert.equal(parseQuantity(".5"), 500_000_000n);
    assert.equal(parseQuantity("16Gi"), 16n * (1n << 30n) * G);
    assert.equal(parseQuantity("1.5Gi"), 1536n * (1n << 20n) * G);
    assert.equal(parseQuantity("2k"), 2000n * G);
    assert.equal(parseQuantity("1M"), 1_000_000n * G);
    assert.equal(parseQuantity("2e3"), 2000n * G);
    assert.equal(parseQuantity("1E-3"), 1_000_000n);
    assert.equal(parseQuantity("100n"), 100n);
    assert.equal(parseQuantity("1u"), 1000n);
    assert.equal(parseQuantity("-1"), -G);
  });

  it("rounds a value finer than a nano-unit up", () => {
    assert.equal(parseQuantity("0.0000000001"), 1n);
    assert.equal(parseQuantity("1e-12"), 1n);
  });

  it("compares quantities written differently as equal", () => {
    assert.equal(parseQuantity("1Gi"), parseQuantity("1024Mi"));
    assert.equal(parseQuantity("1000m"), parseQuantity("1"));
    assert.equal(parseQuantity("1k"), parseQuantity("1e3"));
    assert.ok(parseQuantity("1G") < parseQuantity("1Gi"));
  });

  it("refuses what is not a quantity, naming the field", () => {
    for (const bad of ["", "abc", "1.2.3", "1 Gi", "1gi", "1KiB", "Gi", "1e"]) {
      assert.throws(() => parseQuantity(bad, "spec.compute.cpu"), (err: Error) => err instanceof QuantityError && /spec\.compute\.cpu/.test(err.message), bad);
    }
  });

  it("formats CPU in cores or millicores, and memory with the largest exact binary suffix", () => {
    assert.equal(formatCpu(parseQuantity("4")), "4");
    assert.equal(formatCpu(parseQuantity("3500m")), "3500m");
    assert.equal(formatCpu(parseQuantity("0.0005")), "1m");
    assert.equal(formatCpu(0n), "0");
    assert.equal(formatMemory(parseQuantity("8Gi")), "8Gi");
    assert.equal(formatMemory(parseQuantity("1.5Gi")), "1536Mi");
    assert.equal(formatMemory(parseQuantity("1G")), "1000000000");
    assert.equal(formatMemory(parseQuantity("1M")), "1000000");
    assert.equal(formatMemory(0n), "0");
  });

  it("scales by a decimal ratio exactly, rounding down", () => {
    assert.equal(scaleByRatio(parseQuantity("4"), "1.5"), parseQuantity("6"));
    assert.equal(scaleByRatio(parseQuantity("8Gi"), "1"), parseQuantity("8Gi"));
    assert.equal(scaleByRatio(parseQuantity("8Gi"), "1.25"), parseQuantity("10Gi"));
    assert.equal(scaleByRatio(3n, "0.5"), 1n);
    assert.throws(() => scaleByRatio(1n, "1,5", "spec.compute.overcommit.cpu"), /spec\.compute\.overcommit\.cpu "1,5" is not a decimal/);
  });
});
