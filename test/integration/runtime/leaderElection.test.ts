// Leader election on a real Lease: of two Managers in one process exactly one runs its
// controllers; stop() releases the Lease so the other takes over at once; a leader that dies
// without releasing (SIGKILL of a manager process) is replaced within the lease duration; a
// leader that cannot renew steps down and stops reconciling.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { CoordinationV1Api, CoreV1Api, V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import type { KindRef } from "../../../operators/runtime/index.ts";
import { Manager } from "../../../operators/runtime/index.ts";
import { createLogger } from "../../../operators/runtime/logger.ts";
import { eventually, freshNamespace, repoRoot, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { metricValue } from "./promText.ts";

const configMaps: KindRef = { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true };
const timings = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

interface Member {
  identity: string;
  manager: Manager;
  reconciled: string[];
}

describe("runtime leader election (real Lease)", function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let leases: CoordinationV1Api;
  let core: CoreV1Api;
  const members: Member[] = [];
  const children: ChildProcess[] = [];

  const lease = (name: string): Promise<V1Lease> => leases.readNamespacedLease({ name, namespace: ns.name });

  async function member(identity: string, leaseName: string): Promise<Member> {
    const logger = createLogger(identity, { silent: !process.env.TEST_LOGS });
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig(),
      logger,
      namespace: ns.name,
      metricsPort: 0,
      healthPort: 0,
      bindAddress: "127.0.0.1",
      leaderElection: { leaseName, leaseNamespace: ns.name, identity, ...timings },
    });
    const m: Member = { identity, manager, reconciled: [] };
    manager.add({ name: "cm", for: configMaps, reconcile: async (key) => void m.reconciled.push(key.name) });
    await manager.start();
    members.push(m);
    return m;
  }

  before(async () => {
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "election");
    leases = cluster.kubeConfig().makeApiClient(CoordinationV1Api);
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  });

  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    await Promise.all(members.map((m) => m.manager.stop()));
    await ns?.cleanup();
  });

  let a: Member;
  let b: Member;

  it("of two managers exactly one leads and reconciles; the other is ready and waits", async () => {
    a = await member("member-a", "pair");
    b = await member("member-b", "pair");
    await eventually("one leader", async () => a.manager.isLeader() !== b.manager.isLeader());
    await new Promise((r) => setTimeout(r, 2 * timings.retryPeriodMs));
    assert.notEqual(a.manager.isLeader(), b.manager.isLeader(), "exactly one leader, still");
    if (b.manager.isLeader()) [a, b] = [b, a];
    assert.equal((await lease("pair")).spec?.holderIdentity, a.identity);

    for (let i = 0; i < 5; i++) await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: `c${i}` } } });
    await eventually("leader reconciled all", async () => [0, 1, 2, 3, 4].every((i) => a.reconciled.includes(`c${i}`)));
    assert.deepEqual(b.reconciled, [], "the follower reconciled nothing");

    assert.equal((await fetch(`${b.manager.healthUrl}/readyz`)).status, 200, "a follower is ready (warm caches)");
    const status = async (m: Member): Promise<number | undefined> =>
      metricValue(await (await fetch(`${m.manager.metricsUrl}/metrics`)).text(), "leader_election_master_status", { name: "pair" });
    assert.equal(await status(a), 1);
    assert.equal(await status(b), 0);
  });

  it("stop() releases the Lease and the other takes over well within the lease duration", async () => {
    const stoppedAt = Date.now();
    await a.manager.stop();
    const released = await lease("pair");
    assert.ok(released.spec?.holderIdentity === "" || released.spec?.holderIdentity === b.identity || released.spec?.holderIdentity === undefined);
    await eventually("b leads", async () => b.manager.isLeader(), 10_000, 20);
    const tookMs = Date.now() - stoppedAt;
    assert.ok(tookMs < timings.leaseDurationMs, `takeover after release took ${tookMs} ms (lease ${timings.leaseDurationMs} ms)`);
    console.log(`      takeover after release: ${tookMs} ms`);
    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: "after-handover" } } });
    await eventually("new leader reconciles", async () => b.reconciled.includes("after-handover"));
    assert.equal((await lease("pair")).spec?.leaseTransitions, 1);
  });

  it("a killed leader (no release) is replaced within the lease duration, not before it expires", async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, "test/integration/runtime/electionMember.ts")], {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG_PATH: cluster.kubeconfigPath, NAMESPACE: ns.name, LEASE: "crash", IDENTITY: "doomed" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    const leading = new Promise<void>((resolve) => child.stdout?.on("data", (d: Buffer) => d.toString().includes("leading") && resolve()));
    await leading;
    const survivor = await member("survivor", "crash");
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(survivor.manager.isLeader(), false, "the survivor must wait while the leader renews");
    const killedAt = Date.now();
    child.kill("SIGKILL");
    await eventually("survivor leads", async () => survivor.manager.isLeader(), 15_000, 20);
    const tookMs = Date.now() - killedAt;
    console.log(`      takeover after SIGKILL: ${tookMs} ms (lease ${timings.leaseDurationMs} ms, retry ${timings.retryPeriodMs} ms)`);
    // The survivor measures the lease from when it last saw a renewal: between lease − retry and lease + retry (+20 % jitter).
    assert.ok(tookMs >= timings.leaseDurationMs - timings.retryPeriodMs * 1.2 - 100, `took over too early: ${tookMs} ms`);
    assert.ok(tookMs <= timings.leaseDurationMs + timings.retryPeriodMs * 1.2 + 500, `took over too late: ${tookMs} ms`);
    assert.equal((await lease("crash")).spec?.holderIdentity, "survivor");
  });

  it("a leader that cannot renew steps down within the renew deadline, and leads again when the Lease is free", async () => {
    const leader = members.find((m) => m.identity === "survivor");
    if (!leader) throw new Error("the previous test did not start the survivor");
    assert.ok(leader.manager.isLeader());
    // Another writer takes the Lease (as a partitioned-then-returning peer could): renewals now fail.
    const stolen = await lease("crash");
    await leases.replaceNamespacedLease({
      name: "crash",
      namespace: ns.name,
      body: { ...stolen, spec: { ...stolen.spec, holderIdentity: "intruder", leaseDurationSeconds: 3600, renewTime: new V1MicroTime() } },
    });
    const stolenAt = Date.now();
    await eventually("leader steps down", async () => !leader.manager.isLeader(), 10_000, 20);
    const tookMs = Date.now() - stolenAt;
    console.log(`      stepped down ${tookMs} ms after losing the Lease (renew deadline ${timings.renewDeadlineMs} ms)`);
    assert.ok(tookMs <= timings.renewDeadlineMs + timings.retryPeriodMs + 500, `stepped down after ${tookMs} ms`);
    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: "while-following" } } });
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!leader.reconciled.includes("while-following"), "a former leader must not reconcile");

    const held = await lease("crash");
    await leases.replaceNamespacedLease({ name: "crash", namespace: ns.name, body: { ...held, spec: { ...held.spec, holderIdentity: "", leaseDurationSeconds: 1 } } });
    await eventually("leads again", async () => leader.manager.isLeader(), 10_000, 20);
    await eventually("reconciles again", async () => leader.reconciled.includes("while-following"));
  });
});
