import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import { budgetStop, stoppedAnnotation, stoppedObservation } from "./runBudget.ts";
import type { ArgoWorkflow } from "../pipeline/argo/workflow.ts";
import type { RunObservation } from "./runStatus.ts";

const cond = (status: "True" | "False" | "Unknown", reason: string): RunObservation["ready"] => ({ type: "Ready", status, reason, message: reason });
const observation = (phase: RunObservation["phase"], startedAt?: string): RunObservation => ({
  phase,
  progress: "0/1",
  steps: [{ name: "sleep", phase: phase === "Running" ? "Running" : "Failed", ...(startedAt ? { startedAt } : {}) }],
  ready: cond(phase === "Running" ? "True" : "False", phase),
  succeeded: { ...cond(phase === "Running" ? "Unknown" : "False", phase), type: "Succeeded" },
});
const workflow = (annotations?: Record<string, string>): ArgoWorkflow & KubernetesObject => ({ metadata: { name: "w", ...(annotations ? { annotations } : {}) } });
const run = (budget?: { amount: string; currency: string }): PipelineRun => ({ apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { name: "r" }, spec: { steps: [{ name: "sleep", serviceRef: { name: "s" } }], ...(budget ? { budget } : {}) } });
const plans = [{ step: "sleep", requests: { cpu: "100m", memory: "0" }, expectedDuration: "2s", rates: { price: "p", currency: "EUR", rates: { cpuCoreHour: "360", perRun: "1" } } }];

describe("runBudget", () => {
  it("stops a running run once its cost so far exceeds spec.budget, not before; a run without a budget never", () => {
    const started = "2026-12-02T10:00:00Z";
    const at = (s: number): Date => new Date(Date.parse(started) + s * 1000);
    const check = (seconds: number, budget = { amount: "1.20", currency: "EUR" }): ReturnType<typeof budgetStop> => budgetStop({ run: run(budget), workflow: workflow(), observed: observation("Running", started), plans, now: at(seconds) });
    // 0.01 EUR/s + 1 EUR per run: 1.20 at 20 s (equal still fits), over after.
    assert.equal(check(20), undefined);
    const stop = check(25);
    assert.equal(stop?.reason, "BudgetExhausted");
    assert.match(stop?.message ?? "", /^the cost so far \(1\.25 EUR, .*\) has reached spec\.budget \(1\.20 EUR\)/);
    assert.equal(budgetStop({ run: run(), workflow: workflow(), observed: observation("Running", started), plans, now: at(1000) }), undefined);
    // A step not started yet costs nothing.
    assert.equal(budgetStop({ run: run({ amount: "0.50", currency: "EUR" }), workflow: workflow(), observed: observation("Running"), plans, now: at(1000) }), undefined);
  });

  it("stops a running run once its cost so far exceeds what its Project has left after its other runs' spending", () => {
    const started = "2026-12-02T10:00:00Z";
    const at = (s: number): Date => new Date(Date.parse(started) + s * 1000);
    const project = { name: "ocean", budget: { amount: "10.00", currency: "EUR" }, spent: [{ amount: "8.80", currency: "EUR" }] };
    const check = (seconds: number): ReturnType<typeof budgetStop> => budgetStop({ run: run(), workflow: workflow(), observed: observation("Running", started), plans, now: at(seconds), project });
    // 1.20 left: reached after 20 s, as with a run budget of 1.20.
    assert.equal(check(20), undefined);
    assert.match(check(25)?.message ?? "", /has reached the remaining budget of Project ocean: .*by 0\.05 EUR/);
    // A Project without a budget watches nothing.
    assert.equal(budgetStop({ run: run(), workflow: workflow(), observed: observation("Running", started), plans, now: at(1000), project: { name: "ocean", spent: [] } }), undefined);
  });

  it("reports a Workflow it stopped as stopping, then as stopped by that reason, not as a failed step", () => {
    const stopped = workflow({ [stoppedAnnotation]: "BudgetExhausted: the cost so far (1.25 EUR) has reached spec.budget" });
    const running = stoppedObservation(observation("Running"), stopped);
    assert.deepEqual([running.ready.status, running.ready.reason, running.succeeded.status], ["False", "BudgetExhausted", "Unknown"]);
    assert.match(running.ready.message, /^stopping: the cost so far/);
    const ended = stoppedObservation(observation("Failed"), stopped);
    assert.deepEqual([ended.succeeded.status, ended.succeeded.reason], ["False", "BudgetExhausted"]);
    assert.equal(ended.succeeded.message, "stopped: the cost so far (1.25 EUR) has reached spec.budget");
    assert.equal(stoppedObservation(observation("Failed"), workflow()).succeeded.reason, "Failed");
  });
});
