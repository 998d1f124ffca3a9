// Integration tests run the manager and the API as they are deployed: as their ServiceAccounts in
// archipel-system, bound to the roles config/rbac ships, never as the cluster admin. This applies
// the RBAC part of config/default (what `make deploy` applies) and hands out a kubeconfig with a
// token the TokenRequest API issues for the ServiceAccount.
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api, type V1ClusterRole } from "@kubernetes/client-node";
import { load, loadAll } from "js-yaml";
import { repoRoot, type TestCluster } from "./cluster.ts";

const run = promisify(execFile);

/** Where config/default puts the components (the Leases they elect on live there too). */
export const systemNamespace = "archipel-system";

/** The ServiceAccounts config/rbac binds: the manager's (every controller) and the API's. */
export type ShippedServiceAccount = "archipel-manager" | "archipel-api";

const rbacKinds = new Set(["Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]);

export interface ComponentIdentity {
  serviceAccount: ShippedServiceAccount;
  /** A kubeconfig file acting as the ServiceAccount (for a component started as a process). */
  kubeconfigPath: string;
  /** The same, in-process. */
  kubeConfig(): KubeConfig;
}

const applied = new Map<string, Promise<void>>();

/** Applies the Namespace, ServiceAccounts and RBAC objects of config/default (once per cluster and run). */
export function applyShippedRbac(cluster: TestCluster): Promise<void> {
  let done = applied.get(cluster.name);
  if (!done) {
    done = applyRbac(cluster);
    applied.set(cluster.name, done);
    done.catch(() => applied.delete(cluster.name));
  }
  return done;
}

async function applyRbac(cluster: TestCluster): Promise<void> {
  const kubectl = path.join(repoRoot, "bin/kubectl");
  const { stdout } = await run(kubectl, ["kustomize", path.join(repoRoot, "config/default")], { maxBuffer: 64 << 20 });
  const objects = loadAll(stdout).filter((o): o is { kind: string } => typeof o === "object" && o !== null && rbacKinds.has((o as { kind?: string }).kind ?? ""));
  const file = path.join(cluster.dir, "shipped-rbac.json");
  await writeFile(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
  await run(kubectl, ["--kubeconfig", cluster.kubeconfigPath, "apply", "--server-side", "--force-conflicts", "--field-manager=archipel-tests", "-f", file], { maxBuffer: 16 << 20 });
}

/**
 * A kubeconfig acting as `serviceAccount` of archipel-system with config/rbac applied: the token
 * comes from the TokenRequest API (valid for `hours`, default 6: longer than any test run).
 */
export async function actingAs(cluster: TestCluster, serviceAccount: ShippedServiceAccount, hours = 6): Promise<ComponentIdentity> {
  await applyShippedRbac(cluster);
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const request = await core.createNamespacedServiceAccountToken({ namespace: systemNamespace, name: serviceAccount, body: { spec: { audiences: [], expirationSeconds: hours * 3600 } } });
  const token = request.status?.token;
  if (!token) throw new Error(`TokenRequest for ${systemNamespace}/${serviceAccount} returned no token`);
  const kubeConfig = (): KubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: cluster.name, server: cluster.server, caFile: cluster.caFile, skipTLSVerify: false }],
      users: [{ name: serviceAccount, token }],
      contexts: [{ name: serviceAccount, cluster: cluster.name, user: serviceAccount, namespace: systemNamespace }],
      currentContext: serviceAccount,
    });
    return kc;
  };
  const kubeconfigPath = path.join(cluster.dir, `${serviceAccount}.kubeconfig`);
  await writeFile(kubeconfigPath, kubeConfig().exportConfig(), { mode: 0o600 });
  return { serviceAccount, kubeconfigPath, kubeConfig };
}

/** A kubeconfig acting as a ServiceAccount bound to one shipped role only, and how to unbind it. */
export interface SingleRoleIdentity {
  kubeconfigPath: string;
  /** Deletes the test's copy of the ClusterRole and its binding (the namespace takes the ServiceAccount). */
  cleanup(): Promise<void>;
}

/**
 * A ServiceAccount `serviceAccount` in `namespace` bound to nothing but a copy of the ClusterRole
 * in `roleFile` (e.g. config/rbac/billing_role.yaml): a component run with it proves that role
 * holds every verb the component uses. The copy is named `<role>-<namespace>`.
 */
export async function boundOnlyTo(cluster: TestCluster, namespace: string, roleFile: string, serviceAccount: string): Promise<SingleRoleIdentity> {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
  const role = load(await readFile(path.join(repoRoot, roleFile), "utf8")) as V1ClusterRole;
  const roleName = `${role.metadata?.name ?? "role"}-${namespace}`;
  const labels = { "archipel.io/test": "true" };
  await rbac.createClusterRole({ body: { ...role, metadata: { name: roleName, labels } } });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: roleName, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName },
      subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
    },
  });
  const token = await core.createNamespacedServiceAccountToken({ namespace, name: serviceAccount, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: cluster.server, caFile: cluster.caFile }],
    users: [{ name: serviceAccount, token: token.status?.token ?? "" }],
    contexts: [{ name: serviceAccount, cluster: "c", user: serviceAccount, namespace }],
    currentContext: serviceAccount,
  });
  const kubeconfigPath = path.join(cluster.dir, `${serviceAccount}-${namespace}.kubeconfig`);
  await writeFile(kubeconfigPath, kc.exportConfig(), { mode: 0o600 });
  return {
    kubeconfigPath,
    cleanup: async () => {
      await rbac.deleteClusterRoleBinding({ name: roleName }).catch(() => undefined);
      await rbac.deleteClusterRole({ name: roleName }).catch(() => undefined);
    },
  };
}
