// A PipelineRun's steps as ONE CWL Workflow, the process the translation library turns into an
// Argo Workflow. Pure: the services' processes are resolved by the caller. Every error names the
// spec field it is about, so the run's condition tells the user what to change.
import { parseDurationSeconds } from "../billing/usage.ts";
import type { CwlType, Parameter, Process, Requirement, Step, StepInput } from "../pipeline/cwl/model.ts";
import { isObj } from "../pipeline/cwl/normalize.ts";
import { validateProcess } from "../pipeline/cwl/validate.ts";
import { describeType, isOptional } from "../pipeline/cwl/values.ts";
import type { PipelineRunSpec, PipelineStep } from "../schema/pipelineRun.ts";

/** A step's service: its validated CWL process and the image its pods run. */
export interface ServiceProcess {
  process: Process;
  image: string;
}

export type PipelineWorkflow = { ok: true; workflow: Process; job: Record<string, unknown> } | { ok: false; errors: string[] };

/** Task names the translation derives from a step name, and its final task's: a step may not take them. */
const reservedSuffixes = ["-inputs", "-items"];
const reservedNames = new Set(["workflow-outputs", "main", "main-outputs"]);

interface Source { step?: string; name: string }

/** `<step>/<output>` or a pipeline input name. */
export function parseWiring(text: string): Source {
  const slash = text.indexOf("/");
  return slash < 0 ? { name: text } : { step: text.slice(0, slash), name: text.slice(slash + 1) };
}

/** The steps whose outputs `step` reads, each once. */
export function upstreamOf(step: PipelineStep): string[] {
  return [...new Set(Object.values(step.in ?? {}).flatMap((source) => parseWiring(source).step ?? []))];
}

/** A workflow output carries a File where the tool said stdout/stderr. */
function outputType(type: CwlType): CwlType {
  if (type === "stdout" || type === "stderr") return "File";
  return Array.isArray(type) ? type.map(outputType) : type;
}

function required(parameter: Parameter): boolean {
  return parameter.default === undefined && !isOptional(parameter.type);
}

/**
 * The service's process with its image as a DockerRequirement, on it and on every tool it runs:
 * the service's image is what its steps run (a hint or another image inside is overridden).
 */
export function withImage(process: Process, image: string): Process {
  const docker: Requirement = { class: "DockerRequirement", dockerPull: image };
  return {
    ...process,
    requirements: [...process.requirements.filter((r) => r.class !== "DockerRequirement"), docker],
    hints: process.hints.filter((h) => h.class !== "DockerRequirement"),
    steps: process.steps.map((s) => ({ ...s, run: withImage(s.run, image) })),
  };
}

/** Checks that need no other step: the name, the service. */
function checkStepName(step: PipelineStep, at: string, names: Set<string>): string[] {
  const errors: string[] = [];
  if (reservedNames.has(step.name)) errors.push(`${at}.name: "${step.name}" is reserved for the run's own tasks; rename the step`);
  const clash = reservedSuffixes.find((s) => step.name.endsWith(s) && names.has(step.name.slice(0, -s.length)));
  if (clash) errors.push(`${at}.name: "${step.name}" clashes with the tasks of step "${step.name.slice(0, -clash.length)}"; rename it`);
  return errors;
}

interface Context {
  spec: PipelineRunSpec;
  services: ReadonlyMap<string, ServiceProcess>;
  job: Record<string, unknown>;
  /** pipeline input name → its type (from the first step input wired to it) */
  inputs: Map<string, CwlType>;
  errors: string[];
}

function checkUpstream(ctx: Context, at: string, from: Source, self: string): void {
  const upstream = ctx.spec.steps.find((s) => s.name === from.step);
  if (!upstream) {
    ctx.errors.push(`${at}: no step is named "${from.step ?? ""}"`);
    return;
  }
  if (upstream.name === self) {
    ctx.errors.push(`${at}: a step cannot read its own output`);
    return;
  }
  const service = ctx.services.get(upstream.name);
  if (service && !service.process.outputs.some((o) => o.id === from.name)) {
    ctx.errors.push(`${at}: step "${upstream.name}" has no output "${from.name}" (it has: ${service.process.outputs.map((o) => o.id).join(", ") || "none"})`);
  }
}

const classOf = (value: unknown): string | undefined => (isObj(value) && (value.class === "File" || value.class === "Directory") ? value.class : undefined);

/** Whether a File or Directory fits the type; arrays, records and enums are left to the CWL runtime. */
function acceptsClass(type: CwlType, cls: string): boolean {
  if (typeof type === "string") return type === cls || type === `${cls}?` || type === "Any";
  if (Array.isArray(type)) return type.some((t) => acceptsClass(t, cls));
  return true;
}

/** A staged File or Directory wired to an input that takes something else: said here, before any pod reads it. */
function checkClass(ctx: Context, at: string, name: string, parameter: Parameter): void {
  const given = classOf(ctx.job[name]);
  if (given && !acceptsClass(parameter.type, given)) ctx.errors.push(`${at}: pipeline input "${name}" is a ${given} and input "${parameter.id}" takes ${describeType(parameter.type)}`);
}

function checkPipelineInput(ctx: Context, at: string, name: string, parameter: Parameter): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    ctx.errors.push(`${at}: "${name}" is neither a pipeline input name nor <step>/<output>`);
    return;
  }
  const bound = name in ctx.job || (ctx.spec.inputs ?? []).some((i) => i.name === name);
  checkClass(ctx, at, name, parameter);
  if (!bound && required(parameter)) ctx.errors.push(`${at}: pipeline input "${name}" has no value: give it in spec.job (type ${describeType(parameter.type)})`);
  // An optional step input wired to an unbound pipeline input: the workflow input is optional too.
  if (!ctx.inputs.has(name)) ctx.inputs.set(name, bound || isOptional(parameter.type) ? parameter.type : ["null", parameter.type]);
}

function stepInputs(ctx: Context, step: PipelineStep, index: number, process: Process): StepInput[] {
  const at = `spec.steps[${index}].in`;
  const wired: StepInput[] = [];
  for (const [id, text] of Object.entries(step.in ?? {})) {
    const parameter = process.inputs.find((p) => p.id === id);
    if (!parameter) {
      ctx.errors.push(`${at}.${id}: service "${step.serviceRef.name}" has no input "${id}" (it has: ${process.inputs.map((p) => p.id).join(", ") || "none"})`);
      continue;
    }
    const from = parseWiring(text);
    if (from.step !== undefined) checkUpstream(ctx, `${at}.${id}`, from, step.name);
    else checkPipelineInput(ctx, `${at}.${id}`, from.name, parameter);
    wired.push({ id, source: [text], sourceIsList: false });
  }
  for (const parameter of process.inputs) {
    if (required(parameter) && !(parameter.id in (step.in ?? {}))) {
      ctx.errors.push(`${at}.${parameter.id}: required input "${parameter.id}" (${describeType(parameter.type)}) of service "${step.serviceRef.name}" is not wired: name a pipeline input or <step>/<output>`);
    }
  }
  return wired;
}

function workflowStep(ctx: Context, step: PipelineStep, index: number): Step | undefined {
  const service = ctx.services.get(step.name);
  if (!service) {
    ctx.errors.push(`spec.steps[${index}].serviceRef: the service of step "${step.name}" is not resolved`);
    return undefined;
  }
  const run = withImage(service.process, service.image);
  return { id: step.name, in: stepInputs(ctx, step, index, run), out: run.outputs.map((o) => o.id), run, scatter: [], requirements: [], hints: [] };
}

function workflowOutputs(ctx: Context): Parameter[] {
  return (ctx.spec.outputs ?? []).flatMap((output, index) => {
    const from = parseWiring(output.source);
    const at = `spec.outputs[${index}].source`;
    checkUpstream(ctx, at, from, "");
    const type = ctx.services.get(from.step ?? "")?.process.outputs.find((o) => o.id === from.name)?.type;
    return type === undefined ? [] : [{ id: output.name, type: outputType(type), outputSource: [output.source] }];
  });
}

/** Steps that read `<step>/<output>` of each other in a cycle never start. */
function findCycle(spec: PipelineRunSpec): string | undefined {
  const deps = new Map(spec.steps.map((s) => [s.name, Object.values(s.in ?? {}).map((t) => parseWiring(t).step).filter((n): n is string => n !== undefined)]));
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]): string | undefined => {
    if (state.get(name) === "done") return undefined;
    if (state.get(name) === "visiting") return [...path, name].join(" → ");
    state.set(name, "visiting");
    const found = (deps.get(name) ?? []).map((d) => visit(d, [...path, name])).find((c) => c !== undefined);
    state.set(name, "done");
    return found;
  };
  return spec.steps.map((s) => visit(s.name, [])).find((c) => c !== undefined);
}

/** A File or Directory named by location in spec.job: pods cannot fetch it (literals with contents can). */
function fileReference(value: unknown, at: string): string | undefined {
  if (Array.isArray(value)) return value.map((v, i) => fileReference(v, `${at}[${i}]`)).find((e) => e !== undefined);
  if (!isObj(value)) return undefined;
  if ((value.class === "File" || value.class === "Directory") && (value.location !== undefined || value.path !== undefined)) {
    return `${at}: a ${value.class} given by location cannot reach the pods yet; give its contents inline, or bind a data Resource in spec.inputs once they are supported`;
  }
  return Object.entries(value).map(([k, v]) => fileReference(v, `${at}.${k}`)).find((e) => e !== undefined);
}

function jobErrors(job: Record<string, unknown>): string[] {
  return Object.entries(job).flatMap(([k, v]) => fileReference(v, `spec.job.${k}`) ?? []);
}

/** Pipeline inputs no step reads still reach the workflow (a step's valueFrom may not need them, but the job is kept whole). */
function workflowInputs(ctx: Context): Parameter[] {
  const names = [...new Set([...ctx.inputs.keys(), ...Object.keys(ctx.job)])];
  return names.map((id) => ({ id, type: ctx.inputs.get(id) ?? ["null", "Any"] }));
}

/** The pipeline's one CWL Workflow and its job, or every error found. */
export function pipelineWorkflow(spec: PipelineRunSpec, services: ReadonlyMap<string, ServiceProcess>, staged: Record<string, unknown> = {}): PipelineWorkflow {
  const given = isObj(spec.job) ? spec.job : {};
  // `staged`: values the orchestrator has put where the pods find them (a peer's outputs); only
  // the user's own job is held to "no File by location".
  const job = { ...given, ...staged };
  const ctx: Context = { spec, services, job, inputs: new Map(), errors: jobErrors(given) };
  const names = new Set(spec.steps.map((s) => s.name));
  spec.steps.forEach((s, i) => ctx.errors.push(...checkStepName(s, `spec.steps[${i}]`, names)));
  const steps = spec.steps.map((s, i) => workflowStep(ctx, s, i)).filter((s): s is Step => s !== undefined);
  const outputs = workflowOutputs(ctx);
  const cycle = findCycle(spec);
  if (cycle) ctx.errors.push(`spec.steps: steps read each other's outputs in a cycle (${cycle})`);
  if (ctx.errors.length > 0) return { ok: false, errors: ctx.errors };
  const subworkflows = steps.some((s) => s.run.class === "Workflow");
  const workflow: Process = {
    class: "Workflow",
    id: "main",
    cwlVersion: "v1.2",
    baseDir: "/",
    inputs: workflowInputs(ctx),
    outputs,
    requirements: subworkflows ? [{ class: "SubworkflowFeatureRequirement" }] : [],
    hints: [],
    baseCommand: [],
    arguments: [],
    successCodes: [],
    temporaryFailCodes: [],
    permanentFailCodes: [],
    steps,
  };
  try {
    validateProcess(workflow);
  } catch (err) {
    return { ok: false, errors: [`spec.steps: ${(err as Error).message}`] };
  }
  return { ok: true, workflow, job };
}

/** spec.timeout in whole seconds (rounded up: a deadline never comes early), or undefined. */
export function workflowDeadlineSeconds(spec: PipelineRunSpec): number | undefined {
  if (!spec.timeout) return undefined;
  const seconds = parseDurationSeconds(spec.timeout, "spec.timeout");
  return Math.max(1, Number((seconds.num + seconds.den - 1n) / seconds.den));
}
