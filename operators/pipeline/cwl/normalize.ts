// Pure normalisation of a parsed CWL document (plain YAML data) into the model of model.ts.
import type { Binding, CwlType, Parameter, Process, Requirement, SecondaryFileSpec, Step, StepInput } from "./model.ts";

export class InvalidDocument extends Error {}

type Obj = Record<string, unknown>;

export interface NormalizeContext {
  baseDir: string;
  cwlVersion: string;
  namespaces: Record<string, string>;
  ontologies?: boolean;
  /** named types from SchemaDefRequirement, by short name */
  types: Map<string, CwlType>;
  /** resolves a `run:` string to a raw document and its base directory */
  resolveRun: (reference: string, baseDir: string) => { raw: Obj; baseDir: string; namespaces: Record<string, string> };
}

const processClasses = new Set(["CommandLineTool", "ExpressionTool", "Workflow", "Operation"]);
const primitive = new Set(["null", "boolean", "int", "long", "float", "double", "string", "File", "Directory", "Any", "stdout", "stderr"]);

export function isObj(value: unknown): value is Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The last segment of a CWL identifier: `#main/step/out` → `out`. */
export function shortName(id: string): string {
  const noFragment = id.includes("#") ? id.slice(id.lastIndexOf("#") + 1) : id;
  return noFragment.slice(noFragment.lastIndexOf("/") + 1);
}

export function normalizeProcess(raw: Obj, context: NormalizeContext): Process {
  const cls = raw.class;
  if (typeof cls !== "string" || !processClasses.has(cls)) {
    throw new InvalidDocument(`class: ${JSON.stringify(cls)} is not a CWL process class (CommandLineTool, ExpressionTool, Workflow, Operation)`);
  }
  const cwlVersion = typeof raw.cwlVersion === "string" ? raw.cwlVersion : context.cwlVersion;
  // File and Directory literals in requirements (InitialWorkDir) are relative to the document.
  const requirements = resolveLocations(normalizeRequirements(raw.requirements, "requirements"), context.baseDir) as Requirement[];
  const hints = resolveLocations(normalizeRequirements(raw.hints, "hints"), context.baseDir) as Requirement[];
  const ctx: NormalizeContext = { ...context, cwlVersion, types: new Map(context.types) };
  registerSchemaDefs([...hints, ...requirements], ctx);
  const process: Process = {
    class: cls as Process["class"],
    id: typeof raw.id === "string" ? shortName(raw.id) : "",
    cwlVersion,
    baseDir: context.baseDir,
    inputs: normalizeParameters(raw.inputs, "inputs", ctx),
    outputs: normalizeParameters(raw.outputs, "outputs", ctx),
    requirements,
    hints,
    baseCommand: toStringList(raw.baseCommand, "baseCommand"),
    arguments: normalizeArguments(raw.arguments),
    successCodes: numberList(raw.successCodes),
    temporaryFailCodes: numberList(raw.temporaryFailCodes),
    permanentFailCodes: numberList(raw.permanentFailCodes),
    steps: [],
    namespaces: ctx.namespaces,
    ontologies: ctx.ontologies === true,
  };
  assignStreams(process, raw);
  if (cls === "ExpressionTool") process.expression = requireString(raw.expression, "expression");
  if (cls === "Workflow") process.steps = normalizeSteps(raw.steps, ctx);
  return process;
}

function assignStreams(process: Process, raw: Obj): void {
  for (const key of ["stdin", "stdout", "stderr"] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    process[key] = requireString(value, key);
  }
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== "string") throw new InvalidDocument(`${field} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function numberList(value: unknown): number[] {
  return Array.isArray(value) ? value.map(Number) : [];
}

function toStringList(value: unknown, field: string): string[] {
  if (value === undefined) return [];
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
  throw new InvalidDocument(`${field} must be a string or a list of strings`);
}

function normalizeArguments(value: unknown): Process["arguments"] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InvalidDocument("arguments must be a list");
  return value.map((a) => {
    if (typeof a === "string") return a;
    if (isObj(a)) return a as Binding;
    return String(a);
  });
}

/** Map form `{Name: {...}}` or list form `[{class: Name, ...}]` → list. */
export function normalizeRequirements(value: unknown, field: string): Requirement[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value)
    ? value
    : isObj(value)
      ? Object.entries(value).map(([cls, body]) => ({ ...(isObj(body) ? body : {}), class: cls }))
      : undefined;
  if (list === undefined) throw new InvalidDocument(`${field} must be a list or a map of requirements`);
  return list.map((r: unknown) => {
    if (!isObj(r) || typeof r.class !== "string") throw new InvalidDocument(`every entry of ${field} needs a class`);
    return { ...r, class: shortName(r.class) } as Requirement;
  });
}

function registerSchemaDefs(requirements: Requirement[], ctx: NormalizeContext): void {
  for (const requirement of requirements) {
    if (requirement.class !== "SchemaDefRequirement" || !Array.isArray(requirement.types)) continue;
    // An $import of a file of several types inlines a list.
    requirement.types = requirement.types.flat();
    // Two passes so that types may refer to each other regardless of order.
    for (const t of requirement.types as unknown[]) if (isObj(t) && typeof t.name === "string") ctx.types.set(shortName(t.name), t as unknown as CwlType);
    for (const t of requirement.types as unknown[]) {
      if (isObj(t) && typeof t.name === "string") ctx.types.set(shortName(t.name), normalizeType(t, ctx, new Set([shortName(t.name)])));
    }
  }
}

/** Map form `{name: type | {...}}` or list form → list of parameters. */
export function normalizeParameters(value: unknown, field: string, ctx: NormalizeContext): Parameter[] {
  if (value === undefined || value === null) return [];
  let entries: Obj[];
  if (Array.isArray(value)) {
    entries = value.map((p) => (isObj(p) ? p : { id: String(p), type: "Any" }));
  } else if (isObj(value)) {
    entries = Object.entries(value).map(([id, body]) => (isObj(body) ? { ...body, id } : { id, type: body }));
  } else {
    throw new InvalidDocument(`${field} must be a list or a map`);
  }
  const seen = new Set<string>();
  return entries.map((p) => {
    const parameter = normalizeParameter(p, field, ctx);
    if (seen.has(parameter.id)) throw new InvalidDocument(`${field}: duplicate id ${JSON.stringify(parameter.id)}`);
    seen.add(parameter.id);
    return parameter;
  });
}

function normalizeParameter(p: Obj, field: string, ctx: NormalizeContext): Parameter {
  const rawId = p.id ?? p.name;
  if (typeof rawId !== "string") throw new InvalidDocument(`${field}: every parameter needs an id`);
  const parameter: Parameter = { ...(p as Partial<Parameter>), id: shortName(rawId), type: normalizeType(p.type ?? "Any", ctx, new Set()) };
  if (p.secondaryFiles !== undefined) parameter.secondaryFiles = normalizeSecondaryFiles(p.secondaryFiles);
  if (p.format !== undefined) parameter.format = expandFormat(p.format, ctx.namespaces) as string | string[];
  if (p.outputSource !== undefined) parameter.outputSource = toStringList(p.outputSource, `${field}.outputSource`);
  if (p.default !== undefined) parameter.default = resolveLocations(p.default, ctx.baseDir);
  return parameter;
}

export function expandFormat(format: unknown, namespaces: Record<string, string>): unknown {
  if (Array.isArray(format)) return format.map((f) => expandFormat(f, namespaces));
  if (typeof format !== "string" || format.includes("$(") || format.includes("${")) return format;
  const colon = format.indexOf(":");
  if (colon < 0) return format;
  const prefix = format.slice(0, colon);
  const namespace = namespaces[prefix];
  return namespace === undefined ? format : namespace + format.slice(colon + 1);
}

export function normalizeSecondaryFiles(value: unknown): SecondaryFileSpec[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((entry) => {
    if (typeof entry === "string") {
      return entry.endsWith("?") ? { pattern: entry.slice(0, -1), required: false } : { pattern: entry };
    }
    if (isObj(entry) && typeof entry.pattern === "string") return entry as unknown as SecondaryFileSpec;
    throw new InvalidDocument(`secondaryFiles entries must be strings or {pattern, required}, got ${JSON.stringify(entry)}`);
  });
}

/** Expands `T?`, `T[]`, named-type references and nested schemas. */
export function normalizeType(type: unknown, ctx: NormalizeContext, expanding: Set<string>): CwlType {
  if (Array.isArray(type)) return type.map((t) => normalizeType(t, ctx, expanding));
  if (typeof type === "string") return normalizeTypeName(type, ctx, expanding);
  if (!isObj(type)) throw new InvalidDocument(`invalid type ${JSON.stringify(type)}`);
  return normalizeTypeObject(type, ctx, expanding);
}

function normalizeTypeName(type: string, ctx: NormalizeContext, expanding: Set<string>): CwlType {
  if (type.endsWith("?")) return ["null", normalizeTypeName(type.slice(0, -1), ctx, expanding)];
  if (type.endsWith("[]")) return { type: "array", items: normalizeTypeName(type.slice(0, -2), ctx, expanding) };
  const name = shortName(type);
  if (primitive.has(name)) return name;
  const named = ctx.types.get(name);
  if (named === undefined) throw new InvalidDocument(`unknown type ${JSON.stringify(type)}: declare it in SchemaDefRequirement`);
  if (expanding.has(name)) return named;
  return normalizeType(named, ctx, new Set([...expanding, name]));
}

function normalizeTypeObject(type: Obj, ctx: NormalizeContext, expanding: Set<string>): CwlType {
  const name = typeof type.name === "string" ? shortName(type.name) : undefined;
  const base = { ...(name === undefined ? {} : { name }), ...(isObj(type.inputBinding) ? { inputBinding: type.inputBinding as Binding } : {}) };
  const label = name ?? "";
  switch (type.type) {
    case "array":
      return { ...base, type: "array", items: normalizeType(type.items, ctx, expanding) };
    case "enum":
      return { ...base, type: "enum", symbols: enumSymbols(type.symbols, label) };
    case "record":
      return { ...base, type: "record", fields: normalizeParameters(type.fields ?? [], `record ${label} fields`, ctx) };
    default:
      return normalizeType(nestedType(type), ctx, expanding);
  }
}

function enumSymbols(symbols: unknown, label: string): string[] {
  if (!Array.isArray(symbols)) throw new InvalidDocument(`enum ${label} needs symbols`);
  return symbols.map((s) => shortName(String(s)));
}

/** `{type: T}` wrapping another type. */
function nestedType(type: Obj): unknown {
  if (typeof type.type === "string" || Array.isArray(type.type)) return type.type;
  throw new InvalidDocument(`invalid type ${JSON.stringify(type)}`);
}

/** Makes `location`/`path` of File and Directory literals absolute against the document. */
export function resolveLocations(value: unknown, baseDir: string): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveLocations(v, baseDir));
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) out[k] = resolveLocations(v, baseDir);
  if (value.class === "File" || value.class === "Directory") {
    for (const key of ["location", "path"]) {
      const loc = out[key];
      if (typeof loc === "string" && !/^[a-z][a-z0-9+.-]*:/i.test(loc) && !loc.startsWith("/")) out[key] = `${baseDir}/${loc}`;
    }
  }
  return out;
}

function normalizeSteps(value: unknown, ctx: NormalizeContext): Step[] {
  const entries = Array.isArray(value)
    ? (value as Obj[])
    : isObj(value)
      ? Object.entries(value).map(([id, body]) => ({ ...(body as Obj), id }))
      : undefined;
  if (entries === undefined) throw new InvalidDocument("a Workflow needs steps (a list or a map)");
  return entries.map((s) => normalizeStep(s, ctx));
}

function normalizeStep(s: Obj, ctx: NormalizeContext): Step {
  if (typeof s.id !== "string") throw new InvalidDocument("every workflow step needs an id");
  const id = shortName(s.id);
  const requirements = normalizeRequirements(s.requirements, `step ${id} requirements`);
  const hints = normalizeRequirements(s.hints, `step ${id} hints`);
  return {
    id,
    in: normalizeStepInputs(s.in, id, ctx),
    out: normalizeStepOutputs(s.out, id),
    run: normalizeRun(s.run, id, ctx),
    scatter: s.scatter === undefined ? [] : toStringList(s.scatter, `step ${id} scatter`).map(shortName),
    ...(typeof s.scatterMethod === "string" ? { scatterMethod: s.scatterMethod } : {}),
    ...(typeof s.when === "string" ? { when: s.when } : {}),
    requirements,
    hints,
  };
}

function normalizeRun(run: unknown, stepId: string, ctx: NormalizeContext): Process {
  if (typeof run === "string") {
    const resolved = ctx.resolveRun(run, ctx.baseDir);
    return normalizeProcess(resolved.raw, { ...ctx, baseDir: resolved.baseDir, namespaces: { ...ctx.namespaces, ...resolved.namespaces } });
  }
  if (isObj(run)) return normalizeProcess(run, ctx);
  throw new InvalidDocument(`step ${stepId}: run must be a document reference or an inline process`);
}

function normalizeStepInputs(value: unknown, stepId: string, ctx: NormalizeContext): StepInput[] {
  if (value === undefined) return [];
  const entries: Obj[] = Array.isArray(value)
    ? value.map((e) => (isObj(e) ? e : { id: String(e) }))
    : isObj(value)
      ? Object.entries(value).map(([id, body]) => (isObj(body) ? { ...body, id } : { id, source: body }))
      : [];
  return entries.map((e) => {
    if (typeof e.id !== "string") throw new InvalidDocument(`step ${stepId}: every input needs an id`);
    const source = e.source === undefined ? [] : toStringList(e.source, `step ${stepId} in.source`);
    const input: StepInput = { ...(e as Partial<StepInput>), id: shortName(e.id), source, sourceIsList: Array.isArray(e.source) };
    if (e.default !== undefined) input.default = resolveLocations(e.default, ctx.baseDir);
    return input;
  });
}

function normalizeStepOutputs(value: unknown, stepId: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InvalidDocument(`step ${stepId}: out must be a list`);
  return value.map((o) => {
    if (typeof o === "string") return shortName(o);
    if (isObj(o) && typeof o.id === "string") return shortName(o.id);
    throw new InvalidDocument(`step ${stepId}: every out entry needs an id`);
  });
}
