// One workflow step at run time: gathers its inputs from upstream outputs (linkMerge,
// pickValue, defaults, valueFrom), evaluates `when`, expands `scatter`, and runs the step's
// process. Argo runs this inside the step's pod; the local runner calls it directly.
import { evaluate } from "../cwl/expression.ts";
import { inherit, layer, type Process, type Step, type StepInput } from "../cwl/model.ts";

export { inherit, layer };
import { isObj } from "../cwl/normalize.ts";
import { parseSource } from "../cwl/validate.ts";
import { describeType, matchesType } from "../cwl/values.ts";
import { evaluatorFor, loadContents, ToolFailed, UnsupportedFeature, type RunOptions } from "./tool.ts";
import { isFsObject, mapFsObjects } from "./files.ts";

export interface WorkflowState {
  workflow: Process;
  inputs: Record<string, unknown>;
  /** outputs of finished steps, by step id */
  stepOutputs: Map<string, Record<string, unknown>>;
}

export type ProcessRunner = (process: Process, job: Record<string, unknown>, options: RunOptions) => Record<string, unknown>;


export function sourceValue(source: string, state: WorkflowState): unknown {
  const parsed = parseSource(source, state.workflow);
  if (parsed === undefined) throw new ToolFailed(`source ${source} is unknown`);
  if (parsed.step === undefined) return state.inputs[parsed.name] ?? null;
  return state.stepOutputs.get(parsed.step)?.[parsed.name] ?? null;
}

/** linkMerge then pickValue over the values of several sources (Workflow.yml). */
export function mergeSources(values: unknown[], asList: boolean, linkMerge: string | undefined, pickValue: string | undefined): unknown {
  let merged: unknown;
  if (!asList && values.length === 1 && linkMerge === undefined) merged = values[0];
  else if (linkMerge === "merge_flattened") merged = values.flatMap((v) => (Array.isArray(v) ? v : [v]));
  else merged = values;
  return pickValue === undefined ? merged : pick(pickValue, Array.isArray(merged) ? merged : [merged]);
}

const pickers: Record<string, (nonNull: unknown[]) => unknown> = {
  first_non_null: (nonNull) => {
    if (nonNull.length === 0) throw new ToolFailed("pickValue first_non_null: every source is null");
    return nonNull[0];
  },
  the_only_non_null: (nonNull) => {
    if (nonNull.length !== 1) throw new ToolFailed(`pickValue the_only_non_null: ${nonNull.length} sources are non-null`);
    return nonNull[0];
  },
  all_non_null: (nonNull) => nonNull,
};

function pick(method: string, list: unknown[]): unknown {
  const picker = pickers[method];
  if (picker === undefined) throw new UnsupportedFeature(`pickValue ${method} is not supported`);
  return picker(list.filter((v) => v !== null && v !== undefined));
}

function gatherInput(input: StepInput, state: WorkflowState): unknown {
  const values = input.source.map((s) => sourceValue(s, state));
  // A single source is not wrapped in a list, even written as a list, unless linkMerge says so.
  let value = input.source.length === 0 ? null : mergeSources(values, input.source.length > 1, input.linkMerge, input.pickValue);
  if ((value === null || value === undefined) && input.default !== undefined) value = structuredClone(input.default);
  if (input.loadContents === true) value = mapFsObjects(value, loadContents);
  return value ?? null;
}

function applyValueFrom(step: Step, process: Process, gathered: Record<string, unknown>, options: RunOptions): Record<string, unknown> {
  const withExpressions = step.in.filter((i) => i.valueFrom !== undefined);
  if (withExpressions.length === 0) return gathered;
  const evaluator = evaluatorFor(process, options.sandbox);
  const result = { ...gathered };
  for (const input of withExpressions) {
    result[input.id] = evaluate(input.valueFrom, { inputs: gathered, self: gathered[input.id] ?? null, runtime: {} }, evaluator);
  }
  return result;
}

/** Cartesian or dot product of the scattered inputs; nested results keep the shape. */
function scatterJobs(step: Step, job: Record<string, unknown>): { jobs: Record<string, unknown>[]; shape: number[] } {
  const lists = step.scatter.map((name) => {
    const value = job[name];
    if (!Array.isArray(value)) throw new ToolFailed(`step ${step.id}: scatter input ${name} must be an array, got ${JSON.stringify(value)}`);
    return value;
  });
  const method = step.scatterMethod ?? "dotproduct";
  if (method === "dotproduct" || step.scatter.length === 1) {
    const length = lists[0]?.length ?? 0;
    if (lists.some((l) => l.length !== length)) throw new ToolFailed(`step ${step.id}: dotproduct scatter needs arrays of the same length`);
    return { jobs: Array.from({ length }, (_, i) => withScattered(job, step.scatter, lists.map((l) => l[i]))), shape: [length] };
  }
  let combos: unknown[][] = [[]];
  for (const list of lists) combos = combos.flatMap((c) => list.map((v) => [...c, v]));
  return { jobs: combos.map((c) => withScattered(job, step.scatter, c)), shape: method === "nested_crossproduct" ? lists.map((l) => l.length) : [combos.length] };
}

function withScattered(job: Record<string, unknown>, names: string[], values: unknown[]): Record<string, unknown> {
  const out = { ...job };
  names.forEach((name, i) => (out[name] = values[i]));
  return out;
}

function nest(values: unknown[], shape: number[]): unknown[] {
  if (shape.length <= 1) return values;
  const size = shape.slice(1).reduce((a, b) => a * b, 1);
  const out: unknown[] = [];
  for (let i = 0; i < (shape[0] ?? 0); i++) out.push(nest(values.slice(i * size, (i + 1) * size), shape.slice(1)));
  return out;
}

function conditionHolds(step: Step, process: Process, job: Record<string, unknown>, options: RunOptions): boolean {
  if (step.when === undefined) return true;
  const result = evaluate(step.when, { inputs: job, self: null, runtime: {} }, evaluatorFor(process, options.sandbox));
  if (typeof result !== "boolean") throw new ToolFailed(`step ${step.id}: when must evaluate to true or false, got ${JSON.stringify(result)}`);
  return result;
}

/** The jobs of one step: one per scatter combination (null where `when` is false). */
export interface StepJobs {
  /** the step's process, with the requirements and hints it inherits */
  process: Process;
  jobs: Array<Record<string, unknown> | null>;
  /** a scattered step's output shape (nested_crossproduct nests); absent when not scattered */
  shape?: number[];
}

function processJob(step: Step, process: Process, job: Record<string, unknown>, options: RunOptions): Record<string, unknown> | null {
  if (!conditionHolds(step, process, job, options)) return null;
  const out: Record<string, unknown> = {};
  for (const input of process.inputs) if (job[input.id] !== undefined) out[input.id] = job[input.id];
  return out;
}

/**
 * Everything about a step decided before its process runs: gathered inputs, scatter, valueFrom
 * and `when`. The Argo translation runs this in its own pod and fans the jobs out.
 */
export function stepJobs(step: Step, state: WorkflowState, options: RunOptions): StepJobs {
  const process = inherit(step.run, layer(state.workflow.requirements, step.requirements), layer(state.workflow.hints, step.hints));
  if (step.scatter.length > 0 && !process.requirements.some((r) => r.class === "ScatterFeatureRequirement") && !state.workflow.requirements.some((r) => r.class === "ScatterFeatureRequirement")) {
    throw new UnsupportedFeature(`step ${step.id} scatters without ScatterFeatureRequirement`);
  }
  const gathered: Record<string, unknown> = {};
  for (const input of step.in) gathered[input.id] = gatherInput(input, state);
  if (step.scatter.length === 0) return { process, jobs: [processJob(step, process, applyValueFrom(step, process, gathered, options), options)] };
  const { jobs, shape } = scatterJobs(step, gathered);
  return { process, jobs: jobs.map((job) => processJob(step, process, applyValueFrom(step, process, job, options), options)), shape };
}

/** The step's outputs by `out` id from its jobs' results (null for a job that did not run). */
export function stepOutputs(step: Step, results: Array<Record<string, unknown> | null>, shape: number[] | undefined): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  for (const out of step.out) outputs[out] = shape === undefined ? (results[0]?.[out] ?? null) : nest(results.map((r) => r?.[out] ?? null), shape);
  return outputs;
}

/** Runs one step (all its scatter jobs) and returns its outputs by `out` id. */
export function runStep(step: Step, state: WorkflowState, options: RunOptions, run: ProcessRunner): Record<string, unknown> {
  const { process, jobs, shape } = stepJobs(step, state, options);
  return stepOutputs(step, jobs.map((job) => (job === null ? null : run(process, job, options))), shape);
}

/** The workflow's output object from its outputSource wiring. */
export function workflowOutputs(state: WorkflowState): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  for (const output of state.workflow.outputs) {
    const sources = output.outputSource ?? [];
    const values = sources.map((s) => sourceValue(s, state));
    const value = (sources.length === 0 ? null : mergeSources(values, sources.length > 1, output.linkMerge, output.pickValue)) ?? null;
    if (!(value === null && output.type === "Any") && !matchesType(output.type, value)) {
      throw new ToolFailed(`workflow output ${output.id}: ${JSON.stringify(value)?.slice(0, 200)} is not a ${describeType(output.type)}`);
    }
    outputs[output.id] = value;
  }
  return outputs;
}

export function hasFiles(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasFiles);
  if (isFsObject(value)) return true;
  return isObj(value) && Object.values(value).some(hasFiles);
}
