// Two local clusters side by side, each with its own manager and API, as `make run` starts
// them: every kind is served with useful columns, each manager reconciles its own cluster,
// and each API answers as the calling user of its own cluster.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { loadAll } from "js-yaml";
import { eventually, repoRoot, startCluster, type TestCluster } from "../support/cluster.ts";
import { type ComponentProcess, freePort, startComponent, waitForHttp } from "../support/processes.ts";

const run = promisify(execFile);
const kubectlBin = path.join(repoRoot, "bin/kubectl");

interface Member {
  cluster: TestCluster;
  apiURL: string;
  processes: ComponentProcess[];
}

async function kubectl(cluster: TestCluster, ...args: string[]): Promise<string> {
  const { stdout } = await run(kubectlBin, ["--kubeconfig", cluster.kubeconfigPath, ...args], { maxBuffer: 16 << 20 });
  return stdout;
}

async function startMember(name: string): Promise<Member> {
  const cluster = await startCluster(name);
  const [metrics, health, api] = await Promise.all([freePort(), freePort(), freePort()]);
  const env = { KUBECONFIG: cluster.kubeconfigPath, POD_NAMESPACE: "default" };
  const logDir = path.join(cluster.dir, "logs");
  const manager = await startComponent(
    "manager",
    "operators/manager/main.ts",
    ["--metrics-port", String(metrics), "--health-port", String(health)],
    { env, logDir },
  );
  const apiServer = await startComponent("api", "operators/api/main.ts", ["--port", String(api)], { env, logDir });
  const member = { cluster, apiURL: `http://127.0.0.1:${api}`, processes: [manager, apiServer] };
  await waitForHttp(`http://127.0.0.1:${health}/readyz`, 60_000);
  await waitForHttp(`${member.apiURL}/healthz`, 60_000);
  return member;
}

interface SampleObject {
  kind: string;
  metadata: { name: string; namespace?: string };
}

describe("local clusters side by side (hack/cluster + manager + API)", function () {
  this.timeout(240_000);
  const members: Member[] = [];
  let samples: SampleObject[] = [];

  before(async function () {
    const started = await Promise.allSettled([startMember(`e2e-a-${process.pid}`), startMember(`e2e-b-${process.pid}`)]);
    for (const s of started) if (s.status === "fulfilled") members.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const rendered = await kubectl(members[0]!.cluster, "kustomize", path.join(repoRoot, "config/samples"));
    samples = loadAll(rendered) as SampleObject[];
    assert.ok(samples.length >= 11, `config/samples renders ${samples.length} objects, expected one per kind`);
  });

  after(async function () {
    for (const m of members) {
      await Promise.all(m.processes.map((p) => p.stop()));
      await m.cluster.stop();
    }
  });

  it("accepts config/samples and lists every kind with `kubectl get archipel -A`", async () => {
    for (const m of members) {
      await kubectl(m.cluster, "apply", "--server-side", "-k", path.join(repoRoot, "config/samples"));
      const out = await kubectl(m.cluster, "get", "archipel", "-A");
      for (const s of samples) {
        assert.match(out, new RegExp(`${s.kind.toLowerCase()}\\.archipel\\.io/${s.metadata.name}\\b`), `${s.kind} ${s.metadata.name} missing in:\n${out}`);
      }
      // Printer columns beyond NAME and AGE: every table has a READY column.
      const headers = out.split("\n").filter((l) => /^\s*(NAMESPACE\s+)?NAME\s/.test(l));
      assert.ok(headers.length >= 2, out);
      for (const h of headers) assert.match(h, /\bREADY\b/, `a table without a READY column: ${h}`);
    }
  });

  it("each manager reconciles its own cluster's sample Provider to Ready", async () => {
    const provider = samples.find((s) => s.kind === "Provider");
    assert.ok(provider, "config/samples has a Provider");
    for (const m of members) {
      const ns = provider.metadata.namespace ?? "default";
      await eventually(`Provider ${provider.metadata.name} Ready in ${m.cluster.name}`, async () => {
        const ready = await kubectl(m.cluster, "get", "providers.archipel.io", provider.metadata.name, "-n", ns, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}');
        return ready === "True";
      }, 60_000);
    }
  });

  it("each API acts as the caller toward its own cluster only", async () => {
    const [a, b] = members as [Member, Member];
    await kubectl(a.cluster, "create", "rolebinding", "alice-edit", "--clusterrole", "edit", "--user", "alice", "-n", "default");
    await kubectl(a.cluster, "create", "clusterrole", "archipel-provider-editor", "--verb", "get,list,watch,create,update,patch,delete", "--resource", "providers.archipel.io");
    await kubectl(a.cluster, "create", "rolebinding", "alice-providers", "--clusterrole", "archipel-provider-editor", "--user", "alice", "-n", "default");
    const list = (m: Member, token: string): Promise<Response> =>
      fetch(`${m.apiURL}/api/v1/namespaces/default/providers`, { headers: { authorization: `Bearer ${token}` } });
    const onA = await eventually("alice can list Providers on A", async () => {
      const r = await list(a, a.cluster.userTokens.alice);
      return r.status === 200 ? r : undefined;
    });
    const body = (await onA.json()) as { items: unknown[] };
    assert.ok(Array.isArray(body.items) && body.items.length >= 1);
    // alice has no binding on B, and A's token means nothing to B's API server.
    assert.equal((await list(b, b.cluster.userTokens.alice)).status, 403);
    assert.equal((await list(b, a.cluster.userTokens.alice)).status, 401);
  });
});
