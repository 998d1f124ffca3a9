// Integration tests run the manager and the API as they are deployed: as their ServiceAccounts in
// archipel-system, bound to the roles config/rbac ships, never as the cluster admin. This applies
// the RBAC part of config/default (what `make deploy` applies) and hands out a kubeconfig with a
// token the TokenRequest API issues for the ServiceAccount.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { loadAll } from "js-yaml";
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
