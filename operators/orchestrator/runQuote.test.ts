import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { Process } from "../pipeline/cwl/model.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { Price } from "../schema/price.ts";
import type { Project } from "../schema/project.ts";
import type { Resource } from "../schema/resource.ts";
import { budgetRefusal, requestsOf, runQuote } from "./runQuote.ts";

const process = (requirements: unknown[] = []): Process => ({ requirements, hints: [] }) as unknown as Process;
const service = { metadata: { name: "writer", namespace: "team" }, spec: { providerRef: { name: "tools" } } } as unknown as Resource;
const price = (rates: Record<string, string>, currency = "EUR"): Price =>
  ({ metadata: { name: "tools-price", namespace: "team" }, spec: { targetRef: { kind: "Provider", name: "tools" }, currency, rates, validFrom: "2026-01-01T00:00:00Z" } }) as unknown as Price;
const run = (spec: Partial<PipelineRun["spec"]> = {}): PipelineRun => ({ apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { name: "r", namespace: "team" }, spec: { steps: [{ name: "write", serviceRef: { name: "writer" } }], ...spec } });
const at = new Date("2026-12-02T10:00:00Z");

describe("runQuote", () => {
  it("asks what the CWL ResourceRequirement says, else what Argo assumes (100m, 100Mi)", () => {
    assert.deepEqual(requestsOf(process()), { cpu: "100m", memory: "100Mi" });
    assert.deepEqual(requestsOf(process([{ class: "ResourceRequirement", coresMin: 2, ramMin: 1500.5 }])), { cpu: "2", memory: "1501Mi" });
  });

  it("quotes every step at its Price for spec.expectedDuration (default 10m), or not at all", () => {
    const q = runQuote(run(), [{ step: "write", service, process: process() }], [price({ cpuCoreHour: "6" })], at);
    assert.deepEqual(q.priced && q.totals, [{ amount: "0.10", currency: "EUR" }]);
    const hour = runQuote(run({ expectedDuration: "1h" }), [{ step: "write", service, process: process() }], [price({ cpuCoreHour: "6" })], at);
    assert.deepEqual(hour.priced && hour.totals, [{ amount: "0.60", currency: "EUR" }]);
    const none = runQuote(run(), [{ step: "write", service, process: process() }], [], at);
    assert.equal(none.priced, false);
    assert.match(none.message, /step write: /);
  });

  it("quotes a run made for a peer at the rates for that peer, as it is metered", () => {
    const forLyon = { ...price({ cpuCoreHour: "12" }), metadata: { name: "for-lyon", namespace: "team" } } as Price;
    forLyon.spec.audience = { peers: ["lyon-1"] };
    const steps = [{ step: "write", service, process: process() }];
    const served = { ...run(), metadata: { ...run().metadata, labels: { "archipel.io/requester-peer": "lyon-1" } } };
    const q = runQuote(served, steps, [price({ cpuCoreHour: "6" }), forLyon], at);
    assert.deepEqual(q.priced && q.totals, [{ amount: "0.20", currency: "EUR" }]);
    const local = runQuote(run(), steps, [price({ cpuCoreHour: "6" }), forLyon], at);
    assert.deepEqual(local.priced && local.totals, [{ amount: "0.10", currency: "EUR" }], "a local user gets the default rates");
  });

  it("refuses a run whose quote exceeds its budget or its Project's remaining budget, naming which and by how much", () => {
    const q = runQuote(run(), [{ step: "write", service, process: process() }], [price({ cpuCoreHour: "6" })], at);
    assert.equal(budgetRefusal(run(), q, undefined), undefined, "no budget: the run starts");
    assert.equal(budgetRefusal(run({ budget: { amount: "0.10", currency: "EUR" } }), q, undefined), undefined, "equal to the budget fits");
    const over = budgetRefusal(run({ budget: { amount: "0.04", currency: "EUR" } }), q, undefined);
    assert.equal(over?.reason, "RunBudgetExceeded");
    assert.match(over?.message ?? "", /by 0\.06 EUR/);
    const project = { metadata: { name: "ocean" }, spec: { budget: { amount: "5.00", currency: "EUR" } }, status: { spent: [{ amount: "4.95", currency: "EUR" }] } } as unknown as Project;
    const projectOver = budgetRefusal(run({ projectRef: { name: "ocean" } }), q, project);
    assert.equal(projectOver?.reason, "ProjectBudgetExceeded");
    assert.match(projectOver?.message ?? "", /Project ocean/);
    const unpriced = budgetRefusal(run({ budget: { amount: "1", currency: "EUR" } }), runQuote(run(), [{ step: "write", service, process: process() }], [], at), undefined);
    assert.equal(unpriced?.reason, "QuoteUnavailable");
  });
});
