// An Argo Workflow's status mirrored into its PipelineRun's status. Pure: the Workflow as read from
// the cache goes in, the run's phase, steps, outputs and condition decisions come out.
// How nodes map back to steps: pipeline/argo/workflow.ts.
import type { ConditionUpdate } from "../runtime/conditions.ts";
import type { PipelineRunSpec, PipelineRunStatus, StepStatus } from "../schema/pipelineRun.ts";
import { argoName, outputsParameter, workflowOutputsTask } from "../pipeline/argo/conventions.ts";
import { type ArgoNode, type ArgoWorkflow, nodesOfStep } from "../pipeline/argo/workflow.ts";
import { RunReason } from "./reasons.ts";

type Phase = NonNullable<PipelineRunStatus["phase"]>;
type StepPhase = StepStatus["phase"];
type Outputs = NonNullable<PipelineRunStatus["outputs"]>;

/** What the reconciler writes: status fields and the two conditions. */
export interface RunObservation {
  phase: Phase;
  startedAt?: string;
  finishedAt?: string;
  progress: string;
  steps: StepStatus[];
  outputs?: Outputs;
  ready: ConditionUpdate;
  succeeded: ConditionUpdate;
}

const finalPhases = new Set(["Succeeded", "Failed", "Error"]);
const notRunPhases = new Set(["Skipped", "Omitted"]);
const maxMessage = 4096;

export function workflowPhase(phase: string | undefined): Phase {
  return phase === "Running" || phase === "Succeeded" || phase === "Failed" || phase === "Error" ? phase : "Pending";
}

function clip(text: string, max = maxMessage): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function mainNode(workflow: ArgoWorkflow, step: string, nodes: ArgoNode[]): ArgoNode | undefined {
  const name = `${workflow.metadata?.name ?? ""}.${argoName(step)}`;
  return nodes.find((n) => n.name === name);
}

const failed = (n: ArgoNode): boolean => n.phase === "Failed" || n.phase === "Error";

/** The failing node a user should read: a Pod's message (the tool's words) before a group's. */
function failure(nodes: ArgoNode[]): ArgoNode | undefined {
  const all = nodes.filter(failed);
  return all.find((n) => n.type === "Pod" && n.message) ?? all.find((n) => n.message) ?? all[0];
}

const settled = (n: ArgoNode): boolean => n.phase === undefined || finalPhases.has(n.phase) || notRunPhases.has(n.phase);

/** The step's final task decides once it has ended. */
function endedAs(main: ArgoNode | undefined): StepPhase | undefined {
  const phase = main?.phase;
  if (phase === undefined) return undefined;
  if (finalPhases.has(phase)) return phase as StepPhase;
  return notRunPhases.has(phase) ? "Skipped" : undefined;
}

function phaseOfStep(nodes: ArgoNode[], main: ArgoNode | undefined, workflowDone: boolean): StepPhase {
  const ended = endedAs(main);
  if (ended) return ended;
  // A fanned-out step whose deciding pod or an item failed never reaches its final task.
  const broken = failure(nodes);
  if (broken && (workflowDone || nodes.every(settled))) return broken.phase === "Error" ? "Error" : "Failed";
  if (workflowDone) return "Skipped";
  return nodes.every((n) => n.phase === "Pending") ? "Pending" : "Running";
}

function times(nodes: ArgoNode[], final: boolean): Pick<StepStatus, "startedAt" | "finishedAt"> {
  const started = nodes.map((n) => n.startedAt).filter((t): t is string => typeof t === "string" && t !== "").sort();
  const finished = nodes.map((n) => n.finishedAt).filter((t): t is string => typeof t === "string" && t !== "").sort();
  return { ...(started[0] ? { startedAt: started[0] } : {}), ...(final && finished.length ? { finishedAt: finished[finished.length - 1]! } : {}) };
}

const notRunMessage = "not run: the workflow ended before this step could start (an upstream step failed)";

function failureText(phase: StepPhase, nodes: ArgoNode[]): string {
  return failure(nodes)?.message ?? `the step ${phase === "Error" ? "errored" : "failed"}`;
}

function stepMessage(phase: StepPhase, nodes: ArgoNode[], main: ArgoNode | undefined): string | undefined {
  switch (phase) {
    case "Failed":
    case "Error":
      return failureText(phase, nodes);
    case "Skipped":
      return main?.message ?? notRunMessage;
    case "Pending":
      return nodes.find((n) => n.message)?.message;
    default:
      return undefined;
  }
}

/** One status entry per pipeline step, in spec order. */
export function stepStatuses(spec: PipelineRunSpec, workflow: ArgoWorkflow, cluster: string): StepStatus[] {
  const done = finalPhases.has(workflow.status?.phase ?? "");
  return spec.steps.map((step) => {
    const nodes = nodesOfStep(workflow, step.name);
    const main = mainNode(workflow, step.name, nodes);
    const phase = phaseOfStep(nodes, main, done);
    const message = stepMessage(phase, nodes, main);
    const final = phase !== "Pending" && phase !== "Running";
    return { name: step.name, phase, cluster, ...times(nodes, final), ...(message ? { message: clip(message) } : {}) };
  });
}

function isFsObject(value: unknown): value is { class: string; location?: string } {
  return typeof value === "object" && value !== null && ((value as { class?: unknown }).class === "File" || (value as { class?: unknown }).class === "Directory");
}

/** The CWL output object the `workflow-outputs` task left as its `cwl-outputs` parameter. */
function outputsText(workflow: ArgoWorkflow): string | undefined {
  const name = `${workflow.metadata?.name ?? ""}.${workflowOutputsTask}`;
  const node = Object.values(workflow.status?.nodes ?? {}).find((n) => n.name === name);
  return node?.outputs?.parameters?.find((p) => p.name === outputsParameter)?.value;
}

function outputObject(workflow: ArgoWorkflow): Record<string, unknown> | undefined {
  const text = outputsText(workflow);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The run's outputs: locations of files and directories, JSON of the rest. */
export function runOutputs(spec: PipelineRunSpec, workflow: ArgoWorkflow): Outputs | undefined {
  const object = outputObject(workflow);
  if (object === undefined) return undefined;
  return (spec.outputs ?? []).map(({ name }) => {
    const value = object[name];
    if (isFsObject(value) && typeof value.location === "string") return { name, location: clip(value.location, 2048), class: value.class === "Directory" ? ("Directory" as const) : ("File" as const) };
    return { name, value: clip(JSON.stringify(value ?? null)) };
  });
}

type Decision = { ready: ConditionUpdate; succeeded: ConditionUpdate };

/** Ready carries the same reason as Succeeded (the Reason column); it is True unless the run failed. */
function decide(status: "True" | "False" | "Unknown", reason: string, message: string): Decision {
  const text = clip(message, 32000);
  return {
    ready: { type: "Ready", status: status === "False" ? "False" : "True", reason, message: text },
    succeeded: { type: "Succeeded", status, reason, message: text },
  };
}

function workflowName(workflow: ArgoWorkflow): string {
  return `Workflow ${workflow.metadata?.namespace ?? ""}/${workflow.metadata?.name ?? ""}`;
}

function stepFailure(step: StepStatus): string {
  return `step "${step.name}" failed on cluster ${step.cluster ?? "?"}: ${step.message ?? step.phase}`;
}

function ended(phase: Phase, workflow: ArgoWorkflow, steps: StepStatus[], progress: string): Decision {
  const name = workflowName(workflow);
  if (phase === "Succeeded") return decide("True", RunReason.Succeeded, `${name} succeeded: ${progress} steps`);
  const step = steps.find((s) => s.phase === "Failed" || s.phase === "Error");
  if (step) return decide("False", RunReason.StepFailed, stepFailure(step));
  return decide("False", RunReason.WorkflowFailed, `${name} ${phase === "Error" ? "errored" : "failed"}: ${workflow.status?.message ?? "no message"}`);
}

function conditions(phase: Phase, workflow: ArgoWorkflow, steps: StepStatus[], progress: string): Decision {
  if (finalPhases.has(phase)) return ended(phase, workflow, steps, progress);
  const name = workflowName(workflow);
  if (workflow.spec?.suspend === true) return decide("Unknown", RunReason.Suspended, `${name} is suspended (spec.suspend): running steps finish, no new step starts; ${progress} steps succeeded`);
  if (phase === "Pending") return decide("Unknown", RunReason.Pending, `${name} is created; waiting for Argo to start it`);
  return decide("Unknown", RunReason.Running, `${name} runs: ${progress} steps succeeded`);
}
/** The whole observation of one Workflow for one run. `cluster`: where Local steps run (this cluster's name). */
export function observeWorkflow(spec: PipelineRunSpec, workflow: ArgoWorkflow, cluster: string): RunObservation {
  const phase = workflowPhase(workflow.status?.phase);
  const steps = stepStatuses(spec, workflow, cluster);
  const progress = `${steps.filter((s) => s.phase === "Succeeded").length}/${steps.length}`;
  const outputs = phase === "Succeeded" ? runOutputs(spec, workflow) : undefined;
  const { startedAt, finishedAt } = workflow.status ?? {};
  return {
    phase,
    ...(startedAt ? { startedAt } : {}),
    ...(finishedAt && finalPhases.has(phase) ? { finishedAt } : {}),
    progress,
    steps,
    ...(outputs ? { outputs } : {}),
    ...conditions(phase, workflow, steps, progress),
  };
}
