// The CWL command line: bindings from `arguments` and inputs (with nested record and array
// bindings), sorted by their sort keys, rendered by the CommandLineBinding rules
// (CommandLineTool.yml, "Input binding" and "Runtime environment").
import { evaluate, type Evaluator, type ExpressionContext } from "./expression.ts";
import type { ArrayType, Binding, CwlType, Parameter, Process } from "./model.ts";
import { isObj } from "./normalize.ts";
import { formatNumber, toJson } from "./json.ts";
import { matchesType } from "./values.ts";

type Key = (number | string)[];

interface Bound extends Binding {
  key: Key;
  datum: unknown;
  hasDatum: boolean;
}

export interface CommandArg { value: string; quote: boolean }

interface Schema { type: CwlType; inputBinding?: Binding | undefined }

export interface BuildContext {
  process: Process;
  inputs: Record<string, unknown>;
  runtime: Record<string, unknown>;
  evaluator: Evaluator;
}

function exprContext(ctx: BuildContext, self: unknown): ExpressionContext {
  return { inputs: ctx.inputs, self, runtime: ctx.runtime };
}

/** Python 2 ordering, as the reference runner sorts: numbers before strings. */
export function compareKeys(a: Key, b: Key): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number | string;
    const y = b[i] as number | string;
    if (x === y) continue;
    if (typeof x !== typeof y) return typeof x === "number" ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function positionOf(binding: Binding, datum: unknown, ctx: BuildContext): Key {
  const position = binding.position;
  if (position === undefined) return [0];
  if (typeof position === "number") return [position];
  const value = evaluate(position, exprContext(ctx, datum), ctx.evaluator);
  return [Number(value ?? 0)];
}

function bindArguments(ctx: BuildContext): Bound[] {
  return ctx.process.arguments.map((argument, index) => {
    if (typeof argument === "string") {
      return argument.includes("$(") || argument.includes("${")
        ? { key: [0, index], valueFrom: argument, datum: null, hasDatum: false }
        : { key: [0, index], datum: argument, hasDatum: true };
    }
    return { ...argument, key: [...positionOf(argument, null, ctx), index], datum: null, hasDatum: false };
  });
}

interface Place { lead: Key; tail: Key }

function bindInput(schema: Schema, datum: unknown, place: Place, ctx: BuildContext): Bound[] {
  let binding: Bound | undefined;
  if (isObj(schema.inputBinding)) {
    const key = [...place.lead, ...positionOf(schema.inputBinding, datum, ctx), ...place.tail];
    binding = { ...schema.inputBinding, key, datum, hasDatum: true };
  }
  const nested = bindNested(schema, datum, binding, ctx);
  if (binding === undefined) return nested;
  const parent = binding;
  for (const b of nested) b.key = [...parent.key, ...b.key];
  return [...nested, parent];
}

/** Bindings inside a value: the branch of a union, the fields of a record, array items. */
function bindNested(schema: Schema, datum: unknown, binding: Bound | undefined, ctx: BuildContext): Bound[] {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => matchesType(t, datum)) : schema.type;
  // A valueFrom replaces the value: what is inside it is not bound.
  if (typeof type !== "object" || Array.isArray(type) || binding?.valueFrom !== undefined) return [];
  if (type.type === "record" && isObj(datum)) return bindFields(type.fields, datum, ctx);
  if (type.type === "array" && Array.isArray(datum)) return bindArrayItems(type, binding, datum, ctx);
  return [];
}

function bindFields(fields: Parameter[], datum: Record<string, unknown>, ctx: BuildContext): Bound[] {
  return fields.flatMap((field) =>
    datum[field.id] === undefined || datum[field.id] === null ? [] : bindInput(field, datum[field.id], { lead: [], tail: [field.id] }, ctx),
  );
}

function bindArrayItems(type: ArrayType, binding: Bound | undefined, datum: unknown[], ctx: BuildContext): Bound[] {
  // An array bound with a prefix but no itemSeparator puts each item after the prefix.
  const itemBinding = type.inputBinding ?? (binding !== undefined && binding.itemSeparator === undefined ? {} : undefined);
  return datum.flatMap((item, n) => bindInput({ type: type.items, inputBinding: itemBinding }, item, { lead: [n], tail: [] }, ctx));
}

function toText(value: unknown): string {
  if (isObj(value) && (value.class === "File" || value.class === "Directory")) return String(value.path ?? value.location);
  if (typeof value === "string") return value;
  if (typeof value === "number") return formatNumber(value);
  return typeof value === "object" ? toJson(value, 0) : String(value);
}

function renderListValue(binding: Bound, value: unknown[]): string[] {
  if (binding.itemSeparator !== undefined && value.length > 0) return withPrefix(binding, [value.map(toText).join(binding.itemSeparator)]);
  if (binding.valueFrom !== undefined) return [...(binding.prefix ? [binding.prefix] : []), ...value.map(toText)];
  return binding.prefix !== undefined && value.length > 0 ? [binding.prefix] : [];
}

function withPrefix(binding: Bound, values: string[]): string[] {
  const prefix = binding.prefix;
  if (prefix === undefined) return values;
  return values.flatMap((v) => (binding.separate === false ? [prefix + v] : [prefix, v]));
}

function bindingValue(binding: Bound, ctx: BuildContext): unknown {
  const value = binding.hasDatum ? binding.datum : null;
  return binding.valueFrom === undefined ? value : evaluate(binding.valueFrom, exprContext(ctx, value), ctx.evaluator);
}

/** The strings one binding contributes, in order. */
export function renderBinding(binding: Bound, ctx: BuildContext): string[] {
  const value = bindingValue(binding, ctx);
  if (Array.isArray(value)) return renderListValue(binding, value);
  const isRecord = isObj(value) && value.class !== "File" && value.class !== "Directory";
  // A record or `true` contributes its prefix alone.
  if (isRecord || value === true) return binding.prefix ? [binding.prefix] : [];
  if (value === false || value === null || value === undefined) return [];
  return withPrefix(binding, [toText(value)]);
}

/** Builds the whole command line of a CommandLineTool for one job. */
export function buildCommandLine(ctx: BuildContext): CommandArg[] {
  const bindings = [...bindArguments(ctx)];
  for (const input of ctx.process.inputs) {
    // Inputs without a value take no part in the command line (not even their valueFrom).
    if (ctx.inputs[input.id] === null || ctx.inputs[input.id] === undefined) continue;
    bindings.push(...bindInput(input, ctx.inputs[input.id], { lead: [], tail: [input.id] }, ctx));
  }
  bindings.sort((a, b) => compareKeys(a.key, b.key));
  const args: CommandArg[] = ctx.process.baseCommand.map((value) => ({ value, quote: true }));
  for (const binding of bindings) {
    const quote = binding.shellQuote !== false;
    for (const value of renderBinding(binding, ctx)) args.push({ value, quote });
  }
  return args;
}

export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_\-./=:,+@%]+$/.test(value)) return value;
  return `'${value.replace(/'/g, "'\\''")}'`;
}
