// CWL process + job → Argo Workflow. Each CommandLineTool/ExpressionTool step becomes a
// container template that runs our entrypoint (staging, command line, streams, output
// collection); a CWL Workflow becomes a DAG template whose tasks pass their output
// directories through the S3 artifact repository given in the configuration.
import { Workflow } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Workflow";
import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1Template as Template } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Template";
import type { IDAGTask } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask";
import { findRequirement, inherit, layer, type Process, type Step } from "../cwl/model.ts";
import { parseSource } from "../cwl/validate.ts";
import { argoName, outputsParameter, podInputsDir, workflowKeyBase, workflowOutputsTask } from "./conventions.ts";

export { argoName, outputsParameter, podInputsDir, workflowKeyBase, workflowOutputsTask };

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
  /** at most this many of the workflow's pods run at once (Argo's spec.parallelism); unbounded when absent */
  parallelism?: number;
  /** per-step placement hook: the Admiralty cluster target a step must run on, if any */
  placement?: (stepPath: string) => string | undefined;
  /** every pod of the workflow is run again, up to `limit` times, when it did not succeed (Argo's retryStrategy) */
  retry?: { limit: number; policy: "OnError" | "OnFailure" | "Always" };
}

export const electAnnotation = "multicluster.admiralty.io/elect";
export const clusterTargetLabel = "multicluster.admiralty.io/cluster-target-name";
export const outdirArtifact = "outdir";
const outdirPath = "/cwl/out";
/** A nested DAG's last task: not `workflow-outputs`, which readers look up by name (one per Workflow). */
export const subworkflowOutputsTask = "subworkflow-outputs";

/** The running Workflow's own key base, as Argo fills it in. */
function runKeyBase(config: TranslateConfig): string {
  return workflowKeyBase(config.artifacts.keyPrefix, "{{workflow.namespace}}", "{{workflow.name}}");
}

function s3Key(config: TranslateConfig, stepPath: string): string {
  return `${runKeyBase(config)}/${stepPath}`;
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
/** A fanned-out step's job files (its `-inputs` task's outdir), and a nested DAG's input files. */
export const stepInputsDir = "/cwl/step-inputs";
const stepInputsArtifact = "step-inputs";
/** A gather task reads every item's outdir from here (one directory per item index). */
export const itemsDir = "/cwl/items";
export const itemsParameter = "items";

/** What a step's pod needs to know about its workflow: inputs, step outputs, requirements. */
export interface StepSpec {
  stepPath: string;
  workflow: Pick<Process, "id" | "cwlVersion" | "inputs" | "outputs" | "requirements" | "hints"> & { steps: Pick<Step, "id" | "out">[] };
  step?: Step;
  process?: Process;
  /** for the outputs task: where each step's output directory is kept (`s3://bucket/key`) */
  artifactLocations?: Record<string, string>;
  /** for a nested workflow's outputs task: copy the output files into its own outdir */
  relocate?: boolean;
}

type Mode = "tool" | "step" | "outputs" | "scatter" | "item" | "gather";

/** Where the tasks of one DAG (the workflow's, or a subworkflow's nested one) get their inputs. */
interface Scope {
  /** Argo expression of the workflow's input object */
  inputsJob: string;
  /** a nested DAG's input files arrive as its step-inputs artifact */
  nested: boolean;
}

/** The DAG a step's tasks go into: its workflow, the workflow's step path, the scope. */
interface Place { workflow: Process; prefix: string; scope: Scope }

const topScope: Scope = { inputsJob: "{{workflow.parameters.job}}", nested: false };
/** A nested DAG's input object is the file its deciding pod wrote for this job (see jobRef). */
const nestedScope: Scope = { inputsJob: JSON.stringify(jobRef("{{inputs.parameters.index}}")), nested: true };

/**
 * A job of a fanned-out step, named rather than carried: `@jobs/<index>.json` in the step-inputs
 * artifact. Argo re-escapes text it substitutes from `withParam` items, and would put a whole
 * job into node names: items are bare job indexes.
 */
export function jobRef(index: string): string {
  return `@jobs/${index}.json`;
}

interface Translation { config: TranslateConfig; templates: Template[] }

/**
 * The workflow as a pod sees it. `readsFrom`: a step's pod parses only its own sources, so it is
 * told only of the steps it reads (without it, every task of an n-step chain would carry all n
 * steps: a Workflow of size n²). The outputs task reads every step and gets them all.
 */
function wiring(workflow: Process, readsFrom?: readonly string[]): StepSpec["workflow"] {
  const { id, cwlVersion, inputs, outputs, requirements, hints } = workflow;
  const steps = readsFrom ? workflow.steps.filter((s) => readsFrom.includes(s.id)) : workflow.steps;
  return { id, cwlVersion, inputs, outputs, requirements, hints, steps: steps.map((s) => ({ id: s.id, out: s.out })) };
}

interface ContainerPlan {
  name: string;
  stepPath: string;
  process: Process;
  mode: Mode;
  /** sibling steps whose outdir the pod reads */
  upstream: string[];
  /** the pod reads the step-inputs artifact */
  stepInputs?: boolean;
  /** where the outdir is kept in the bucket (Argo expressions allowed) */
  outKey: string;
  /** input parameters besides spec and job */
  params?: string[];
  /** gather: the S3 key under which every item left its outdir */
  itemsKey?: string;
  /** scatter: the item list Argo fans out over */
  items?: boolean;
}

function podKey(config: TranslateConfig): string {
  return `${runKeyBase(config)}/{{pod.name}}`;
}

type InputArtifacts = NonNullable<NonNullable<Template["inputs"]>["artifacts"]>;

function inputArtifacts(plan: ContainerPlan): InputArtifacts {
  const artifacts: InputArtifacts = plan.upstream.map((u) => ({ name: `upstream-${argoName(u)}`, path: `${upstreamDir}/${u}` }));
  if (plan.stepInputs) artifacts.push({ name: stepInputsArtifact, path: stepInputsDir });
  // No item ran (an empty scatter, or `when` false everywhere): nothing was written there.
  if (plan.itemsKey !== undefined) artifacts.push({ name: "items", path: itemsDir, optional: true, s3: { key: plan.itemsKey } });
  return artifacts;
}

function entrypointArgs(plan: ContainerPlan): string[] {
  const args = [plan.mode, "--spec", "{{inputs.parameters.spec}}", "--job", "{{inputs.parameters.job}}", "--upstream", upstreamDir, "--outdir", outdirPath];
  if (plan.stepInputs) args.push("--step-inputs", stepInputsDir);
  if (plan.itemsKey !== undefined) args.push("--items", itemsDir);
  return args;
}

function outputParameters(plan: ContainerPlan): Array<{ name: string; valueFrom: { path: string } }> {
  const parameters = [{ name: outputsParameter, valueFrom: { path: `${outdirPath}/cwl.output.json` } }];
  if (plan.items) parameters.push({ name: itemsParameter, valueFrom: { path: `${outdirPath}/${itemsParameter}.json` } });
  return parameters;
}

/** Admiralty's annotation and node selector when the placement hook names a cluster. */
function placementOf(plan: ContainerPlan, t: Translation): Partial<Template> {
  const cluster = plan.mode === "outputs" ? undefined : t.config.placement?.(plan.stepPath);
  return cluster === undefined ? {} : { metadata: { annotations: { [electAnnotation]: "" } }, nodeSelector: { [clusterTargetLabel]: cluster } };
}

/** A container template running our entrypoint in one of its modes. */
function entrypointTemplate(plan: ContainerPlan, t: Translation): Template {
  const runsTool = plan.mode === "tool" || plan.mode === "step" || plan.mode === "item";
  const resources = runsTool ? containerResources(plan.process) : undefined;
  const artifacts = inputArtifacts(plan);
  return {
    name: plan.name,
    inputs: { parameters: ["spec", "job", ...(plan.params ?? [])].map((name) => ({ name })), ...(artifacts.length ? { artifacts } : {}) },
    container: {
      name: "main",
      image: runsTool ? imageOf(plan.process, t.config) : t.config.defaultImage,
      command: t.config.entrypoint,
      args: entrypointArgs(plan),
      ...(resources ? { resources } : {}),
    },
    outputs: {
      parameters: outputParameters(plan),
      // Files stay individually addressable (no archive): the final output object names them.
      artifacts: [{ name: outdirArtifact, path: outdirPath, archive: { none: {} }, s3: { key: plan.outKey } }],
    },
    ...placementOf(plan, t),
    ...(t.config.retry ? { retryStrategy: { limit: t.config.retry.limit, retryPolicy: t.config.retry.policy } } : {}),
  };
}

/** The container template of one tool run on its own (the workflow's job is its job). */
export function toolTemplate(name: string, process: Process, config: TranslateConfig): Template {
  return entrypointTemplate({ name, stepPath: "main", process, mode: "tool", upstream: [], outKey: s3Key(config, "main") }, { config, templates: [] });
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
function jobTemplate(upstream: string[], scope: Scope): string {
  const steps = upstream.map((u) => `${JSON.stringify(u)}: {{tasks.${argoName(u)}.outputs.parameters.${outputsParameter}}}`);
  return `{"inputs": ${scope.inputsJob}, "steps": {${steps.join(", ")}}}`;
}

type TaskArguments = NonNullable<IDAGTask["arguments"]>;

function taskArguments(upstream: string[], spec: StepSpec, scope: Scope): TaskArguments {
  const artifacts = upstream.map((u) => ({ name: `upstream-${argoName(u)}`, from: `{{tasks.${argoName(u)}.outputs.artifacts.${outdirArtifact}}}` }));
  if (scope.nested) artifacts.push({ name: stepInputsArtifact, from: `{{inputs.artifacts.${stepInputsArtifact}}}` });
  return { parameters: [{ name: "spec", value: JSON.stringify(spec) }, { name: "job", value: jobTemplate(upstream, scope) }], ...(artifacts.length ? { artifacts } : {}) };
}

function templateName(stepPath: string, suffix = ""): string {
  return argoName(`${stepPath.replace(/\//g, "-")}${suffix}`);
}

/** Where a step's outdir is kept: at a known key at the top level, per pod inside nested DAGs. */
function outKeyOf(stepPath: string, scope: Scope, config: TranslateConfig): string {
  return scope.nested ? podKey(config) : s3Key(config, stepPath);
}

/** A step that runs in one pod: a tool, neither scattered nor a subworkflow. */
function stepTask(step: Step, { workflow, prefix, scope }: Place, t: Translation): IDAGTask {
  const stepPath = `${prefix}/${step.id}`;
  const template = templateName(stepPath);
  const upstream = upstreamSteps(step, workflow);
  t.templates.push(entrypointTemplate({ name: template, stepPath, process: step.run, mode: "step", upstream, stepInputs: scope.nested, outKey: outKeyOf(stepPath, scope, t.config) }, t));
  return {
    name: argoName(step.id),
    template,
    ...(upstream.length ? { dependencies: upstream.map(argoName) } : {}),
    arguments: taskArguments(upstream, { stepPath, workflow: wiring(workflow, upstream), step }, scope),
  };
}

/**
 * A scattered step, or one that runs a subworkflow, fans out in Argo: `<step>-inputs` decides the
 * jobs (scatter, valueFrom, when) and copies their files into its outdir; `<step>-items` runs one
 * pod (or nested DAG) per job through `withParam`, each leaving its outdir under a key unique to
 * this instance of the step; `<step>` gathers them into the step's output object, in order.
 */
function fanOutTasks(step: Step, { workflow, prefix, scope }: Place, t: Translation): IDAGTask[] {
  const stepPath = `${prefix}/${step.id}`;
  const base = argoName(step.id);
  const inputsTask = argoName(`${base}-inputs`);
  const itemsTask = argoName(`${base}-items`);
  const upstream = upstreamSteps(step, workflow);
  const spec: StepSpec = { stepPath, workflow: wiring(workflow, upstream), step };
  const itemsKey = `${runKeyBase(t.config)}/{{tasks.${inputsTask}.id}}`;
  t.templates.push(entrypointTemplate({ name: templateName(stepPath, "-inputs"), stepPath, process: step.run, mode: "scatter", upstream, stepInputs: scope.nested, outKey: podKey(t.config), items: true }, t));
  const perItem = [{ name: "index", value: "{{item}}" }, { name: "items-key", value: itemsKey }];
  const itemJob = { name: "job", value: JSON.stringify(jobRef("{{item}}")) };
  const stepInputs = { name: stepInputsArtifact, from: `{{tasks.${inputsTask}.outputs.artifacts.${outdirArtifact}}}` };
  const itemTemplate = step.run.class === "Workflow" ? nestedDag(step, workflow, stepPath, t) : itemContainer(step, stepPath, t);
  t.templates.push(entrypointTemplate({ name: templateName(stepPath), stepPath, process: step.run, mode: "gather", upstream: [], outKey: outKeyOf(stepPath, scope, t.config), params: ["items-key"], itemsKey: "{{inputs.parameters.items-key}}" }, t));
  return [
    { name: inputsTask, template: templateName(stepPath, "-inputs"), ...(upstream.length ? { dependencies: upstream.map(argoName) } : {}), arguments: taskArguments(upstream, spec, scope) },
    {
      name: itemsTask,
      template: itemTemplate,
      dependencies: [inputsTask],
      withParam: `{{tasks.${inputsTask}.outputs.parameters.${itemsParameter}}}`,
      arguments: { parameters: step.run.class === "Workflow" ? perItem : [{ name: "spec", value: JSON.stringify(spec) }, itemJob, ...perItem], artifacts: [stepInputs] },
    },
    {
      name: base,
      template: templateName(stepPath),
      dependencies: [itemsTask],
      arguments: { parameters: [{ name: "spec", value: JSON.stringify(spec) }, { name: "job", value: `{{tasks.${inputsTask}.outputs.parameters.${outputsParameter}}}` }, { name: "items-key", value: itemsKey }] },
    },
  ];
}

/** One job of a fanned-out tool step: its outdir goes to `<items-key>/<index>`. */
function itemContainer(step: Step, stepPath: string, t: Translation): string {
  const name = templateName(stepPath, "-item");
  const outKey = "{{inputs.parameters.items-key}}/{{inputs.parameters.index}}";
  t.templates.push(entrypointTemplate({ name, stepPath, process: step.run, mode: "item", upstream: [], stepInputs: true, outKey, params: ["index", "items-key"] }, t));
  return name;
}

/**
 * A subworkflow as a nested DAG template, once per job: its input object is the job's file in its
 * step-inputs artifact (jobRef), and its last task copies the output files into `<items-key>/<index>`.
 */
function nestedDag(step: Step, parent: Process, stepPath: string, t: Translation): string {
  const name = templateName(stepPath, "-dag");
  const workflow = inherit(step.run, layer(parent.requirements, step.requirements), layer(parent.hints, step.hints));
  const tasks = dagTasks({ workflow, prefix: stepPath, scope: nestedScope }, t);
  const outputsPath = `${stepPath}/outputs`;
  const upstream = workflow.steps.map((s) => s.id);
  const outKey = "{{inputs.parameters.items-key}}/{{inputs.parameters.index}}";
  t.templates.push(entrypointTemplate({ name: templateName(outputsPath), stepPath: outputsPath, process: workflow, mode: "outputs", upstream, stepInputs: true, outKey, params: ["index", "items-key"] }, t));
  const args = taskArguments(upstream, { stepPath: outputsPath, workflow: wiring(workflow), relocate: true }, nestedScope);
  args.parameters?.push({ name: "index", value: "{{inputs.parameters.index}}" }, { name: "items-key", value: "{{inputs.parameters.items-key}}" });
  tasks.push({ name: subworkflowOutputsTask, template: templateName(outputsPath), ...(upstream.length ? { dependencies: upstream.map(argoName) } : {}), arguments: args });
  t.templates.push({
    name,
    // A DAG's input artifact has no path (Argo refuses one): its tasks pass it on by name.
    inputs: { parameters: [{ name: "index" }, { name: "items-key" }], artifacts: [{ name: stepInputsArtifact }] },
    dag: { tasks },
  });
  return name;
}

/**
 * Subworkflows and scattered command-line tools fan out. A scattered ExpressionTool does not: its
 * jobs are JavaScript evaluations that need no container of their own, so the step's one pod
 * evaluates them all (a pod per expression costs seconds each and gains nothing).
 */
function fansOut(step: Step): boolean {
  return step.run.class === "Workflow" || (step.scatter.length > 0 && step.run.class !== "ExpressionTool");
}

function dagTasks(place: Place, t: Translation): IDAGTask[] {
  return place.workflow.steps.flatMap((step) => (fansOut(step) ? fanOutTasks(step, place, t) : [stepTask(step, place, t)]));
}

/**
 * The last task of every DAG: it gathers the workflow's output object from the steps'
 * output objects (outputSource, linkMerge, pickValue), naming files by their S3 location.
 */
function outputsTask(workflow: Process, t: Translation): IDAGTask {
  const name = "main-outputs";
  const upstream = workflow.steps.map((s) => s.id);
  t.templates.push(entrypointTemplate({ name, stepPath: "main/outputs", process: workflow, mode: "outputs", upstream: [], outKey: s3Key(t.config, "main/outputs") }, t));
  const artifactLocations = Object.fromEntries(upstream.map((id) => [id, `s3://${t.config.artifacts.bucket}/${s3Key(t.config, `main/${id}`)}`]));
  const args = taskArguments([], { stepPath: "main/outputs", workflow: wiring(workflow), artifactLocations }, topScope);
  const job = args.parameters?.find((p) => p.name === "job");
  if (job) job.value = jobTemplate(upstream, topScope);
  return { name: workflowOutputsTask, template: name, ...(upstream.length ? { dependencies: upstream.map(argoName) } : {}), arguments: args };
}

function dagTemplate(workflow: Process, t: Translation): Template {
  return { name: "main", dag: { tasks: [...dagTasks({ workflow, prefix: "main", scope: topScope }, t), outputsTask(workflow, t)] } };
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
      ...(config.parallelism === undefined ? {} : { parallelism: config.parallelism }),
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
    for (const artifact of [...(template.outputs?.artifacts ?? []), ...(template.inputs?.artifacts ?? [])]) {
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
