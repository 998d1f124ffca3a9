// One cluster name, one key, end to end: the manager (controllers peer-discovery and peer) runs
// as a child process against its own kube-apiserver, real kubo daemons form a private network
// on loopback, and the catalog's federation endpoint (in this process, on the same apiserver)
// authenticates signed requests. A member "bravo" joins under an `auto` Network; then a swarm
// member publishes a validly self-signed descriptor that claims the name "bravo" with its own
// key. It must neither become a Peer (discovered) nor get its descriptor pinned (declared by
// hand), it cannot sign as bravo (401), and bravo keeps working with its Peer unchanged.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { CoreV1Api, CustomObjectsApi, EventsV1Api, type EventsV1Event } from "@kubernetes/client-node";
import type { FastifyInstance } from "fastify";
import { catalogRuntime, type CatalogRuntime, registerCatalogRoutes } from "../../../operators/api/catalogRoutes.ts";
import { buildServer } from "../../../operators/api/server.ts";
import { discoveredPeerName, federationCatalogPath, federationPingPath } from "../../../operators/discovery/contracts.ts";
import { buildDescriptor, serializeSignedDescriptor, signDescriptor } from "../../../operators/discovery/descriptor.ts";
import { IpfsClient } from "../../../operators/discovery/ipfsClient.ts";
import { newNonce } from "../../../operators/federation/client.ts";
import { generateIdentityKey, type IdentityKeyPair } from "../../../operators/federation/keys.ts";
import { signRequest } from "../../../operators/federation/requestSigning.ts";
import type { Condition } from "../../../operators/schema/common.ts";
import type { Peer } from "../../../operators/schema/peer.ts";
import { startCluster, type TestCluster } from "../../support/cluster.ts";
import { loopbackEgress } from "../../support/egress.ts";
import { eventually, newSwarmKey, startKubo, type TestKubo } from "../../support/kubo.ts";
import { type ComponentProcess, freePort, startComponent, waitForHttp } from "../../support/processes.ts";
import { logDir } from "../provider/fixtures.ts";

const group = "archipel.io";
const version = "v1alpha1";
const suffix = `${process.pid}`;

interface Member {
  kubo: TestKubo;
  ipfs: IpfsClient;
  key: IdentityKeyPair;
}

async function publish(member: Member, clusterName: string, apiEndpoint: string): Promise<void> {
  const descriptor = buildDescriptor({ clusterName, displayName: clusterName, apiEndpoint, publicKey: member.key.publicKey, networks: [{ name: "science", peerId: member.kubo.peerId }] }, Date.now());
  const cid = await member.ipfs.addBytes(serializeSignedDescriptor(signDescriptor(descriptor, member.key.privateKeyPem)));
  await member.ipfs.publishName(cid, { key: "self", lifetimeMs: 24 * 3_600_000, ttlMs: 1_000, timeoutMs: 30_000 });
}

function cond(p: Peer | undefined, type: string): Condition | undefined {
  return p?.status?.conditions?.find((c) => c.type === type);
}

describe("one cluster name, one key (manager process, real kubo, real API server)", function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let api: CustomObjectsApi;
  let manager: ComponentProcess | undefined;
  let runtime: CatalogRuntime | undefined;
  let app: FastifyInstance | undefined;
  let apiUrl = "";
  let pingServer: Server;
  let pingUrl = "";
  const nodes: TestKubo[] = [];
  let a: TestKubo;
  let bravo: Member, mallory: Member;
  const swarmKey = newSwarmKey();
  const bravoPeer = (): string => discoveredPeerName("science", bravo.kubo.peerId);

  const getPeer = async (name: string): Promise<Peer | undefined> =>
    (api.getClusterCustomObject({ group, version, plural: "peers", name }) as Promise<Peer>).catch((err: { code?: number }) => {
      if (err.code === 404) return undefined;
      throw err;
    });
  const listPeers = async (): Promise<Peer[]> => ((await api.listClusterCustomObject({ group, version, plural: "peers" })) as { items: Peer[] }).items;
  const eventsAbout = async (kind: string, name: string): Promise<EventsV1Event[]> =>
    (await cluster.kubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: "default" })).items.filter((e) => e.regarding?.kind === kind && e.regarding.name === name);
  const peerWhere = (name: string, what: string, ok: (p: Peer) => boolean, timeoutMs = 30_000): Promise<Peer> =>
    eventually(`Peer ${name} ${what}`, async () => {
      const p = await getPeer(name);
      return p && ok(p) ? p : undefined;
    }, timeoutMs, 200);

  /** A catalog search signed with `key` in bravo's name, as a peer would send it. */
  async function searchAsBravo(key: IdentityKeyPair): Promise<{ status: number; body: { items?: { name: string }[]; error?: { code: string } } }> {
    const body = JSON.stringify({ limit: 500 });
    const headers = { "content-type": "application/json", ...signRequest({ method: "POST", target: federationCatalogPath, body, keyId: "bravo", audience: "home", now: Date.now(), nonce: newNonce() }, key.privateKeyPem) };
    const res = await fetch(`${apiUrl}${federationCatalogPath}`, { method: "POST", headers, body });
    return { status: res.status, body: (await res.json()) as never };
  }

  async function startManager(): Promise<ComponentProcess> {
    const healthPort = await freePort();
    const proc = await startComponent(`names-manager-${suffix}`, "operators/manager/main.ts", ["--controllers=peer-discovery,peer", "--leader-elect=false", "--metrics-port=0", `--health-port=${healthPort}`], {
      env: { KUBECONFIG: cluster.kubeconfigPath, POD_NAME: `names-it-${suffix}`, LOG_LEVEL: "debug" },
      logDir,
    });
    await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; see ${proc.logFile}`);
    });
    return proc;
  }

  async function member(name: string): Promise<Member> {
    const kubo = await startKubo(`${name}-${suffix}`, swarmKey);
    nodes.push(kubo);
    return { kubo, ipfs: new IpfsClient({ apiURL: kubo.apiURL }), key: generateIdentityKey() };
  }

  before(async function () {
    this.timeout(240_000);
    cluster = await startCluster(`names-${suffix}`);
    api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    pingServer = createServer((req, res) => {
      res.statusCode = req.url === federationPingPath ? 200 : 404;
      res.end(req.url === federationPingPath ? '{"ok":true}' : "");
    });
    await new Promise<void>((r) => pingServer.listen(0, "127.0.0.1", r));
    pingUrl = `http://127.0.0.1:${(pingServer.address() as { port: number }).port}`;
    a = await startKubo(`names-a-${suffix}`, swarmKey);
    nodes.push(a);
    // This cluster ("home"): its Identity (the federation endpoint's audience) and one public Resource.
    await eventually("identities can be created", () =>
      api.createClusterCustomObject({ group, version, plural: "identities", body: { apiVersion: `${group}/${version}`, kind: "Identity", metadata: { name: "self" }, spec: { clusterName: "home", displayName: "Home", apiEndpoint: pingUrl } } }).catch(() => undefined));
    await cluster.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: "catalog" } } });
    await api.createNamespacedCustomObject({
      group, version, namespace: "catalog", plural: "resources",
      body: { apiVersion: `${group}/${version}`, kind: "Resource", metadata: { name: "pub" }, spec: { providerRef: { name: "files" }, type: "data", title: "Public", data: { url: { url: "http://127.0.0.1:9/pub" } }, visibility: "public" } },
    });
    runtime = await catalogRuntime(cluster.kubeConfig("admin"), loopbackEgress);
    const deps = runtime.deps;
    app = buildServer({ kubeConfig: cluster.kubeConfig("admin"), kinds: [], routes: [(s) => registerCatalogRoutes(s, deps)] });
    apiUrl = await app.listen({ port: 0, host: "127.0.0.1" });
    manager = await startManager();
    await api.createClusterCustomObject({ group, version, plural: "networks", body: { apiVersion: `${group}/${version}`, kind: "Network", metadata: { name: "science" }, spec: { ipfs: { mode: "external", apiURL: a.apiURL }, approvalPolicy: "auto" } } });
  });

  after(async function () {
    this.timeout(90_000);
    await app?.close();
    await runtime?.stop();
    await manager?.stop();
    for (const n of nodes) await n.stop().catch((err: Error) => console.error(`stopping ${n.name}: ${err.message}`));
    await new Promise((r) => pingServer?.close(r));
    await cluster?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed" && manager) console.log(`    manager log: ${manager.logFile}`);
  });

  it("the member bravo joins (auto) and its signed requests are answered", async () => {
    bravo = await member("names-b");
    await new IpfsClient({ apiURL: a.apiURL }).connect(bravo.kubo.swarmAddrs[0] ?? "");
    await publish(bravo, "bravo", pingUrl);
    const peer = await peerWhere(bravoPeer(), "Accepted and Ready", (p) => p.spec?.approval === "Accepted" && cond(p, "Ready")?.status === "True");
    assert.equal(peer.status?.descriptor?.publicKey, bravo.key.publicKey);
    const answered = await eventually("the API's cache has bravo's Peer", async () => {
      const r = await searchAsBravo(bravo.key);
      return r.status === 200 ? r : undefined;
    }, 15_000, 250);
    assert.deepEqual(answered.body.items?.map((i) => i.name), ["pub"]);
  });

  it("a self-signed descriptor claiming bravo's name with another key creates no Peer (Warning Event), cannot sign as bravo, and does not lock bravo out", async () => {
    const before = await getPeer(bravoPeer());
    mallory = await member("names-m");
    await new IpfsClient({ apiURL: a.apiURL }).connect(mallory.kubo.swarmAddrs[0] ?? "");
    await publish(mallory, "bravo", "http://127.0.0.1:1/impostor");
    const ev = await eventually("a Warning Event on the Network names the refusal", async () => (await eventsAbout("Network", "science")).find((e) => (e.note ?? "").includes(mallory.kubo.peerId)), 30_000, 250);
    assert.equal(ev.type, "Warning");
    assert.match(ev.note ?? "", /ClusterNameTaken/);
    await new Promise((r) => setTimeout(r, 6_000)); // several discovery passes
    assert.ok(!(await listPeers()).some((p) => p.spec?.peerId === mallory.kubo.peerId), "no Peer for the impostor, even under auto");
    const forged = await searchAsBravo(mallory.key);
    assert.equal(forged.status, 401);
    assert.equal(forged.body.error?.code, "BadSignature");
    const real = await searchAsBravo(bravo.key);
    assert.equal(real.status, 200);
    const after = await getPeer(bravoPeer());
    assert.deepEqual(after?.spec, before?.spec);
    assert.deepEqual(after?.status?.descriptor, before?.status?.descriptor);
    assert.equal(cond(after, "DescriptorVerified")?.status, "True");
  });

  it("declared by hand and Accepted, the impostor's descriptor is still refused (ClusterNameTaken) and never pinned", async () => {
    const before = await getPeer(bravoPeer());
    await api.createClusterCustomObject({
      group, version, plural: "peers",
      body: { apiVersion: `${group}/${version}`, kind: "Peer", metadata: { name: "impostor-by-hand" }, spec: { peerId: mallory.kubo.peerId, networkRef: { name: "science" }, addresses: mallory.kubo.swarmAddrs, approval: "Accepted", origin: "Declared" } },
    });
    const refused = await peerWhere("impostor-by-hand", "DescriptorVerified=False ClusterNameTaken", (p) => cond(p, "DescriptorVerified")?.reason === "ClusterNameTaken");
    assert.equal(cond(refused, "DescriptorVerified")?.status, "False");
    assert.match(cond(refused, "DescriptorVerified")?.message ?? "", new RegExp(bravoPeer()));
    assert.equal(refused.status?.descriptor, undefined, "never pinned");
    assert.equal(cond(refused, "Ready")?.status, "False");
    await eventually("a Warning Event on the impostor's Peer", async () => (await eventsAbout("Peer", "impostor-by-hand")).find((e) => e.type === "Warning" && e.reason === "ClusterNameTaken"), 15_000, 250);
    const forged = await searchAsBravo(mallory.key);
    assert.equal(forged.status, 401);
    assert.equal((await searchAsBravo(bravo.key)).status, 200);
    const after = await getPeer(bravoPeer());
    assert.deepEqual(after?.status?.descriptor, before?.status?.descriptor);
    assert.equal(cond(after, "DescriptorVerified")?.status, "True");
  });
});
