import assert from "node:assert/strict";
import { Registry } from "prom-client";
import type { UsageRecordSpec } from "../schema/usageRecord.ts";
import { UsageMetrics, usageMetricsOf } from "./usageMetrics.ts";

const spec = (extra: Partial<UsageRecordSpec>): UsageRecordSpec => ({
  pipelineRunRef: { name: "r" },
  step: "s",
  cluster: "isle-1",
  startedAt: "2026-06-10T10:00:00Z",
  finishedAt: "2026-06-10T11:00:00Z",
  source: "resourcesDuration",
  resourcesDuration: { cpu: 3600, memory: 36864 },
  usage: { cpuCoreHours: "1.000000", memoryGiBHours: "0.500000", pods: 1 },
  ...extra,
});

describe("usage metrics", () => {
  it("counts records, cost per currency and usage in base units, by project, peer and role", async () => {
    const registry = new Registry();
    const metrics = new UsageMetrics(registry);
    metrics.created(spec({ projectRef: { name: "ocean" }, priceRef: { name: "p" }, lines: [], cost: { amount: "1.25", currency: "EUR" } }));
    metrics.created(spec({ projectRef: { name: "ocean" }, priceRef: { name: "p" }, lines: [], cost: { amount: "0.75", currency: "EUR" } }));
    metrics.created(spec({ peer: "fed-2" }));
    metrics.created(spec({ requester: { peer: "fed-3" }, priceRef: { name: "p" }, lines: [], cost: { amount: "3", currency: "USD" } }));
    const text = await registry.metrics();
    assert.match(text, /^archipel_usage_cost_total\{project="ocean",peer="",role="local",currency="EUR"\} 2$/m);
    assert.match(text, /^archipel_usage_cost_total\{project="",peer="fed-3",role="provider",currency="USD"\} 3$/m);
    assert.match(text, /^archipel_usage_records_total\{project="ocean",peer="",role="local",priced="true"\} 2$/m);
    assert.match(text, /^archipel_usage_records_total\{project="",peer="fed-2",role="consumer",priced="false"\} 1$/m);
    assert.match(text, /^archipel_usage_cpu_core_seconds_total\{project="ocean",peer="",role="local"\} 7200$/m);
    assert.match(text, /^archipel_usage_memory_byte_seconds_total\{project="",peer="fed-2",role="consumer"\} 1932735283200$/m, "0.5 GiB-h = 1800 GiB-s in bytes");
    assert.doesNotMatch(text, /archipel_usage_cost_total\{[^}]*peer="fed-2"/, "an unpriced record adds no cost");
  });

  it("gives the usage controller and the PipelineRun controller of one process the same counters", async () => {
    const registry = new Registry();
    assert.equal(usageMetricsOf(registry), usageMetricsOf(registry), "a second registration of the names would throw");
    usageMetricsOf(registry).created(spec({ peer: "fed-2", priceRef: { name: "p" }, lines: [], cost: { amount: "0.40", currency: "EUR" } }));
    usageMetricsOf(registry).created(spec({}));
    const text = await registry.metrics();
    assert.match(text, /^archipel_usage_cost_total\{project="",peer="fed-2",role="consumer",currency="EUR"\} 0\.4$/m);
    assert.match(text, /^archipel_usage_records_total\{project="",peer="",role="local",priced="false"\} 1$/m);
    assert.notEqual(usageMetricsOf(new Registry()), usageMetricsOf(registry));
  });
});
