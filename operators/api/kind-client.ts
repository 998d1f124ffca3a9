// Reads and writes of one kind through CustomObjectsApi, the same calls for namespaced and
// cluster-scoped kinds. The KubeConfig passed in is the caller's (see caller.ts).
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { retryTooManyRequests } from "../runtime/tooManyRequests.ts";
import type { ApiKind } from "./view.ts";

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

/** `namespace` is undefined for cluster-scoped kinds. */
export interface KindClient {
  list(namespace: string | undefined, query: ListQuery): Promise<unknown>;
  get(namespace: string | undefined, name: string): Promise<unknown>;
  create(namespace: string | undefined, body: object): Promise<unknown>;
  replace(namespace: string | undefined, name: string, body: object): Promise<unknown>;
  delete(namespace: string | undefined, name: string, resourceVersion?: string): Promise<unknown>;
}

function listParams(query: ListQuery): { labelSelector?: string; fieldSelector?: string; limit?: number; _continue?: string } {
  const params: ReturnType<typeof listParams> = {};
  if (query.labelSelector !== undefined) params.labelSelector = query.labelSelector;
  if (query.fieldSelector !== undefined) params.fieldSelector = query.fieldSelector;
  if (query.limit !== undefined) params.limit = query.limit;
  if (query.continue !== undefined) params._continue = query.continue;
  return params;
}

function deleteOptions(resourceVersion: string | undefined): { body?: { preconditions: { resourceVersion: string } } } {
  return resourceVersion === undefined ? {} : { body: { preconditions: { resourceVersion } } };
}

function namespacedClient(api: CustomObjectsApi, base: { group: string; version: string; plural: string }): KindClient {
  const at = (namespace: string | undefined): typeof base & { namespace: string } => ({ ...base, namespace: namespace ?? "" });
  return {
    list: (ns, query) => api.listNamespacedCustomObject({ ...at(ns), ...listParams(query) }),
    get: (ns, name) => api.getNamespacedCustomObject({ ...at(ns), name }),
    create: (ns, body) => api.createNamespacedCustomObject({ ...at(ns), body }),
    replace: (ns, name, body) => api.replaceNamespacedCustomObject({ ...at(ns), name, body }),
    delete: (ns, name, rv) => api.deleteNamespacedCustomObject({ ...at(ns), name, ...deleteOptions(rv) }),
  };
}

function clusterClient(api: CustomObjectsApi, base: { group: string; version: string; plural: string }): KindClient {
  return {
    list: (_ns, query) => api.listClusterCustomObject({ ...base, ...listParams(query) }),
    get: (_ns, name) => api.getClusterCustomObject({ ...base, name }),
    create: (_ns, body) => api.createClusterCustomObject({ ...base, body }),
    replace: (_ns, name, body) => api.replaceClusterCustomObject({ ...base, name, body }),
    delete: (_ns, name, rv) => api.deleteClusterCustomObject({ ...base, name, ...deleteOptions(rv) }),
  };
}

/** Every call, again after the server's Retry-After while it answers 429 (see tooManyRequests.ts). */
function retryingTooManyRequests(client: KindClient): KindClient {
  return {
    list: (ns, query) => retryTooManyRequests(() => client.list(ns, query)),
    get: (ns, name) => retryTooManyRequests(() => client.get(ns, name)),
    create: (ns, body) => retryTooManyRequests(() => client.create(ns, body)),
    replace: (ns, name, body) => retryTooManyRequests(() => client.replace(ns, name, body)),
    delete: (ns, name, rv) => retryTooManyRequests(() => client.delete(ns, name, rv)),
  };
}

export function kindClient(kubeConfig: KubeConfig, kind: ApiKind): KindClient {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const base = { group: kind.group, version: kind.version, plural: kind.plural };
  return retryingTooManyRequests(kind.scope === "Namespaced" ? namespacedClient(api, base) : clusterClient(api, base));
}
