// archipel-cwl-entrypoint: the command of every container template of a translated
// workflow (argo/translate.ts). Modes:
//   tool    --spec S --job J --outdir D              run the whole process (a lone tool)
//   step    --spec S --job J --upstream U --outdir D  run one workflow step
//   outputs --spec S --job J --outdir D              gather the workflow's output object
//   scatter --spec S --job J --upstream U --outdir D  decide a fanned-out step's jobs (D/items.json)
//   item    --spec S --job J --step-inputs I --outdir D  run one of those jobs
//   gather  --spec S --job PLAN --items T --outdir D  the step's output object from T/<index>/
// A fanned-out step's jobs are files D/jobs/<index>.json of its deciding pod, named "@jobs/<index>.json".
// Each writes D/cwl.output.json (the `cwl-outputs` output parameter); D is the step's
// `outdir` artifact. Upstream steps' files arrive at U/<step>/ (their D, via S3); inside a
// nested DAG, or for an item, the input object's files arrive at I (the deciding pod's D).
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inherit, layer, type Process } from "../cwl/model.ts";
import { initSandbox, Sandbox } from "../cwl/sandbox.ts";
import { toJson } from "../cwl/json.ts";
import { podInputsDir } from "../argo/conventions.ts";
import type { StepSpec } from "../argo/translate.ts";
import { runLocally } from "../runner/local.ts";
import { Relocator } from "../runner/relocate.ts";
import { mapFsObjects } from "./files.ts";
import { runStep, stepJobs, stepOutputs, workflowOutputs, type WorkflowState } from "./step.ts";
import { runProcess, type RunOptions } from "./tool.ts";

export interface EntrypointArgs {
  mode: string;
  spec: StepSpec;
  job: Record<string, unknown>;
  upstream: string;
  outdir: string;
  /** where the input object's files are when they came from another pod's outdir */
  stepInputs?: string;
  /** gather: one directory per item index */
  items?: string;
}

/** What a fanned-out step's deciding pod tells the gathering pod. */
interface FanOutPlan { count: number; ran: number[]; shape?: number[] }

interface StepJob { inputs?: Record<string, unknown>; steps?: Record<string, Record<string, unknown>> }

export function parseEntrypointArgs(argv: string[]): EntrypointArgs {
  const [mode = "", ...rest] = argv;
  const flags = new Map<string, string>();
  for (let i = 0; i + 1 < rest.length; i += 2) flags.set(rest[i] ?? "", rest[i + 1] ?? "");
  const text = (name: string): string => {
    const value = flags.get(`--${name}`);
    if (value === undefined) throw new Error(`archipel-cwl-entrypoint ${mode}: --${name} is required`);
    return value;
  };
  return {
    mode,
    spec: JSON.parse(text("spec")) as StepSpec,
    job: JSON.parse(text("job")) as Record<string, unknown>,
    upstream: flags.get("--upstream") ?? "/cwl/upstream",
    outdir: text("outdir"),
    stepInputs: flags.get("--step-inputs"),
    items: flags.get("--items"),
  };
}

/**
 * Upstream output objects name files in the producer's output directory; here they are
 * under the upstream directory of that step.
 */
export function remapUpstream(outputs: Record<string, unknown>, producerOutdir: string, localDir: string): Record<string, unknown> {
  return mapFsObjects(outputs, (o) => {
    if (typeof o.path !== "string" || !o.path.startsWith(`${producerOutdir}/`)) return o;
    const path = localDir + o.path.slice(producerOutdir.length);
    return { ...o, path, location: `file://${path}` };
  }) as Record<string, unknown>;
}

/** The workflow's final output object names files where they are kept: in the S3 repository. */
export function toArtifactLocations(outputs: Record<string, unknown>, producerOutdir: string, artifactLocation: string): Record<string, unknown> {
  return mapFsObjects(outputs, (o) => {
    if (typeof o.path !== "string" || !o.path.startsWith(`${producerOutdir}/`)) return o;
    const { path, dirname: _dirname, ...rest } = o;
    return { ...rest, location: artifactLocation + path.slice(producerOutdir.length) } as typeof o;
  }) as Record<string, unknown>;
}

function stateOf(args: EntrypointArgs): WorkflowState {
  const job = args.job as StepJob;
  const stepOutputs = new Map<string, Record<string, unknown>>();
  for (const [id, outputs] of Object.entries(job.steps ?? {})) {
    const kept = args.spec.artifactLocations?.[id];
    stepOutputs.set(id, kept === undefined ? remapUpstream(outputs, args.outdir, join(args.upstream, id)) : toArtifactLocations(outputs, args.outdir, kept));
  }
  const workflow = { ...args.spec.workflow, class: "Workflow", baseDir: args.outdir, steps: args.spec.workflow.steps } as unknown as Process;
  const given = jobAt(job.inputs ?? {}, args.stepInputs);
  const inputs = withDefaults(args.stepInputs === undefined ? given : remapUpstream(given, args.outdir, args.stepInputs), args.spec.workflow.inputs);
  return { workflow, inputs, stepOutputs };
}

/** A job named by reference (argo/translate.ts jobRef) is read from the step-inputs directory. */
function jobAt(value: unknown, stepInputs: string | undefined): Record<string, unknown> {
  if (typeof value !== "string") return value as Record<string, unknown>;
  const name = value.startsWith("@") ? value.slice(1) : "";
  if (stepInputs === undefined || !/^jobs\/\d+\.json$/.test(name)) throw new Error(`archipel-cwl-entrypoint: job ${JSON.stringify(value)} is neither an object nor a job of the step inputs`);
  return JSON.parse(readFileSync(join(stepInputs, name), "utf8")) as Record<string, unknown>;
}

/** A workflow input the job leaves out (or null) takes its default, as the local runner does. */
function withDefaults(inputs: Record<string, unknown>, declared: StepSpec["workflow"]["inputs"]): Record<string, unknown> {
  const out = { ...inputs };
  for (const input of declared) {
    if ((out[input.id] === undefined || out[input.id] === null) && input.default !== undefined) out[input.id] = structuredClone(input.default);
  }
  return out;
}

const modes = ["tool", "step", "outputs", "scatter", "item", "gather"];

function checkSpec(args: EntrypointArgs): void {
  if (!modes.includes(args.mode)) throw new Error(`archipel-cwl-entrypoint: unknown mode ${JSON.stringify(args.mode)} (${modes.join(", ")})`);
  const [needed, what] = args.mode === "tool" ? [args.spec.process, "process"] : args.mode === "outputs" ? [args.spec.workflow, "workflow"] : [args.spec.step, "step"];
  if (needed === undefined) throw new Error(`archipel-cwl-entrypoint ${args.mode}: --spec lacks the ${what}`);
  if (args.mode === "item" && args.stepInputs === undefined) throw new Error("archipel-cwl-entrypoint item: --step-inputs is required");
  if (args.mode === "gather" && args.items === undefined) throw new Error("archipel-cwl-entrypoint gather: --items is required");
}

/** A run's staged inputs are in every pod already: only files made by other pods are copied. */
const staged = (path: string): boolean => path.startsWith(`${podInputsDir}/`);

/** Runs processes in this pod, remembering their working directories for relocation. */
function processRunner(workdirs: string[]): (p: Process, j: Record<string, unknown>, o: RunOptions) => Record<string, unknown> {
  return (p, j, o) => {
    if (p.class === "Workflow") return runLocally(p, j, { ...o, outdir: join(o.scratch, "subworkflow") });
    const result = runProcess(p, j, o);
    workdirs.push(result.workdir);
    return result.outputs;
  };
}

function runMode(args: EntrypointArgs, options: RunOptions): Record<string, unknown> {
  checkSpec(args);
  if (args.mode === "tool" && args.spec.process !== undefined) return runLocally(args.spec.process, args.job, { ...options, outdir: args.outdir });
  if (args.mode === "gather") return gather(args);
  if (args.mode === "item") return runItem(args, options);
  const state = stateOf(args);
  const step = args.spec.step;
  if (args.mode === "outputs" || step === undefined) {
    const outputs = workflowOutputs(state);
    return args.spec.relocate ? (new Relocator(args.outdir, [], staged).relocate(outputs) as Record<string, unknown>) : outputs;
  }
  const stepOptions = { ...options, discoverSecondaryFiles: false };
  if (args.mode === "scatter") return decideItems(args, stepJobs(step, state, stepOptions));
  const workdirs: string[] = [];
  const outputs = runStep(step, state, stepOptions, processRunner(workdirs));
  return new Relocator(args.outdir, workdirs).relocate(outputs) as Record<string, unknown>;
}

/**
 * The jobs of a fanned-out step, their files copied into this pod's outdir (the items read it as
 * their step-inputs); items.json is what Argo's withParam fans out over.
 */
function decideItems(args: EntrypointArgs, decided: ReturnType<typeof stepJobs>): Record<string, unknown> {
  const relocator = new Relocator(args.outdir, [], staged);
  const items: number[] = [];
  mkdirSync(join(args.outdir, "jobs"), { recursive: true });
  decided.jobs.forEach((job, index) => {
    if (job === null) return;
    writeFileSync(join(args.outdir, "jobs", `${index}.json`), toJson(relocator.relocate(job)));
    items.push(index);
  });
  writeFileSync(join(args.outdir, "items.json"), JSON.stringify(items));
  const plan: FanOutPlan = { count: decided.jobs.length, ran: items, ...(decided.shape ? { shape: decided.shape } : {}) };
  return plan as unknown as Record<string, unknown>;
}

/** One job of a fanned-out step: the step's process (with what it inherits) on that job. */
function runItem(args: EntrypointArgs, options: RunOptions): Record<string, unknown> {
  const step = args.spec.step as NonNullable<StepSpec["step"]>;
  const workflow = args.spec.workflow;
  const process = inherit(step.run, layer(workflow.requirements, step.requirements), layer(workflow.hints, step.hints));
  const job = remapUpstream(jobAt(args.job, args.stepInputs), args.outdir, args.stepInputs ?? args.outdir);
  const workdirs: string[] = [];
  const outputs = processRunner(workdirs)(process, job, { ...options, discoverSecondaryFiles: false });
  return new Relocator(args.outdir, workdirs, staged).relocate(outputs) as Record<string, unknown>;
}

/** The step's output object from its items' outdirs, in job order, nulls where none ran. */
function gather(args: EntrypointArgs): Record<string, unknown> {
  const plan = args.job as unknown as FanOutPlan;
  const results: Array<Record<string, unknown> | null> = Array.from({ length: plan.count }, () => null);
  for (const index of plan.ran) {
    const from = join(args.items ?? "", String(index));
    const text = existsSync(join(from, "cwl.output.json")) ? readFileSync(join(from, "cwl.output.json"), "utf8") : undefined;
    if (text === undefined) throw new Error(`gather: job ${index} of step ${args.spec.stepPath} left no output object`);
    const into = join(args.outdir, String(index));
    cpSync(from, into, { recursive: true });
    results[index] = remapUpstream(JSON.parse(text) as Record<string, unknown>, args.outdir, into);
  }
  return stepOutputs(args.spec.step as NonNullable<StepSpec["step"]>, results, plan.shape);
}

export async function entrypoint(argv: string[]): Promise<number> {
  let args: EntrypointArgs;
  try {
    args = parseEntrypointArgs(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  await initSandbox();
  const scratch = mkdtempSync(join(tmpdir(), "archipel-step-"));
  try {
    mkdirSync(args.outdir, { recursive: true });
    const outputs = runMode(args, { scratch, sandbox: new Sandbox(), jobDir: args.outdir });
    writeFileSync(join(args.outdir, "cwl.output.json"), toJson(outputs));
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${message}\n`);
    terminationMessage(message);
    return 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * In a Pod, the failure's message goes to the container's termination log too: the kubelet puts
 * it in the container status, where Argo reads a failed step's message (the kubelet keeps 4 KiB).
 */
function terminationMessage(message: string, path = process.env.ARCHIPEL_TERMINATION_LOG ?? "/dev/termination-log"): void {
  if (!existsSync(path)) return;
  try {
    writeFileSync(path, Buffer.from(message).subarray(0, 4000));
  } catch {
    // not writable: the message is on stderr, in the step's log
  }
}

if (import.meta.main) process.exitCode = await entrypoint(process.argv.slice(2));
