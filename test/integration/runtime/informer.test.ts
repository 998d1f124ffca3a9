// The informer against a real kube-apiserver: it sees creates, updates and deletes; it resumes a
// broken watch from its resourceVersion; it relists after a watch is answered 410 Expired; it keeps
// retrying while the API server is unreachable (client-node's own informer would stop).
import assert from "node:assert/strict";
import { CoreV1Api, type KubernetesObject, type V1ConfigMap } from "@kubernetes/client-node";
import type { KindRef } from "../../../operators/runtime/cache.ts";
import { apiListWatch, Informer } from "../../../operators/runtime/informer.ts";
import { createLogger } from "../../../operators/runtime/logger.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { startApiProxy, type ApiProxy } from "./apiProxy.ts";

const configMaps: KindRef = { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true };
const logger = createLogger("informer-it", { silent: !process.env.TEST_LOGS });

describe("runtime informer (real API server)", function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let core: CoreV1Api;
  let proxy: ApiProxy;
  let informer: Informer<KubernetesObject>;
  const events: string[] = [];

  const cm = (name: string, data: Record<string, string> = {}): Promise<V1ConfigMap> =>
    core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name }, data } });
  const cached = (name: string): V1ConfigMap | undefined => informer.store.get({ namespace: ns.name, name }) as V1ConfigMap | undefined;

  before(async () => {
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "informer");
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    proxy = await startApiProxy(cluster);
    informer = new Informer({ name: "configmaps", source: apiListWatch(proxy.kubeConfig(), configMaps, ns.name), logger, backoffBaseMs: 100, backoffMaxMs: 400 });
    informer.addHandlers({
      onAdd: (o) => events.push(`add ${o.metadata?.name}`),
      onUpdate: (_old, o) => events.push(`update ${o.metadata?.name}`),
      onDelete: (o) => events.push(`delete ${o.metadata?.name}`),
    });
  });

  after(async () => {
    await informer?.stop();
    await proxy?.close();
    await ns?.cleanup();
  });

  it("reports synced only after the initial list, with objects that existed before", async () => {
    await cm("existing", { v: "0" });
    assert.equal(informer.hasSynced(), false);
    informer.start();
    await eventually("synced", async () => informer.hasSynced());
    assert.equal(cached("existing")?.data?.v, "0");
    assert.match(informer.resourceVersion(), /^\d+$/);
  });

  it("sees create, update and delete as they happen", async () => {
    await cm("a", { v: "1" });
    await eventually("a added", async () => cached("a")?.data?.v === "1");
    await core.patchNamespacedConfigMap({ namespace: ns.name, name: "a", body: [{ op: "replace", path: "/data/v", value: "2" }] });
    await eventually("a updated", async () => cached("a")?.data?.v === "2");
    await core.deleteNamespacedConfigMap({ namespace: ns.name, name: "a" });
    await eventually("a deleted", async () => cached("a") === undefined);
    assert.deepEqual(events.filter((e) => e.endsWith(" a")), ["add a", "update a", "delete a"]);
  });

  it("resumes a broken watch from its resourceVersion and misses nothing that happened meanwhile", async () => {
    const relistsBefore = informer.relists;
    const restartsBefore = informer.restarts;
    const watchesBefore = proxy.watches.length;
    proxy.refusing = true;
    proxy.breakConnections();
    const rvAtBreak = informer.resourceVersion();
    await cm("during-outage", { v: "x" });
    await core.deleteNamespacedConfigMap({ namespace: ns.name, name: "existing" });
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(informer.restarts > restartsBefore, "the informer noticed the broken connection and is retrying");
    proxy.refusing = false;
    await eventually("change made during the outage seen", async () => cached("during-outage")?.data?.v === "x" && cached("existing") === undefined);
    assert.equal(informer.relists, relistsBefore, "resumed, not relisted");
    assert.ok(proxy.watches.slice(watchesBefore).includes(rvAtBreak), `a watch resumed from ${rvAtBreak}: ${proxy.watches.slice(watchesBefore).join(",")}`);
  });

  it("relists after a 410 Expired watch answer, and drops objects deleted meanwhile", async () => {
    const relistsBefore = informer.relists;
    await cm("doomed");
    await eventually("doomed cached", async () => cached("doomed") !== undefined);
    proxy.refusing = true;
    proxy.breakConnections();
    await core.deleteNamespacedConfigMap({ namespace: ns.name, name: "doomed" });
    await cm("born-while-expired");
    proxy.expireNextWatch();
    proxy.refusing = false;
    await eventually("relisted", async () => informer.relists > relistsBefore);
    await eventually("state after relist", async () => cached("doomed") === undefined && cached("born-while-expired") !== undefined);
    assert.ok(proxy.watches.some((w) => w.startsWith("expired:")), "a watch was answered 410 Expired");
    assert.ok(events.includes("delete doomed"));
  });
});
