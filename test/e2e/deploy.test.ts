// config/default as a user deploys it, on a cluster with a real node: the manager (2 replicas,
// one leader, takeover when the leader Pod is deleted) and the API run as Pods from the project
// image, and the API answers through its Service. `make e2e-deploy` runs this file alone.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { AppsV1Api, CoordinationV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { eventually, repoRoot, startCluster, type TestCluster } from "../support/cluster.ts";

const run = promisify(execFile);
const ns = "archipel-system";
const leaseName = "archipel-manager";

async function kubectl(cluster: TestCluster, ...args: string[]): Promise<string> {
  const { stdout } = await run(path.join(repoRoot, "bin/kubectl"), ["--kubeconfig", cluster.kubeconfigPath, ...args], { maxBuffer: 16 << 20 });
  return stdout;
}

/** config/default with the image the node has (hack/images loads archipel.local/archipel:dev). */
async function applyDefault(cluster: TestCluster): Promise<void> {
  // kustomize takes a base only by a relative path
  const dir = await mkdtemp(path.join(cluster.dir, "deploy-"));
  try {
    const overlay = [
      "resources:",
      `  - ${path.relative(dir, path.join(repoRoot, "config/default"))}`,
      "images:",
      "  - name: archipel",
      "    newName: archipel.local/archipel",
      "    newTag: dev",
      "",
    ].join("\n");
    await writeFile(path.join(dir, "kustomization.yaml"), overlay);
    await kubectl(cluster, "apply", "--server-side", "-k", dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function holder(kc: KubeConfig): Promise<string | undefined> {
  const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: leaseName, namespace: ns }).catch(() => undefined);
  return lease?.spec?.holderIdentity ?? undefined;
}

describe("config/default deployed on a cluster with a node (make e2e-deploy)", function () {
  this.timeout(420_000);
  let cluster: TestCluster;
  let kc: KubeConfig;

  before(async function () {
    cluster = await startCluster(`deploy-${process.pid}`, ["--node"]);
    kc = cluster.kubeConfig();
    await applyDefault(cluster);
  });

  after(async function () {
    if (this.currentTest?.state === "failed" || process.env.KEEP_LOGS) {
      const pods = await kubectl(cluster, "get", "pods", "-n", ns, "-o", "wide").catch(() => "");
      console.log(pods);
    }
    if (cluster) await cluster.stop();
  });

  it("runs both manager replicas and the API as Ready Pods from the project image", async function () {
    const apps = kc.makeApiClient(AppsV1Api);
    for (const [name, replicas] of [["archipel-manager", 2], ["archipel-api", 1]] as const) {
      await eventually(
        `${name} to have ${replicas} ready replicas`,
        async () => (await apps.readNamespacedDeployment({ name, namespace: ns })).status?.readyReplicas === replicas,
        240_000,
        1000,
      ).catch(async (err: Error) => {
        const describe = await kubectl(cluster, "describe", "pods", "-n", ns, "-l", `app.kubernetes.io/component=${name.replace("archipel-", "")}`).catch(() => "");
        throw new Error(`${err.message}\n${describe.slice(-4000)}`);
      });
    }
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns });
    for (const p of pods.items) {
      assert.equal(p.spec?.containers[0]?.image, "archipel.local/archipel:dev");
      assert.equal(p.status?.containerStatuses?.[0]?.restartCount, 0, `${p.metadata?.name} restarted`);
    }
  });

  it("has exactly one leader, and another replica takes over when the leader Pod is deleted", async function () {
    const core = kc.makeApiClient(CoreV1Api);
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: "app.kubernetes.io/component=manager" })).items;
    const names = pods.map((p) => p.metadata!.name!);
    const leader = await eventually("a manager to hold the Lease", async () => {
      const h = await holder(kc);
      return h && names.some((n) => h.startsWith(n)) ? h : undefined;
    }, 60_000, 500);
    const leaderPod = names.find((n) => leader.startsWith(n))!;
    await core.deleteNamespacedPod({ name: leaderPod, namespace: ns });
    const next = await eventually("another manager Pod to take the Lease", async () => {
      const h = await holder(kc);
      return h && !h.startsWith(leaderPod) ? h : undefined;
    }, 90_000, 500);
    // the new holder is a manager Pod of this Deployment (the other replica or its replacement)
    assert.match(next, /^archipel-manager-[a-z0-9]+-[a-z0-9]+/, `new holder ${next}`);
  });

  it("reconciles as deployed: a compute Provider becomes Ready, a service Resource is validated (scratch files on a read-only root)", async function () {
    await kubectl(cluster, "create", "namespace", "team-deploy");
    const tool = { cwlVersion: "v1.2", class: "CommandLineTool", baseCommand: "echo", inputs: { message: { type: "string", inputBinding: { position: 1 } } }, outputs: {} };
    const objects = [
      { kind: "Provider", metadata: { name: "cpu" }, spec: { type: "compute", displayName: "in-cluster test", compute: { nodeSelector: {} } } },
      { kind: "Provider", metadata: { name: "tools" }, spec: { type: "service", service: { defaultImage: "archipel.local/cwl-step:dev" } } },
      { kind: "Resource", metadata: { name: "echo" }, spec: { title: "echo", visibility: "public", providerRef: { name: "tools" }, type: "service", service: { cwl: { document: tool } } } },
    ].map((o) => ({ apiVersion: "archipel.io/v1alpha1", ...o, metadata: { ...o.metadata, namespace: "team-deploy" } }));
    const file = path.join(await mkdtemp(path.join(cluster.dir, "objects-")), "objects.json");
    await writeFile(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
    await kubectl(cluster, "apply", "-f", file);
    const ready = (kind: string, name: string) => async (): Promise<boolean> =>
      (await kubectl(cluster, "get", kind, name, "-n", "team-deploy", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")) === "True";
    await eventually("the compute Provider to be Ready", ready("providers.archipel.io", "cpu"), 90_000, 1000);
    await eventually("the service Resource to be Ready", ready("resources.archipel.io", "echo"), 90_000, 1000).catch(async (err: Error) => {
      const status = await kubectl(cluster, "get", "resources.archipel.io", "echo", "-n", "team-deploy", "-o", "jsonpath={.status.conditions}");
      throw new Error(`${err.message}: ${status}`);
    });
  });

  it("answers through the API's Service", async function () {
    const body = await kubectl(cluster, "get", "--raw", `/api/v1/namespaces/${ns}/services/archipel-api:http/proxy/healthz`);
    assert.match(body, /ok/i);
    const openapi = JSON.parse(await kubectl(cluster, "get", "--raw", `/api/v1/namespaces/${ns}/services/archipel-api:http/proxy/openapi.json`)) as { openapi?: string };
    assert.match(openapi.openapi ?? "", /^3\./);
  });

  it("serves the web UI the image carries at /", async function () {
    const proxy = `/api/v1/namespaces/${ns}/services/archipel-api:http/proxy`;
    const index = await kubectl(cluster, "get", "--raw", `${proxy}/`);
    assert.match(index, /<title>Archipel<\/title>/);
    // (the API server's proxy rewrites the page's absolute links to its own path)
    const script = /<script[^>]+src="[^"]*\/(assets\/[^"]+\.js)"/.exec(index)?.[1];
    assert.ok(script, `index.html names its script under /assets/: ${index.slice(0, 400)}`);
    assert.ok((await kubectl(cluster, "get", "--raw", `${proxy}/${script}`)).length > 1000, `${script} is the UI's bundle`);
  });
});
