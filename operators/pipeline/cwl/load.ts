// Reads CWL documents from disk: YAML/JSON, $import/$include, $graph with #fragment
// selection, relative run: references. cwl-ts-auto checks the document against the CWL
// schema; normalize.ts turns the plain data into our model; validate.ts checks the rest.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parse as parseYaml } from "yaml";
import { CommandLineTool, ExpressionTool, Operation, Workflow } from "cwl-ts-auto";
import { LoadingOptions } from "cwl-ts-auto/dist/util/LoadingOptions.js";
import type { Process } from "./model.ts";
import { InvalidDocument, isObj, normalizeProcess, shortName, type NormalizeContext } from "./normalize.ts";
import { validateProcess } from "./validate.ts";

type Obj = Record<string, unknown>;

export function toPath(reference: string, baseDir: string): string {
  if (reference.startsWith("file://")) return fileURLToPath(reference);
  return resolve(baseDir, reference);
}

/** Parses a YAML/JSON file and inlines `$import` / `$include` directives. */
export function readDocument(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new InvalidDocument(`cannot read ${path}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new InvalidDocument(`${path} is not valid YAML: ${(error as Error).message}`);
  }
  return inlineDirectives(data, dirname(path));
}

function inlineDirectives(value: unknown, baseDir: string): unknown {
  if (Array.isArray(value)) return value.map((v) => inlineDirectives(v, baseDir));
  if (!isObj(value)) return value;
  if (typeof value.$import === "string") {
    const target = toPath(value.$import, baseDir);
    return readDocument(target);
  }
  if (typeof value.$include === "string") return readFileSync(toPath(value.$include, baseDir), "utf8");
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) out[k] = inlineDirectives(v, baseDir);
  return out;
}

interface LoadedDocument { raw: Obj; baseDir: string; namespaces: Record<string, string>; graph?: Obj[] }

const cache = new Map<string, unknown>();

function readCached(path: string): unknown {
  if (!cache.has(path)) cache.set(path, readDocument(path));
  return cache.get(path);
}

/** Drops a document from the per-path cache: a long-running caller that loads throw-away files must not keep them all. */
export function forgetDocument(reference: string): void {
  cache.delete(toPath(splitFragment(reference)[0], process.cwd()));
}

/** Picks one process of a document: the `#fragment`, else the only one, else `#main`. */
function selectProcess(path: string, fragment: string | undefined): LoadedDocument {
  const data = readCached(path);
  if (!isObj(data)) throw new InvalidDocument(`${path}: a CWL document must be a mapping`);
  const namespaces = isObj(data.$namespaces) ? (data.$namespaces as Record<string, string>) : {};
  const baseDir = dirname(path);
  if (!Array.isArray(data.$graph)) {
    if (fragment !== undefined && data.id !== undefined && shortName(String(data.id)) !== fragment) {
      throw new InvalidDocument(`${path} has no process #${fragment}`);
    }
    return { raw: data, baseDir, namespaces };
  }
  const processes = data.$graph as Obj[];
  const wanted = fragment ?? defaultGraphEntry(processes);
  const found = processes.find((p) => isObj(p) && shortName(String(p.id ?? "")) === wanted);
  if (found === undefined) throw new InvalidDocument(`${path}: $graph has no process #${wanted}; name one with TOOL.cwl#id`);
  return { raw: withVersion(found, data), baseDir, namespaces, graph: processes };
}

function defaultGraphEntry(processes: Obj[]): string {
  return processes.length === 1 ? shortName(String(processes[0]?.id ?? "main")) : "main";
}

function withVersion(process: Obj, document: Obj): Obj {
  return process.cwlVersion === undefined && document.cwlVersion !== undefined ? { ...process, cwlVersion: document.cwlVersion } : process;
}

function splitFragment(reference: string): [string, string | undefined] {
  const hash = reference.indexOf("#");
  return hash < 0 ? [reference, undefined] : [reference.slice(0, hash), reference.slice(hash + 1)];
}

/** Loads, schema-checks (cwl-ts-auto), normalises and validates the process at `reference`. */
export async function loadProcess(reference: string): Promise<Process> {
  const [file, fragment] = splitFragment(reference);
  const path = toPath(file, process.cwd());
  const top = selectProcess(path, fragment);
  await schemaCheck(path, top.raw);
  const graphFile = path;
  const context: NormalizeContext = {
    baseDir: top.baseDir,
    cwlVersion: typeof top.raw.cwlVersion === "string" ? top.raw.cwlVersion : "v1.2",
    namespaces: top.namespaces,
    ontologies: Array.isArray((readCached(path) as Obj).$schemas),
    types: new Map(),
    resolveRun: (run, baseDir) => {
      const [runFile, runFragment] = splitFragment(run);
      const target = runFile === "" ? graphFile : toPath(runFile, baseDir);
      const loaded = runFile === "" && top.graph ? selectFromGraph(top.graph, runFragment, top) : selectProcess(target, runFragment);
      return { raw: loaded.raw, baseDir: loaded.baseDir, namespaces: loaded.namespaces };
    },
  };
  const normalized = normalizeProcess(top.raw, context);
  validateProcess(normalized);
  return normalized;
}

function selectFromGraph(graph: Obj[], fragment: string | undefined, top: LoadedDocument): LoadedDocument {
  const found = graph.find((p) => shortName(String(p.id ?? "")) === fragment);
  if (found === undefined) throw new InvalidDocument(`run: #${fragment ?? ""} is not in this document's $graph`);
  return { raw: withVersion(found, top.raw), baseDir: top.baseDir, namespaces: top.namespaces };
}

const schemaClasses: Record<string, { fromDoc: (doc: unknown, baseuri: string, options: LoadingOptions) => Promise<unknown> }> = {
  CommandLineTool, ExpressionTool, Workflow, Operation,
};

/**
 * cwl-ts-auto parses against the CWL schema (it does not check everything). Its generic
 * loader mutates the document when it retries another class (and then reports errors
 * that are not there), so each process is parsed by the loader of its own class, from a
 * deep copy.
 */
async function schemaCheck(path: string, raw: Obj): Promise<void> {
  const data = readCached(path) as Obj;
  const processes = Array.isArray(data.$graph) ? (data.$graph as Obj[]) : [raw];
  const namespaces = isObj(data.$namespaces) ? (data.$namespaces as Record<string, string>) : {};
  const fileUri = pathToFileURL(path).href;
  for (const process of processes) {
    const copy = structuredClone(process);
    for (const key of ["$namespaces", "$schemas", "$graph"]) delete copy[key];
    const loader = schemaClasses[String(copy.class)];
    if (loader === undefined) throw new InvalidDocument(`${path}: class ${JSON.stringify(copy.class)} is not a CWL process class`);
    try {
      await loader.fromDoc(copy, fileUri, new LoadingOptions({ fileUri, namespaces }));
    } catch (error) {
      const message = String(error).trim().split("\n").slice(0, 15).join("\n");
      throw new InvalidDocument(`${path} does not match the CWL schema: ${message}`);
    }
  }
}
