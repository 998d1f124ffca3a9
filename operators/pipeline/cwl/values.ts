// Type checking of CWL values, and filling a job (input object) from defaults.
import type { CwlType, Parameter, Process } from "./model.ts";
import { isObj } from "./normalize.ts";

export class InvalidJob extends Error {}

const isInteger = (v: unknown): boolean => typeof v === "number" && Number.isInteger(v);
const isFsClass = (cls: string) => (v: unknown): boolean => isObj(v) && v.class === cls;

const namedTypeChecks: Record<string, (value: unknown) => boolean> = {
  null: (v) => v === null || v === undefined,
  Any: (v) => v !== null && v !== undefined,
  boolean: (v) => typeof v === "boolean",
  int: isInteger,
  long: isInteger,
  float: (v) => typeof v === "number",
  double: (v) => typeof v === "number",
  string: (v) => typeof v === "string",
  File: isFsClass("File"),
  stdout: isFsClass("File"),
  stderr: isFsClass("File"),
  Directory: isFsClass("Directory"),
};

function matchesName(type: string, value: unknown): boolean {
  return namedTypeChecks[type]?.(value) ?? false;
}

/** True when `value` is an instance of `type`. */
export function matchesType(type: CwlType, value: unknown): boolean {
  if (typeof type === "string") return matchesName(type, value);
  if (Array.isArray(type)) return type.some((t) => matchesType(t, value));
  switch (type.type) {
    case "array": return Array.isArray(value) && value.every((v) => matchesType(type.items, v));
    case "enum": return typeof value === "string" && type.symbols.includes(value);
    case "record": return isObj(value) && type.fields.every((f) => matchesType(f.type, value[f.id]));
  }
}

/** The branch of a union that `value` belongs to (the type itself when not a union). */
export function selectBranch(type: CwlType, value: unknown): CwlType | undefined {
  if (!Array.isArray(type)) return matchesType(type, value) ? type : undefined;
  return type.find((t) => matchesType(t, value));
}

export function isOptional(type: CwlType): boolean {
  return Array.isArray(type) ? type.some(isOptional) : type === "null";
}

/** Applies defaults, drops nothing, and checks every input against its declared type. */
export function fillJob(process: Process, job: Record<string, unknown>): Record<string, unknown> {
  const filled: Record<string, unknown> = { ...job };
  for (const input of process.inputs) {
    let value = filled[input.id];
    if ((value === undefined || value === null) && input.default !== undefined) value = structuredClone(input.default);
    if (value === undefined) value = null;
    filled[input.id] = value;
    checkInput(input, value);
  }
  return filled;
}

function checkInput(input: Parameter, value: unknown): void {
  if (matchesType(input.type, value)) return;
  if (value === null) throw new InvalidJob(`input ${input.id} is required (type ${describeType(input.type)}) but the job gives no value`);
  throw new InvalidJob(`input ${input.id}: ${JSON.stringify(value)} is not a ${describeType(input.type)}`);
}

export function describeType(type: CwlType): string {
  if (typeof type === "string") return type;
  if (Array.isArray(type)) return type.map(describeType).join(" | ");
  if (type.type === "array") return `${describeType(type.items)}[]`;
  return type.name ?? type.type;
}
