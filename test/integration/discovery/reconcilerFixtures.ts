// Fixtures for the Identity and Network controllers' integration tests: a cluster of their own
// (Identity and Network are cluster-scoped: one Identity per cluster, and other suites' managers
// must not reconcile these objects), a system namespace, the manager as a child process, and
// typed reads and writes of Identities, Networks, Secrets and Events.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, EventsV1Api, type EventsV1Event, PatchStrategy, setHeaderOptions, type V1Secret } from "@kubernetes/client-node";
import type { Condition } from "../../../operators/schema/common.ts";
import type { Identity, IdentitySpec } from "../../../operators/schema/identity.ts";
import type { Network, NetworkSpec } from "../../../operators/schema/network.ts";
import { startCluster, type TestCluster } from "../../support/cluster.ts";
import { eventually } from "../../support/eventually.ts";
import { type ComponentProcess, freePort, startComponent, waitForHttp } from "../../support/processes.ts";
import { logDir } from "../provider/fixtures.ts";

const group = "archipel.io";
const version = "v1alpha1";

export function measure(what: string, ms: number): void {
  console.log(`      [measure] ${what}: ${Math.round(ms)} ms`);
}

export function readyOf(o: { status?: { conditions?: Condition[] } } | undefined): Condition | undefined {
  return o?.status?.conditions?.find((c) => c.type === "Ready");
}

export interface DiscoveryEnv {
  cluster: TestCluster;
  systemNamespace: string;
  api: CustomObjectsApi;
  core: CoreV1Api;
  apps: AppsV1Api;
  manager?: ManagerHandle;
  startManager(name: string): Promise<ManagerHandle>;
  createIdentity(name: string, spec: IdentitySpec): Promise<Identity>;
  getIdentity(name: string): Promise<Identity>;
  patchIdentitySpec(name: string, spec: Partial<IdentitySpec>): Promise<void>;
  deleteIdentity(name: string): Promise<void>;
  createNetwork(name: string, spec: NetworkSpec): Promise<Network>;
  getNetwork(name: string): Promise<Network>;
  deleteNetwork(name: string): Promise<void>;
  readSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  createSecret(namespace: string, name: string, data: Record<string, string>): Promise<void>;
  events(kind: string, name: string): Promise<EventsV1Event[]>;
  /** Waits until Ready has this status and reason for the current generation. */
  readyWith<T extends Identity | Network>(get: () => Promise<T>, status: string, reason: string, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

export interface ManagerHandle extends ComponentProcess {
  healthPort: number;
}

/** A cluster named `name` (hack/cluster), a system namespace, no manager yet. */
export async function discoveryEnv(name: string): Promise<DiscoveryEnv> {
  const cluster = await startCluster(name);
  const kc = cluster.kubeConfig();
  const api = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const eventsApi = kc.makeApiClient(EventsV1Api);
  const systemNamespace = "archipel-system";
  await core.createNamespace({ body: { metadata: { name: systemNamespace } } });
  const asMerge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const cluster_ = (plural: string, name_: string) => ({ group, version, plural, name: name_ });

  const env: DiscoveryEnv = {
    cluster,
    systemNamespace,
    api,
    core,
    apps,
    startManager: async (id) => {
      const healthPort = await freePort();
      const proc = await startComponent(
        `manager-${name}-${id}`,
        "operators/manager/main.ts",
        ["--controllers=identity,network", "--leader-elect=false", "--metrics-port=0", `--health-port=${healthPort}`, `--identity=${id}`],
        { env: { KUBECONFIG: cluster.kubeconfigPath, POD_NAME: id, POD_NAMESPACE: systemNamespace, LOG_LEVEL: "debug" }, logDir },
      );
      await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}; see ${proc.logFile}`);
      });
      env.manager = { ...proc, healthPort };
      return env.manager;
    },
    createIdentity: async (n, spec) =>
      (await api.createClusterCustomObject({ group, version, plural: "identities", body: { apiVersion: `${group}/${version}`, kind: "Identity", metadata: { name: n }, spec } })) as Identity,
    getIdentity: async (n) => (await api.getClusterCustomObject(cluster_("identities", n))) as Identity,
    patchIdentitySpec: async (n, spec) => {
      await api.patchClusterCustomObject({ ...cluster_("identities", n), body: { spec } }, asMerge);
    },
    deleteIdentity: async (n) => {
      await api.deleteClusterCustomObject(cluster_("identities", n));
    },
    createNetwork: async (n, spec) =>
      (await api.createClusterCustomObject({ group, version, plural: "networks", body: { apiVersion: `${group}/${version}`, kind: "Network", metadata: { name: n }, spec } })) as Network,
    getNetwork: async (n) => (await api.getClusterCustomObject(cluster_("networks", n))) as Network,
    deleteNetwork: async (n) => {
      await api.deleteClusterCustomObject(cluster_("networks", n));
    },
    readSecret: async (namespace, n) =>
      core.readNamespacedSecret({ namespace, name: n }).catch((err: { code?: number }) => {
        if (err.code === 404) return undefined;
        throw err;
      }),
    createSecret: async (namespace, n, data) => {
      await core.createNamespacedSecret({ namespace, body: { metadata: { name: n }, stringData: data } });
    },
    // Events about cluster-scoped objects land in "default".
    events: async (kind, n) => (await eventsApi.listNamespacedEvent({ namespace: "default" })).items.filter((e) => e.regarding?.kind === kind && e.regarding.name === n),
    readyWith: (get, status, reason, timeoutMs = 30_000) =>
      eventually(
        `Ready=${status} ${reason}`,
        async () => {
          const o = await get();
          const r = readyOf(o);
          return r?.status === status && r.reason === reason && o.status?.observedGeneration === o.metadata?.generation ? o : undefined;
        },
        timeoutMs,
        200,
      ),
    stop: async () => {
      await env.manager?.stop();
      await cluster.stop();
    },
  };
  return env;
}
