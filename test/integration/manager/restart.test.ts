// A manager killed half-way through a batch and started again loses nothing: every Provider
// converges, and Events are not duplicated (repeats fold into one Event's series).
import assert from "node:assert/strict";
import type { ProviderSpec } from "../../../operators/schema/provider.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { computeSpec, deleteNamespaceAndWait, type ManagerProcess, objects, type Objects, readyOf, startManager } from "../provider/fixtures.ts";
import { providerFinalizer } from "../../../operators/catalog/providerReconciler.ts";

const count = 30;
const invalidSpec: ProviderSpec = { type: "compute", compute: { overcommit: { cpu: "0.5" } } };
/** Every fifth Provider is invalid, so both outcomes must survive the restart. */
const expectedReason = (i: number): string => (i % 5 === 0 ? "InvalidSpec" : "Valid");

describe("manager restarted mid-stream", function () {
  this.timeout(240_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let o: Objects;
  const started: ManagerProcess[] = [];

  before(async () => {
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "restart");
    o = objects(cluster, ns.name);
  });
  after(async function () {
    this.timeout(90_000);
    // A running manager releases the Provider finalizers; if none survives, strip them.
    if (started.every((m) => m.child.exitCode !== null || m.child.signalCode !== null)) await o?.stripFinalizers();
    if (ns) await deleteNamespaceAndWait(cluster, ns);
    await Promise.all(started.map((m) => m.stop("SIGKILL")));
  });
  afterEach(function () {
    if (this.currentTest?.state === "failed") for (const m of started) console.log(`    ${m.identity} log: ${m.logFile}`);
  });

  const converged = async (i: number): Promise<boolean> => {
    const p = await o.getProvider(`p${i}`).catch(() => undefined);
    if (!p) return false;
    const r = readyOf(p);
    return r?.reason === expectedReason(i) && p.status?.observedGeneration === p.metadata?.generation && (p.metadata?.finalizers ?? []).includes(providerFinalizer);
  };
  const convergedCount = async (): Promise<number> => (await Promise.all(Array.from({ length: count }, (_, i) => converged(i)))).filter(Boolean).length;

  it("converges all 30 Providers after a SIGKILL half-way, without an Event storm", async () => {
    // The restarted process has a new identity, as a replacement pod would: the killed one's
    // Lease has to expire (4 s) before it leads.
    const first = await startManager(cluster, ns.name, "restart-1");
    started.push(first);
    // First half of the stream while the manager runs; kill it once it has converged a few, so
    // it dies with work done, in flight and queued; the second half arrives while it is down.
    const half = count / 2;
    const create = (i: number) => o.createProvider(`p${i}`, i % 5 === 0 ? invalidSpec : computeSpec);
    const firstHalf = Promise.all(Array.from({ length: half }, (_, i) => create(i)));
    await eventually("a few converged", async () => {
      for (let i = 0, n = 0; i < half; i++) if (await converged(i)) if (++n >= 3) return true;
      return false;
    }, 90_000, 50);
    await first.stop("SIGKILL");
    await firstHalf;
    const atKill = await convergedCount();
    await Promise.all(Array.from({ length: half }, (_, i) => create(half + i)));
    console.log(`    converged when killed: ${atKill}/${half} of the first half`);
    assert.ok((await convergedCount()) < count, "with no manager running, the second half cannot have converged");

    const restartedAt = Date.now();
    started.push(await startManager(cluster, ns.name, "restart-2"));
    await eventually("all converged", async () => (await convergedCount()) === count, 120_000, 250);
    console.log(`    all ${count} converged ${Date.now() - restartedAt} ms after the restart`);

    const events = (await o.events()).filter((e) => e.regarding?.kind === "Provider");
    const perProvider = new Map<string, number>();
    for (const e of events) perProvider.set(e.regarding?.name ?? "", (perProvider.get(e.regarding?.name ?? "") ?? 0) + 1);
    const maxObjects = Math.max(...perProvider.values());
    const maxSeries = Math.max(...events.map((e) => e.series?.count ?? 1));
    console.log(`    events: ${events.length} objects for ${perProvider.size} providers, max series count ${maxSeries}`);
    assert.equal(maxObjects, 1, "one Event object per Provider (one transition each)");
    assert.ok(maxSeries <= 2, `a repeat after the restart folds into the series (max ${maxSeries})`);
    // An Event is written after the status it reports; only a reconcile in flight at SIGKILL
    // can lose its Event (the restarted manager sees no transition). Concurrency is 2.
    assert.ok(perProvider.size >= count - 2, `${perProvider.size} of ${count} Providers have their Event`);
    for (const e of events) {
      const i = Number(e.regarding?.name?.slice(1));
      assert.equal(e.reason, expectedReason(i), `${e.regarding?.name}'s event reason`);
    }
  });
});
