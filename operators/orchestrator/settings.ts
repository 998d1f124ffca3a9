// Where the orchestrator finds Argo and its artifact repository, from the process environment.
// A module of its own so that the API (which reads peers' outputs from the artifact repository)
// does not load the PipelineRun controller, the CWL library and Argo's models to learn them.
import type { ArtifactStoreSettings } from "./artifactStore.ts";

/** Where the orchestrator finds Argo and what its pods run; defaults are what hack/argo sets up. */
export interface OrchestratorSettings {
  argoNamespace: string;
  argoConfigMap: string;
  /** the image of the tasks that are not a service's (the workflow-outputs task): it holds the entrypoint */
  defaultImage: string;
  /** where a run's artifacts go in the repository's bucket: `<keyPrefix>/<namespace>/<workflow>/…` (translate.ts's workflowKeyBase) */
  keyPrefix: string;
  /** used when no Identity names this cluster */
  fallbackClusterName: string;
  requestTimeoutMs: number;
  /** How long after a peer's steps ended their signed UsageRecords are waited for. */
  peerUsageWaitMs: number;
  /**
   * Whether a Workflow made outside its run's namespace carries the metering hold
   * (billing/meteringHold.ts): only where this manager runs the usage controller that lifts it,
   * over every namespace, or a workspace would stay Terminating for want of it.
   */
  holdForMetering: boolean;
}

export const defaultOrchestratorSettings: OrchestratorSettings = {
  argoNamespace: "argo",
  argoConfigMap: "workflow-controller-configmap",
  defaultImage: "archipel.local/cwl-step:dev",
  keyPrefix: "pipelineruns",
  fallbackClusterName: "local",
  requestTimeoutMs: 30_000,
  peerUsageWaitMs: 5 * 60_000,
  holdForMetering: true,
};

/** The settings from the manager's environment (read once by the composition root). */
export function orchestratorSettingsFrom(env: NodeJS.ProcessEnv): OrchestratorSettings {
  return {
    ...defaultOrchestratorSettings,
    ...(env.ARCHIPEL_ARGO_NAMESPACE ? { argoNamespace: env.ARCHIPEL_ARGO_NAMESPACE } : {}),
    ...(env.ARCHIPEL_ARGO_CONFIGMAP ? { argoConfigMap: env.ARCHIPEL_ARGO_CONFIGMAP } : {}),
    ...(env.ARCHIPEL_CWL_IMAGE ? { defaultImage: env.ARCHIPEL_CWL_IMAGE } : {}),
  };
}

/** Where this process reads and writes the artifact repository (the orchestrator's settings, and the host-side S3 endpoint if any). */
export function artifactStoreSettingsFrom(env: NodeJS.ProcessEnv): ArtifactStoreSettings {
  const settings = orchestratorSettingsFrom(env);
  return { argoNamespace: settings.argoNamespace, argoConfigMap: settings.argoConfigMap, keyPrefix: settings.keyPrefix, requestTimeoutMs: settings.requestTimeoutMs, ...(env.ARCHIPEL_ARTIFACTS_S3_ENDPOINT ? { s3Endpoint: env.ARCHIPEL_ARTIFACTS_S3_ENDPOINT } : {}) };
}

