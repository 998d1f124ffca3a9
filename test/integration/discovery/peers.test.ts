// Peer discovery and the Peer controller end to end: the manager (controllers peer-discovery and
// peer) runs as a child process against its own kube-apiserver; real kubo daemons form private
// networks on loopback. "Our" cluster's nodes (a, m) are Networks' external kubo nodes; the
// remote clusters are kubo nodes whose signed descriptors the test publishes itself (as the
// Identity reconciler does), with a tiny HTTP server standing in for a peer's API ping route.
// The test connects the swarm by hand (what the Network reconciler does from spec.bootstrap).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { CoreV1Api, CustomObjectsApi, EventsV1Api, type EventsV1Event, PatchStrategy, setHeaderOptions, Watch } from "@kubernetes/client-node";
import { announcementTopic, encodeAnnouncement, parseAnnouncement } from "../../../operators/discovery/announcement.ts";
import { discoveredPeerName, federationPingPath, peerLabels, swarmKeyField } from "../../../operators/discovery/contracts.ts";
import { buildDescriptor, type ClusterDescriptor, serializeSignedDescriptor, signDescriptor } from "../../../operators/discovery/descriptor.ts";
import { IpfsClient } from "../../../operators/discovery/ipfsClient.ts";
import { RTT_MIN_CHANGE_MS, RTT_MIN_CHANGE_RATIO } from "../../../operators/discovery/peerStatus.ts";
import { parseSwarmKey, swarmKeyFingerprint } from "../../../operators/discovery/swarmKey.ts";
import { generateIdentityKey, type IdentityKeyPair } from "../../../operators/federation/keys.ts";
import type { Condition } from "../../../operators/schema/common.ts";
import type { NetworkSpec } from "../../../operators/schema/network.ts";
import type { Peer, PeerSpec } from "../../../operators/schema/peer.ts";
import { startCluster, type TestCluster } from "../../support/cluster.ts";
import { eventually, newSwarmKey, startKubo, type TestKubo } from "../../support/kubo.ts";
import { type ComponentProcess, freePort, startComponent, waitForHttp } from "../../support/processes.ts";
import { logDir } from "../provider/fixtures.ts";

const group = "archipel.io";
const version = "v1alpha1";
const suffix = `${process.pid}`;

function measure(what: string, ms: number): void {
  console.log(`      [measure] ${what}: ${Math.round(ms)} ms`);
}

interface RemoteCluster {
  kubo: TestKubo;
  ipfs: IpfsClient;
  key: IdentityKeyPair;
  descriptor?: ClusterDescriptor;
}

/** Publishes a remote cluster's descriptor under its node's IPNS name (the Identity reconciler's job). */
async function publish(remote: RemoteCluster, clusterName: string, apiEndpoint: string, opts: { tamper?: boolean; key?: IdentityKeyPair } = {}): Promise<string> {
  const key = opts.key ?? remote.key;
  const descriptor = buildDescriptor({ clusterName, displayName: clusterName, apiEndpoint, publicKey: key.publicKey, networks: [{ name: "science", peerId: remote.kubo.peerId }] }, Date.now());
  const signed = signDescriptor(descriptor, key.privateKeyPem);
  if (opts.tamper) signed.descriptor.apiEndpoint = "http://127.0.0.1:1/attacker";
  remote.descriptor = signed.descriptor;
  const cid = await remote.ipfs.addBytes(serializeSignedDescriptor(signed));
  await remote.ipfs.publishName(cid, { key: "self", lifetimeMs: 24 * 3_600_000, ttlMs: 1_000, timeoutMs: 30_000 });
  return cid;
}

/** Why a status write of a steady peer was owed, or undefined when nothing a reader acts on changed. */
function owedBecause(before: Peer["status"], after: Peer["status"]): string | undefined {
  const minute = (t: string | undefined): number => Math.floor(Date.parse(t ?? "") / 60_000);
  if (minute(after?.lastSeen) > minute(before?.lastSeen)) return "lastSeen moved to a later minute";
  const [was, is] = [before?.rttMilliseconds ?? 0, after?.rttMilliseconds ?? 0];
  if (Math.abs(is - was) >= RTT_MIN_CHANGE_MS && Math.abs(is - was) >= was * RTT_MIN_CHANGE_RATIO) return "the RTT changed significantly";
  return undefined;
}

/** Every version of one Peer written during `ms` (a watch from `resourceVersion`). */
async function versionsDuring(kc: ReturnType<TestCluster["kubeConfig"]>, name: string, resourceVersion: string, ms: number): Promise<Peer[]> {
  const seen: Peer[] = [];
  const controller = await new Watch(kc).watch(`/apis/${group}/${version}/peers`, { fieldSelector: `metadata.name=${name}`, resourceVersion }, (type, obj: Peer) => {
    if (type === "MODIFIED") seen.push(obj);
  }, () => undefined);
  await new Promise((r) => setTimeout(r, ms));
  controller.abort();
  return seen;
}

function cond(p: Peer | undefined, type: string): Condition | undefined {
  return p?.status?.conditions?.find((c) => c.type === type);
}

describe("peer discovery and the Peer controller (manager process, real kubo, real API server)", function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let api: CustomObjectsApi;
  let events: EventsV1Api;
  let manager: ComponentProcess | undefined;
  const nodes: TestKubo[] = [];
  let a: TestKubo, m: TestKubo, x: TestKubo;
  let ipfsA: IpfsClient, ipfsM: IpfsClient;
  let bravo: RemoteCluster, charlie: RemoteCluster, tango: RemoteCluster;
  let pingServer: Server;
  let pingUrl = "";
  let golfName = "";
  let deadUrl = "";
  const scienceKey = newSwarmKey();

  const getPeer = async (name: string): Promise<Peer | undefined> =>
    (api.getClusterCustomObject({ group, version, plural: "peers", name }) as Promise<Peer>).catch((err: { code?: number }) => {
      if (err.code === 404) return undefined;
      throw err;
    });
  const listPeers = async (): Promise<Peer[]> => ((await api.listClusterCustomObject({ group, version, plural: "peers" })) as { items: Peer[] }).items;
  const peersOf = async (network: string): Promise<Peer[]> => (await listPeers()).filter((p) => p.spec?.networkRef?.name === network);
  const createNetwork = (name: string, spec: NetworkSpec): Promise<unknown> =>
    api.createClusterCustomObject({ group, version, plural: "networks", body: { apiVersion: `${group}/${version}`, kind: "Network", metadata: { name }, spec } });
  const patchPeerSpec = (name: string, spec: Partial<PeerSpec>): Promise<unknown> =>
    api.patchClusterCustomObject({ group, version, plural: "peers", name, body: { spec } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  const networkEvents = async (network: string): Promise<EventsV1Event[]> =>
    (await events.listNamespacedEvent({ namespace: "default" })).items.filter((e) => e.regarding?.kind === "Network" && e.regarding.name === network);
  const peerEvents = async (peer: string): Promise<EventsV1Event[]> =>
    (await events.listNamespacedEvent({ namespace: "default" })).items.filter((e) => e.regarding?.kind === "Peer" && e.regarding.name === peer);
  const peerWhere = (name: string, what: string, ok: (p: Peer) => boolean, timeoutMs = 30_000): Promise<Peer> =>
    eventually(`Peer ${name} ${what}`, async () => {
      const p = await getPeer(name);
      return p && ok(p) ? p : undefined;
    }, timeoutMs, 200);

  async function startManager(): Promise<ComponentProcess> {
    const healthPort = await freePort();
    const proc = await startComponent(`peers-manager-${suffix}`, "operators/manager/main.ts", ["--controllers=peer-discovery,peer", "--leader-elect=false", "--metrics-port=0", `--health-port=${healthPort}`], {
      env: { KUBECONFIG: cluster.kubeconfigPath, POD_NAME: `peers-it-${suffix}`, LOG_LEVEL: "debug" },
      logDir,
    });
    await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; see ${proc.logFile}`);
    });
    return proc;
  }

  async function remote(name: string): Promise<RemoteCluster> {
    const kubo = await startKubo(`${name}-${suffix}`, scienceKey);
    nodes.push(kubo);
    return { kubo, ipfs: new IpfsClient({ apiURL: kubo.apiURL }), key: generateIdentityKey() };
  }

  before(async function () {
    this.timeout(240_000);
    cluster = await startCluster(`peers-${suffix}`);
    api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    events = cluster.kubeConfig().makeApiClient(EventsV1Api);
    pingServer = createServer((req, res) => {
      res.statusCode = req.url === federationPingPath ? 200 : 404;
      res.end(req.url === federationPingPath ? '{"ok":true}' : "");
    });
    await new Promise<void>((r) => pingServer.listen(0, "127.0.0.1", r));
    pingUrl = `http://127.0.0.1:${(pingServer.address() as { port: number }).port}`;
    deadUrl = `http://127.0.0.1:${await freePort()}`;
    // One at a time: the machine has 2 cores shared with other jobs.
    a = await startKubo(`peers-a-${suffix}`, scienceKey);
    nodes.push(a);
    m = await startKubo(`peers-m-${suffix}`, scienceKey);
    nodes.push(m);
    x = await startKubo(`peers-x-${suffix}`, newSwarmKey());
    nodes.push(x);
    ipfsA = new IpfsClient({ apiURL: a.apiURL });
    ipfsM = new IpfsClient({ apiURL: m.apiURL });
    manager = await startManager();
  });

  after(async function () {
    this.timeout(90_000);
    await manager?.stop();
    for (const n of nodes) await n.stop().catch((err: Error) => console.error(`stopping ${n.name}: ${err.message}`));
    await new Promise((r) => pingServer?.close(r));
    await cluster?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed" && manager) console.log(`    manager log: ${manager.logFile}`);
  });

  it("auto: a new cluster in the swarm becomes an Accepted, Connected, Ready Peer with its verified descriptor", async () => {
    await createNetwork("science", { ipfs: { mode: "external", apiURL: a.apiURL }, approvalPolicy: "auto" });
    const start = performance.now();
    bravo = await remote("peers-b");
    const up = performance.now();
    await ipfsA.connect(bravo.kubo.swarmAddrs[0] ?? "");
    const cid = await publish(bravo, "bravo", pingUrl);
    const published = performance.now();
    const name = discoveredPeerName("science", bravo.kubo.peerId);
    const created = await peerWhere(name, "exists", () => true);
    const seen = performance.now();
    const peer = await peerWhere(name, "Connected and Ready", (p) => p.status?.reachability === "Connected" && cond(p, "Ready")?.status === "True");
    const connected = performance.now();
    measure("kubo B started (hack/kubo up)", up - start);
    measure("B up → descriptor added + IPNS-published", published - up);
    measure("descriptor published → Peer created", seen - published);
    measure("Peer created → Connected + Ready", connected - seen);
    measure("both nodes up → Peer Connected (publish included)", connected - up);
    assert.equal(created.spec?.origin, "Discovered");
    assert.equal(peer.spec?.approval, "Accepted");
    assert.equal(peer.spec?.peerId, bravo.kubo.peerId);
    assert.equal(peer.metadata?.labels?.[peerLabels.network], "science");
    assert.equal(peer.metadata?.labels?.[peerLabels.clusterName], "bravo");
    assert.ok((peer.spec?.addresses ?? []).some((addr) => addr.startsWith(`/ip4/${bravo.kubo.host}/tcp/`)), JSON.stringify(peer.spec?.addresses));
    const d = peer.status?.descriptor;
    assert.equal(d?.cid, cid);
    assert.equal(d?.clusterName, "bravo");
    assert.equal(d?.apiEndpoint, pingUrl);
    assert.equal(d?.publicKey, bravo.key.publicKey);
    assert.deepEqual(d?.networks, ["science"]);
    assert.equal(d?.expiresAt, bravo.descriptor?.expiresAt);
    assert.equal(cond(peer, "DescriptorVerified")?.reason, "Verified");
    assert.ok(peer.status?.lastSeen);
    assert.equal(peer.status?.missedIntervals, 0);
    const withRtt = await peerWhere(name, "has an API RTT", (p) => p.status?.rttMilliseconds !== undefined);
    assert.equal(cond(withRtt, "ApiReachable")?.status, "True");
    assert.ok((withRtt.status?.rttMilliseconds ?? -1) >= 0 && (withRtt.status?.rttMilliseconds ?? 99) < 1_000);
    assert.equal(withRtt.status?.observedGeneration, withRtt.metadata?.generation);
    const evs = await peerEvents(name);
    assert.equal(evs.filter((e) => e.reason === "Connected").length, 1, JSON.stringify(evs.map((e) => e.reason)));
  });

  it("a peer whose API does not answer is still Connected; ApiReachable=False and no RTT", async () => {
    charlie = await remote("peers-c");
    await ipfsA.connect(charlie.kubo.swarmAddrs[0] ?? "");
    await publish(charlie, "charlie", deadUrl);
    const name = discoveredPeerName("science", charlie.kubo.peerId);
    const p = await peerWhere(name, "Connected with ApiReachable=False", (q) => q.status?.reachability === "Connected" && cond(q, "ApiReachable")?.status === "False");
    assert.equal(p.status?.rttMilliseconds, undefined);
    assert.equal(cond(p, "ApiReachable")?.reason, "NoAnswer");
    assert.equal(cond(p, "Ready")?.status, "True");
  });

  it("a descriptor altered after signing creates no Peer, and a Warning Event on the Network says why (once)", async () => {
    tango = await remote("peers-t");
    await ipfsA.connect(tango.kubo.swarmAddrs[0] ?? "");
    await publish(tango, "tango", pingUrl, { tamper: true });
    const ev = await eventually("DescriptorRefused event", async () => (await networkEvents("science")).find((e) => e.reason === "DescriptorRefused" && (e.note ?? "").includes(tango.kubo.peerId)), 30_000, 250);
    assert.equal(ev.type, "Warning");
    assert.match(ev.note ?? "", /DescriptorBadSignature/);
    // Several passes later: still no Peer, and the Event was not repeated.
    await new Promise((r) => setTimeout(r, 6_000));
    assert.equal(await getPeer(discoveredPeerName("science", tango.kubo.peerId)), undefined);
    const again = (await networkEvents("science")).find((e) => e.metadata?.name === ev.metadata?.name);
    assert.equal(again?.series, undefined, "refusal reported once per peer and reason");
  });

  it("a node on another swarm key never becomes a Peer", async () => {
    await assert.rejects(ipfsA.connect(x.swarmAddrs[0] ?? "", { timeoutMs: 10_000 }));
    const peers = await listPeers();
    assert.ok(!peers.some((p) => p.spec?.peerId === x.peerId));
    assert.ok(!peers.some((p) => p.spec?.peerId === a.peerId), "never a Peer for this cluster's own node");
  });

  it("manual: the same clusters seen through another Network stay Pending; a verified one is Connected", async () => {
    await createNetwork("science-manual", { ipfs: { mode: "external", apiURL: m.apiURL }, approvalPolicy: "manual" });
    await ipfsM.connect(bravo.kubo.swarmAddrs[0] ?? "");
    const name = discoveredPeerName("science-manual", bravo.kubo.peerId);
    const p = await peerWhere(name, "Connected", (q) => q.status?.reachability === "Connected");
    assert.equal(p.spec?.approval, "Pending");
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal((await getPeer(name))?.spec?.approval, "Pending", "nobody accepts it under manual");
    await patchPeerSpec(name, { approval: "Accepted" });
    await peerWhere(name, "Accepted and Ready", (q) => q.spec?.approval === "Accepted" && cond(q, "Ready")?.status === "True");
  });

  it("a declared Peer (GitOps: peer ID + addresses) is connected and verified, and discovery adds no second one", async () => {
    const delta = await remote("peers-d");
    await publish(delta, "delta", pingUrl);
    assert.ok(!(await ipfsA.isConnected(delta.kubo.peerId)));
    await api.createClusterCustomObject({
      group,
      version,
      plural: "peers",
      body: { apiVersion: `${group}/${version}`, kind: "Peer", metadata: { name: "delta-by-hand" }, spec: { peerId: delta.kubo.peerId, networkRef: { name: "science" }, addresses: delta.kubo.swarmAddrs, approval: "Accepted", origin: "Declared" } },
    });
    const p = await peerWhere("delta-by-hand", "Connected and Ready", (q) => q.status?.reachability === "Connected" && cond(q, "Ready")?.status === "True");
    assert.equal(p.status?.descriptor?.clusterName, "delta");
    assert.ok((await ipfsA.peeringList()).some((e) => e.peerId === delta.kubo.peerId), "kept by kubo peering");
    await new Promise((r) => setTimeout(r, 6_000));
    assert.equal((await peersOf("science")).filter((q) => q.spec?.peerId === delta.kubo.peerId).length, 1);
  });

  it("a peer whose kubo stops becomes Unreachable within 3 missed probes + 1 interval, and Connected again after it restarts", async () => {
    const name = discoveredPeerName("science", bravo.kubo.peerId);
    await peerWhere(name, "Connected", (p) => p.status?.reachability === "Connected");
    const stopped = performance.now(); // before halt(): `hack/kubo stop` returns once the process exited
    await bravo.kubo.halt();
    const down = await peerWhere(name, "Unreachable", (p) => p.status?.reachability === "Unreachable", 40_000);
    const unreachableMs = performance.now() - stopped;
    measure("kubo stopped → Peer Unreachable (bound 20 s)", unreachableMs);
    assert.ok(unreachableMs >= 10_000, `Unreachable after ${unreachableMs} ms, before 3 probes could be missed`);
    assert.ok((down.status?.missedIntervals ?? 0) >= 3, `missedIntervals ${down.status?.missedIntervals}`);
    assert.equal(cond(down, "Ready")?.reason, "NotConnected");
    await bravo.kubo.restart();
    const restarted = performance.now();
    await peerWhere(name, "Connected again", (p) => p.status?.reachability === "Connected", 60_000);
    measure("kubo restarted → Peer Connected again", performance.now() - restarted);
    const reasons = (await peerEvents(name)).map((e) => e.reason);
    assert.ok(reasons.includes("Unreachable"), JSON.stringify(reasons));
  });

  it("a descriptor later signed by another key is refused (KeyChanged) and the pinned descriptor is kept", async () => {
    const name = discoveredPeerName("science", bravo.kubo.peerId);
    const before = await peerWhere(name, "verified", (p) => cond(p, "DescriptorVerified")?.status === "True");
    await publish(bravo, "bravo", "http://127.0.0.1:2/evil", { key: generateIdentityKey() });
    const after = await peerWhere(name, "DescriptorVerified=False KeyChanged", (p) => cond(p, "DescriptorVerified")?.reason === "KeyChanged", 60_000);
    assert.deepEqual(after.status?.descriptor, before.status?.descriptor);
    assert.equal(cond(after, "Ready")?.status, "False");
    // The legitimate owner publishes again with its own key: verified again.
    await publish(bravo, "bravo", pingUrl);
    await peerWhere(name, "verified again", (p) => cond(p, "DescriptorVerified")?.status === "True", 60_000);
  });

  it("Rejected: kubo is disconnected from the peer and stays so; Ready=False Rejected", async () => {
    const name = discoveredPeerName("science", charlie.kubo.peerId);
    await peerWhere(name, "Connected", (p) => p.status?.reachability === "Connected");
    await patchPeerSpec(name, { approval: "Rejected" });
    const p = await peerWhere(name, "Ready=False Rejected", (q) => cond(q, "Ready")?.reason === "Rejected");
    assert.equal(cond(p, "Ready")?.status, "False");
    await eventually("A disconnected from C", async () => !(await ipfsA.isConnected(charlie.kubo.peerId)), 15_000, 250);
    assert.ok(!(await ipfsA.peeringList()).some((e) => e.peerId === charlie.kubo.peerId));
    assert.ok((await ipfsA.filtersList()).includes(`/ip4/${charlie.kubo.host}/ipcidr/32`));
    // C keeps trying (it still knows A): it stays disconnected.
    const until = Date.now() + 8_000;
    while (Date.now() < until) {
      await charlie.ipfs.connect(a.swarmAddrs[0] ?? "", { timeoutMs: 2_000 }).catch(() => undefined);
      assert.ok(!(await ipfsA.isConnected(charlie.kubo.peerId)), "C reconnected to A");
      await new Promise((r) => setTimeout(r, 1_000));
    }
    assert.ok((await peerEvents(name)).some((e) => e.reason === "Rejected"));
    // Accepted again: the filter is lifted and it reconnects.
    await patchPeerSpec(name, { approval: "Accepted" });
    await peerWhere(name, "Connected and Ready again", (q) => q.status?.reachability === "Connected" && cond(q, "Ready")?.status === "True", 40_000);
    assert.ok(!(await ipfsA.filtersList()).includes(`/ip4/${charlie.kubo.host}/ipcidr/32`));
  });

  it("pubsub on: an announced descriptor CID is a hint that finds a peer before its IPNS record exists; our own descriptor is announced", async () => {
    const p = await startKubo(`peers-p-${suffix}`, scienceKey);
    nodes.push(p);
    const ipfsP = new IpfsClient({ apiURL: p.apiURL });
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "science-swarm-key" }, stringData: { [swarmKeyField]: scienceKey } } });
    // This cluster's Identity, as the Identity reconciler leaves it after publishing into science-pubsub.
    const ownCid = await ipfsP.addBytes("our descriptor stands in here");
    await api.createClusterCustomObject({ group, version, plural: "identities", body: { apiVersion: `${group}/${version}`, kind: "Identity", metadata: { name: "self" }, spec: { clusterName: "alpha", displayName: "Alpha", apiEndpoint: pingUrl } } });
    await api.patchClusterCustomObjectStatus(
      { group, version, plural: "identities", name: "self", body: { status: { descriptorCID: ownCid, networks: [{ network: "science-pubsub", peerId: p.peerId, descriptorCID: ownCid, publishedAt: new Date().toISOString() }] } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const echo = await remote("peers-e");
    await ipfsP.connect(echo.kubo.swarmAddrs[0] ?? "");
    const parsed = parseSwarmKey(scienceKey);
    assert.ok(parsed.ok);
    const topic = announcementTopic(swarmKeyFingerprint(parsed.key));
    const heard: string[] = [];
    const stop = new AbortController();
    await echo.ipfs.pubsubSubscribe(topic, (msg) => {
      const a = parseAnnouncement(msg.data, msg.from);
      if (a.ok) heard.push(`${a.announcement.peerId} ${a.announcement.descriptorCid}`);
    }, { signal: stop.signal });
    try {
      await createNetwork("science-pubsub", { ipfs: { mode: "external", apiURL: p.apiURL, pubsub: true }, approvalPolicy: "auto", swarmKeySecretRef: { namespace: "default", name: "science-swarm-key" } });
      // E's descriptor is on IPFS but not under its IPNS name: only the announcement says where.
      const signed = signDescriptor(buildDescriptor({ clusterName: "echo", displayName: "Echo", apiEndpoint: pingUrl, publicKey: echo.key.publicKey, networks: [{ name: "science", peerId: echo.kubo.peerId }] }, Date.now()), echo.key.privateKeyPem);
      const cid = await echo.ipfs.addBytes(serializeSignedDescriptor(signed));
      const name = discoveredPeerName("science-pubsub", echo.kubo.peerId);
      await eventually("Peer created from the announcement", async () => {
        await echo.ipfs.pubsubPublish(topic, encodeAnnouncement(echo.kubo.peerId, cid));
        return getPeer(name);
      }, 40_000, 500);
      await eventually("our descriptor announced on the network's topic", async () => heard.includes(`${p.peerId} ${ownCid}`), 20_000, 250);
      // The Peer controller reads the IPNS name only: verified once E publishes it.
      await echo.ipfs.publishName(cid, { key: "self", lifetimeMs: 24 * 3_600_000, ttlMs: 1_000, timeoutMs: 30_000 });
      const peer = await peerWhere(name, "Ready", (q) => cond(q, "Ready")?.status === "True", 40_000);
      assert.equal(peer.status?.descriptor?.cid, cid);
    } finally {
      stop.abort();
    }
  });

  it("a Network's discovery overrides set the timing: Unreachable after 2 missed 1 s intervals, Lost after 6 s, Connected again", async () => {
    const f = await startKubo(`peers-f-${suffix}`, scienceKey);
    nodes.push(f);
    await createNetwork("science-fast", { ipfs: { mode: "external", apiURL: f.apiURL }, approvalPolicy: "auto", discovery: { interval: "1s", unreachableAfterMissed: 2, lostAfter: "6s" } });
    const golf = await remote("peers-g");
    await new IpfsClient({ apiURL: f.apiURL }).connect(golf.kubo.swarmAddrs[0] ?? "");
    await publish(golf, "golf", pingUrl);
    const name = discoveredPeerName("science-fast", golf.kubo.peerId);
    await peerWhere(name, "Connected", (p) => p.status?.reachability === "Connected");
    const stopped = performance.now(); // before halt(): `hack/kubo stop` returns once the process exited
    await golf.kubo.halt();
    await peerWhere(name, "Unreachable", (p) => p.status?.reachability === "Unreachable", 10_000);
    const unreachableMs = performance.now() - stopped;
    const lost = await peerWhere(name, "Lost", (p) => p.status?.reachability === "Lost", 15_000);
    const lostMs = performance.now() - stopped;
    measure("interval 1s, 2 missed: kubo stopped → Unreachable (bound 3 s)", unreachableMs);
    measure("lostAfter 6s: kubo stopped → Lost (bound 7 s)", lostMs);
    // Lower bounds are the contract (never declared early); the waits above bound lateness loosely.
    assert.ok(unreachableMs >= 1_000, `Unreachable after ${unreachableMs} ms, before 2 probes could be missed`);
    assert.ok(lostMs >= 5_000, `Lost after ${lostMs} ms, before lostAfter (6 s)`);
    assert.equal(cond(lost, "Reachable")?.reason, "NotSeenForLong");
    assert.ok((await peerEvents(name)).some((e) => e.reason === "Lost" && e.type === "Warning"));
    // A Lost peer is probed every LOST_PROBE_INTERVAL_MS (60 s); its Network's change (here: none) or a restart is noticed then.
    await golf.kubo.restart();
    await patchPeerSpec(name, { addresses: golf.kubo.swarmAddrs.map((addr) => addr.replace(/\/p2p\/[^/]+$/, "")) }); // a spec change: probed at once
    await peerWhere(name, "Connected again", (p) => p.status?.reachability === "Connected", 20_000);
    golfName = name;
  });

  it("a steady Connected Peer gets no status write across several probes (1 s interval)", async () => {
    const settled = await peerWhere(golfName, "Connected, Ready, with an RTT, spec observed", (p) =>
      p.status?.reachability === "Connected" && cond(p, "Ready")?.status === "True" && p.status.rttMilliseconds !== undefined && p.status.observedGeneration === p.metadata?.generation, 30_000);
    // Watch 4 probe intervals; each write in them must be one a reader acts on. A steady
    // loopback peer writes none, unless the minute of lastSeen turns or the RTT really jumps.
    const writes = await versionsDuring(cluster.kubeConfig(), golfName, settled.metadata?.resourceVersion ?? "", 4_500);
    let before = settled.status;
    const unexplained: string[] = [];
    for (const w of writes) {
      if (!owedBecause(before, w.status)) unexplained.push(JSON.stringify({ before, after: w.status }));
      before = w.status;
    }
    assert.deepEqual(unexplained, [], "status writes of a steady peer that change nothing a reader acts on");
    assert.ok(writes.length <= 2, `${writes.length} writes in 4 probe intervals`);
  });

  it("a restarted manager creates no duplicate Peers and keeps them Connected", async () => {
    const before = await listPeers();
    await manager?.stop();
    manager = await startManager();
    await new Promise((r) => setTimeout(r, 8_000));
    const after = await listPeers();
    const keys = after.map((p) => `${p.spec?.networkRef?.name}/${p.spec?.peerId}`);
    assert.equal(new Set(keys).size, keys.length, `duplicates: ${keys.join(", ")}`);
    assert.deepEqual(after.map((p) => p.metadata?.name).sort(), before.map((p) => p.metadata?.name).sort());
    assert.equal(after.find((p) => p.spec?.peerId === bravo.kubo.peerId && p.spec.networkRef.name === "science")?.status?.reachability, "Connected");
  });
});
