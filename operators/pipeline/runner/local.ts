// The local runner: translates the process to an Argo Workflow, then runs the translated
// DAG's tasks in dependency order on this machine, calling the same step entrypoint the
// step containers run, with the host's programs standing in for the images.
import type { IDAGTask } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask";
import type { Process, Step } from "../cwl/model.ts";
import { argoName, executionOrder, translate, type TranslateConfig } from "../argo/translate.ts";
import { evaluatorFor, prepareInputs, runProcess, ToolFailed, type RunOptions } from "../entrypoint/tool.ts";
import { runStep, workflowOutputs, type WorkflowState } from "../entrypoint/step.ts";
import { Relocator } from "./relocate.ts";

export interface LocalOptions extends RunOptions { outdir: string }

const localConfig: TranslateConfig = {
  name: "local",
  defaultImage: "archipel/cwl-entrypoint:local",
  entrypoint: ["archipel-cwl-entrypoint"],
  artifacts: {
    endpoint: "localhost:0",
    bucket: "local",
    keyPrefix: "local",
    accessKeySecret: { name: "none", key: "none" },
    secretKeySecret: { name: "none", key: "none" },
  },
};

export function runLocally(process: Process, job: Record<string, unknown>, options: LocalOptions): Record<string, unknown> {
  const workdirs: string[] = [];
  const runner = (p: Process, j: Record<string, unknown>, o: RunOptions): Record<string, unknown> => {
    if (p.class === "Workflow") return runWorkflow(p, j, o, runner);
    const result = runProcess(p, j, o);
    workdirs.push(result.workdir);
    return result.outputs;
  };
  const outputs = runner(process, job, options);
  return new Relocator(options.outdir, workdirs).relocate(outputs) as Record<string, unknown>;
}

type Runner = (p: Process, j: Record<string, unknown>, o: RunOptions) => Record<string, unknown>;

function runWorkflow(workflow: Process, job: Record<string, unknown>, options: RunOptions, runner: Runner): Record<string, unknown> {
  const argo = translate(workflow, job, localConfig);
  const main = argo.spec.templates?.find((t) => t.name === argo.spec.entrypoint);
  const tasks: IDAGTask[] = main?.dag?.tasks ?? [];
  const inputs = prepareInputs(workflow, job, options, evaluatorFor(workflow, options.sandbox));
  const state: WorkflowState = { workflow, inputs, stepOutputs: new Map() };
  for (const task of executionOrder(tasks)) {
    // A fanned-out step's deciding and per-item tasks are Argo's business: here the task that
    // carries the step's name runs the whole step.
    const step = stepOfTask(task, workflow);
    if (step === undefined || task.name !== argoName(step.id)) continue;
    state.stepOutputs.set(step.id, runStep(step, state, { ...options, discoverSecondaryFiles: false }, runner));
  }
  return workflowOutputs(state);
}

/** The CWL step a DAG task works for, named in the task's `spec` parameter (none: the outputs task). */
function stepOfTask(task: IDAGTask, workflow: Process): Step | undefined {
  const value = task.arguments?.parameters?.find((p) => p.name === "spec")?.value;
  const spec = JSON.parse(String(value ?? "{}")) as { step?: { id?: string } };
  if (spec.step === undefined) return undefined;
  const step = workflow.steps.find((s) => s.id === spec.step?.id);
  if (step === undefined) throw new ToolFailed(`DAG task ${task.name} names no step of workflow ${workflow.id}`);
  return step;
}
