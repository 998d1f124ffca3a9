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

/**
 * A DockerRequirement under `requirements` names the step's image; one under `hints` is a wish a
 * runner may ignore (CWL), and is: an image the cluster cannot pull would leave the step pending
 * forever, while the default image holds the entrypoint and the usual tools.
 */
function imageOf(process: Process, config: TranslateConfig): string {
  const docker = process.requirements.find((r) => r.class === "DockerRequirement");
  return typeof docker?.dockerPull === "string" ? docker.dockerPull : config.defaultImage;
}

export const upstreamDir = "/cwl/upstream";

/** What a step's pod needs to know about its workflow: inputs, step outputs, requirements. */
export interface StepSpec {
  stepPath: string;
  workflow: Pick<Process, "id" | "cwlVersion" | "inputs" | "outputs" | "requirements" | "hints"> & { steps: Pick<Step, "id" | "out">[] };
  step?: Step;
  process?: Process;
  /** for the outputs task: where each step's output directory is kept (`s3://bucket/key`) */
  artifactLocations?: Record<string, string>;
}

interface Translation { config: TranslateConfig; templates: Template[] }

function wiring(workflow: Process): StepSpec["workflow"] {
  const { id, cwlVersion, inputs, outputs, requirements, hints } = workflow;
  return { id, cwlVersion, inputs, outputs, requirements, hints, steps: workflow.steps.map((s) => ({ id: s.id, out: s.out })) };
}

interface ContainerPlan { name: string; stepPath: string; process: Process; mode: "tool" | "step" | "outputs"; upstream: string[] }

/** A container template running our entrypoint in one of its modes. */
function entrypointTemplate(plan: ContainerPlan, t: Translation): Template {
  const resources = containerResources(plan.process);
  const cluster = plan.mode === "outputs" ? undefined : t.config.placement?.(plan.stepPath);
  const artifacts = plan.upstream.map((u) => ({ name: `upstream-${argoName(u)}`, path: `${upstreamDir}/${u}` }));
  return {
    name: plan.name,
    inputs: { parameters: [{ name: "spec" }, { name: "job" }], ...(artifacts.length ? { artifacts } : {}) },
    container: {
      name: "main",
      image: plan.mode === "outputs" ? t.config.defaultImage : imageOf(plan.process, t.config),
      command: t.config.entrypoint,
      args: [plan.mode, "--spec", "{{inputs.parameters.spec}}", "--job", "{{inputs.parameters.job}}", "--upstream", upstreamDir, "--outdir", outdirPath],
      ...(resources ? { resources } : {}),
    },
    outputs: {
      parameters: [{ name: outputsParameter, valueFrom: { path: `${outdirPath}/cwl.output.json` } }],
      // Files stay individually addressable (no archive): the final output object names them.
      artifacts: [{ name: outdirArtifact, path: outdirPath, archive: { none: {} }, s3: { key: s3Key(t.config, plan.stepPath) } }],
    },
    ...(cluster === undefined ? {} : { metadata: { annotations: { [electAnnotation]: "" } }, nodeSelector: { [clusterTargetLabel]: cluster } }),
  };
}

/** The container template of one tool run on its own (the workflow's job is its job). */
export function toolTemplate(name: string, process: Process, config: TranslateConfig): Template {
  return entrypointTemplate({ name, stepPath: "main", process, mode: "tool", upstream: [] }, { config, templates: [] });
}

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

/**
 * The `job` parameter of a task: JSON text in which Argo substitutes the workflow's job and
 * the upstream tasks' output objects (themselves JSON, so they are inserted unquoted).
 */
function jobTemplate(upstream: string[]): string {
  const steps = upstream.map((u) => `${JSON.stringify(u)}: {{tasks.${argoName(u)}.outputs.parameters.${outputsParameter}}}`);
  return `{"inputs": {{workflow.parameters.job}}, "steps": {${steps.join(", ")}}}`;
}

function taskArguments(upstream: string[], spec: StepSpec): NonNullable<IDAGTask["arguments"]> {
  const artifacts = upstream.map((u) => ({ name: `upstream-${argoName(u)}`, from: `{{tasks.${argoName(u)}.outputs.artifacts.${outdirArtifact}}}` }));
  return { parameters: [{ name: "spec", value: JSON.stringify(spec) }, { name: "job", value: jobTemplate(upstream) }], ...(artifacts.length ? { artifacts } : {}) };
}

/** One task per step; a scattered step or a subworkflow runs in the step's one pod. */
function stepTask(step: Step, workflow: Process, t: Translation): IDAGTask {
  const stepPath = `main/${step.id}`;
  const template = argoName(stepPath.replace(/\//g, "-"));
  const upstream = upstreamSteps(step, workflow);
  t.templates.push(entrypointTemplate({ name: template, stepPath, process: step.run, mode: "step", upstream }, t));
  return {
    name: argoName(step.id),
    template,
    ...(upstream.length ? { dependencies: upstream.map(argoName) } : {}),
    arguments: taskArguments(upstream, { stepPath, workflow: wiring(workflow), step }),
  };
}

/**
 * The last task of every DAG: it gathers the workflow's output object from the steps'
 * output objects (outputSource, linkMerge, pickValue), naming files by their S3 location.
 */
function outputsTask(workflow: Process, t: Translation): IDAGTask {
  const name = "main-outputs";
  const upstream = workflow.steps.map((s) => s.id);
  t.templates.push(entrypointTemplate({ name, stepPath: "main/outputs", process: workflow, mode: "outputs", upstream: [] }, t));
  const artifactLocations = Object.fromEntries(upstream.map((id) => [id, `s3://${t.config.artifacts.bucket}/${s3Key(t.config, `main/${id}`)}`]));
  const args = taskArguments([], { stepPath: "main/outputs", workflow: wiring(workflow), artifactLocations });
  const job = args.parameters?.find((p) => p.name === "job");
  if (job) job.value = jobTemplate(upstream);
  return { name: workflowOutputsTask, template: name, ...(upstream.length ? { dependencies: upstream.map(argoName) } : {}), arguments: args };
}

function dagTemplate(workflow: Process, t: Translation): Template {
  return { name: "main", dag: { tasks: [...workflow.steps.map((step) => stepTask(step, workflow, t)), outputsTask(workflow, t)] } };
}

/** The Argo Workflow of a CWL process (a tool becomes a one-template workflow). */
export function translate(process: Process, job: Record<string, unknown>, config: TranslateConfig): Workflow {
  const t: Translation = { config, templates: [] };
  const main = process.class === "Workflow" ? dagTemplate(process, t) : toolTemplate("main", process, config);
  const mainSpec: StepSpec = { stepPath: "main", workflow: wiring(process), process };
  if (main.container) main.inputs = { parameters: [{ name: "spec", value: JSON.stringify(mainSpec) }, { name: "job", value: "{{workflow.parameters.job}}" }] };
  const workflow = new Workflow({
    metadata: { name: config.name, ...(config.namespace ? { namespace: config.namespace } : {}), labels: { "app.kubernetes.io/managed-by": "archipel" } },
    spec: {
      entrypoint: "main",
      arguments: { parameters: [{ name: "job", value: JSON.stringify(job) }] },
      templates: [main, ...t.templates],
    },
  });
  withRepository(workflow, config.artifacts);
  workflow.validate();
  return workflow;
}

function withRepository(workflow: Workflow, repository: S3Repository): void {
  const { endpoint, bucket, insecure, accessKeySecret, secretKeySecret } = repository;
  for (const template of workflow.spec.templates ?? []) {
    for (const artifact of template.outputs?.artifacts ?? []) {
      if (artifact.s3) Object.assign(artifact.s3, { endpoint, bucket, insecure: insecure ?? false, accessKeySecret, secretKeySecret });
    }
  }
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
