// What the Argo backend of archipel-cwl-runner moves between this machine and the S3 artifact
// repository, decided without I/O: which local files a run needs in its pods (and where they
// appear there), which objects hold its outputs, and where they land locally.
import { basename, dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import type { Workflow } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Workflow";
import { parse } from "yaml";
import { podInputsDir } from "../argo/conventions.ts";
import type { S3Repository } from "../argo/translate.ts";
import { isObj } from "../cwl/normalize.ts";
import { type FsObject, isFsObject, localPath } from "../entrypoint/files.ts";

/**
 * The S3 artifact repository of the controller's ConfigMap (its `artifactRepository` key, YAML),
 * as the translation takes it; a clear error names what is missing.
 */
export function repositoryFromConfig(text: string | undefined, keyPrefix: string): S3Repository {
  const where = "argo/workflow-controller-configmap artifactRepository";
  if (text === undefined) throw new Error(`${where}: not set (hack/argo up configures it)`);
  const parsed = parse(text) as { s3?: Record<string, unknown> } | null;
  const s3 = parsed?.s3;
  if (!isObj(s3)) throw new Error(`${where}: no s3 repository (only S3 is supported)`);
  const text_ = (field: string): string => {
    const value = s3[field];
    if (typeof value !== "string" || value === "") throw new Error(`${where}: s3.${field} is missing`);
    return value;
  };
  const selector = (field: string): { name: string; key: string } => {
    const value = s3[field];
    if (!isObj(value) || typeof value.name !== "string" || typeof value.key !== "string") throw new Error(`${where}: s3.${field} needs name and key`);
    return { name: value.name, key: value.key };
  };
  return {
    endpoint: text_("endpoint"),
    bucket: text_("bucket"),
    keyPrefix,
    insecure: s3.insecure === true,
    accessKeySecret: selector("accessKeySecret"),
    secretKeySecret: selector("secretKeySecret"),
  };
}

export { podInputsDir };
export const inputsArtifact = "cwl-inputs";
/** The output directory of every container template (argo/translate.ts). */
export const podOutdir = "/cwl/out";

export interface Upload { localPath: string; key: string; kind: "File" | "Directory" }

/**
 * Rewrites File/Directory objects that name local files to their place under podInputsDir and
 * collects the uploads. Files of one local directory share one pod directory, so a file's
 * siblings (secondary files found beside it) stay its siblings. Literals (no location) pass.
 */
export class InputStager {
  private readonly dirs = new Map<string, number>();
  private readonly byPath = new Map<string, Upload>();
  private readonly keyPrefix: string;

  /** keyPrefix: this run's inputs prefix in the bucket, e.g. `cwl/<namespace>/<workflow>/inputs` */
  constructor(keyPrefix: string) {
    this.keyPrefix = keyPrefix;
  }

  get uploads(): Upload[] {
    return [...this.byPath.values()];
  }

  /** `baseDir`: where relative locations are resolved (the job file's directory). */
  stage(value: unknown, baseDir: string): unknown {
    if (Array.isArray(value)) return value.map((v) => this.stage(v, baseDir));
    if (isFsObject(value)) return this.stageObject(value, baseDir);
    if (!isObj(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = this.stage(v, baseDir);
    return out;
  }

  private stageObject(o: FsObject, baseDir: string): FsObject {
    const path = localPath(o, baseDir);
    const out: FsObject = { ...o };
    if (Array.isArray(o.secondaryFiles)) out.secondaryFiles = o.secondaryFiles.map((s) => this.stage(s, baseDir));
    if (path === undefined) {
      if (Array.isArray(o.listing)) out.listing = o.listing.map((s) => this.stage(s, baseDir));
      return out;
    }
    const podPath = this.podPathOf(path, o.class);
    delete out.path;
    delete out.dirname;
    // A URI: a `#` or `%` in a file's name must not read as a fragment or an escape in the pod.
    out.location = pathToFileURL(podPath).href;
    // A staged directory travels whole: its listing's entries are found inside it.
    if (Array.isArray(o.listing)) out.listing = o.listing.map((entry) => this.insideDirectory(entry, path, podPath, baseDir));
    return out;
  }

  private insideDirectory(entry: unknown, dirPath: string, dirPodPath: string, baseDir: string): unknown {
    if (!isFsObject(entry)) return entry;
    const path = localPath(entry, baseDir);
    const rel = path === undefined ? undefined : relative(dirPath, path);
    if (path === undefined || rel === undefined || rel.startsWith("..") || rel === "") return this.stage(entry, baseDir);
    const podPath = `${dirPodPath}/${rel.split("\\").join("/")}`;
    const out: FsObject = { ...entry, location: pathToFileURL(podPath).href };
    delete out.path;
    delete out.dirname;
    if (Array.isArray(entry.listing)) out.listing = entry.listing.map((e) => this.insideDirectory(e, path, podPath, baseDir));
    return out;
  }

  private podPathOf(path: string, kind: FsObject["class"]): string {
    const known = this.byPath.get(path);
    const name = basename(path);
    if (known !== undefined) return `${podInputsDir}/${known.key.slice(this.keyPrefix.length + 1)}`;
    const dir = dirname(path);
    let index = this.dirs.get(dir);
    if (index === undefined) {
      index = this.dirs.size;
      this.dirs.set(dir, index);
    }
    this.byPath.set(path, { localPath: path, key: `${this.keyPrefix}/${index}/${name}`, kind });
    return `${podInputsDir}/${index}/${name}`;
  }
}

/**
 * Gives every container template of the workflow the run's inputs at podInputsDir (optional: a
 * run without local files uploads nothing).
 */
export function withInputsArtifact(workflow: Workflow, repository: S3Repository, key: string): Workflow {
  const { endpoint, bucket, insecure, accessKeySecret, secretKeySecret } = repository;
  const artifact = { name: inputsArtifact, path: podInputsDir, optional: true, s3: { endpoint, bucket, key, insecure: insecure ?? false, accessKeySecret, secretKeySecret } };
  for (const template of workflow.spec.templates ?? []) {
    if (!template.container) continue;
    template.inputs = { ...(template.inputs ?? {}), artifacts: [...(template.inputs?.artifacts ?? []), artifact] };
  }
  return workflow;
}

/** An object of the output directory in the bucket, and where it is put locally. */
export interface Download { key: string; localPath: string; kind: "File" | "Directory" }

export interface OutputPlan { outputs: Record<string, unknown>; downloads: Download[] }

/**
 * The output object with its files made local: files named in the pod's output directory
 * (`/cwl/out/…`, a lone tool) live under `outdirKey`; files named by their S3 location
 * (`s3://bucket/key`, a workflow's output task) under their key. Each goes to `downloadDir/<key>`.
 */
export function planOutputDownloads(outputs: Record<string, unknown>, where: { bucket: string; outdirKey: string; downloadDir: string }): OutputPlan {
  const downloads = new Map<string, Download>();
  const keyOf = (o: FsObject): string | undefined => {
    const location = typeof o.location === "string" ? o.location : undefined;
    const path = typeof o.path === "string" ? o.path : location?.startsWith("file://") ? location.slice("file://".length) : undefined;
    if (path !== undefined && (path === podOutdir || path.startsWith(`${podOutdir}/`))) return where.outdirKey + path.slice(podOutdir.length);
    const s3 = `s3://${where.bucket}/`;
    return location?.startsWith(s3) ? location.slice(s3.length) : undefined;
  };
  const local = (value: unknown, insideDownloaded: boolean): unknown => {
    if (Array.isArray(value)) return value.map((v) => local(v, insideDownloaded));
    if (!isObj(value)) return value;
    if (!isFsObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, local(v, insideDownloaded)]));
    const key = keyOf(value);
    const out: FsObject = { ...value };
    if (key !== undefined) {
      const localPath = join(where.downloadDir, key);
      if (!insideDownloaded) downloads.set(key, { key, localPath, kind: value.class });
      Object.assign(out, { path: localPath, location: pathToFileURL(localPath).href });
      delete out.dirname;
    }
    if (Array.isArray(value.secondaryFiles)) out.secondaryFiles = value.secondaryFiles.map((v) => local(v, false));
    if (Array.isArray(value.listing)) out.listing = value.listing.map((v) => local(v, insideDownloaded || (key !== undefined && value.class === "Directory")));
    return out;
  };
  return { outputs: local(outputs, false) as Record<string, unknown>, downloads: [...downloads.values()] };
}

/** The final phase of a Workflow, or undefined while it runs. */
export function finished(phase: string | undefined): boolean {
  return phase === "Succeeded" || phase === "Failed" || phase === "Error";
}

interface NodeStatus {
  type?: string;
  phase?: string;
  message?: string;
  displayName?: string;
  templateName?: string;
  outputs?: { parameters?: { name: string; value?: string }[] };
}

export interface WorkflowStatus { phase?: string; message?: string; nodes?: Record<string, NodeStatus> }

/**
 * The CWL output object of a finished workflow: the `cwl-outputs` parameter of its output task
 * (`workflow-outputs`, a CWL Workflow) or of its one container (a lone tool).
 */
export function outputObjectOf(status: WorkflowStatus, outputsTask: string, parameter: string): Record<string, unknown> {
  const nodes = Object.values(status.nodes ?? {});
  const node = nodes.find((n) => n.displayName === outputsTask) ?? nodes.find((n) => n.type === "Pod" && n.templateName === "main");
  const value = node?.outputs?.parameters?.find((p) => p.name === parameter)?.value;
  if (value === undefined) throw new Error(`the finished workflow has no ${parameter} output (phase ${status.phase ?? "unknown"})`);
  return JSON.parse(value) as Record<string, unknown>;
}

/** Why a workflow failed, from its own message and its failed steps' messages. */
export function failureMessage(status: WorkflowStatus): string {
  const steps = Object.values(status.nodes ?? {})
    .filter((n) => n.type === "Pod" && (n.phase === "Failed" || n.phase === "Error"))
    .map((n) => `${n.displayName ?? n.templateName ?? "step"}: ${n.message ?? n.phase}`);
  return [status.message, ...steps].filter((m) => m !== undefined && m !== "").join("; ") || `workflow ${status.phase ?? "failed"}`;
}
