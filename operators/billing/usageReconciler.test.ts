import assert from "node:assert/strict";
import type { UsageRecord } from "../schema/usageRecord.ts";
import { type PlannedRecord, UsageReason } from "./metering.ts";
import { readinessOf } from "./usageReconciler.ts";

const base = {
  pipelineRunRef: { name: "r" },
  step: "s",
  cluster: "isle-1",
  startedAt: "2026-06-10T10:00:00Z",
  finishedAt: "2026-06-10T11:00:00Z",
  source: "resourcesDuration" as const,
  resourcesDuration: { cpu: 1 },
  usage: { cpuCoreHours: "0.000278", memoryGiBHours: "0.000000", pods: 1 },
};
const priced = { ...base, priceRef: { name: "p" }, lines: [], cost: { amount: "0.10", currency: "EUR" } };
const record = (spec: UsageRecord["spec"]): UsageRecord => ({ apiVersion: "archipel.io/v1alpha1", kind: "UsageRecord", metadata: { name: "r-s" }, spec });
const plan = (spec: PlannedRecord["spec"], ready: PlannedRecord["ready"]): PlannedRecord => ({ name: "r-s", labels: {}, spec, ready });

describe("a UsageRecord's Ready", () => {
  const metered = { status: "True" as const, reason: UsageReason.Metered, message: "1 pod(s) metered" };
  const noPrice = { status: "False" as const, reason: UsageReason.NoPrice, message: "no Price" };

  it("is the plan's when the record holds what the plan would write", () => {
    assert.deepEqual(readinessOf(record(priced), plan(priced, metered)), { type: "Ready", ...metered });
    assert.deepEqual(readinessOf(record(base), plan(base, noPrice)), { type: "Ready", ...noPrice });
  });

  it("describes the record itself when Prices changed since it was metered (its spec is a fact)", () => {
    const unpricedNowPriceable = readinessOf(record(base), plan(priced, metered));
    assert.equal(unpricedNowPriceable.status, "False");
    assert.equal(unpricedNowPriceable.reason, UsageReason.NoPrice);
    assert.match(unpricedNowPriceable.message, /delete this record to have the step metered again/);
    const pricedNowNot = readinessOf(record(priced), plan(base, noPrice));
    assert.deepEqual([pricedNowNot.status, pricedNowNot.reason, pricedNowNot.message], ["True", UsageReason.Metered, "metered at Price p: 0.10 EUR"]);
  });
});
