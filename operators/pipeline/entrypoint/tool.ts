// Runs one CommandLineTool or ExpressionTool for one job in a working directory: the
// entrypoint of every Argo step template, and what the local runner calls.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { tmpdir } from "node:os";
import { globSync } from "node:fs";
import { buildCommandLine, shellQuote, type BuildContext } from "../cwl/commandline.ts";
import { evaluate, type Evaluator } from "../cwl/expression.ts";
import { findRequirement, type CwlType, type Parameter, type Process, type RecordType, type Requirement, type SecondaryFileSpec } from "../cwl/model.ts";
import { expandFormat, isObj } from "../cwl/normalize.ts";
import { toSpacedJson } from "../cwl/json.ts";
import type { Sandbox } from "../cwl/sandbox.ts";
import { fillJob, matchesType } from "../cwl/values.ts";
import { completeFsObject, copyInto, InputError, isFsObject, listDirectory, localPath, mapFsObjects, nameParts, stageLink, type FsObject } from "./files.ts";

export class UnsupportedFeature extends Error {}
export class ToolFailed extends Error {}

export interface RunOptions {
  /** directory under which the run makes its work, staging and temporary directories */
  scratch: string;
  sandbox: Sandbox;
  /** where relative locations in the job are resolved */
  jobDir: string;
  /**
   * Search secondary files beside their File (true for a user's job); inside a workflow
   * they must have been passed along with it.
   */
  discoverSecondaryFiles?: boolean;
}

const supportedRequirements = new Set([
  "InlineJavascriptRequirement", "SchemaDefRequirement", "ShellCommandRequirement", "EnvVarRequirement",
  "InitialWorkDirRequirement", "ResourceRequirement", "DockerRequirement", "SoftwareRequirement",
  "LoadListingRequirement", "ToolTimeLimit", "NetworkAccess", "WorkReuse", "InplaceUpdateRequirement",
  "SubworkflowFeatureRequirement", "ScatterFeatureRequirement", "MultipleInputFeatureRequirement",
  "StepInputExpressionRequirement",
]);

export function checkRequirements(process: Process): void {
  for (const requirement of process.requirements) {
    if (!supportedRequirements.has(requirement.class)) throw new UnsupportedFeature(`requirement ${requirement.class} is not supported`);
  }
}

export function evaluatorFor(process: Process, sandbox: Sandbox): Evaluator {
  const js = findRequirement(process, "InlineJavascriptRequirement");
  const lib = js !== undefined && Array.isArray(js.expressionLib) ? js.expressionLib.map(String) : [];
  return { javascript: js !== undefined, expressionLib: lib, sandbox };
}

let counter = 0;
function freshDir(parent: string, prefix: string): string {
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(join(parent, `${prefix}${++counter}-`));
}

function loadListingOf(process: Process, parameter: Parameter): string {
  if (parameter.loadListing !== undefined) return parameter.loadListing;
  const requirement = findRequirement(process, "LoadListingRequirement");
  if (typeof requirement?.loadListing === "string") return requirement.loadListing;
  return process.cwlVersion === "v1.0" ? "deep_listing" : "no_listing";
}

/** Completes File/Directory inputs: fields, literals, listings, secondary files, contents. */
export function prepareInputs(process: Process, job: Record<string, unknown>, options: RunOptions, evaluator: Evaluator): Record<string, unknown> {
  const filled = fillJob(process, completeAll(job, options) as Record<string, unknown>);
  for (const input of process.inputs) {
    let value = completeAll(filled[input.id], options);
    const listing = loadListingOf(process, input);
    value = mapFsObjects(value, (o) => withListing(o, listing), false);
    value = secondaryFilesByType(input, value, { inputs: filled, evaluator, required: true, process, discover: options.discoverSecondaryFiles !== false });
    if (input.loadContents === true || input.inputBinding?.loadContents === true) value = mapFsObjects(value, loadContents);
    filled[input.id] = value;
  }
  return filled;
}

function completeAll(value: unknown, options: RunOptions): unknown {
  return mapFsObjects(value, (o) => completeFsObject(o, options.jobDir, options.scratch));
}

/** Lists a directory from the disk (a listing carried from an earlier step may be stale). */
function withListing(o: FsObject, listing: string): FsObject {
  if (o.class !== "Directory" || listing === "no_listing" || typeof o.path !== "string") return o;
  return { ...o, listing: listDirectory(o.path, listing === "deep_listing") };
}

const contentLimit = 64 * 1024;

export function loadContents(o: FsObject): FsObject {
  if (o.class !== "File") return o;
  const data = readFileSync(String(o.path));
  if (data.length > contentLimit) throw new ToolFailed(`${String(o.path)}: loadContents reads at most 64 KiB, the file has ${data.length} bytes`);
  return { ...o, contents: data.toString("utf8") };
}

/**
 * A File's format must be one the parameter accepts. Without an ontology that is literal
 * equality; with `$schemas` (subclasses, equivalent classes) we accept, not having a reasoner.
 */
function checkFormat(input: Parameter, value: unknown, ctx: SecondaryContext): void {
  if (input.format === undefined || ctx.process.ontologies === true) return;
  const allowed = [input.format].flat().map((f) => evaluate(f, { inputs: ctx.inputs, self: value, runtime: {} }, ctx.evaluator)).flat();
  mapFsObjects(value, (o) => {
    const format = typeof o.format === "string" ? expandFormat(o.format, ctx.process.namespaces ?? {}) : undefined;
    if (o.class === "File" && allowed.length > 0 && !allowed.includes(format)) {
      throw new InputError(`input ${input.id}: file format ${String(format)} is not one of ${allowed.join(", ")}`);
    }
    return o;
  });
}

interface SecondaryContext { inputs: Record<string, unknown>; evaluator: Evaluator; required: boolean; process: Process; discover: boolean }

/** secondaryFiles of a parameter and of the fields of the records it holds. */
function secondaryFilesByType(parameter: Parameter, value: unknown, ctx: SecondaryContext): unknown {
  if (ctx.required) checkFormat(parameter, value, ctx);
  let result = parameter.secondaryFiles === undefined ? value : withSecondaryFiles(value, parameter.secondaryFiles, ctx);
  result = secondaryInType(parameter.type, result, ctx);
  return result;
}

function unionBranch(type: CwlType, value: unknown): CwlType | undefined {
  return Array.isArray(type) ? type.find((t) => matchesType(t, value)) : type;
}

function secondaryInType(type: CwlType, value: unknown, ctx: SecondaryContext): unknown {
  const branch = unionBranch(type, value);
  if (value === null || value === undefined || typeof branch !== "object" || Array.isArray(branch)) return value;
  if (branch.type === "array") return Array.isArray(value) ? value.map((v) => secondaryInType(branch.items, v, ctx)) : value;
  if (branch.type !== "record" || !isObj(value)) return value;
  const record: Record<string, unknown> = { ...value };
  for (const field of branch.fields) record[field.id] = secondaryFilesByType(field, value[field.id], ctx);
  return record;
}

/** The name a secondaryFiles pattern gives: `^` strips one extension each. */
export function secondaryName(primary: string, pattern: string): string {
  let name = primary;
  let rest = pattern;
  while (rest.startsWith("^")) {
    const ext = nameParts(name).nameext;
    name = ext === "" ? name : name.slice(0, -ext.length);
    rest = rest.slice(1);
  }
  return name + rest;
}

function withSecondaryFiles(value: unknown, specs: SecondaryFileSpec[], ctx: SecondaryContext): unknown {
  if (Array.isArray(value)) return value.map((v) => withSecondaryFiles(v, specs, ctx));
  if (!isFsObject(value) || value.class !== "File") return value;
  const existing = Array.isArray(value.secondaryFiles) ? (value.secondaryFiles as FsObject[]) : [];
  const found: FsObject[] = [...existing];
  for (const spec of specs) {
    for (const entry of secondaryEntries(value, spec, ctx)) {
      if (!found.some((f) => f.path === entry.path)) found.push(entry);
    }
  }
  return { ...value, secondaryFiles: found };
}

function secondaryCandidates(primary: FsObject, spec: SecondaryFileSpec, ctx: SecondaryContext): unknown[] {
  const produced = spec.pattern.includes("$(") || spec.pattern.includes("${")
    ? evaluate(spec.pattern, { inputs: ctx.inputs, self: primary, runtime: {} }, ctx.evaluator)
    : secondaryName(String(primary.basename), spec.pattern);
  return [produced].flat().filter((p) => p !== null && p !== undefined);
}

function secondaryEntries(primary: FsObject, spec: SecondaryFileSpec, ctx: SecondaryContext): FsObject[] {
  const required = ctx.required && spec.required !== false;
  return secondaryCandidates(primary, spec, ctx).flatMap((item) => {
    if (isObj(item)) return [secondaryObject(item as FsObject, primary)];
    const name = String(item);
    const present = ((primary.secondaryFiles ?? []) as FsObject[]).some((f) => f.basename === name);
    // Inside a workflow, secondary files travel with their File: they are checked, not searched.
    if (!ctx.discover) {
      if (required && !present) throw new InputError(`secondary file ${name} of ${String(primary.basename)} was not passed along with it`);
      return [];
    }
    return discoverSecondary(join(dirname(String(primary.path)), name), required, primary);
  });
}

function secondaryObject(item: FsObject, primary: FsObject): FsObject {
  const dir = dirname(String(primary.path));
  const path = localPath(item, dir);
  return path !== undefined && existsSync(path) ? completeFsObject({ ...item, path, location: undefined } as FsObject, dir, dir) : item;
}

function discoverSecondary(path: string, required: boolean, primary: FsObject): FsObject[] {
  if (!existsSync(path)) {
    if (required) throw new InputError(`secondary file ${basename(path)} of ${String(primary.path)} is missing`);
    return [];
  }
  const cls = statSync(path).isDirectory() ? "Directory" : "File";
  return [completeFsObject({ class: cls, path }, dirname(path), dirname(path))];
}

interface ToolContext {
  process: Process;
  inputs: Record<string, unknown>;
  evaluator: Evaluator;
  runtime: Record<string, unknown>;
  outdir: string;
  tmpdir: string;
}

function resourceRuntime(process: Process, inputs: Record<string, unknown>, evaluator: Evaluator): Record<string, number> {
  const requirement = findRequirement(process, "ResourceRequirement") ?? { class: "ResourceRequirement" };
  const value = (min: string, max: string, fallback: number): number => {
    const v = evaluate(requirement[min] ?? requirement[max], { inputs, self: null, runtime: {} }, evaluator);
    return typeof v === "number" ? v : fallback;
  };
  return {
    cores: Math.ceil(value("coresMin", "coresMax", 1)),
    ram: Math.ceil(value("ramMin", "ramMax", 256)),
    outdirSize: Math.ceil(value("outdirMin", "outdirMax", 1024)),
    tmpdirSize: Math.ceil(value("tmpdirMin", "tmpdirMax", 1024)),
  };
}

/** Stages File/Directory inputs as links named by their basename, each in its own folder. */
function stageInputs(inputs: Record<string, unknown>, stageDir: string): Record<string, unknown> {
  const staged: Record<string, unknown> = {};
  for (const [id, value] of Object.entries(inputs)) {
    staged[id] = mapFsObjects(value, (o) => {
      if (typeof o.path !== "string") return o;
      const target = join(freshDir(stageDir, "in"), String(o.basename));
      stageLink(o.path, target);
      const moved: FsObject = { ...o, path: target, dirname: dirname(target) };
      if (Array.isArray(o.secondaryFiles)) {
        moved.secondaryFiles = (o.secondaryFiles as FsObject[]).map((s) => stageSecondary(s, dirname(target)));
      }
      return moved;
    });
  }
  return staged;
}

function stageSecondary(s: FsObject, dir: string): FsObject {
  if (typeof s.path !== "string") return s;
  const target = join(dir, String(s.basename));
  stageLink(s.path, target);
  return { ...s, path: target, dirname: dir };
}

export interface ToolResult { outputs: Record<string, unknown>; workdir: string }

/** Runs a CommandLineTool or an ExpressionTool. */
export function runProcess(process: Process, job: Record<string, unknown>, options: RunOptions): ToolResult {
  checkRequirements(process);
  const evaluator = evaluatorFor(process, options.sandbox);
  const prepared = prepareInputs(process, job, options, evaluator);
  if (process.class === "ExpressionTool") return runExpressionTool(process, prepared, evaluator, options);
  if (process.class !== "CommandLineTool") throw new UnsupportedFeature(`${process.class} cannot run as a single tool`);
  return runCommandLineTool(process, prepared, evaluator, options);
}

function runExpressionTool(process: Process, inputs: Record<string, unknown>, evaluator: Evaluator, options: RunOptions): ToolResult {
  const workdir = freshDir(options.scratch, "expr");
  const runtime = { outdir: workdir, tmpdir: workdir, ...resourceRuntime(process, inputs, evaluator) };
  // The expression is the whole process: CWL exempts it from ToolTimeLimit, and the
  // sandbox's per-expression cap would be one; it gets the process budget instead.
  const processEvaluator = { ...evaluator, timeoutMs: options.sandbox.limits.processTimeoutMs };
  const result = evaluate(process.expression ?? "", { inputs, self: null, runtime }, processEvaluator);
  if (!isObj(result)) throw new ToolFailed(`ExpressionTool ${process.id}: the expression must return an object, got ${JSON.stringify(result)}`);
  const outputs: Record<string, unknown> = {};
  for (const output of process.outputs) {
    const value = completeAll(result[output.id] ?? null, { ...options, jobDir: workdir });
    outputs[output.id] = value;
    checkOutput(output, value);
  }
  return { outputs, workdir };
}

function runCommandLineTool(process: Process, inputs: Record<string, unknown>, evaluator: Evaluator, options: RunOptions): ToolResult {
  const outdir = freshDir(options.scratch, "out");
  const tmpdir = freshDir(options.scratch, "tmp");
  const staged = stageInputs(inputs, join(options.scratch, "stage"));
  const runtime: Record<string, unknown> = { outdir, tmpdir, ...resourceRuntime(process, staged, evaluator) };
  const ctx: ToolContext = { process, inputs: staged, evaluator, runtime, outdir, tmpdir };
  ctx.inputs = initialWorkDir(ctx);
  const exitCode = execute(ctx);
  const outputs = collectOutputs(ctx, exitCode);
  return { outputs, workdir: outdir };
}

// ---------------------------------------------------------------- InitialWorkDir

function initialWorkDir(ctx: ToolContext): Record<string, unknown> {
  const requirement = findRequirement(ctx.process, "InitialWorkDirRequirement");
  if (requirement === undefined) return ctx.inputs;
  const listing = evaluate(requirement.listing, exprCtx(ctx, null), ctx.evaluator);
  const entries = (Array.isArray(listing) ? listing : [listing]).map((e) => evaluate(e, exprCtx(ctx, null), ctx.evaluator)).flat();
  const moved = new Map<string, string>();
  for (const entry of entries) placeEntry(entry, ctx, moved);
  // Inputs placed in the working directory are seen there by the tool's expressions.
  const inputs = mapFsObjects(ctx.inputs, (o) => {
    const target = typeof o.path === "string" ? moved.get(o.path) : undefined;
    return target === undefined ? o : { ...o, path: target, dirname: dirname(target) };
  }) as Record<string, unknown>;
  return inputs;
}

function placeEntry(entry: unknown, ctx: ToolContext, moved: Map<string, string>): void {
  if (entry === null || entry === undefined) return;
  if (Array.isArray(entry)) {
    for (const e of entry) placeEntry(e, ctx, moved);
    return;
  }
  if (isFsObject(entry)) {
    placeFsObject(entry, undefined, ctx, { writable: true, moved });
    return;
  }
  if (!isObj(entry)) throw new ToolFailed(`InitialWorkDirRequirement: listing entry ${JSON.stringify(entry)} is neither a File, a Directory nor a Dirent`);
  placeDirent(entry, ctx, moved);
}

/** Where a Dirent's entryname puts it; relative names may not climb out of the outdir. */
function direntTarget(name: string, ctx: ToolContext): string {
  if (isAbsolute(name)) {
    if (name.startsWith(`${ctx.outdir}/`)) return name;
    // CWL allows absolute entrynames only with DockerRequirement as a requirement (a
    // container's file system); we run without one.
    const container = ctx.process.requirements.some((r) => r.class === "DockerRequirement");
    if (!container) throw new ToolFailed(`InitialWorkDirRequirement: entryname ${name} is absolute; that needs DockerRequirement under requirements`);
    throw new UnsupportedFeature(`InitialWorkDirRequirement: entryname ${name} outside the output directory needs a container`);
  }
  if (relative(ctx.outdir, join(ctx.outdir, name)).startsWith("..")) {
    throw new ToolFailed(`InitialWorkDirRequirement: entryname ${name} points outside the output directory`);
  }
  return join(ctx.outdir, name);
}

function placeDirent(entry: Record<string, unknown>, ctx: ToolContext, moved: Map<string, string>): void {
  const name = entry.entryname === undefined ? undefined : String(evaluate(entry.entryname, exprCtx(ctx, null), ctx.evaluator));
  // Dirent contents keep their surrounding whitespace (a trailing newline is content).
  const value = evaluate(entry.entry, exprCtx(ctx, null), ctx.evaluator, false);
  if (value === null || value === undefined) return;
  const target = name === undefined ? undefined : direntTarget(name, ctx);
  const placement = { writable: entry.writable === true, moved };
  if (isFsObject(value)) placeFsObject(value, target, ctx, placement);
  else if (Array.isArray(value) && value.every(isFsObject) && target === undefined) for (const v of value) placeFsObject(v, undefined, ctx, placement);
  else writeDirentText(value, target);
}

/** Text contents: strings as they are, anything else as JSON. */
function writeDirentText(value: unknown, target: string | undefined): void {
  if (target === undefined) throw new ToolFailed("InitialWorkDirRequirement: a Dirent with text contents needs an entryname");
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, typeof value === "string" ? value : toSpacedJson(value));
}

interface Placement { writable: boolean; moved: Map<string, string> }

function placeFsObject(entry: FsObject, target: string | undefined, ctx: ToolContext, placement: Placement): void {
  const o = typeof entry.basename === "string" && typeof entry.path === "string" ? entry : completeFsObject(entry, ctx.process.baseDir, ctx.tmpdir);
  const destination = target ?? join(ctx.outdir, String(o.basename));
  const source = String(o.path);
  // With InplaceUpdateRequirement a writable entry is the original itself (a link), so the
  // tool's changes are seen downstream; otherwise entries are copies, since without a
  // container a link would let the tool write through to the original.
  const inplace = findRequirement(ctx.process, "InplaceUpdateRequirement")?.inplaceUpdate === true;
  if (placement.writable && inplace) stageLink(source, destination);
  else copyInto(source, destination);
  placement.moved.set(source, destination);
  // A File's secondary files are placed beside it.
  for (const secondary of (Array.isArray(o.secondaryFiles) ? o.secondaryFiles : []).filter(isFsObject)) {
    if (typeof secondary.path === "string") copyInto(secondary.path, join(dirname(destination), String(secondary.basename)));
  }
}

// ---------------------------------------------------------------- execution

function exprCtx(ctx: ToolContext, self: unknown): { inputs: Record<string, unknown>; self: unknown; runtime: Record<string, unknown> } {
  return { inputs: ctx.inputs, self, runtime: ctx.runtime };
}

function environment(ctx: ToolContext): Record<string, string> {
  const env: Record<string, string> = {
    HOME: ctx.outdir,
    TMPDIR: ctx.tmpdir,
    PATH: process.env.PATH ?? "/usr/bin:/bin",
  };
  const requirement = findRequirement(ctx.process, "EnvVarRequirement");
  const defs = requirement?.envDef;
  const list = Array.isArray(defs) ? defs : isObj(defs) ? Object.entries(defs).map(([envName, envValue]) => ({ envName, envValue })) : [];
  for (const def of list as { envName: string; envValue: unknown }[]) {
    env[def.envName] = String(evaluate(def.envValue, exprCtx(ctx, null), ctx.evaluator));
  }
  return env;
}

function streamName(ctx: ToolContext, field: "stdin" | "stdout" | "stderr"): string | undefined {
  const declared = ctx.process[field];
  const implied = field !== "stdin" && ctx.process.outputs.some((o) => o.type === field);
  const value = declared ?? (implied ? `${field}-${randomName()}` : undefined);
  if (value === undefined) return undefined;
  const evaluated = evaluate(value, exprCtx(ctx, null), ctx.evaluator);
  if (typeof evaluated !== "string" || evaluated === "") throw new ToolFailed(`${field} must evaluate to a file name, got ${JSON.stringify(evaluated)}`);
  if (field === "stdin") return evaluated;
  if (evaluated.includes("/") || evaluated === "..") throw new ToolFailed(`${field} ${evaluated} must be a plain file name in the output directory`);
  ctx.process = { ...ctx.process, [field]: evaluated };
  return evaluated;
}

function randomName(): string {
  return Math.random().toString(16).slice(2, 10);
}

function timeLimitMs(ctx: ToolContext): number | undefined {
  const requirement = findRequirement(ctx.process, "ToolTimeLimit");
  if (requirement === undefined) return undefined;
  const seconds = evaluate(requirement.timelimit, exprCtx(ctx, null), ctx.evaluator);
  if (typeof seconds !== "number" || seconds < 0) throw new ToolFailed("ToolTimeLimit.timelimit must be a non-negative number of seconds");
  return seconds === 0 ? undefined : seconds * 1000;
}

function commandArgv(ctx: ToolContext): string[] {
  const args = buildCommandLine(ctx as BuildContext);
  // ShellCommandRequirement counts only as a requirement, not as a hint.
  const shell = ctx.process.requirements.some((r) => r.class === "ShellCommandRequirement");
  const argv = shell ? ["/bin/sh", "-c", args.map((a) => (a.quote ? shellQuote(a.value) : a.value)).join(" ")] : args.map((a) => a.value);
  if (argv.length === 0) throw new ToolFailed("the command line is empty: set baseCommand or arguments");
  return argv;
}

/**
 * stdin, stdout, stderr of the tool: files when the tool names them, else our stderr. An
 * undeclared stderr goes through a scratch file, copied to ours afterwards, so that a failure can
 * quote the tool's last words (what a user reads in the Workflow's status).
 */
function openStreams(ctx: ToolContext): { stdio: [number | "ignore", number, number]; stderrCopy?: string } {
  const stdinName = streamName(ctx, "stdin");
  const stdoutName = streamName(ctx, "stdout");
  const stderrName = streamName(ctx, "stderr");
  const stdout = stdoutName === undefined ? process.stderr.fd : openSync(join(ctx.outdir, stdoutName), "w");
  const stderrCopy = stderrName === undefined ? join(mkdtempSync(join(tmpdir(), "archipel-stderr-")), "stderr") : undefined;
  const stderr = openSync(stderrCopy ?? join(ctx.outdir, stderrName ?? ""), "w");
  return { stdio: [stdinName === undefined ? "ignore" : openSync(stdinName, "r"), stdout, stderr], ...(stderrCopy ? { stderrCopy } : {}) };
}

/** Copies the tool's stderr to ours and returns its last line(s), at most `max` characters. */
function releaseStderr(file: string, max = 1000): string {
  const text = readFileSync(file, "utf8");
  process.stderr.write(text);
  rmSync(dirname(file), { recursive: true, force: true });
  return text.trimEnd().slice(-max).trim();
}

function execute(ctx: ToolContext): number {
  const [command = "", ...args] = commandArgv(ctx);
  const { stdio, stderrCopy } = openStreams(ctx);
  const timeout = timeLimitMs(ctx);
  const result = spawnSync(command, args, { cwd: ctx.outdir, env: environment(ctx), stdio, ...(timeout ? { timeout, killSignal: "SIGKILL" } : {}) });
  for (const fd of stdio) if (typeof fd === "number" && fd > 2) closeSync(fd);
  const lastWords = stderrCopy ? releaseStderr(stderrCopy) : "";
  if (result.error !== undefined) {
    if ((result.error as NodeJS.ErrnoException).code === "ETIMEDOUT") throw new ToolFailed(`the tool exceeded its ToolTimeLimit of ${String(timeout)} ms`);
    throw new ToolFailed(`cannot run ${command}: ${result.error.message}`);
  }
  const code = result.status ?? 128;
  checkExitCode(ctx.process, code, lastWords);
  return code;
}

function checkExitCode(process: Process, code: number, lastWords: string): void {
  if (process.successCodes.includes(code)) return;
  const said = lastWords === "" ? "" : `: ${lastWords}`;
  if (process.temporaryFailCodes.includes(code)) throw new ToolFailed(`the tool exited with ${code}, a temporaryFailCode${said}`);
  if (process.permanentFailCodes.includes(code)) throw new ToolFailed(`the tool exited with ${code}, a permanentFailCode${said}`);
  if (code !== 0) throw new ToolFailed(`the tool exited with code ${code}${said}`);
}

// ---------------------------------------------------------------- outputs

function collectOutputs(ctx: ToolContext, exitCode: number): Record<string, unknown> {
  ctx.runtime = { ...ctx.runtime, exitCode };
  const customPath = join(ctx.outdir, "cwl.output.json");
  if (existsSync(customPath)) {
    const custom = JSON.parse(readFileSync(customPath, "utf8")) as Record<string, unknown>;
    const outputs: Record<string, unknown> = {};
    for (const output of ctx.process.outputs) {
      outputs[output.id] = mapFsObjects(custom[output.id] ?? null, (o) => completeFsObject(o, ctx.outdir, ctx.tmpdir));
    }
    return outputs;
  }
  const outputs: Record<string, unknown> = {};
  for (const output of ctx.process.outputs) {
    const value = collectOutput(output, output.type, ctx);
    checkOutput(output, value);
    outputs[output.id] = value;
  }
  return outputs;
}

function checkOutput(output: Parameter, value: unknown): void {
  if (value === null && output.type === "Any") return;
  if (!matchesType(output.type, value)) throw new ToolFailed(`output ${output.id}: ${JSON.stringify(value)?.slice(0, 200)} does not match its declared type`);
}

function streamOutputGlob(output: Parameter, ctx: ToolContext): string | undefined {
  if (output.type === "stdout") return ctx.process.stdout;
  if (output.type === "stderr") return ctx.process.stderr;
  return undefined;
}

function collectRecord(type: RecordType, ctx: ToolContext): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const field of type.fields) record[field.id] = collectOutput(field, field.type, ctx);
  return record;
}

/** The files an output's glob (or stdout/stderr) names, with listing and contents. */
function boundFiles(output: Parameter, ctx: ToolContext): FsObject[] {
  const binding = output.outputBinding ?? {};
  const files = globFiles(streamOutputGlob(output, ctx) ?? binding.glob, ctx);
  const declared = output.loadListing ?? binding.loadListing ?? loadListingOf(ctx.process, output);
  // Output directories are listed in full unless the document asks for less.
  const listing = declared === "no_listing" ? "deep_listing" : declared;
  const contents = binding.loadContents === true || output.loadContents === true;
  return files.map((f) => withListing(f, listing)).map((f) => (contents ? loadContents(f) : f));
}

function isBound(output: Parameter, ctx: ToolContext): boolean {
  const binding = output.outputBinding ?? {};
  return binding.glob !== undefined || binding.outputEval !== undefined || streamOutputGlob(output, ctx) !== undefined;
}

function collectOutput(output: Parameter, type: CwlType, ctx: ToolContext): unknown {
  if (typeof type === "object" && !Array.isArray(type) && type.type === "record" && output.outputBinding === undefined) return collectRecord(type, ctx);
  if (!isBound(output, ctx)) return null;
  const outputEval = output.outputBinding?.outputEval;
  const files = boundFiles(output, ctx);
  const evaluated = outputEval === undefined ? singleIfWanted(type, files) : evaluate(outputEval, exprCtx(ctx, files), ctx.evaluator);
  let value = mapFsObjects(evaluated, (o) => completeFsObject(o, ctx.outdir, ctx.tmpdir));
  if (output.secondaryFiles !== undefined) value = withSecondaryFiles(value, output.secondaryFiles, { inputs: ctx.inputs, evaluator: ctx.evaluator, required: false, process: ctx.process, discover: true });
  return output.format === undefined ? value : withFormat(value, output.format, ctx);
}

const singleTypes = new Set(["File", "Directory", "stdout", "stderr"]);

/** A glob yields a list; a File (not array) output takes its only match. */
function singleIfWanted(type: CwlType, files: FsObject[]): unknown {
  const types = Array.isArray(type) ? type : [type];
  const wantsArray = types.some((t) => (typeof t === "object" && !Array.isArray(t) && t.type === "array") || t === "Any");
  const wantsSingle = types.some((t) => typeof t === "string" && singleTypes.has(t));
  if (!wantsSingle) return wantsArray || files.length > 0 ? files : null;
  if (wantsArray && files.length !== 1) return files;
  if (files.length > 1) throw new ToolFailed(`a glob for a single File matched ${files.length} files`);
  return files[0] ?? null;
}

function withFormat(value: unknown, format: string | string[], ctx: ToolContext): unknown {
  return mapFsObjects(value, (o) => {
    if (o.class !== "File") return o;
    const evaluated = evaluate(format, exprCtx(ctx, o), ctx.evaluator);
    return { ...o, format: expandFormat(evaluated, ctx.process.namespaces ?? {}) };
  });
}

function globFiles(pattern: unknown, ctx: ToolContext): FsObject[] {
  const evaluated = typeof pattern === "string" ? evaluate(pattern, exprCtx(ctx, null), ctx.evaluator) : pattern;
  const patterns = [evaluated].flat().filter((p): p is string => typeof p === "string");
  const found: FsObject[] = [];
  for (const p of patterns) {
    const relativePattern = p.startsWith(ctx.outdir) ? p.slice(ctx.outdir.length).replace(/^\/+/, "") || "." : p;
    const matches = relativePattern === "." ? ["."] : globSync(relativePattern, { cwd: ctx.outdir }).sort();
    for (const m of matches) {
      const path = join(ctx.outdir, m);
      checkInsideOutputs(path, ctx);
      const isDir = statSync(path).isDirectory();
      found.push(completeFsObject({ class: isDir ? "Directory" : "File", path }, ctx.outdir, ctx.tmpdir));
    }
  }
  return found;
}

/**
 * An output may be a link only to something in the output directory or to an input: a
 * link elsewhere would hand the host's files (or, in a pod, nothing) to the next step.
 */
function checkInsideOutputs(path: string, ctx: ToolContext): void {
  const real = realpathSync(path);
  const allowed = [realpathSync(ctx.outdir), ...inputPaths(ctx.inputs)];
  if (!allowed.some((root) => real === root || real.startsWith(`${root}/`))) {
    throw new ToolFailed(`output ${path} is a link to ${real}, outside the output directory`);
  }
}

function inputPaths(inputs: Record<string, unknown>): string[] {
  const paths: string[] = [];
  mapFsObjects(inputs, (o) => {
    if (typeof o.path === "string" && existsSync(o.path)) paths.push(realpathSync(o.path));
    return o;
  });
  return paths;
}

export function writeJob(path: string, job: unknown): void {
  writeFileSync(path, JSON.stringify(job));
}

export type { Requirement };
