// How a component runs in its Deployment, for the tools that start it outside a cluster (the
// benchmarks, hack/federation --as-deployed): the script its container runs (args[0]), the
// variables that tune the process (V8 flags, malloc arenas), and the JavaScript the image holds
// instead of the TypeScript sources. Read from config/manager/, the one source of truth, so that
// a figure measured this way is the deployed configuration's.
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { kubeClientBundle, kubeClientEntry } from "./kubeClientBundle.ts";
import { emitTypeStripped } from "./typeStripped.ts";

const repoRoot = path.join(import.meta.dirname, "..");

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string }[];
}

/** The variables of a container's env that tune the process (V8's flags, glibc malloc's); the rest is about its cluster. */
const isProcessTuning = (name: string): boolean => name === "NODE_OPTIONS" || name.startsWith("MALLOC_");

export interface DeployedProcess {
  /** the script, relative to the image's working directory (the repository's root here) */
  script: string;
  nodeOptions: string;
  /** NODE_OPTIONS and the MALLOC_* variables as the container sets them */
  tuning: Record<string, string>;
}

function deploymentContainers(file: string): Container[] {
  const docs = parseAllDocuments(readFileSync(path.join(repoRoot, "config/manager", file), "utf8")).map((d) => d.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: Container[] } } } });
  return docs.find((d) => d.kind === "Deployment")?.spec?.template?.spec?.containers ?? [];
}

/** The container `name` of the Deployment in config/manager/<file>. */
export function deployedProcess(file: string, name: string): DeployedProcess {
  const { args = [], env = [] } = deploymentContainers(file).find((c) => c.name === name) ?? { name };
  const [script] = args;
  if (!script) throw new Error(`config/manager/${file}: no Deployment with a container named ${name} and a script in its args`);
  const tuning = Object.fromEntries(env.flatMap((e) => (isProcessTuning(e.name) && e.value !== undefined ? [[e.name, e.value]] : [])));
  return { script, nodeOptions: tuning.NODE_OPTIONS ?? "", tuning };
}

export const deployedManager = (): DeployedProcess => deployedProcess("manager.yaml", "manager");
export const deployedApi = (): DeployedProcess => deployedProcess("api.yaml", "api");

/**
 * Emits operators/ as the image has it (images/typeStripped.ts) into `dir`, beside the image's
 * node_modules: the repository's packages, linked, but for the Kubernetes client's entry point,
 * which is the image's bundle (images/kubeClientBundle.ts). Answers where a deployed script is
 * there. Like the image, no web UI build beside it.
 */
export async function emittedAsInTheImage(dir: string): Promise<(script: string) => string> {
  emitTypeStripped(path.join(repoRoot, "operators"), path.join(dir, "operators"));
  const modules = path.join(dir, "node_modules");
  rmSync(modules, { recursive: true, force: true });
  writeOverlay(path.join(repoRoot, "node_modules"), modules, kubeClientEntry.split("/").slice(1), await kubeClientBundle(repoRoot));
  return (script) => path.join(dir, script);
}

/**
 * `to` as a copy of the tree `from` made of links, but for the file at `relative`, written with
 * `content`: only the directories on the way to it are real, every other entry links to `from`'s.
 */
function writeOverlay(from: string, to: string, relative: string[], content: string): void {
  const [name, ...rest] = relative;
  if (name === undefined) return writeFileSync(to, content);
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) if (entry !== name) symlinkSync(path.join(from, entry), path.join(to, entry));
  writeOverlay(path.join(from, name), path.join(to, name), rest, content);
}
