// The names a translated Workflow and its readers agree on (tasks, parameters, key layout, pod
// paths), apart from the translation itself: the orchestrator, billing and the in-pod entrypoint
// read them without loading the translator and Argo's models (~26 MiB per process).

export const outputsParameter = "cwl-outputs";
export const workflowOutputsTask = "workflow-outputs";
/** A DNS-1123-ish Argo name from a CWL id. */
export function argoName(id: string): string {
  const name = id.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  return (name === "" ? "step" : name).slice(0, 63);
}

/**
 * Where a Workflow keeps its objects in the repository's bucket. The namespace is part of it: two
 * namespaces may hold same-named Workflows, and one's objects must never be the other's.
 */
export function workflowKeyBase(keyPrefix: string, namespace: string, workflow: string): string {
  return `${keyPrefix}/${namespace}/${workflow}`;
}

/** Where a run's input files appear in every pod (the runner adds them as an input artifact). */
export const podInputsDir = "/cwl/inputs";
