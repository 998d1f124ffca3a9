// archipel-cwl-entrypoint: the command of every container template of a translated
// workflow (argo/translate.ts). Modes:
//   tool    --spec S --job J --outdir D              run the whole process (a lone tool)
//   step    --spec S --job J --upstream U --outdir D  run one workflow step
//   outputs --spec S --job J --outdir D              gather the workflow's output object
// Each writes D/cwl.output.json (the `cwl-outputs` output parameter); D is the step's
// `outdir` artifact. Upstream steps' files arrive at U/<step>/ (their D, via S3).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Process } from "../cwl/model.ts";
import { initSandbox, Sandbox } from "../cwl/sandbox.ts";
import { toJson } from "../cwl/json.ts";
import type { StepSpec } from "../argo/translate.ts";
import { runLocally } from "../runner/local.ts";
import { Relocator } from "../runner/relocate.ts";
import { mapFsObjects } from "./files.ts";
import { runStep, workflowOutputs, type WorkflowState } from "./step.ts";
import { runProcess, type RunOptions } from "./tool.ts";

export interface EntrypointArgs { mode: string; spec: StepSpec; job: Record<string, unknown>; upstream: string; outdir: string }

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
  return { mode, spec: JSON.parse(text("spec")) as StepSpec, job: JSON.parse(text("job")) as Record<string, unknown>, upstream: flags.get("--upstream") ?? "/cwl/upstream", outdir: text("outdir") };
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
  return { workflow, inputs: job.inputs ?? {}, stepOutputs };
}

function checkSpec(args: EntrypointArgs): void {
  const needed = { tool: args.spec.process, step: args.spec.step, outputs: args.spec.workflow }[args.mode];
  if (!["tool", "step", "outputs"].includes(args.mode)) throw new Error(`archipel-cwl-entrypoint: unknown mode ${JSON.stringify(args.mode)} (tool, step, outputs)`);
  if (needed === undefined) throw new Error(`archipel-cwl-entrypoint ${args.mode}: --spec lacks the ${args.mode === "tool" ? "process" : args.mode === "step" ? "step" : "workflow"}`);
}

function runMode(args: EntrypointArgs, options: RunOptions): Record<string, unknown> {
  checkSpec(args);
  if (args.mode === "tool" && args.spec.process !== undefined) return runLocally(args.spec.process, args.job, { ...options, outdir: args.outdir });
  const state = stateOf(args);
  if (args.mode === "outputs" || args.spec.step === undefined) return workflowOutputs(state);
  const workdirs: string[] = [];
  const run = (p: Process, j: Record<string, unknown>, o: RunOptions): Record<string, unknown> => {
    if (p.class === "Workflow") return runLocally(p, j, { ...o, outdir: join(o.scratch, "subworkflow") });
    const result = runProcess(p, j, o);
    workdirs.push(result.workdir);
    return result.outputs;
  };
  const outputs = runStep(args.spec.step, state, { ...options, discoverSecondaryFiles: false }, run);
  return new Relocator(args.outdir, workdirs).relocate(outputs) as Record<string, unknown>;
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
