// Two manager processes on one Lease: exactly one reconciles; SIGKILL on the leader lets the
// other take over once the lease expires; SIGTERM releases the Lease at once.
import assert from "node:assert/strict";
import { CoordinationV1Api, type V1Lease } from "@kubernetes/client-node";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { waitForHttp } from "../../support/processes.ts";
import { computeSpec, deleteNamespaceAndWait, type ManagerProcess, objects, type Objects, readyOf, reconcileTotal, startManager, testLeaseName } from "../provider/fixtures.ts";

const leaseDurationMs = 4_000;

describe("leader election between two manager processes", function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let o: Objects;
  let leases: CoordinationV1Api;
  const managers: ManagerProcess[] = [];

  before(async () => {
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "leader");
    o = objects(cluster, ns.name);
    leases = cluster.kubeConfig().makeApiClient(CoordinationV1Api);
  });
  after(async function () {
    this.timeout(90_000);
    // A running manager releases the Provider finalizers; if none survives, strip them.
    if (managers.every((m) => m.child.exitCode !== null || m.child.signalCode !== null)) await o?.stripFinalizers();
    if (ns) await deleteNamespaceAndWait(cluster, ns);
    await Promise.all(managers.map((m) => m.stop("SIGKILL")));
  });
  afterEach(function () {
    if (this.currentTest?.state === "failed") for (const m of managers) console.log(`    ${m.identity} log: ${m.logFile}`);
  });

  const lease = (): Promise<V1Lease | undefined> => leases.readNamespacedLease({ name: testLeaseName, namespace: ns.name }).catch(() => undefined);
  const holder = async (): Promise<string | undefined> => (await lease())?.spec?.holderIdentity || undefined;
  const readyProvider = (name: string) =>
    eventually(`${name} Ready`, async () => {
      const p = await o.getProvider(name);
      return readyOf(p)?.status === "True" && p.status?.observedGeneration === p.metadata?.generation ? p : undefined;
    }, 60_000);
  const reporterOf = async (name: string): Promise<string | undefined> =>
    eventually(`${name}'s event`, async () => (await o.eventsFor(name))[0]?.reportingInstance);

  let leader: ManagerProcess;
  let follower: ManagerProcess;

  it("of two managers exactly one holds the Lease and reconciles", async () => {
    managers.push(await startManager(cluster, ns.name, "mgr-a"), await startManager(cluster, ns.name, "mgr-b"));
    await Promise.all(managers.map((m) => waitForHttp(`http://127.0.0.1:${m.healthPort}/healthz`, 60_000)));
    const holderId = await eventually("a Lease holder", holder, 30_000);
    leader = managers.find((m) => m.identity === holderId)!;
    follower = managers.find((m) => m.identity !== holderId)!;
    assert.ok(leader && follower, `holder ${holderId} is one of the managers`);

    for (let i = 0; i < 5; i++) await o.createProvider(`p${i}`, computeSpec);
    for (let i = 0; i < 5; i++) {
      await readyProvider(`p${i}`);
      assert.equal(await reporterOf(`p${i}`), leader.identity);
    }
    assert.ok(reconcileTotal(await leader.metrics()) >= 5, "the leader reconciled");
    assert.equal(reconcileTotal(await follower.metrics()), 0, "the follower never reconciled");
    assert.match(await leader.metrics(), /leader_election_master_status\{[^}]*\} 1/);
    assert.match(await follower.metrics(), /leader_election_master_status\{[^}]*\} 0/);
  });

  it("the other takes over within the lease duration when the leader is killed (SIGKILL)", async () => {
    await leader.stop("SIGKILL");
    const killedAt = Date.now();
    await o.createProvider("after-kill", computeSpec);
    await eventually("the follower holds the Lease", async () => (await holder()) === follower.identity, 30_000);
    await readyProvider("after-kill");
    const takeoverMs = Date.now() - killedAt;
    console.log(`    takeover after SIGKILL: ${takeoverMs} ms (lease ${leaseDurationMs} ms)`);
    assert.equal(await reporterOf("after-kill"), follower.identity);
    // Renewals are every 500 ms; the lease must expire first, and a slow machine adds a little.
    assert.ok(takeoverMs < leaseDurationMs + 10_000, `takeover in ${takeoverMs} ms`);
    assert.ok(reconcileTotal(await follower.metrics()) >= 1);
  });

  it("SIGTERM releases the Lease so a new manager takes over without waiting for it to expire", async () => {
    const startedAt = Date.now();
    await follower.stop("SIGTERM");
    assert.equal(follower.child.exitCode, 0, "graceful exit");
    const released = await lease();
    assert.notEqual(released?.spec?.holderIdentity, follower.identity, "the Lease no longer names the stopped manager");
    const next = await startManager(cluster, ns.name, "mgr-c");
    managers.push(next);
    await eventually("mgr-c holds the Lease", async () => (await holder()) === "mgr-c", 30_000);
    await o.createProvider("after-term", computeSpec);
    await readyProvider("after-term");
    console.log(`    SIGTERM → new leader reconciling: ${Date.now() - startedAt} ms`);
  });
});
