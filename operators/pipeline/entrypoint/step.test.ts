import assert from "node:assert/strict";
import type { Process, Step } from "../cwl/model.ts";
import { initSandbox, Sandbox } from "../cwl/sandbox.ts";
import { inherit, layer, mergeSources, runStep, workflowOutputs, type WorkflowState } from "./step.ts";

function echoTool(): Process {
  return {
    class: "ExpressionTool", id: "echo", cwlVersion: "v1.2", baseDir: "/", requirements: [], hints: [],
    inputs: [{ id: "a", type: "Any" }, { id: "b", type: ["null", "Any"] }], outputs: [{ id: "out", type: "Any" }],
    baseCommand: [], arguments: [], successCodes: [], temporaryFailCodes: [], permanentFailCodes: [], steps: [],
  };
}

function workflow(step: Step, requirements: Process["requirements"] = []): Process {
  return { ...echoTool(), class: "Workflow", id: "wf", inputs: [{ id: "xs", type: "Any" }, { id: "ys", type: "Any" }], requirements, steps: [step], outputs: [{ id: "r", type: "Any", outputSource: ["s/out"] }] };
}

const options = { scratch: "/nonexistent", sandbox: new Sandbox(), jobDir: "/" };
// Stands in for running the process: returns its job, so the test sees what the step built.
const recordJob = (_p: Process, job: Record<string, unknown>): Record<string, unknown> => ({ out: [job.a, job.b ?? null] });

describe("workflow steps", () => {
  before(async () => initSandbox());
  it("merges sources: a single source stays itself, nested and flattened lists", () => {
    assert.equal(mergeSources([1], false, undefined, undefined), 1);
    assert.deepEqual(mergeSources([[1], [2, 3]], true, undefined, undefined), [[1], [2, 3]]);
    assert.deepEqual(mergeSources([[1], 2], true, "merge_flattened", undefined), [1, 2]);
  });

  it("picks values: first_non_null, the_only_non_null, all_non_null", () => {
    assert.equal(mergeSources([null, 2, 3], true, undefined, "first_non_null"), 2);
    assert.throws(() => mergeSources([1, 2], true, undefined, "the_only_non_null"), /2 sources are non-null/);
    assert.deepEqual(mergeSources([null, 2, null], true, undefined, "all_non_null"), [2]);
  });

  it("lets inner requirements override outer ones of the same class", () => {
    const outer = [{ class: "ResourceRequirement", coresMin: 4 }, { class: "EnvVarRequirement", envDef: [] }];
    const inner = [{ class: "ResourceRequirement", coresMin: 1 }];
    assert.deepEqual(layer(outer, inner).map((r) => r.coresMin ?? r.class), ["EnvVarRequirement", 1]);
    const process = inherit({ ...echoTool(), hints: [{ class: "ResourceRequirement", coresMin: 8 }] }, outer, []);
    assert.equal(process.hints.length, 0, "a requirement of a class replaces the hint of that class");
  });

  it("scatters with dotproduct and nested_crossproduct, keeping the shape", () => {
    const base: Step = { id: "s", in: [{ id: "a", source: ["xs"], sourceIsList: false }, { id: "b", source: ["ys"], sourceIsList: false }], out: ["out"], run: echoTool(), scatter: ["a", "b"], requirements: [], hints: [] };
    const scatter = [{ class: "ScatterFeatureRequirement" }];
    const dot: WorkflowState = { workflow: workflow(base, scatter), inputs: { xs: [1, 2], ys: ["p", "q"] }, stepOutputs: new Map() };
    assert.deepEqual(runStep(base, dot, options, recordJob).out, [[1, "p"], [2, "q"]]);
    const nested = { ...base, scatterMethod: "nested_crossproduct" };
    const cross: WorkflowState = { workflow: workflow(nested, scatter), inputs: { xs: [1, 2], ys: ["p", "q"] }, stepOutputs: new Map() };
    assert.deepEqual(runStep(nested, cross, options, recordJob).out, [[[1, "p"], [1, "q"]], [[2, "p"], [2, "q"]]]);
  });

  it("refuses scatter without ScatterFeatureRequirement", () => {
    const step: Step = { id: "s", in: [{ id: "a", source: ["xs"], sourceIsList: false }], out: ["out"], run: echoTool(), scatter: ["a"], requirements: [], hints: [] };
    const state: WorkflowState = { workflow: workflow(step), inputs: { xs: [1] }, stepOutputs: new Map() };
    assert.throws(() => runStep(step, state, options, recordJob), /ScatterFeatureRequirement/);
  });

  it("uses defaults for null sources, evaluates valueFrom and skips on a false when", () => {
    const step: Step = {
      id: "s", out: ["out"], run: echoTool(), scatter: [], requirements: [], hints: [], when: "$(inputs.b !== null)",
      in: [{ id: "a", source: ["xs"], sourceIsList: false, default: "dflt" }, { id: "b", source: [], sourceIsList: false, valueFrom: "$(inputs.a)" }],
    };
    const js = [{ class: "InlineJavascriptRequirement" }, { class: "StepInputExpressionRequirement" }];
    const state: WorkflowState = { workflow: workflow(step, js), inputs: { xs: null }, stepOutputs: new Map() };
    assert.deepEqual(runStep(step, state, options, recordJob).out, ["dflt", "dflt"]);
    const skipped: Step = { ...step, when: "$(inputs.b === null)" };
    state.stepOutputs.set("s", runStep(skipped, state, options, recordJob));
    assert.deepEqual(state.stepOutputs.get("s"), { out: null });
    assert.deepEqual(workflowOutputs(state), { r: null });
  });
});
