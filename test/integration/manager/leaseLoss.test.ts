// Losing the Lease stops every reconcile before anyone can lead again (issue 11): a reconcile in
// flight when its Manager loses the Lease is aborted (ReconcileContext.signal) and has returned
// before the same process leads again or another member takes the Lease; one that ignores the
// abort makes the Manager give up (exit, in production) before another member can lead.
// The order is read from timestamps the reconcilers record, never from wall-clock bounds.
import assert from "node:assert/strict";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { KindRef, ObjectKey, ReconcileContext } from "../../../operators/runtime/index.ts";
import { Manager } from "../../../operators/runtime/index.ts";
import { createLogger } from "../../../operators/runtime/logger.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { startApiProxy, type ApiProxy } from "../runtime/apiProxy.ts";

const configMaps: KindRef = { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true };
// The renew deadline is 2 s short of the lease: that is the time a step-down has to drain.
const timings = { leaseDurationMs: 4000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

interface Mark {
  member: string;
  key: string;
  what: "start" | "end";
  at: number;
}

/** What a reconcile does with its abort signal. */
type Behaviour = "returns-on-abort" | "ignores-abort";

interface Member {
  identity: string;
  manager: Manager;
  /** Resolves every reconcile that ignores its abort. */
  releaseStubborn(): void;
}

describe("Manager: losing the Lease stops every reconcile first (real Lease)", function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  const namespaces: TestNamespace[] = [];
  const members: Member[] = [];
  const proxies: ApiProxy[] = [];
  const marks: Mark[] = [];

  const at = (member: string, key: string, what: Mark["what"], nth = 0): number | undefined =>
    marks.filter((m) => m.member === member && m.key === key && m.what === what)[nth]?.at;

  function reconciler(identity: string, behaviour: Behaviour, stubborn: (() => void)[]): (key: ObjectKey, ctx: ReconcileContext) => Promise<void> {
    return async (key, ctx) => {
      if (key.name !== "blocked") return; // kube-root-ca.crt and the like
      marks.push({ member: identity, key: key.name, what: "start", at: Date.now() });
      await new Promise<void>((resolve) => {
        if (behaviour === "ignores-abort") {
          stubborn.push(resolve);
          return;
        }
        if (ctx.signal?.aborted) resolve();
        else ctx.signal?.addEventListener("abort", () => resolve(), { once: true });
      });
      // Some clean-up after the abort (a last write, say) before returning.
      if (behaviour === "returns-on-abort") await new Promise((r) => setTimeout(r, 200));
      marks.push({ member: identity, key: key.name, what: "end", at: Date.now() });
    };
  }

  interface MemberOptions {
    ns: string;
    kubeConfig: KubeConfig;
    behaviour: Behaviour;
    shutdownTimeoutMs?: number;
    onReconcilesOutlivedLease?: () => void;
  }

  async function member(identity: string, { ns, kubeConfig, behaviour, ...extra }: MemberOptions): Promise<Member> {
    const stubborn: (() => void)[] = [];
    const manager = new Manager({
      kubeConfig,
      logger: createLogger(identity, { silent: !process.env.TEST_LOGS }),
      namespace: ns,
      leaderElection: { leaseName: "drain", leaseNamespace: ns, identity, ...timings },
      informerBackoff: { baseMs: 100, maxMs: 500 },
      ...extra,
    });
    manager.add({ name: "cm", for: configMaps, reconcile: reconciler(identity, behaviour, stubborn) });
    await manager.start();
    const m: Member = { identity, manager, releaseStubborn: () => stubborn.splice(0).forEach((r) => r()) };
    members.push(m);
    return m;
  }

  async function proxied(): Promise<ApiProxy> {
    const proxy = await startApiProxy(cluster);
    proxies.push(proxy);
    return proxy;
  }

  /** Cuts the member behind `proxy` off the API server: it can no longer renew. */
  function partition(proxy: ApiProxy): void {
    proxy.refusing = true;
    proxy.breakConnections();
  }

  async function namespaceWithBlockedReconcile(prefix: string): Promise<TestNamespace> {
    const ns = await freshNamespace(cluster, prefix);
    namespaces.push(ns);
    return ns;
  }

  const createConfigMap = (ns: string, name: string): Promise<unknown> =>
    cluster.kubeConfig().makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: ns, body: { metadata: { name } } });

  before(async () => {
    cluster = await sharedCluster();
  });

  after(async function () {
    this.timeout(60_000);
    for (const m of members) m.releaseStubborn();
    await Promise.all(members.map((m) => m.manager.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(namespaces.map((n) => n.cleanup()));
  });

  it("a reconcile in flight when the Lease is lost returns before the same process leads again", async () => {
    const ns = await namespaceWithBlockedReconcile("drain-self");
    const proxy = await proxied();
    // A short shutdown timeout: stopping must not rely on it to keep runs apart.
    const a = await member("self-a", { ns: ns.name, kubeConfig: proxy.kubeConfig(), behaviour: "returns-on-abort", shutdownTimeoutMs: 500 });
    await eventually("self-a leads", async () => a.manager.isLeader(), 15_000, 20);
    await createConfigMap(ns.name, "blocked");
    await eventually("self-a reconciles blocked", async () => at("self-a", "blocked", "start") !== undefined);

    partition(proxy);
    await eventually("self-a steps down", async () => !a.manager.isLeader(), 15_000, 20);
    proxy.refusing = false;
    await eventually("self-a leads again and reconciles blocked once more", async () => at("self-a", "blocked", "start", 1) !== undefined, 30_000, 50);

    const firstEnd = at("self-a", "blocked", "end");
    const secondStart = at("self-a", "blocked", "start", 1);
    assert.ok(firstEnd !== undefined, "the first reconcile returned (it was aborted)");
    assert.ok(secondStart !== undefined && firstEnd <= secondStart, `the first run ended (${firstEnd}) before the second started (${secondStart})`);
  });

  it("a reconcile in flight when the Lease is lost returns before another member takes the Lease", async () => {
    const ns = await namespaceWithBlockedReconcile("drain-other");
    const proxy = await proxied();
    const a = await member("old-a", { ns: ns.name, kubeConfig: proxy.kubeConfig(), behaviour: "returns-on-abort" });
    await eventually("old-a leads", async () => a.manager.isLeader(), 15_000, 20);
    const b = await member("new-b", { ns: ns.name, kubeConfig: cluster.kubeConfig(), behaviour: "returns-on-abort" });
    await createConfigMap(ns.name, "blocked");
    await eventually("old-a reconciles blocked", async () => at("old-a", "blocked", "start") !== undefined);
    assert.equal(b.manager.isLeader(), false);

    partition(proxy);
    await eventually("new-b takes over and reconciles blocked", async () => at("new-b", "blocked", "start") !== undefined, 30_000, 50);
    const oldEnd = at("old-a", "blocked", "end");
    const newStart = at("new-b", "blocked", "start");
    assert.ok(oldEnd !== undefined, "old-a's reconcile returned (it was aborted)");
    assert.ok(newStart !== undefined && oldEnd < newStart, `old-a's reconcile ended (${oldEnd}) before new-b's started (${newStart})`);
    assert.equal(a.manager.isLeader(), false);
  });

  it("a reconcile that ignores the abort makes its Manager give up before another member can lead", async () => {
    const ns = await namespaceWithBlockedReconcile("drain-stubborn");
    const proxy = await proxied();
    let gaveUpAt: number | undefined;
    const a = await member("stubborn-a", { ns: ns.name, kubeConfig: proxy.kubeConfig(), behaviour: "ignores-abort", onReconcilesOutlivedLease: () => void (gaveUpAt ??= Date.now()) });
    await eventually("stubborn-a leads", async () => a.manager.isLeader(), 15_000, 20);
    await member("next-b", { ns: ns.name, kubeConfig: cluster.kubeConfig(), behaviour: "returns-on-abort" });
    await createConfigMap(ns.name, "blocked");
    await eventually("stubborn-a reconciles blocked", async () => at("stubborn-a", "blocked", "start") !== undefined);

    partition(proxy);
    await eventually("next-b takes over and reconciles blocked", async () => at("next-b", "blocked", "start") !== undefined, 30_000, 50);
    const nextStart = at("next-b", "blocked", "start");
    assert.ok(gaveUpAt !== undefined, "stubborn-a called onReconcilesOutlivedLease (production: the process exits)");
    assert.ok(nextStart !== undefined && gaveUpAt < nextStart, `stubborn-a gave up (${gaveUpAt}) before next-b reconciled (${nextStart})`);
    proxy.refusing = false;
    assert.equal(a.manager.isLeader(), false, "it does not campaign while its reconcile still runs");
    a.releaseStubborn();
  });
});
