// Test fixtures: a real local control plane (hack/cluster) per test run, fresh namespaces in it.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";

const run = promisify(execFile);
export const repoRoot = path.resolve(import.meta.dirname, "../..");
const clusterScript = path.join(repoRoot, "hack/cluster");

export type TestUser = "alice" | "bob" | "carol";
export const testUsers: readonly TestUser[] = ["alice", "bob", "carol"];

export interface TestCluster {
  name: string;
  dir: string;
  kubeconfigPath: string;
  server: string;
  caFile: string;
  adminToken: string;
  userTokens: Record<TestUser, string>;
  /** A KubeConfig acting as the admin (default) or as one of the test users. */
  kubeConfig(user?: TestUser | "admin"): KubeConfig;
  stop(): Promise<void>;
}

interface ClusterJson {
  name: string;
  server: string;
  caFile: string;
  kubeconfig: string;
  tokens: Record<TestUser | "admin", string>;
}

function clustersDir(): string {
  return process.env.CLUSTERS_DIR ?? path.join(repoRoot, ".clusters");
}

/** Reads a cluster that hack/cluster already started. */
export async function attachCluster(name: string, owned = false): Promise<TestCluster> {
  const dir = path.join(clustersDir(), name);
  const info = JSON.parse(await readFile(path.join(dir, "cluster.json"), "utf8")) as ClusterJson;
  const kubeConfig = (user: TestUser | "admin" = "admin"): KubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name, server: info.server, caFile: info.caFile, skipTLSVerify: false }],
      users: [{ name: user, token: info.tokens[user] }],
      contexts: [{ name: user, cluster: name, user }],
      currentContext: user,
    });
    return kc;
  };
  const { admin, ...userTokens } = info.tokens;
  return {
    name,
    dir,
    kubeconfigPath: info.kubeconfig,
    server: info.server,
    caFile: info.caFile,
    adminToken: admin,
    userTokens,
    kubeConfig,
    stop: async () => {
      if (owned) await run(clusterScript, ["down", name]);
    },
  };
}

/**
 * Starts a fresh cluster (etcd + kube-apiserver + kube-controller-manager, crds/ installed);
 * `--node` adds a real node (containerd + kubelet), `--argo` Argo Workflows on it.
 */
export async function startCluster(name: string, flags: ("--node" | "--argo")[] = []): Promise<TestCluster> {
  try {
    await run(clusterScript, ["up", name, ...flags], { maxBuffer: 1 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`hack/cluster up ${name} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
  return attachCluster(name, true);
}

let shared: Promise<TestCluster> | undefined;

/**
 * The one cluster of this test run. ARCHIPEL_TEST_CLUSTER=NAME reuses a cluster you started
 * with `hack/cluster up NAME` (kept afterwards); otherwise one is started and stopped at the end.
 */
export function sharedCluster(): Promise<TestCluster> {
  const reuse = process.env.ARCHIPEL_TEST_CLUSTER;
  shared ??= reuse ? startCluster(reuse).then((c) => ({ ...c, stop: async () => {} })) : startCluster(`it-${process.pid}`);
  return shared;
}

/** Stops the shared cluster if this run started it. */
export async function stopSharedCluster(): Promise<void> {
  if (!shared) return;
  const c = await shared.catch(() => undefined);
  shared = undefined;
  await c?.stop();
}

export interface TestNamespace {
  name: string;
  cleanup(): Promise<void>;
}

/** A new namespace with a random suffix; cleanup deletes it (kube-controller-manager empties it). */
export async function freshNamespace(cluster: TestCluster, prefix = "t"): Promise<TestNamespace> {
  const name = `${prefix}-${randomBytes(4).toString("hex")}`.slice(0, 63);
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { "archipel.io/test": "true" } } } });
  return {
    name,
    cleanup: async () => {
      await core.deleteNamespace({ name }).catch(() => undefined);
    },
  };
}

export { eventually } from "./eventually.ts";
