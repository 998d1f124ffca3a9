// Argo's Workflow kind, alone: what a process needs to ask whether the cluster serves it, without
// loading the translation and Argo's models (workflow.ts re-exports it for its readers).

/** The Workflow kind, in the shape the runtime's caches take (structurally a KindRef). */
export const workflowKindRef = { group: "argoproj.io", version: "v1alpha1", kind: "Workflow", plural: "workflows", namespaced: true } as const;
