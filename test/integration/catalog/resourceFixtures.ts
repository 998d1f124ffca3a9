// Fixtures for the Resource controller's integration tests: the manager (provider + resource
// controllers) as a child process watching one namespace, typed writes of Providers, Resources,
// Secrets, ConfigMaps and Nodes, and waits on a Resource's Ready condition.
import { CoreV1Api, CustomObjectsApi, EventsV1Api, type EventsV1Event, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import type { Condition } from "../../../operators/schema/common.ts";
import type { Provider, ProviderSpec } from "../../../operators/schema/provider.ts";
import type { Resource, ResourceSpec } from "../../../operators/schema/resource.ts";
import { eventually, freshNamespace, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { actingAs, systemNamespace } from "../../support/rbac.ts";
import { freePort, startComponent, waitForHttp } from "../../support/processes.ts";
import { deleteNamespaceAndWait, logDir, type ManagerProcess } from "../provider/fixtures.ts";

const group = "archipel.io";
const version = "v1alpha1";

export interface CatalogWorld {
  cluster: TestCluster;
  ns: TestNamespace;
  manager: ManagerProcess;
  createProvider(name: string, spec: ProviderSpec): Promise<Provider>;
  getProvider(name: string): Promise<Provider>;
  /** Merge-patches metadata (e.g. an annotation: a Provider event without a spec change). */
  annotateProvider(name: string, annotations: Record<string, string>): Promise<void>;
  /** Merge-patches spec (a new generation). */
  patchProviderSpec(name: string, spec: Partial<ProviderSpec>): Promise<void>;
  createResource(name: string, spec: Omit<ResourceSpec, "title" | "visibility"> & Partial<ResourceSpec>): Promise<Resource>;
  getResource(name: string): Promise<Resource>;
  patchResourceSpec(name: string, spec: Partial<ResourceSpec>): Promise<void>;
  deleteResource(name: string): Promise<void>;
  createSecret(name: string, data: Record<string, string>): Promise<void>;
  createConfigMap(name: string, data: Record<string, string>): Promise<void>;
  patchConfigMap(name: string, data: Record<string, string>): Promise<void>;
  eventsFor(resourceName: string): Promise<EventsV1Event[]>;
  /** Waits until Ready has this status and reason for the current generation. */
  readyWith(name: string, want: { status: "True" | "False"; reason: string; message?: RegExp }, timeoutMs?: number): Promise<Resource>;
  providerReady(name: string): Promise<Provider>;
  /** controller_runtime_reconcile_total of the resource controller. */
  resourceReconciles(): Promise<number>;
  stop(): Promise<void>;
}

/** Sum of controller_runtime_reconcile_total{controller=NAME} over results. */
export function reconcileCount(metricsText: string, controller: string): number {
  return metricsText
    .split("\n")
    .filter((l) => l.startsWith("controller_runtime_reconcile_total{") && l.includes(`controller="${controller}"`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

export function readyOf(obj: { status?: { conditions?: Condition[] } }): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === "Ready");
}

export interface ManagerIdentity {
  /** A kubeconfig the manager uses instead of the admin's (e.g. a ServiceAccount bound to config/rbac). */
  kubeconfigPath: string;
  extraArgs?: string[];
}

async function startCatalogManager(cluster: TestCluster, namespace: string, as?: ManagerIdentity): Promise<ManagerProcess> {
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const identity = `resource-it-${namespace}`;
  const proc = await startComponent(
    `manager-${namespace}`,
    "operators/manager/main.ts",
    [
      "--controllers=provider,resource",
      // As deployed: the Lease in the manager's own namespace (its RBAC allows no other).
      `--lease-name=archipel-resource-it-${namespace}`,
      `--namespace=${namespace}`,
      `--lease-namespace=${systemNamespace}`,
      `--identity=${identity}`,
      `--metrics-port=${metricsPort}`,
      `--health-port=${healthPort}`,
      ...(as?.extraArgs ?? []),
    ],
    // By default the manager runs as its ServiceAccount under config/rbac, never as the admin.
    { env: { KUBECONFIG: as?.kubeconfigPath ?? (await actingAs(cluster, "archipel-manager")).kubeconfigPath, POD_NAME: identity, LOG_LEVEL: "debug" }, logDir },
  );
  await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}; see ${proc.logFile}`);
  });
  return {
    ...proc,
    metricsPort,
    healthPort,
    identity,
    metrics: async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(3000) })).text(),
  };
}

/** A fresh namespace and a manager watching it; `identity` prepares who the manager runs as. */
export async function catalogWorld(cluster: TestCluster, prefix: string, identity?: (namespace: string) => Promise<ManagerIdentity>): Promise<CatalogWorld> {
  const ns = await freshNamespace(cluster, prefix);
  const namespace = ns.name;
  const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const eventsApi = cluster.kubeConfig().makeApiClient(EventsV1Api);
  const asMerge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const at = (plural: string, name: string) => ({ group, version, namespace, plural, name });
  const manager = await startCatalogManager(cluster, namespace, identity ? await identity(namespace) : undefined);
  const getResource = async (name: string): Promise<Resource> => (await api.getNamespacedCustomObject(at("resources", name))) as Resource;
  const getProvider = async (name: string): Promise<Provider> => (await api.getNamespacedCustomObject(at("providers", name))) as Provider;
  return {
    cluster,
    ns,
    manager,
    createProvider: async (name, spec) =>
      (await api.createNamespacedCustomObject({ group, version, namespace, plural: "providers", body: { apiVersion: `${group}/${version}`, kind: "Provider", metadata: { name }, spec } })) as Provider,
    getProvider,
    annotateProvider: async (name, annotations) => {
      await api.patchNamespacedCustomObject({ ...at("providers", name), body: { metadata: { annotations } } }, asMerge);
    },
    patchProviderSpec: async (name, spec) => {
      await api.patchNamespacedCustomObject({ ...at("providers", name), body: { spec } }, asMerge);
    },
    createResource: async (name, spec) =>
      (await api.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural: "resources",
        body: { apiVersion: `${group}/${version}`, kind: "Resource", metadata: { name }, spec: { title: name, visibility: "public", ...spec } },
      })) as Resource,
    getResource,
    patchResourceSpec: async (name, spec) => {
      await api.patchNamespacedCustomObject({ ...at("resources", name), body: { spec } }, asMerge);
    },
    deleteResource: async (name) => {
      await api.deleteNamespacedCustomObject(at("resources", name));
    },
    createSecret: async (name, stringData) => {
      await core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData } });
    },
    createConfigMap: async (name, data) => {
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data } });
    },
    patchConfigMap: async (name, data) => {
      await core.patchNamespacedConfigMap({ namespace, name, body: { data } }, asMerge);
    },
    eventsFor: async (resourceName) =>
      (await eventsApi.listNamespacedEvent({ namespace })).items.filter((e) => e.regarding?.kind === "Resource" && e.regarding.name === resourceName),
    readyWith: (name, want, timeoutMs = 30_000) =>
      eventually(`Resource ${name} Ready=${want.status} ${want.reason}`, async () => {
        const r = await getResource(name);
        const c = readyOf(r);
        const matches = c?.status === want.status && c.reason === want.reason && (!want.message || want.message.test(c.message));
        return matches && r.status?.observedGeneration === r.metadata?.generation ? r : undefined;
      }, timeoutMs),
    providerReady: (name) =>
      eventually(`Provider ${name} Ready`, async () => {
        const p = await getProvider(name);
        return readyOf(p)?.status === "True" ? p : undefined;
      }),
    resourceReconciles: async () => reconcileCount(await manager.metrics(), "resource"),
    stop: async () => {
      await deleteNamespaceAndWait(cluster, ns);
      await manager.stop();
    },
  };
}

/** A loopback HTTP file server: GET/HEAD of `files`; paths under /no-head/ refuse HEAD (405). */
export interface FileServer {
  url: string;
  files: Map<string, Buffer>;
  /** Requests answered, as "METHOD path". */
  requests: string[];
  /** Paths answered 503 while listed here. */
  unavailable: Set<string>;
  /** The request headers last seen per path. */
  headers: Map<string, http.IncomingHttpHeaders>;
  close(): Promise<void>;
}

function serveFile(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
  if (range) {
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
    res.writeHead(206, { "content-range": `bytes ${start}-${end}/${body.length}`, "content-length": end - start + 1 });
    res.end(body.subarray(start, end + 1));
    return;
  }
  res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" });
  res.end(req.method === "HEAD" ? undefined : body);
}

export async function startFileServer(files: Record<string, Buffer | string>): Promise<FileServer> {
  const map = new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)]));
  const requests: string[] = [];
  const unavailable = new Set<string>();
  const headers = new Map<string, http.IncomingHttpHeaders>();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://files.local").pathname;
    requests.push(`${req.method} ${path}`);
    headers.set(path, req.headers);
    const refusal = unavailable.has(path) ? 503 : req.method === "HEAD" && path.startsWith("/no-head/") ? 405 : 0;
    if (refusal) {
      res.writeHead(refusal).end();
      return;
    }
    const body = map.get(path);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    serveFile(req, res, body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, files: map, requests, unavailable, headers, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export const sha256 = (content: string | Buffer): string => createHash("sha256").update(content).digest("hex");
