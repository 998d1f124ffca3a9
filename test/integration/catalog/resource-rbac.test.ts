// The provider and resource controllers run as a ServiceAccount bound to nothing but
// config/rbac/catalog_role.yaml: proves that role holds every verb they use (nodes, configmaps,
// secrets get, resources/status, providers/status and finalizers, events).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { eventually, sharedCluster, type TestCluster } from "../../support/cluster.ts";
import { boundOnlyTo, type SingleRoleIdentity } from "../../support/rbac.ts";
import { type CatalogWorld, catalogWorld, readyOf, startFileServer, type FileServer } from "./resourceFixtures.ts";

describe("Resource controller: runs with the catalog role only", function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let w: CatalogWorld;
  let files: FileServer;
  let identity: SingleRoleIdentity | undefined;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    files = await startFileServer({ "/a.txt": "abc" });
    w = await catalogWorld(cluster, "resource-rbac", async (ns) => {
      identity = await boundOnlyTo(cluster, ns, "config/rbac/catalog_role.yaml", "catalog");
      return { kubeconfigPath: identity.kubeconfigPath, extraArgs: ["--leader-elect=false"] };
    });
  });

  after(async function () {
    this.timeout(90_000);
    await w?.stop();
    await files?.close();
    await identity?.cleanup();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${w.manager.logFile}`);
  });

  it("reconciles url (Secret headers), service (ConfigMap) and compute (Nodes) Resources, with Events", async () => {
    await w.createSecret("headers", { authorization: "Bearer t0ken" });
    await w.createProvider("files", { type: "data", data: { source: "url", url: { headersSecretRef: { name: "headers" } } } });
    await w.createResource("a", { providerRef: { name: "files" }, type: "data", data: { url: { url: `${files.url}/a.txt` } } });
    const a = await w.readyWith("a", { status: "True", reason: "Available" });
    assert.equal(a.status?.data?.sizeBytes, 3);
    assert.equal(files.headers.get("/a.txt")?.authorization, "Bearer t0ken", "the Provider's header Secret was read and sent");
    assert.doesNotMatch(JSON.stringify(a), /t0ken/);
    await w.createProvider("tools", { type: "service", service: { defaultImage: "busybox" } });
    await w.createConfigMap("tool", { "tool.cwl": "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: 'true'\ninputs: []\noutputs: []\n" });
    await w.createResource("t", { providerRef: { name: "tools" }, type: "service", service: { cwl: { configMapRef: { name: "tool", key: "tool.cwl" } } } });
    await w.readyWith("t", { status: "True", reason: "Available" });
    await w.createProvider("cpu", { type: "compute", compute: { nodeSelector: { "archipel.io/none": w.ns.name } } });
    await w.createResource("c", { providerRef: { name: "cpu" }, type: "compute", compute: { cpu: "1", memory: "1Gi" } });
    const c = await w.readyWith("c", { status: "False", reason: "InsufficientCapacity" });
    assert.match(readyOf(c)?.message ?? "", /from 0 node\(s\)/);
    // The Event is written after the status (best effort): it may land a moment later.
    await eventually("an InsufficientCapacity Event for c", async () => (await w.eventsFor("c")).some((e) => e.reason === "InsufficientCapacity"), 10_000, 200);
    assert.doesNotMatch(await readFile(w.manager.logFile, "utf8"), /forbidden/i);
  });
});
