// What a translated Workflow looks like once Argo runs it, as far as both its readers need it:
// the orchestrator mirrors it into the PipelineRun, billing meters its pods. Here, below both
// (the layering table in ARCHITECTURE.md), rather than in one of them.
//
// How nodes map back to steps: the translation names a step's task after the step (argoName), and
// a fanned-out step (a service that is a CWL Workflow) has three tasks `<step>-inputs`,
// `<step>-items` (one child per job: `<step>-items(0:0)`, …, nested DAG nodes below them) and
// `<step>`. Top-level nodes are named `<workflow>.<task>`; Argo adds `(n)` to retries and items.
import { argoName } from "./conventions.ts";

export { workflowKindRef } from "./workflowKind.ts";

export interface ArgoNode {
  name?: string;
  displayName?: string;
  type?: string;
  templateName?: string;
  phase?: string;
  message?: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  outputs?: { parameters?: { name: string; value?: string }[] };
}

export interface ArgoWorkflow {
  metadata?: { name?: string; namespace?: string };
  spec?: { suspend?: boolean };
  status?: { phase?: string; message?: string; startedAt?: string | null; finishedAt?: string | null; nodes?: Record<string, ArgoNode> };
}

/** The nodes of one step's tasks, by the task name after `<workflow>.`. */
export function nodesOfStep(workflow: ArgoWorkflow, step: string): ArgoNode[] {
  const prefix = `${workflow.metadata?.name ?? ""}.`;
  const base = argoName(step);
  const mine = (task: string): boolean =>
    task === base || task === `${base}-inputs` || task === `${base}-items` || task.startsWith(`${base}(`) || task.startsWith(`${base}-items(`);
  return Object.values(workflow.status?.nodes ?? {}).filter((n) => n.name?.startsWith(prefix) === true && mine(n.name.slice(prefix.length)));
}
