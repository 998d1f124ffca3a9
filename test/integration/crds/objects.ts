// A small client for archipel.io objects of any kind (namespaced or not), and the API server's
// rejection as { code, message } so tests can assert which field it names.
import { ApiException, CustomObjectsApi } from "@kubernetes/client-node";
import type { KindDefinition } from "../../../operators/schema/kind.ts";
import type { TestCluster } from "../../support/cluster.ts";

export interface Obj {
  [key: string]: unknown;
  metadata: { name: string; resourceVersion?: string; generation?: number };
  spec: Record<string, unknown>;
  status?: unknown;
}

export interface Rejection {
  code: number;
  message: string;
}

export interface Objects {
  create(kind: KindDefinition, body: Obj, opts?: { dryRun?: boolean }): Promise<Obj>;
  get(kind: KindDefinition, name: string): Promise<Obj>;
  replace(kind: KindDefinition, body: Obj): Promise<Obj>;
  replaceStatus(kind: KindDefinition, body: Obj): Promise<Obj>;
  remove(kind: KindDefinition, name: string): Promise<void>;
}

export function objects(cluster: TestCluster, namespace: string): Objects {
  const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  const where = (kind: KindDefinition): { group: string; version: string; plural: string; namespace: string } => ({
    group: kind.group,
    version: kind.version,
    plural: kind.plural,
    namespace,
  });
  const namespaced = (kind: KindDefinition): boolean => kind.scope === "Namespaced";
  const strict = { fieldValidation: "Strict" };
  return {
    create: async (kind, body, opts = {}) => {
      const args = { ...where(kind), body, ...strict, ...(opts.dryRun ? { dryRun: "All" } : {}) };
      return (namespaced(kind) ? api.createNamespacedCustomObject(args) : api.createClusterCustomObject(args)) as Promise<Obj>;
    },
    get: async (kind, name) =>
      (namespaced(kind) ? api.getNamespacedCustomObject({ ...where(kind), name }) : api.getClusterCustomObject({ ...where(kind), name })) as Promise<Obj>,
    replace: async (kind, body) => {
      const args = { ...where(kind), name: body.metadata.name, body, ...strict };
      return (namespaced(kind) ? api.replaceNamespacedCustomObject(args) : api.replaceClusterCustomObject(args)) as Promise<Obj>;
    },
    replaceStatus: async (kind, body) => {
      const args = { ...where(kind), name: body.metadata.name, body };
      return (namespaced(kind) ? api.replaceNamespacedCustomObjectStatus(args) : api.replaceClusterCustomObjectStatus(args)) as Promise<Obj>;
    },
    remove: async (kind, name) => {
      const args = { ...where(kind), name };
      await (namespaced(kind) ? api.deleteNamespacedCustomObject(args) : api.deleteClusterCustomObject(args));
    },
  };
}

/** Awaits a request that must fail, and returns the API server's status code and message. */
export async function rejection(request: Promise<unknown>): Promise<Rejection> {
  try {
    await request;
  } catch (err) {
    if (err instanceof ApiException) {
      const body = typeof err.body === "string" ? (JSON.parse(err.body) as { message?: string }) : (err.body as { message?: string });
      return { code: err.code, message: body?.message ?? String(err.body) };
    }
    throw err;
  }
  throw new Error("the API server accepted an object it should have refused");
}
