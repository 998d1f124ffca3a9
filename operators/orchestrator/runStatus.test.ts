// The three testdata/ files are Workflow statuses recorded from Argo v3 on `hack/cluster up --argo`
// (trimmed to the fields read here): the two-step pipeline of pipelineWorkflow.test.ts running,
// succeeded, and with its second step failing. The fan-out shape is written by hand after the
// translation's task names (argo/translate.ts fanOutTasks) and Argo's node naming.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { PipelineRunSpec } from "../schema/pipelineRun.ts";
import { type ArgoWorkflow, nodesOfStep } from "../pipeline/argo/workflow.ts";
import { observeWorkflow } from "./runStatus.ts";

function recorded(name: string): ArgoWorkflow {
  return JSON.parse(readFileSync(path.join(import.meta.dirname, "testdata", name), "utf8")) as ArgoWorkflow;
}

const spec: PipelineRunSpec = {
  steps: [
    { name: "write", serviceRef: { name: "writer" }, in: { message: "greeting" } },
    { name: "shout", serviceRef: { name: "upper" }, in: { text: "write/out" } },
  ],
  outputs: [{ name: "result", source: "shout/shouted" }],
  job: { greeting: "hello" },
};

describe("runStatus", () => {
  it("mirrors a running Workflow: phase, the pending first step with Argo's message, the second not started", () => {
    const o = observeWorkflow(spec, recorded("workflow-running.json"), "orch");
    assert.equal(o.phase, "Running");
    assert.equal(o.startedAt, "2026-12-02T13:13:40Z");
    assert.equal(o.finishedAt, undefined);
    assert.deepEqual(o.steps, [
      { name: "write", phase: "Pending", cluster: "orch", startedAt: "2026-12-02T13:13:40Z", message: "PodInitializing" },
      { name: "shout", phase: "Pending", cluster: "orch" },
    ]);
    assert.equal(o.progress, "0/2");
    assert.equal(o.outputs, undefined);
    assert.deepEqual(o.ready, { type: "Ready", status: "True", reason: "Running", message: "Workflow default/rec-ok runs: 0/2 steps succeeded" });
    assert.deepEqual({ ...o.succeeded, message: "" }, { type: "Succeeded", status: "Unknown", reason: "Running", message: "" });
  });

  it("mirrors a succeeded Workflow: every step with its cluster and times, outputs from workflow-outputs", () => {
    const o = observeWorkflow(spec, recorded("workflow-succeeded.json"), "orch");
    assert.equal(o.phase, "Succeeded");
    assert.equal(o.finishedAt, "2026-12-02T13:14:10Z");
    assert.deepEqual(o.steps, [
      { name: "write", phase: "Succeeded", cluster: "orch", startedAt: "2026-12-02T13:13:40Z", finishedAt: "2026-12-02T13:13:46Z" },
      { name: "shout", phase: "Succeeded", cluster: "orch", startedAt: "2026-12-02T13:13:50Z", finishedAt: "2026-12-02T13:13:55Z" },
    ]);
    assert.equal(o.progress, "2/2");
    assert.deepEqual(o.outputs, [{ name: "result", location: "s3://argo-artifacts/pipelineruns/rec-ok/main/shout/upper.txt", class: "File" }]);
    assert.deepEqual(o.succeeded, { type: "Succeeded", status: "True", reason: "Succeeded", message: "Workflow default/rec-ok succeeded: 2/2 steps" });
    assert.equal(o.ready.status, "True");
  });

  it("names the failed step, its cluster and the tool's own words", () => {
    const o = observeWorkflow(spec, recorded("workflow-step-failed.json"), "orch");
    assert.equal(o.phase, "Failed");
    assert.equal(o.steps[0]?.phase, "Succeeded");
    assert.deepEqual(o.steps[1], {
      name: "shout",
      phase: "Failed",
      cluster: "orch",
      startedAt: "2026-12-02T13:13:50Z",
      finishedAt: "2026-12-02T13:13:55Z",
      message: "main: Error (exit code 1): the tool exited with code 7: the disk is full",
    });
    const message = 'step "shout" failed on cluster orch: main: Error (exit code 1): the tool exited with code 7: the disk is full';
    assert.deepEqual(o.ready, { type: "Ready", status: "False", reason: "StepFailed", message });
    assert.deepEqual(o.succeeded, { type: "Succeeded", status: "False", reason: "StepFailed", message });
    assert.equal(o.outputs, undefined);
    assert.equal(o.progress, "1/2");
  });

  it("shows a step after the failed one as Skipped (Argo omits it)", () => {
    const wf = recorded("workflow-step-failed.json");
    const three: PipelineRunSpec = { ...spec, steps: [...spec.steps, { name: "count", serviceRef: { name: "wc" }, in: { f: "shout/shouted" } }] };
    wf.status!.nodes!["rec-fail-1"] = { name: "rec-fail.count", displayName: "count", type: "Skipped", phase: "Omitted", message: "omitted: depends condition not met" };
    const o = observeWorkflow(three, wf, "orch");
    assert.deepEqual(o.steps[2], { name: "count", phase: "Skipped", cluster: "orch", message: "omitted: depends condition not met" });
    const gone = observeWorkflow(three, recorded("workflow-step-failed.json"), "orch");
    assert.equal(gone.steps[2]?.phase, "Skipped", "a step Argo never created in a finished Workflow did not run");
  });

  it("maps a fanned-out step's tasks (<step>-inputs, <step>-items and its items, <step>) back to the step", () => {
    const wf: ArgoWorkflow = {
      metadata: { name: "r", namespace: "ns" },
      status: {
        phase: "Running",
        startedAt: "2026-01-01T00:00:00Z",
        nodes: {
          r: { name: "r", type: "DAG", phase: "Running" },
          a: { name: "r.sub-inputs", type: "Pod", phase: "Succeeded", startedAt: "2026-01-01T00:00:01Z", finishedAt: "2026-01-01T00:00:05Z" },
          b: { name: "r.sub-items", type: "TaskGroup", phase: "Running", startedAt: "2026-01-01T00:00:06Z" },
          c: { name: "r.sub-items(0:0)", type: "DAG", phase: "Running", startedAt: "2026-01-01T00:00:06Z" },
          d: { name: "r.sub-items(0:0).inner", type: "Pod", phase: "Running", startedAt: "2026-01-01T00:00:07Z" },
          e: { name: "r.subway", type: "Pod", phase: "Succeeded" },
        },
      },
    };
    const fan: PipelineRunSpec = { steps: [{ name: "sub", serviceRef: { name: "s" } }, { name: "subway", serviceRef: { name: "t" } }] };
    assert.deepEqual(nodesOfStep(wf, "sub").map((n) => n.name), ["r.sub-inputs", "r.sub-items", "r.sub-items(0:0)", "r.sub-items(0:0).inner"]);
    const o = observeWorkflow(fan, wf, "here");
    assert.deepEqual(o.steps[0], { name: "sub", phase: "Running", cluster: "here", startedAt: "2026-01-01T00:00:01Z" });
    assert.equal(o.steps[1]?.phase, "Succeeded");
    // the inner pod fails: the step fails with the pod's message even before Argo marks the group
    wf.status!.nodes!.d = { ...wf.status!.nodes!.d, phase: "Failed", message: "exit 3" };
    wf.status!.nodes!.c = { ...wf.status!.nodes!.c, phase: "Failed" };
    wf.status!.nodes!.b = { ...wf.status!.nodes!.b, phase: "Failed" };
    wf.status!.phase = "Failed";
    const failed = observeWorkflow(fan, wf, "here");
    assert.equal(failed.steps[0]?.phase, "Failed");
    assert.equal(failed.steps[0]?.message, "exit 3");
    assert.equal(failed.ready.reason, "StepFailed");
  });

  it("says WorkflowFailed with Argo's message when no step failed (e.g. Argo refused the spec)", () => {
    const o = observeWorkflow(spec, { metadata: { name: "r", namespace: "ns" }, status: { phase: "Error", message: "invalid spec: templates.main sorting failed" } }, "here");
    assert.deepEqual(o.ready, { type: "Ready", status: "False", reason: "WorkflowFailed", message: "Workflow ns/r errored: invalid spec: templates.main sorting failed" });
    assert.deepEqual(o.steps.map((s) => s.phase), ["Skipped", "Skipped"]);
  });

  it("reports a suspended Workflow as Suspended, a new one as Pending", () => {
    const suspended = observeWorkflow(spec, { ...recorded("workflow-running.json"), spec: { suspend: true } }, "orch");
    assert.equal(suspended.ready.reason, "Suspended");
    assert.equal(suspended.succeeded.status, "Unknown");
    const fresh = observeWorkflow(spec, { metadata: { name: "r", namespace: "ns" } }, "orch");
    assert.equal(fresh.phase, "Pending");
    assert.equal(fresh.ready.reason, "Pending");
  });

  it("gives non-file outputs as JSON values, and says whether a location is a File or a Directory", () => {
    const wf: ArgoWorkflow = {
      metadata: { name: "r" },
      status: { phase: "Succeeded", nodes: { x: { name: "r.workflow-outputs", outputs: { parameters: [{ name: "cwl-outputs", value: '{"n": 3, "f": {"class": "File", "location": "s3://b/k"}, "d": {"class": "Directory", "location": "s3://b/tree"}}' }] } } } },
    };
    const two: PipelineRunSpec = { steps: spec.steps, outputs: [{ name: "n", source: "shout/n" }, { name: "f", source: "shout/f" }, { name: "d", source: "shout/d" }, { name: "gone", source: "shout/g" }] };
    assert.deepEqual(observeWorkflow(two, wf, "c").outputs, [{ name: "n", value: "3" }, { name: "f", location: "s3://b/k", class: "File" }, { name: "d", location: "s3://b/tree", class: "Directory" }, { name: "gone", value: "null" }]);
  });
});
