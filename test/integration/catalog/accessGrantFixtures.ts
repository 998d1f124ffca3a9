// Fixtures for the AccessGrant controller's integration tests: the manager (provider, resource and
// access-grant controllers) as a child process watching one namespace, typed writes of Providers,
// Resources, AccessGrants and Secrets, and waits on an AccessGrant's Ready condition.
import { CoreV1Api, CustomObjectsApi, EventsV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { AccessGrant, AccessGrantSpec } from "../../../operators/schema/accessGrant.ts";
import type { ProviderSpec } from "../../../operators/schema/provider.ts";
import type { ResourceSpec } from "../../../operators/schema/resource.ts";
import { eventually, freshNamespace, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { actingAs, systemNamespace } from "../../support/rbac.ts";
import { type ComponentProcess, freePort, startComponent, waitForHttp } from "../../support/processes.ts";
import { deleteNamespaceAndWait, logDir } from "../provider/fixtures.ts";

const group = "archipel.io";
const version = "v1alpha1";

export interface GrantWorld {
  cluster: TestCluster;
  ns: TestNamespace;
  manager(): ComponentProcess;
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

async function startGrantManager(cluster: TestCluster, namespace: string): Promise<ComponentProcess> {
  const healthPort = await freePort();
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
      `--metrics-port=${await freePort()}`,
      `--health-port=${healthPort}`,
    ],
    // The manager runs as its ServiceAccount under config/rbac, never as the admin.
    { env: { KUBECONFIG: (await actingAs(cluster, "archipel-manager")).kubeconfigPath, POD_NAME: identity, LOG_LEVEL: "debug" }, logDir },
  );
  await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}; see ${proc.logFile}`);
  });
  return proc;
}

export function readyOf(g: AccessGrant | undefined): { status: string; reason: string; message: string } | undefined {
  return g?.status?.conditions?.find((c) => c.type === "Ready");
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === 404;
}

export async function grantWorld(cluster: TestCluster, prefix: string): Promise<GrantWorld> {
  const ns = await freshNamespace(cluster, prefix);
  const namespace = ns.name;
  const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const eventsApi = cluster.kubeConfig().makeApiClient(EventsV1Api);
  const at = (plural: string, name: string) => ({ group, version, namespace, plural, name });
  const create = async (plural: string, kind: string, name: string, spec: unknown): Promise<unknown> =>
    api.createNamespacedCustomObject({ group, version, namespace, plural, body: { apiVersion: `${group}/${version}`, kind, metadata: { name }, spec } });
  let manager = await startGrantManager(cluster, namespace);
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
    restartManager: async () => {
      await manager.stop();
      manager = await startGrantManager(cluster, namespace);
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
      // The manager stays up while the namespace goes: the grants' finalizers revoke in the backends.
      await deleteNamespaceAndWait(cluster, ns).catch(() => undefined);
      await manager.stop();
    },
  };
}
