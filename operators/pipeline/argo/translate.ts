// CWL process + job → Argo Workflow. Each CommandLineTool/ExpressionTool step becomes a
// container template that runs our entrypoint (staging, command line, streams, output
// collection); a CWL Workflow becomes a DAG template whose tasks pass their output
// directories through the S3 artifact repository given in the configuration.
import { Workflow } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Workflow";
import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1Template as Template } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Template";
import type { IDAGTask } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask";
import { findRequirement, type Process, type Step } from "../cwl/model.ts";
import { parseSource } from "../cwl/validate.ts";

export interface S3Repository {
  endpoint: string;
  bucket: string;
  keyPrefix: string;
  insecure?: boolean;
  accessKeySecret: { name: string; key: string };
  secretKeySecret: { name: string; key: string };
}

export interface TranslateConfig {
  name: string;
  namespace?: string;
  /** image used when a tool has no DockerRequirement: it must hold our entrypoint */
  defaultImage: string;
  /** the entrypoint inside every image, e.g. ["archipel-cwl-entrypoint"] */
  entrypoint: string[];
  artifacts: S3Repository;
  /** per-step placement hook: the Admiralty cluster target a step must run on, if any */
  placement?: (stepPath: string) => string | undefined;
}

export const electAnnotation = "multicluster.admiralty.io/elect";
export const clusterTargetLabel = "multicluster.admiralty.io/cluster-target-name";
export const outputsParameter = "cwl-outputs";
export const outdirArtifact = "outdir";
const outdirPath = "/cwl/out";
export const workflowOutputsTask = "workflow-outputs";

/** A DNS-1123-ish Argo name from a CWL id. */
export function argoName(id: string): string {
  const name = id.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  return (name === "" ? "step" : name).slice(0, 63);
}

function s3Key(config: TranslateConfig, stepPath: string): string {
  return `${config.artifacts.keyPrefix}/{{workflow.name}}/${stepPath}`;
}

function containerResources(process: Process): Record<string, Record<string, string>> | undefined {
  const requirement = findRequirement(process, "ResourceRequirement");
  if (requirement === undefined) return undefined;
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (typeof requirement.coresMin === "number") requests.cpu = String(requirement.coresMin);
  if (typeof requirement.coresMax === "number") limits.cpu = String(requirement.coresMax);
  if (typeof requirement.ramMin === "number") requests.memory = `${Math.ceil(requirement.ramMin)}Mi`;
  if (typeof requirement.ramMax === "number") limits.memory = `${Math.ceil(requirement.ramMax)}Mi`;
  return { ...(Object.keys(requests).length ? { requests } : {}), ...(Object.keys(limits).length ? { limits } : {}) };
}

function imageOf(process: Process, config: TranslateConfig): string {
  const docker = findRequirement(process, "DockerRequirement");
  return typeof docker?.dockerPull === "string" ? docker.dockerPull : config.defaultImage;
}

/** The container template of one tool: our entrypoint runs the tool described in `spec`. */
export function toolTemplate(name: string, stepPath: string, process: Process, config: TranslateConfig, upstream: string[] = []): Template {
  const resources = containerResources(process);
  const cluster = config.placement?.(stepPath);
  return {
    name,
    inputs: {
      parameters: [{ name: "spec" }, { name: "job" }],
      ...(upstream.length ? { artifacts: upstream.map((u) => ({ name: `upstream-${argoName(u)}`, path: `/cwl/upstream/${u}` })) } : {}),
    },
    container: {
      name: "main",
      image: imageOf(process, config),
      command: config.entrypoint,
      args: ["run", "--spec", "{{inputs.parameters.spec}}", "--job", "{{inputs.parameters.job}}", "--upstream", "/cwl/upstream", "--outdir", outdirPath],
      ...(resources ? { resources } : {}),
    },
    outputs: {
      parameters: [{ name: outputsParameter, valueFrom: { path: `${outdirPath}/cwl.output.json` } }],
      artifacts: [{ name: outdirArtifact, path: outdirPath, s3: { key: s3Key(config, stepPath) } }],
    },
    ...(cluster === undefined ? {} : { metadata: { annotations: { [electAnnotation]: "" } }, nodeSelector: { [clusterTargetLabel]: cluster } }),
  };
}

interface Collected { templates: Template[] }

function upstreamSteps(step: Step, workflow: Process): string[] {
  const found = new Set<string>();
  for (const input of step.in) {
    for (const source of input.source) {
      const parsed = parseSource(source, workflow);
      if (parsed?.step !== undefined) found.add(parsed.step);
    }
  }
  return [...found];
}

function stepTask(step: Step, workflow: Process, path: string, config: TranslateConfig, collected: Collected): IDAGTask {
  const stepPath = `${path}/${step.id}`;
  const template = argoName(stepPath.replace(/\//g, "-"));
  const run = step.run;
  const upstream = upstreamSteps(step, workflow);
  if (run.class === "Workflow") collected.templates.push(dagTemplate(template, run, stepPath, config, collected));
  else collected.templates.push(toolTemplate(template, stepPath, run, config, upstream));
  const spec = JSON.stringify({ stepPath, step: { ...step, run: undefined } });
  const job = JSON.stringify(Object.fromEntries(upstream.map((u) => [u, `{{tasks.${argoName(u)}.outputs.parameters.${outputsParameter}}}`])));
  return {
    name: argoName(step.id),
    template,
    ...(upstream.length ? { dependencies: upstream.map(argoName) } : {}),
    arguments: {
      parameters: [{ name: "spec", value: spec }, { name: "job", value: job }],
      ...(upstream.length && run.class !== "Workflow"
        ? { artifacts: upstream.map((u) => ({ name: `upstream-${argoName(u)}`, from: `{{tasks.${argoName(u)}.outputs.artifacts.${outdirArtifact}}}` })) }
        : {}),
    },
  };
}

/**
 * The last task of every DAG: it gathers the workflow's outputs from its steps' outputs
 * (outputSource, linkMerge, pickValue) with the same entrypoint, in `outputs` mode.
 */
function outputsTask(workflow: Process, path: string, config: TranslateConfig, collected: Collected): IDAGTask {
  const name = argoName(`${path.replace(/\//g, "-")}-outputs`);
  collected.templates.push({
    name,
    inputs: { parameters: [{ name: "spec" }, { name: "job" }] },
    container: { name: "main", image: config.defaultImage, command: config.entrypoint, args: ["outputs", "--spec", "{{inputs.parameters.spec}}", "--job", "{{inputs.parameters.job}}", "--outdir", outdirPath] },
    outputs: { parameters: [{ name: outputsParameter, valueFrom: { path: `${outdirPath}/cwl.output.json` } }] },
  });
  const steps = workflow.steps.map((s) => argoName(s.id));
  const job = JSON.stringify(Object.fromEntries(workflow.steps.map((s) => [s.id, `{{tasks.${argoName(s.id)}.outputs.parameters.${outputsParameter}}}`])));
  return {
    name: workflowOutputsTask,
    template: name,
    ...(steps.length ? { dependencies: steps } : {}),
    arguments: { parameters: [{ name: "spec", value: JSON.stringify({ outputs: workflow.outputs }) }, { name: "job", value: job }] },
  };
}

function dagTemplate(name: string, workflow: Process, path: string, config: TranslateConfig, collected: Collected): Template {
  return {
    name,
    inputs: { parameters: [{ name: "spec", value: "{}" }, { name: "job", value: "{}" }] },
    dag: { tasks: [...workflow.steps.map((step) => stepTask(step, workflow, path, config, collected)), outputsTask(workflow, path, config, collected)] },
  };
}

/** The Argo Workflow of a CWL process (a tool becomes a one-template workflow). */
export function translate(process: Process, job: Record<string, unknown>, config: TranslateConfig): Workflow {
  const collected: Collected = { templates: [] };
  const main = process.class === "Workflow" ? dagTemplate("main", process, "main", config, collected) : toolTemplate("main", "main", process, config);
  const { endpoint, bucket, insecure, accessKeySecret, secretKeySecret } = config.artifacts;
  const workflow = new Workflow({
    metadata: { name: config.name, ...(config.namespace ? { namespace: config.namespace } : {}), labels: { "app.kubernetes.io/managed-by": "archipel" } },
    spec: {
      entrypoint: "main",
      arguments: { parameters: [{ name: "spec", value: "{}" }, { name: "job", value: JSON.stringify(job) }] },
      artifactRepositoryRef: undefined,
      templates: [main, ...collected.templates],
    },
  });
  for (const template of workflow.spec.templates ?? []) {
    for (const artifact of template.outputs?.artifacts ?? []) {
      if (artifact.s3) Object.assign(artifact.s3, { endpoint, bucket, insecure: insecure ?? false, accessKeySecret, secretKeySecret });
    }
  }
  delete workflow.spec.artifactRepositoryRef;
  workflow.validate();
  return workflow;
}

/** Task names of a DAG in an order that respects `dependencies` (Kahn's algorithm). */
export function executionOrder(tasks: IDAGTask[]): IDAGTask[] {
  const done = new Set<string>();
  const order: IDAGTask[] = [];
  while (order.length < tasks.length) {
    const ready = tasks.filter((t) => !done.has(t.name) && (t.dependencies ?? []).every((d) => done.has(d)));
    if (ready.length === 0) throw new Error("the workflow's steps depend on each other in a cycle");
    for (const task of ready) {
      done.add(task.name);
      order.push(task);
    }
  }
  return order;
}
