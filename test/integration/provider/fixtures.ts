// Fixtures for the Provider controller's integration tests: typed reads and writes of Providers,
// Resources and Events in a test namespace, and the manager started as a child process.
import { CoreV1Api, CustomObjectsApi, EventsV1Api, type EventsV1Event, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import path from "node:path";
import type { Condition } from "../../../operators/schema/common.ts";
import type { Provider, ProviderSpec } from "../../../operators/schema/provider.ts";
import type { Resource } from "../../../operators/schema/resource.ts";
import { repoRoot, type TestCluster } from "../../support/cluster.ts";
import { type ComponentProcess, freePort, startComponent } from "../../support/processes.ts";

const group = "archipel.io";
const version = "v1alpha1";

export interface Objects {
  createProvider(name: string, spec: ProviderSpec): Promise<Provider>;
  getProvider(name: string): Promise<Provider>;
  /** Merge-patches spec (retried by the caller when needed). */
  patchProviderSpec(name: string, spec: Partial<ProviderSpec>): Promise<Provider>;
  deleteProvider(name: string): Promise<void>;
  providerExists(name: string): Promise<boolean>;
  createResource(name: string, providerName: string): Promise<Resource>;
  deleteResource(name: string): Promise<void>;
  /** Removes every finalizer from the namespace's Providers (cleanup where no manager runs). */
  stripFinalizers(): Promise<void>;
  events(): Promise<EventsV1Event[]>;
  eventsFor(providerName: string): Promise<EventsV1Event[]>;
}

export function objects(cluster: TestCluster, namespace: string): Objects {
  const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  const eventsApi = cluster.kubeConfig().makeApiClient(EventsV1Api);
  const at = (plural: string, name: string) => ({ group, version, namespace, plural, name });
  const asMerge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const events = async (): Promise<EventsV1Event[]> => (await eventsApi.listNamespacedEvent({ namespace })).items;
  return {
    createProvider: async (name, spec) =>
      (await api.createNamespacedCustomObject({ group, version, namespace, plural: "providers", body: { apiVersion: `${group}/${version}`, kind: "Provider", metadata: { name }, spec } })) as Provider,
    getProvider: async (name) => (await api.getNamespacedCustomObject(at("providers", name))) as Provider,
    patchProviderSpec: async (name, spec) => (await api.patchNamespacedCustomObject({ ...at("providers", name), body: { spec } }, asMerge)) as Provider,
    deleteProvider: async (name) => {
      await api.deleteNamespacedCustomObject(at("providers", name));
    },
    providerExists: async (name) =>
      api.getNamespacedCustomObject(at("providers", name)).then(
        () => true,
        (err: { code?: number }) => {
          if (err.code === 404) return false;
          throw err;
        },
      ),
    createResource: async (name, providerName) =>
      (await api.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural: "resources",
        body: {
          apiVersion: `${group}/${version}`,
          kind: "Resource",
          metadata: { name },
          spec: { providerRef: { name: providerName }, type: "compute", title: `compute ${name}`, visibility: "private", compute: { cpu: "1", memory: "1Gi" } },
        },
      })) as Resource,
    deleteResource: async (name) => {
      await api.deleteNamespacedCustomObject(at("resources", name));
    },
    stripFinalizers: async () => {
      const list = (await api.listNamespacedCustomObject({ group, version, namespace, plural: "providers" })) as { items: Provider[] };
      await Promise.all(
        list.items.map((p) => api.patchNamespacedCustomObject({ ...at("providers", p.metadata?.name ?? ""), body: { metadata: { finalizers: null } } }, asMerge).catch(() => undefined)),
      );
    },
    events,
    eventsFor: async (providerName) => (await events()).filter((e) => e.regarding?.kind === "Provider" && e.regarding.name === providerName),
  };
}

export const computeSpec: ProviderSpec = { type: "compute", compute: { capacity: { cpu: "4", memory: "8Gi" } } };

export function readyOf(p: Provider): Condition | undefined {
  return p.status?.conditions?.find((c) => c.type === "Ready");
}

export interface ManagerProcess extends ComponentProcess {
  metricsPort: number;
  healthPort: number;
  identity: string;
  /** The manager's /metrics text. */
  metrics(): Promise<string>;
}

export const testLeaseName = "archipel-provider-it";

export const logDir = path.join(repoRoot, ".clusters", "test-logs");

/** Starts `node operators/manager/main.ts` watching one namespace, with a short lease by default. */
export async function startManager(
  cluster: TestCluster,
  namespace: string,
  identity: string,
  extraArgs: string[] = [],
): Promise<ManagerProcess> {
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const proc = await startComponent(
    `manager-${namespace}-${identity}`,
    "operators/manager/main.ts",
    [
      "--controllers=provider",
      `--lease-name=${testLeaseName}`,
      `--namespace=${namespace}`,
      `--lease-namespace=${namespace}`,
      "--lease-duration=4s",
      "--renew-deadline=3s",
      "--retry-period=500ms",
      `--identity=${identity}`,
      `--metrics-port=${metricsPort}`,
      `--health-port=${healthPort}`,
      ...extraArgs,
    ],
    { env: { KUBECONFIG: cluster.kubeconfigPath, POD_NAME: identity, LOG_LEVEL: "debug" }, logDir },
  );
  return {
    ...proc,
    metricsPort,
    healthPort,
    identity,
    metrics: async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(3000) })).text(),
  };
}

/** Sum of a counter's samples for controller="provider" (over its other labels, e.g. result). */
export function providerMetric(metricsText: string, name: string, extraLabel = ""): number {
  let sum = 0;
  for (const line of metricsText.split("\n")) {
    if (line.startsWith(`${name}{`) && line.includes('controller="provider"') && line.includes(extraLabel)) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

export const reconcileTotal = (metricsText: string): number => providerMetric(metricsText, "controller_runtime_reconcile_total");

/**
 * Deletes the namespace and waits until it is gone, while a manager still runs to release its
 * finalizers (a Provider finalizer would otherwise keep the namespace Terminating forever).
 */
export async function deleteNamespaceAndWait(cluster: TestCluster, ns: { name: string; cleanup(): Promise<void> }, timeoutMs = 60_000): Promise<void> {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  await ns.cleanup();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const gone = await core.readNamespace({ name: ns.name }).then(() => false, () => true);
    if (gone) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`    namespace ${ns.name} still terminating after ${timeoutMs} ms`);
}
