// Fixtures for the AccessGrant controller's integration tests: the manager (provider, resource and
// access-grant controllers) as a child process watching one namespace, typed writes of Providers,
// Resources, AccessGrants and Secrets, and waits on an AccessGrant's Ready condition. Every world
// runs under the shipped grantee admission policy (config/rbac/grantee_policy.yaml).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { CoreV1Api, CustomObjectsApi, EventsV1Api, type KubernetesObject, KubernetesObjectApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { loadAll as loadAllYaml } from "js-yaml";
import type { AccessGrant, AccessGrantSpec } from "../../../operators/schema/accessGrant.ts";
import type { ProviderSpec } from "../../../operators/schema/provider.ts";
import type { ResourceSpec } from "../../../operators/schema/resource.ts";
import { eventually, freshNamespace, repoRoot, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { actingAs, systemNamespace } from "../../support/rbac.ts";
import { type ComponentProcess, freePort, startComponent, waitForHttp } from "../../support/processes.ts";
import { deleteNamespaceAndWait, logDir } from "../provider/fixtures.ts";
import type { ManagerIdentity } from "./resourceFixtures.ts";

const group = "archipel.io";
const version = "v1alpha1";

export interface GrantWorld {
  cluster: TestCluster;
  ns: TestNamespace;
  manager(): ComponentProcess;
  /** The manager's Prometheus text (its /metrics). */
  metrics(): Promise<string>;
  restartManager(): Promise<void>;
  createSecret(name: string, data: Record<string, string>): Promise<void>;
  /** The Secret's decoded data, or undefined when it does not exist. */
  readSecret(name: string): Promise<Record<string, string> | undefined>;
  createProvider(name: string, spec: ProviderSpec): Promise<void>;
  createResource(name: string, spec: Omit<ResourceSpec, "title" | "visibility"> & Partial<ResourceSpec>): Promise<void>;
  createGrant(name: string, spec: AccessGrantSpec): Promise<AccessGrant>;
  getGrant(name: string): Promise<AccessGrant | undefined>;
  annotateGrant(name: string, annotations: Record<string, string>): Promise<void>;
  deleteGrant(name: string): Promise<void>;
  /** Waits until Ready has this status and reason. */
  grantReady(name: string, want: { status: "True" | "False"; reason: string }, timeoutMs?: number): Promise<AccessGrant>;
  /** Every Event's note and reason about `name` (to check nothing secret leaks). */
  eventsText(name: string): Promise<string>;
  stop(): Promise<void>;
}

interface GrantManager extends ComponentProcess {
  metricsPort: number;
}

async function startGrantManager(cluster: TestCluster, namespace: string, as?: ManagerIdentity): Promise<GrantManager> {
  const [healthPort, metricsPort] = [await freePort(), await freePort()];
  const identity = `access-grant-it-${namespace}`;
  const proc = await startComponent(
    `manager-${namespace}`,
    "operators/manager/main.ts",
    [
      "--controllers=provider,resource,access-grant",
      // As deployed: the Lease in the manager's own namespace (its RBAC allows no other).
      `--lease-name=archipel-access-grant-it-${namespace}`,
      `--namespace=${namespace}`,
      `--lease-namespace=${systemNamespace}`,
      "--lease-duration=4s",
      "--renew-deadline=3s",
      "--retry-period=500ms",
      `--identity=${identity}`,
      `--metrics-port=${metricsPort}`,
      `--health-port=${healthPort}`,
      ...(as?.extraArgs ?? []),
    ],
    // The manager runs as its ServiceAccount under config/rbac (or as a narrower one a test names), never as the admin.
    { env: { KUBECONFIG: as?.kubeconfigPath ?? (await actingAs(cluster, "archipel-manager")).kubeconfigPath, POD_NAME: identity, LOG_LEVEL: "debug" }, logDir },
  );
  await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}; see ${proc.logFile}`);
  });
  return { ...proc, metricsPort };
}

/** Applies config/rbac/grantee_policy.yaml (cluster-scoped, idempotent, shared by every world). */
export async function installGranteePolicy(cluster: TestCluster): Promise<void> {
  const objects = loadAllYaml(await readFile(path.join(repoRoot, "config/rbac/grantee_policy.yaml"), "utf8")) as KubernetesObject[];
  const api = KubernetesObjectApi.makeApiClient(cluster.kubeConfig());
  for (const obj of objects) await api.patch(obj, undefined, undefined, "archipel-tests", true, PatchStrategy.ServerSideApply);
}

export function readyOf(g: AccessGrant | undefined): { status: string; reason: string; message: string } | undefined {
  return g?.status?.conditions?.find((c) => c.type === "Ready");
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === 404;
}

/** A fresh namespace and a manager watching it; `identity` prepares who the manager runs as (default: admin). */
export async function grantWorld(cluster: TestCluster, prefix: string, identity?: (namespace: string) => Promise<ManagerIdentity>): Promise<GrantWorld> {
  await installGranteePolicy(cluster);
  const ns = await freshNamespace(cluster, prefix);
  const namespace = ns.name;
  const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const eventsApi = cluster.kubeConfig().makeApiClient(EventsV1Api);
  const at = (plural: string, name: string) => ({ group, version, namespace, plural, name });
  const create = async (plural: string, kind: string, name: string, spec: unknown): Promise<unknown> =>
    api.createNamespacedCustomObject({ group, version, namespace, plural, body: { apiVersion: `${group}/${version}`, kind, metadata: { name }, spec } });
  const as = identity ? await identity(namespace) : undefined;
  let manager = await startGrantManager(cluster, namespace, as);
  const getGrant = async (name: string): Promise<AccessGrant | undefined> => {
    try {
      return (await api.getNamespacedCustomObject(at("accessgrants", name))) as AccessGrant;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  return {
    cluster,
    ns,
    manager: () => manager,
    metrics: async () => (await fetch(`http://127.0.0.1:${manager.metricsPort}/metrics`, { signal: AbortSignal.timeout(3000) })).text(),
    restartManager: async () => {
      await manager.stop();
      manager = await startGrantManager(cluster, namespace, as);
    },
    createSecret: async (name, data) => {
      await core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: data } });
    },
    readSecret: async (name) => {
      try {
        const s = await core.readNamespacedSecret({ namespace, name });
        return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    createProvider: async (name, spec) => {
      await create("providers", "Provider", name, spec);
    },
    createResource: async (name, spec) => {
      await create("resources", "Resource", name, { title: name, visibility: "public", ...spec });
    },
    createGrant: async (name, spec) => (await create("accessgrants", "AccessGrant", name, spec)) as AccessGrant,
    getGrant,
    annotateGrant: async (name, annotations) => {
      await api.patchNamespacedCustomObject({ ...at("accessgrants", name), body: { metadata: { annotations } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    },
    deleteGrant: async (name) => {
      await api.deleteNamespacedCustomObject(at("accessgrants", name));
    },
    grantReady: (name, want, timeoutMs = 30_000) =>
      eventually(
        `AccessGrant ${name} Ready=${want.status} ${want.reason}`,
        async () => {
          const g = await getGrant(name);
          const c = readyOf(g);
          return c?.status === want.status && c.reason === want.reason ? g : undefined;
        },
        timeoutMs,
        200,
      ),
    eventsText: async (name) => {
      const list = await eventsApi.listNamespacedEvent({ namespace });
      return JSON.stringify(list.items.filter((e) => e.regarding?.name === name).map((e) => ({ reason: e.reason, note: e.note })));
    },
    stop: async () => {
      // Grants go first, while the Providers' admin Secrets (and the manager's ServiceAccount, if
      // it runs as one) still exist: deleting the namespace deletes those too, and a grant that
      // cannot revoke keeps its finalizer (RevokeFailed) and the namespace with it.
      const list = (await api.listNamespacedCustomObject({ group, version, namespace, plural: "accessgrants" })) as { items: AccessGrant[] };
      await Promise.all(list.items.map((g) => api.deleteNamespacedCustomObject(at("accessgrants", g.metadata?.name ?? "")).catch(() => undefined)));
      await eventually("the namespace's grants revoked and gone", async () => ((await api.listNamespacedCustomObject({ group, version, namespace, plural: "accessgrants" })) as { items: unknown[] }).items.length === 0, 60_000, 250).catch(
        (err: Error) => console.log(`    ${err.message}; see ${manager.logFile}`),
      );
      await deleteNamespaceAndWait(cluster, ns).catch(() => undefined);
      await manager.stop();
    },
  };
}
