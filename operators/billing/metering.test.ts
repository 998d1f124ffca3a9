import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { Price } from "../schema/price.ts";
import { measureStep, type MeteredWorkflow, type MeteringInput, planUsage, requestsOf, unmeteredSteps, UsageReason, usageRecordName } from "./metering.ts";
import { price } from "./testing.ts";

// Runs and Workflows recorded from a real Argo (test/e2e/metering.test.ts's cluster): a run whose
// second step failed, and a run of one service that is a CWL Workflow fanned out over two items.
const recorded = (name: string): { run: PipelineRun; workflow: MeteredWorkflow } =>
  JSON.parse(readFileSync(path.join(import.meta.dirname, "testdata", `run-${name}.json`), "utf8")) as { run: PipelineRun; workflow: MeteredWorkflow };

const copy = <T>(x: T): T => structuredClone(x);

/** The fan-out run as its Workflow shows it while one item's pod still runs (Argo has not measured it). */
function oneItemRunning(): ReturnType<typeof recorded> {
  const r = recorded("fanout");
  r.workflow.status!.phase = "Running";
  const item = Object.values(r.workflow.status!.nodes!).find((n) => n.name === "fan-run.say-items(0:0).echo-items(1:1)")!;
  item.phase = "Running";
  delete item.finishedAt;
  delete item.resourcesDuration;
  return r;
}

function input(name: string, prices: Price[], change: (i: MeteringInput) => void = () => {}): MeteringInput {
  const { run, workflow } = recorded(name);
  const i: MeteringInput = { run, workflow, prices, providerOf: () => "tools", cluster: "here" };
  change(i);
  return i;
}

const onTools = (name: string, spec: Partial<Price["spec"]> = {}): Price =>
  price(name, { targetRef: { kind: "Provider", name: "tools" }, rates: { cpuCoreHour: "7200", memoryGiBHour: "36", perRun: "0.10" }, ...spec }, "default");

describe("metering finished steps", () => {
  it("meters each finished step of a real run, the failed one too, from Argo's resourcesDuration", () => {
    const plan = planUsage(input("step-failed", [onTools("tools-2026")]));
    assert.deepEqual(plan.skipped, []);
    assert.deepEqual(plan.pending, []);
    assert.deepEqual(plan.records.map((r) => [r.name, r.spec.step, r.spec.source, r.spec.resourcesDuration, r.spec.usage.pods]), [
      ["broken-26ff4c-write-35939dff", "write", "resourcesDuration", { cpu: 2, memory: 30 }, 1],
      ["broken-26ff4c-shout-35939dff", "shout", "resourcesDuration", { cpu: 0, memory: 3 }, 1],
    ]);
    const write = plan.records[0]!;
    assert.deepEqual(write.spec.pipelineRunRef, { name: "broken-26ff4c", uid: "35939dff-396f-45e4-bb12-4a527a04925b" });
    assert.equal(write.spec.cluster, "isle-1", "the cluster the run's status names");
    assert.deepEqual(write.spec.projectRef, { name: "bill-26ff4c" });
    assert.deepEqual([write.spec.startedAt, write.spec.finishedAt], ["2026-12-02T15:44:26Z", "2026-12-02T15:44:44Z"]);
    // 2 core-s × 7200/h = 4.00; 30 × 100Mi-s = 2.9296875 GiB-s × 36/h = 0.029296875 → 0.03; 0.10 a run.
    assert.deepEqual(write.spec.lines?.map((l) => [l.charge, l.quantity, l.amount]), [["cpu", "0.000556", "4.00"], ["memory", "0.000814", "0.03"], ["run", "1.000000", "0.10"]]);
    assert.deepEqual(write.spec.cost, { amount: "4.13", currency: "EUR" });
    assert.deepEqual(write.spec.priceRef, { name: "tools-2026" });
    assert.deepEqual(write.labels, { "archipel.io/pipelinerun": "broken-26ff4c", "archipel.io/project": "bill-26ff4c", "archipel.io/month": "2026-12" });
    assert.deepEqual(write.ready, { status: "True", reason: UsageReason.Metered, message: "1 pod(s) metered from Argo's resourcesDuration, priced at Price tools-2026: 4.13 EUR" });
  });

  it("says a step that ended when its run was stopped by its budget was stopped; a succeeded step and a run that merely failed say nothing", () => {
    const stopped = planUsage(input("step-failed", [onTools("tools-2026")], (i) => {
      i.run.status!.conditions = [{ type: "Succeeded", status: "False", reason: "BudgetExhausted", message: "stopped: the cost so far has reached spec.budget", lastTransitionTime: "2026-12-02T15:45:00Z" }];
    }));
    const byStep = new Map(stopped.records.map((r) => [r.spec.step, r.spec.stopped]));
    assert.equal(byStep.get("write"), undefined, "write succeeded before the stop");
    assert.deepEqual(byStep.get("shout"), { reason: "BudgetExhausted", message: "stopped: the cost so far has reached spec.budget" });
    assert.ok(planUsage(input("step-failed", [onTools("tools-2026")])).records.every((r) => r.spec.stopped === undefined));
  });

  it("adds up every pod of a fanned-out step, never the DAG and task-group nodes that repeat them", () => {
    const { workflow } = recorded("fanout");
    const measured = measureStep(workflow, "say");
    assert.ok(typeof measured === "object");
    // Seven pods: say-inputs, the item DAG's echo-inputs, two echo items, echo, subworkflow-outputs, say.
    assert.equal(measured.pods, 7);
    assert.deepEqual(measured.resourcesDuration, { cpu: 0, memory: 28 });
    const dagTotal = Object.values(workflow.status?.nodes ?? {}).filter((n) => n.type !== "Pod" && n.name?.startsWith("fan-run.say")).reduce((s, n) => s + (n.resourcesDuration?.memory ?? 0), 0);
    assert.ok(dagTotal > 0, "the recorded DAG nodes do carry sums Argo added up");
  });

  it("prices a step at the Price in force when it started: at validUntil the next one applies", () => {
    const startedAt = "2026-12-02T15:44:26Z";
    const prices = [onTools("old", { validFrom: "2026-01-01T00:00:00Z", validUntil: startedAt }), onTools("new", { validFrom: startedAt, rates: { perRun: "1" } })];
    const write = planUsage(input("step-failed", prices)).records[0]!;
    assert.deepEqual(write.spec.priceRef, { name: "new" });
    assert.deepEqual(write.spec.cost, { amount: "1.00", currency: "EUR" });
    const justBefore = planUsage(input("step-failed", [onTools("old", { validUntil: "2026-12-02T15:44:27Z" })])).records[0]!;
    assert.deepEqual(justBefore.spec.priceRef, { name: "old" }, "in force one second past the start: the Price of the start, for the whole step");
  });

  it("uses the project's custom rates over the default, and the Resource's over its Provider's", () => {
    const project = onTools("ocean-deal", { audience: { projects: ["bill-26ff4c"] }, rates: { perRun: "0.01" } });
    const other = onTools("forest-deal", { audience: { projects: ["forest"] }, rates: { perRun: "5" } });
    const plan = planUsage(input("step-failed", [onTools("default"), project, other]));
    assert.deepEqual(plan.records.map((r) => r.spec.priceRef?.name), ["ocean-deal", "ocean-deal"]);
    const onService = price("writer-price", { targetRef: { kind: "Resource", name: "writer-26ff4c" }, rates: { perRun: "2" } }, "default");
    const withResource = planUsage(input("step-failed", [onTools("default"), project, onService]));
    assert.deepEqual(withResource.records.map((r) => r.spec.priceRef?.name), ["writer-price", "ocean-deal"]);
  });

  it("rounds each line once, half to even, in the Price's currency (JPY: no minor unit)", () => {
    // 2 core-s at 900/h is exactly 0.5 → 0 (even); 30 memory units = 2.9296875 GiB-s at 1843.2/h
    // is exactly 1.5 → 2 (even). Rounding the hours first would have given other amounts.
    const jpy = onTools("yen", { currency: "JPY", rates: { cpuCoreHour: "900", memoryGiBHour: "1843.2" } });
    const write = planUsage(input("step-failed", [jpy])).records[0]!;
    assert.deepEqual(write.spec.lines?.map((l) => l.amount), ["0", "2"]);
    assert.deepEqual(write.spec.cost, { amount: "2", currency: "JPY" });
  });

  it("meters a run a peer asked for as run for that peer, at the peer's custom rates", () => {
    const deal = onTools("fed-2-deal", { audience: { peers: ["fed-2"] }, rates: { perRun: "0.50" } });
    const plan = planUsage(input("step-failed", [onTools("default"), deal], (i) => {
      i.run.metadata.labels = { "archipel.io/requester-peer": "fed-2" };
      delete i.run.spec.projectRef;
    }));
    assert.deepEqual(plan.records.map((r) => [r.spec.requester, r.spec.peer, r.spec.priceRef?.name, r.spec.cost?.amount]), [
      [{ peer: "fed-2" }, undefined, "fed-2-deal", "0.50"],
      [{ peer: "fed-2" }, undefined, "fed-2-deal", "0.50"],
    ]);
  });

  it("records the usage without a cost when no Price applies or two conflict, saying which", () => {
    const none = planUsage(input("step-failed", []));
    assert.equal(none.records.length, 2);
    const [first] = none.records;
    assert.equal(first?.spec.cost, undefined);
    assert.equal(first?.spec.priceRef, undefined);
    assert.equal(first?.spec.lines, undefined);
    assert.deepEqual(first?.spec.usage, { cpuCoreHours: "0.000556", memoryGiBHours: "0.000814", pods: 1 });
    assert.equal(first?.ready.reason, UsageReason.NoPrice);
    assert.match(first?.ready.message ?? "", /^recorded without a cost: no Price is in force at 2026-12-02T15:44:26\.000Z for Resource default\/writer-26ff4c \(Provider tools\) for local users, project bill-26ff4c; delete this record/);
    const conflict = planUsage(input("step-failed", [onTools("a"), onTools("b")])).records[0];
    assert.equal(conflict?.ready.reason, UsageReason.PriceConflict);
    assert.match(conflict?.ready.message ?? "", /Prices a, b apply equally/);
  });

  it("meters only finished steps run here: not a running, skipped or peer step", () => {
    const plan = planUsage(
      input("step-failed", [], (i) => {
        i.run = copy(i.run);
        i.run.status!.steps![1] = { ...i.run.status!.steps![1]!, phase: "Running" };
        delete i.run.status!.steps![1]!.finishedAt;
      }),
    );
    assert.deepEqual(plan.records.map((r) => r.spec.step), ["write"]);
    const skipped = planUsage(input("step-failed", [], (i) => (i.run.status!.steps![1]!.phase = "Skipped")));
    assert.deepEqual(skipped.records.map((r) => r.spec.step), ["write"]);
    const onPeer = planUsage(input("step-failed", [], (i) => (i.run.spec.steps[0]!.serviceRef.peer = "fed-2")));
    assert.deepEqual(onPeer.records.map((r) => r.spec.step), ["shout"], "a peer meters and signs what it ran");
  });

  it("names a finished step that ran no pod instead of inventing usage", () => {
    const plan = planUsage(input("step-failed", [], (i) => {
      const nodes = i.workflow.status!.nodes!;
      for (const [id, n] of Object.entries(nodes)) if (n.name === "broken-26ff4c.shout") delete nodes[id];
    }));
    assert.deepEqual(plan.records.map((r) => r.spec.step), ["write"]);
    assert.deepEqual(plan.skipped, [{ step: "shout", message: "step shout finished (Failed) without running a pod: nothing to meter" }]);
  });

  it("waits for Argo's measure while the Workflow runs, then falls back to run time × requests", () => {
    const withoutDuration = (running: boolean) => (i: MeteringInput): void => {
      for (const n of Object.values(i.workflow.status!.nodes!)) delete n.resourcesDuration;
      if (running) i.workflow.status!.phase = "Running";
      const template = i.workflow.spec!.templates!.find((t) => t.name === "main-write")!;
      template.container = { resources: { requests: { cpu: "500m" }, limits: { memory: "1Gi" } } };
    };
    assert.deepEqual(planUsage(input("step-failed", [], withoutDuration(true))).pending, ["write", "shout"]);
    const plan = planUsage(input("step-failed", [onTools("p")], withoutDuration(false)));
    const [write, shout] = plan.records;
    // write's pod ran 15:44:26 → 15:44:44 (18 s) at 500m and 1Gi (the limit stands in for the request).
    assert.equal(write?.spec.source, "requests");
    assert.equal(write?.spec.resourcesDuration, undefined);
    assert.deepEqual(write?.spec.usage, { cpuCoreHours: "0.002500", memoryGiBHours: "0.005000", pods: 1 });
    // shout's template sets nothing: Argo's own defaults, 100m and 100Mi.
    assert.deepEqual(requestsOf(recorded("step-failed").workflow, { templateName: "main-shout" }), { cpu: "100m", memory: "100Mi" });
    assert.equal(shout?.spec.source, "requests");
  });

  it("measures a step only once every pod of it has finished in the Workflow it reads", () => {
    // The run's status (mirrored from a newer Workflow) says finished; this copy still runs an item.
    const stale = oneItemRunning();
    assert.equal(measureStep(stale.workflow, "say"), "pending");
    assert.deepEqual(planUsage({ run: stale.run, workflow: stale.workflow, prices: [], providerOf: () => undefined, cluster: "here" }).pending, ["say"]);
  });

  it("measures what finished of a Workflow being deleted, waiting for nothing more (its pods are going)", () => {
    const deleting = oneItemRunning();
    deleting.workflow.metadata = { ...deleting.workflow.metadata, deletionTimestamp: "2026-12-04T23:00:00Z" };
    const measured = measureStep(deleting.workflow, "say");
    assert.ok(typeof measured === "object", `measured: ${String(measured)}`);
    const whole = measureStep(recorded("fanout").workflow, "say");
    assert.ok(typeof whole === "object");
    assert.equal(measured.pods, whole.pods - 1, "the pod that did not finish is not counted");
    assert.equal(measured.source, "resourcesDuration", "the pods that finished all have Argo's measure");
  });

  it("meters a step still running when its Workflow is being deleted up to the deletion, saying it was stopped", () => {
    const cut = oneItemRunning();
    const at = "2026-12-04T23:00:00Z";
    const step = cut.run.status!.steps!.find((s) => s.name === "say")!;
    step.phase = "Running";
    delete step.finishedAt;
    assert.deepEqual(planUsage({ run: cut.run, workflow: cut.workflow, prices: [], providerOf: () => undefined, cluster: "here" }).records, [], "not while the Workflow stays");

    cut.workflow.metadata = { ...cut.workflow.metadata, deletionTimestamp: at };
    const plan = planUsage({ run: cut.run, workflow: cut.workflow, prices: [], providerOf: () => undefined, cluster: "here" });
    const record = plan.records.find((r) => r.spec.step === "say");
    assert.ok(record, JSON.stringify(plan.skipped));
    assert.equal(record.spec.finishedAt, at);
    assert.equal(record.spec.stopped?.reason, "WorkflowDeleted");
    assert.equal(record.spec.source, "requests", "the pod cut short has no measure of Argo's: every pod from its times");
    const whole = measureStep(recorded("fanout").workflow, "say");
    assert.ok(typeof whole === "object");
    assert.equal(record.spec.usage.pods, whole.pods, "the pod cut short counts, up to the deletion");
  });

  it("meters a step still running when its run is deleted up to then (the earlier of the run's and the Workflow's deletion)", () => {
    const cut = oneItemRunning();
    const step = cut.run.status!.steps!.find((s) => s.name === "say")!;
    step.phase = "Running";
    delete step.finishedAt;
    cut.run.metadata.deletionTimestamp = "2026-12-04T22:00:00Z";
    const byRun = planUsage({ run: cut.run, workflow: cut.workflow, prices: [], providerOf: () => undefined, cluster: "here" }).records.find((r) => r.spec.step === "say");
    assert.deepEqual([byRun?.spec.finishedAt, byRun?.spec.stopped?.reason], ["2026-12-04T22:00:00Z", "RunDeleted"]);
    cut.workflow.metadata = { ...cut.workflow.metadata, deletionTimestamp: "2026-12-04T21:00:00Z" };
    const byWorkflow = planUsage({ run: cut.run, workflow: cut.workflow, prices: [], providerOf: () => undefined, cluster: "here" }).records.find((r) => r.spec.step === "say");
    assert.deepEqual([byWorkflow?.spec.finishedAt, byWorkflow?.spec.stopped?.reason], ["2026-12-04T21:00:00Z", "WorkflowDeleted"]);
  });

  it("says which steps a deleted run still waits for: those that ran a pod here and have no record of this run", () => {
    const { run, workflow } = recorded("step-failed");
    const ran = (run.status?.steps ?? []).map((s) => s.name);
    assert.ok(ran.length >= 2, JSON.stringify(ran));
    const [first = "", ...rest] = ran;
    const record = (step: string, uid = run.metadata.uid) => ({ spec: { pipelineRunRef: { name: run.metadata.name ?? "", ...(uid ? { uid } : {}) }, step } });
    assert.deepEqual(unmeteredSteps(run, workflow, [record(first)]), rest);
    assert.deepEqual(unmeteredSteps(run, workflow, [record(first, "another-run"), ...rest.map((s) => record(s))]), [first], "a record of a namesake run is not this run's");
    const noPods = { ...workflow, status: { ...workflow.status, nodes: {} } };
    assert.deepEqual(unmeteredSteps(run, noPods, []), [], "a step that ran no pod gets no record: nothing to wait for");
  });

  it("names records after the run, the step and the run's uid, shortened with a hash past 253 characters", () => {
    const uid = "35939dff-396f-45e4-bb12-4a527a04925b";
    assert.equal(usageRecordName({ name: "greet", uid }, "write"), "greet-write-35939dff");
    assert.notEqual(usageRecordName({ name: "greet", uid: "0b0f5d1e-0000-4000-8000-000000000000" }, "write"), "greet-write-35939dff", "a new run of the same name has its own records");
    const long = `${"r".repeat(250)}.x`;
    const a = usageRecordName({ name: long, uid }, "write");
    assert.equal(a.length <= 253, true);
    assert.match(a, /^r+-[0-9a-f]{10}-write-35939dff$/);
    assert.notEqual(a, usageRecordName({ name: `${"r".repeat(250)}.y`, uid }, "write"), "distinct runs keep distinct names");
    assert.equal(a, usageRecordName({ name: long, uid }, "write"), "deterministic");
  });
});
