// A real node (hack/cluster up --node): Pods run in containerd through runc, their logs and exit
// codes come back through the kubelet, limits are enforced, in-cluster clients reach the API server
// through the `kubernetes` Service, and `down` leaves no process, mount, cgroup or network device.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile, readlink } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { eventually, repoRoot, startCluster, type TestCluster } from "../support/cluster.ts";

const run = promisify(execFile);
const stepImage = "archipel.local/cwl-step:dev";

function pod(name: string, script: string, extra: Partial<V1Pod["spec"]> = {}, memory = "64Mi"): V1Pod {
  return {
    metadata: { name },
    spec: {
      restartPolicy: "Never",
      automountServiceAccountToken: true,
      containers: [
        {
          name: "main",
          image: stepImage,
          imagePullPolicy: "Never",
          command: ["bash", "-c", script],
          resources: { limits: { memory, cpu: "500m" }, requests: { memory, cpu: "10m" } },
        },
      ],
      ...extra,
    },
  };
}

async function finished(core: CoreV1Api, ns: string, name: string): Promise<V1Pod> {
  return eventually(
    `pod ${name} to finish`,
    async () => {
      const p = await core.readNamespacedPod({ name, namespace: ns });
      return p.status?.phase === "Succeeded" || p.status?.phase === "Failed" ? p : undefined;
    },
    90_000,
    250,
  );
}

/** What a cluster leaves on the host: processes that mention its folder, mounts under it, cgroups, links. */
async function hostTraces(dir: string, name: string): Promise<string[]> {
  const traces: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid) || pid === String(process.pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(dir)) traces.push(`process ${pid}: ${cmdline.replaceAll("\0", " ").slice(0, 120)}`);
  }
  const mounts = await readFile("/proc/self/mounts", "utf8");
  for (const line of mounts.split("\n")) if (line.includes(dir)) traces.push(`mount: ${line}`);
  for (const c of await readdir("/sys/fs/cgroup")) {
    if (existsSync(`/sys/fs/cgroup/${c}/archipel-${name}`)) traces.push(`cgroup: ${c}/archipel-${name}`);
  }
  return traces;
}

/** Fixed paths containerd and kubelet write to by default: the node must keep them inside its namespace. */
const hostPaths = ["/opt/containerd", "/etc/cni", "/var/lib/kubelet", "/var/lib/containerd", "/var/lib/cni", "/var/log/pods", "/run/containerd", "/var/run/nri"];
const existingHostPaths = (): string[] => hostPaths.filter((p) => existsSync(p));

async function hostLinks(): Promise<string> {
  const { stdout } = await run("ip", ["-o", "link", "show"]);
  return stdout
    .split("\n")
    .map((l) => l.split(":")[1]?.trim())
    .filter(Boolean)
    .sort()
    .join(",");
}

describe("a local cluster with a real node (hack/cluster up --node)", function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let core: CoreV1Api;
  let linksBefore: string;
  let pathsBefore: string[];
  const ns = "default";

  before(async function () {
    linksBefore = await hostLinks();
    pathsBefore = existingHostPaths();
    cluster = await startCluster(`node-${process.pid}`, ["--node"]);
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  });

  after(async function () {
    if (cluster) await cluster.stop();
  });

  it("has a Ready node", async function () {
    const nodes = await core.listNode();
    assert.equal(nodes.items.length, 1);
    const ready = nodes.items[0]!.status?.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "True", JSON.stringify(nodes.items[0]!.status?.conditions));
  });

  it("runs a Pod: its logs and its exit code come back through the kubelet", async function () {
    await core.createNamespacedPod({ namespace: ns, body: pod("exit-three", "echo hello from $HOSTNAME; exit 3") });
    const p = await finished(core, ns, "exit-three");
    assert.equal(p.status?.phase, "Failed");
    assert.equal(p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 3);
    assert.match(p.status?.podIP ?? "", /^10\.244\.0\.\d+$/);
    const logs = await core.readNamespacedPodLog({ name: "exit-three", namespace: ns });
    assert.equal(logs.trim(), "hello from exit-three");
  });

  it("enforces a memory limit (the container is OOM-killed)", async function () {
    const hog = "python3 -c 'b = bytearray(200 * 1024 * 1024); print(len(b))'";
    await core.createNamespacedPod({ namespace: ns, body: pod("memory-hog", hog, {}, "32Mi") });
    const p = await finished(core, ns, "memory-hog");
    const terminated = p.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(p.status?.phase, "Failed");
    assert.equal(terminated?.reason, "OOMKilled", JSON.stringify(terminated));
  });

  it("lets a Pod reach the API server through the kubernetes Service with its ServiceAccount", async function () {
    await core.createNamespacedPod({
      namespace: ns,
      body: pod(
        "in-cluster",
        [
          "sa=/var/run/secrets/kubernetes.io/serviceaccount",
          'NODE_EXTRA_CA_CERTS=$sa/ca.crt node -e "',
          "fetch('https://' + process.env.KUBERNETES_SERVICE_HOST + ':' + process.env.KUBERNETES_SERVICE_PORT + '/version',",
          "  {headers: {authorization: 'Bearer ' + require('fs').readFileSync('$sa/token', 'utf8')}})",
          "  .then(r => r.json()).then(v => console.log('server', v.gitVersion))",
          '  .catch(e => { console.error(e.cause ?? e); process.exit(1); })"',
        ].join("\n"),
      ),
    });
    const p = await finished(core, ns, "in-cluster");
    const logs = await core.readNamespacedPodLog({ name: "in-cluster", namespace: ns });
    assert.equal(p.status?.phase, "Succeeded", logs);
    assert.match(logs, /^server v1\.36\.\d+/m);
  });

  it("removes a deleted Pod's containers from the node", async function () {
    await core.createNamespacedPod({ namespace: ns, body: pod("sleeper", "sleep 600") });
    await eventually("sleeper to run", async () => (await core.readNamespacedPod({ name: "sleeper", namespace: ns })).status?.phase === "Running", 60_000, 250);
    const before = await countContainers(cluster.dir);
    await core.deleteNamespacedPod({ name: "sleeper", namespace: ns, gracePeriodSeconds: 0 });
    await eventually("the sleeper's containers to be gone", async () => (await countContainers(cluster.dir)) < before, 60_000, 500);
  });

  it("leaves no process, mount, cgroup or network device behind on down", async function () {
    const { dir, name } = cluster;
    const holder = (await readFile(path.join(dir, "pids/netns"), "utf8")).trim();
    const nodeNet = await readlink(`/proc/${holder}/ns/net`);
    assert.notEqual(nodeNet, await readlink("/proc/self/ns/net"), "the node runs in a network namespace of its own");
    await run(path.join(repoRoot, "hack/cluster"), ["down", name]);
    assert.deepEqual(await hostTraces(dir, name), []);
    assert.equal(existsSync(`/proc/${holder}`), false, "the namespace holder is gone");
    assert.equal(await hostLinks(), linksBefore, "no network device was added to or removed from the host");
    assert.deepEqual(existingHostPaths(), pathsBefore, "no runtime folder was created on the host");
    assert.equal(existsSync(dir), false);
  });
});

async function countContainers(dir: string): Promise<number> {
  const { stdout } = await run(path.join(repoRoot, "bin/ctr"), ["-a", path.join(dir, "sock/containerd.sock"), "-n", "k8s.io", "tasks", "list", "-q"]);
  return stdout.split("\n").filter(Boolean).length;
}
