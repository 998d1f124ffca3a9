// Whether the cluster serves Argo's Workflow kind, asked before the controllers that need it are
// loaded: a cluster without Argo does not load the orchestrator (its S3 client, the CWL library,
// Argo's models) only to leave it out.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { apiErrorCode, isNotFound } from "../runtime/errors.ts";
import { workflowKindRef } from "../pipeline/argo/workflowKind.ts";
import { timed } from "../pipeline/timed.ts";
import { defaultOrchestratorSettings } from "./settings.ts";

/**
 * Whether the cluster serves Argo's Workflow kind. Without it the Workflow cache never fills, and
 * the Manager starts no controller before every cache has: the manager leaves this controller out.
 */
export async function workflowsServed(kubeConfig: KubeConfig, timeoutMs = defaultOrchestratorSettings.requestTimeoutMs): Promise<boolean> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  try {
    await timed("listing Argo Workflows", api.listClusterCustomObject({ group: workflowKindRef.group, version: workflowKindRef.version, plural: workflowKindRef.plural, limit: 1 }), timeoutMs);
    return true;
  } catch (err) {
    // Not served (404), or not ours to list (403): the cache could never fill. Anything else (the
    // API server not answering yet) is what informers retry through: keep the controller.
    return !(isNotFound(err) || apiErrorCode(err) === 403);
  }
}
