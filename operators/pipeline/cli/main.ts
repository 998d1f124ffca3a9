// archipel-cwl-runner [--outdir DIR] [--quiet] TOOL.cwl [JOB.yml]
// Translates the process to an Argo Workflow, runs the translated steps' entrypoint on
// this machine without containers, and prints the CWL output object as JSON.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { loadProcess, readDocument, toPath } from "../cwl/load.ts";
import { InvalidDocument, isObj, normalizeRequirements } from "../cwl/normalize.ts";
import type { Requirement } from "../cwl/model.ts";
import { layer } from "../entrypoint/step.ts";
import { toJson } from "../cwl/json.ts";
import { ExpressionError, initSandbox, Sandbox } from "../cwl/sandbox.ts";
import { InvalidJob } from "../cwl/values.ts";
import { InputError } from "../entrypoint/files.ts";
import { ToolFailed, UnsupportedFeature } from "../entrypoint/tool.ts";
import { runLocally } from "../runner/local.ts";

interface CliOptions { outdir: string; quiet: boolean; tool?: string; job?: string; keep: boolean }

export const exitUnsupported = 33;

function takeFlag(options: CliOptions, arg: string, next: () => string | undefined): boolean {
  if (arg === "--outdir") options.outdir = next() ?? options.outdir;
  else if (arg.startsWith("--outdir=")) options.outdir = arg.slice("--outdir=".length);
  else if (arg === "--quiet") options.quiet = true;
  else if (arg === "--keep-tmp") options.keep = true;
  else return arg.startsWith("--");
  return true;
}

export function parseArgs(argv: string[]): CliOptions {
  const options: CliOptions = { outdir: process.cwd(), quiet: false, keep: false };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (!takeFlag(options, arg, () => argv[++i])) positional.push(arg);
  }
  const [tool, job] = positional;
  return { ...options, ...(tool === undefined ? {} : { tool }), ...(job === undefined ? {} : { job }) };
}

interface Job { job: Record<string, unknown>; jobDir: string; requirements: Requirement[] }

/**
 * Reads the job named on the command line: a path, or a `file://` URI (cwltest passes URIs
 * when the suite's path does not start with the physical working directory, e.g. when it
 * is reached through a symbolic link). Its directory stays as the user named it.
 */
export function readJob(reference: string | undefined, cwd = process.cwd()): Job {
  if (reference === undefined) return { job: {}, jobDir: cwd, requirements: [] };
  const path = toPath(reference, cwd);
  const data = readDocument(path);
  if (data !== null && data !== undefined && !isObj(data)) throw new InvalidJob(`${path}: a job must be a mapping of input names to values`);
  const job = { ...((data ?? {}) as Record<string, unknown>) };
  // `cwl:requirements` in the input object take precedence over the process's own.
  const requirements = normalizeRequirements(job["cwl:requirements"], "cwl:requirements");
  delete job["cwl:tool"];
  delete job["cwl:requirements"];
  return { job, jobDir: dirname(path), requirements };
}

export async function main(argv: string[]): Promise<number> {
  const options = parseArgs(argv);
  if (argv.includes("--version")) {
    process.stdout.write("archipel-cwl-runner 0.1.0\n");
    return 0;
  }
  if (options.tool === undefined) {
    process.stderr.write("usage: archipel-cwl-runner [--outdir DIR] [--quiet] TOOL.cwl [JOB.yml]\n");
    return 2;
  }
  await initSandbox();
  const sandbox = new Sandbox();
  const scratch = mkdtempSync(join(tmpdir(), "archipel-cwl-"));
  try {
    const loaded = await loadProcess(options.tool);
    const { job, jobDir, requirements } = readJob(options.job);
    const process_ = { ...loaded, requirements: layer(loaded.requirements, requirements) };
    mkdirSync(options.outdir, { recursive: true });
    const backend = process.env.ARCHIPEL_CWL_BACKEND ?? "local";
    const outdir = resolve(options.outdir);
    // argo: the cluster of KUBECONFIG runs the steps as Pods (runner/argo.ts); local: this machine.
    if (backend !== "local" && backend !== "argo") throw new InvalidJob(`ARCHIPEL_CWL_BACKEND: expected local or argo, got ${JSON.stringify(backend)}`);
    // Loaded on demand: the Kubernetes and S3 clients would slow every local run's start.
    const outputs = backend === "argo"
      ? await (await import("../runner/argo.ts")).runOnArgo(process_, job, { scratch, sandbox, jobDir, outdir, keep: options.keep })
      : runLocally(process_, job, { scratch, sandbox, jobDir, outdir });
    process.stdout.write(`${toJson(outputs)}\n`);
    return 0;
  } catch (error) {
    return reportFailure(error);
  } finally {
    sandbox.dispose();
    if (!options.keep) rmSync(scratch, { recursive: true, force: true });
  }
}

function reportFailure(error: unknown): number {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UnsupportedFeature) {
    process.stderr.write(`unsupported: ${message}\n`);
    return exitUnsupported;
  }
  const known = [InvalidDocument, InvalidJob, InputError, ToolFailed, ExpressionError].some((k) => error instanceof k);
  process.stderr.write(`${known ? "" : "internal error: "}${message}\n`);
  if (!known && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return 1;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
