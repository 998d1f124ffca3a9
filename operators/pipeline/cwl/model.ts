// The normalised CWL model the translator works on: every shorthand of the CWL syntax
// (map forms, `type?`, `type[]`, string secondaryFiles, `#fragment` ids) is expanded once
// by the loader, so the rest of the code sees one shape.

export type CwlType = string | CwlType[] | ArrayType | RecordType | EnumType;

export interface ArrayType { type: "array"; items: CwlType; inputBinding?: Binding; name?: string }
export interface RecordType { type: "record"; fields: Parameter[]; name?: string; inputBinding?: Binding }
export interface EnumType { type: "enum"; symbols: string[]; name?: string; inputBinding?: Binding }

export interface Binding {
  position?: number | string;
  prefix?: string;
  separate?: boolean;
  itemSeparator?: string;
  valueFrom?: string;
  shellQuote?: boolean;
  loadContents?: boolean;
}

export interface OutputBinding {
  glob?: string | string[];
  loadContents?: boolean;
  outputEval?: string;
  loadListing?: string;
}

export interface SecondaryFileSpec { pattern: string; required?: boolean | string }

export interface Parameter {
  id: string;
  type: CwlType;
  inputBinding?: Binding;
  outputBinding?: OutputBinding;
  default?: unknown;
  secondaryFiles?: SecondaryFileSpec[];
  format?: string | string[];
  loadContents?: boolean;
  loadListing?: string;
  streamable?: boolean;
  outputSource?: string[];
  linkMerge?: string;
  pickValue?: string;
}

export type Requirement = Record<string, unknown> & { class: string };

export interface StepInput {
  id: string;
  source: string[];
  /** true when `source` was written as a list (a single-item list still yields a list) */
  sourceIsList: boolean;
  default?: unknown;
  valueFrom?: string;
  linkMerge?: string;
  pickValue?: string;
  loadContents?: boolean;
}

export interface Step {
  id: string;
  in: StepInput[];
  out: string[];
  run: Process;
  scatter: string[];
  scatterMethod?: string;
  when?: string;
  requirements: Requirement[];
  hints: Requirement[];
}

export interface Process {
  class: "CommandLineTool" | "ExpressionTool" | "Workflow" | "Operation";
  id: string;
  cwlVersion: string;
  /** absolute directory the document's relative references are resolved against */
  baseDir: string;
  inputs: Parameter[];
  outputs: Parameter[];
  requirements: Requirement[];
  hints: Requirement[];
  baseCommand: string[];
  arguments: (string | (Binding & { valueFrom?: string }))[];
  stdin?: string;
  stdout?: string;
  stderr?: string;
  successCodes: number[];
  temporaryFailCodes: number[];
  permanentFailCodes: number[];
  expression?: string;
  steps: Step[];
  /** `$namespaces` of the document, for format IRIs */
  namespaces?: Record<string, string>;
  /** true when the document names ontologies (`$schemas`): formats are then not compared literally */
  ontologies?: boolean;
}

export function findRequirement(process: { requirements: Requirement[]; hints: Requirement[] }, name: string): Requirement | undefined {
  return process.requirements.find((r) => r.class === name) ?? process.hints.find((r) => r.class === name);
}

/** Requirements flow from workflow to step to process; the innermost of a class wins. */
export function layer(outer: Requirement[], inner: Requirement[]): Requirement[] {
  return [...outer.filter((o) => !inner.some((i) => i.class === o.class)), ...inner];
}

export function inherit(process: Process, requirements: Requirement[], hints: Requirement[]): Process {
  const mergedRequirements = layer(requirements, process.requirements);
  const mergedHints = layer(hints, process.hints).filter((h) => !mergedRequirements.some((r) => r.class === h.class));
  return { ...process, requirements: mergedRequirements, hints: mergedHints };
}
