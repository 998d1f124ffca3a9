import assert from "node:assert/strict";
import { quote, resolveStepRates } from "./quote.ts";
import type { ResolvedRates } from "./priceResolution.ts";
import { at, price } from "./testing.ts";

const eur: ResolvedRates = { price: "eur-rates", currency: "EUR", rates: { cpuCoreHour: "0.05", memoryGiBHour: "0.01", perRun: "0.10" } };

describe("quote", () => {
  it("prices each step's requests × expected duration as line items with the Price used", () => {
    const q = quote([{ step: "ndvi", requests: { cpu: "500m", memory: "2Gi" }, expectedDuration: "1h30m", rates: eur }]);
    assert.equal(q.steps.length, 1);
    const [step] = q.steps;
    assert.deepEqual(step?.price, { name: "eur-rates" });
    assert.deepEqual(step?.lines, [
      // 0.5 core × 1.5 h = 0.75 core-hour × 0.05 = 0.0375 → 0.04
      { charge: "cpu", quantity: "0.750000", unit: "core-hour", rate: "0.05", amount: { amount: "0.04", currency: "EUR" } },
      { charge: "memory", quantity: "3.000000", unit: "GiB-hour", rate: "0.01", amount: { amount: "0.03", currency: "EUR" } },
      { charge: "run", quantity: "1.000000", unit: "run", rate: "0.10", amount: { amount: "0.10", currency: "EUR" } },
    ]);
    assert.deepEqual(step?.total, { amount: "0.17", currency: "EUR" });
    assert.deepEqual(q.totals, [{ amount: "0.17", currency: "EUR" }]);
  });

  it("rounds once, at the end of each line item, half to even", () => {
    // 1 core × 10 min = 1/6 core-hour × 0.03 = exactly 0.005 → half to even → 0.00. Rounding the
    // quantity first (0.17 h) would make it 0.0051 → 0.01.
    const tenMinutes = quote([{ step: "a", requests: { cpu: "1" }, expectedDuration: "10m", rates: { price: "p", currency: "EUR", rates: { cpuCoreHour: "0.03" } } }]);
    assert.deepEqual(tenMinutes.steps[0]?.lines[0]?.amount, { amount: "0.00", currency: "EUR" });
    // 1/6 core-hour × 0.09 = 0.015 → 0.02 (the even cent above).
    const up = quote([{ step: "a", requests: { cpu: "1" }, expectedDuration: "10m", rates: { price: "p", currency: "EUR", rates: { cpuCoreHour: "0.09" } } }]);
    assert.deepEqual(up.steps[0]?.lines[0]?.amount, { amount: "0.02", currency: "EUR" });
  });

  it("totals are sums of the rounded line items", () => {
    // Three steps of 0.005 exactly each: rounded per line 0.00 + 0.00 + 0.00 (not 0.015 → 0.02).
    const rates: ResolvedRates = { price: "p", currency: "EUR", rates: { cpuCoreHour: "0.03" } };
    const q = quote(["a", "b", "c"].map((step) => ({ step, requests: { cpu: "1" }, expectedDuration: "10m", rates })));
    assert.deepEqual(q.totals, [{ amount: "0.00", currency: "EUR" }]);
  });

  it("charges only the rates the Price sets", () => {
    const q = quote([{ step: "a", requests: { cpu: "4", memory: "8Gi" }, expectedDuration: "1h", rates: { price: "runs-only", currency: "EUR", rates: { perRun: "1.5" } } }]);
    assert.deepEqual(q.steps[0]?.lines.map((l) => l.charge), ["run"]);
    assert.deepEqual(q.totals, [{ amount: "1.50", currency: "EUR" }]);
  });

  it("keeps one total per currency when steps are priced in different currencies, never converting", () => {
    const usd: ResolvedRates = { price: "usd-rates", peer: "fed-2", currency: "USD", rates: { cpuCoreHour: "0.04" } };
    const jpy: ResolvedRates = { price: "jpy-rates", peer: "fed-3", currency: "JPY", rates: { cpuCoreHour: "6.5" } };
    const q = quote([
      { step: "a", requests: { cpu: "1" }, expectedDuration: "1h", rates: eur },
      { step: "b", peer: "fed-2", requests: { cpu: "2" }, expectedDuration: "1h", rates: usd },
      { step: "c", peer: "fed-3", requests: { cpu: "1" }, expectedDuration: "1h", rates: jpy },
    ]);
    assert.deepEqual(q.totals, [
      { amount: "0.15", currency: "EUR" },
      { amount: "6", currency: "JPY" }, // 6.5 → half to even → 6 (JPY has no minor unit)
      { amount: "0.08", currency: "USD" },
    ]);
    assert.deepEqual(q.steps[1]?.price, { name: "usd-rates", peer: "fed-2" });
    assert.equal(q.steps[1]?.peer, "fed-2");
  });

  it("names the step and field of a bad duration or request", () => {
    assert.throws(() => quote([{ step: "a", requests: {}, expectedDuration: "soon", rates: eur }]), /steps\[0\] \(a\)\.expectedDuration "soon" is not a duration/);
    assert.throws(() => quote([{ step: "a", requests: { memory: "2GB" }, expectedDuration: "1h", rates: eur }]), /steps\[0\] \(a\)\.requests\.memory "2GB" is not a Kubernetes quantity/);
    assert.throws(() => quote([{ step: "a", requests: { cpu: "-1" }, expectedDuration: "1h", rates: eur }]), /requests\.cpu "-1" is negative/);
  });

  it("accepts Go durations with fractions and several units", () => {
    const q = quote([{ step: "a", requests: { cpu: "1" }, expectedDuration: "1.5h30m", rates: { price: "p", currency: "EUR", rates: { cpuCoreHour: "1" } } }]);
    assert.deepEqual(q.totals, [{ amount: "2.00", currency: "EUR" }]);
  });

  it("resolves every step's rates, or names each step that has none", () => {
    const prices = [price("cpus-default"), price("gpus-a", { targetRef: { kind: "Provider", name: "gpus" } }), price("gpus-b", { targetRef: { kind: "Provider", name: "gpus" } })];
    const steps = [
      { step: "a", target: { namespace: "team-a", provider: "cpus" }, audience: {} },
      { step: "b", target: { namespace: "team-a", provider: "gpus" }, audience: {} },
      { step: "c", target: { namespace: "team-a", provider: "tpus" }, audience: {} },
    ];
    const r = resolveStepRates(prices, steps, at("2026-06-01T00:00:00Z"));
    assert.equal(r.ok, false);
    const problems = r.ok ? [] : r.problems;
    assert.deepEqual(problems.map((p) => p.step), ["b", "c"]);
    assert.match(problems[0]?.message ?? "", /step b: Prices gpus-a, gpus-b apply equally/);
    assert.match(problems[1]?.message ?? "", /step c: no Price is in force/);
    const ok = resolveStepRates(prices, steps.slice(0, 1), at("2026-06-01T00:00:00Z"));
    assert.equal(ok.ok && ok.rates.get("a")?.price, "cpus-default");
  });
});
