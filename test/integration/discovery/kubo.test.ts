// Discovery's IPFS layer against real kubo daemons (hack/kubo) in private networks on loopback:
// swarm-key isolation, descriptor publication over IPFS + IPNS and its verification, pubsub,
// RTT, refusing a peer, a node going down and coming back. No Kubernetes is needed; the
// integration root hook starts the shared cluster anyway.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import {
  buildDescriptor,
  DescriptorReason,
  MAX_DESCRIPTOR_BYTES,
  serializeSignedDescriptor,
  signDescriptor,
  type SignedDescriptor,
  verifyDescriptor,
} from "../../../operators/discovery/descriptor.ts";
import { type Announcement, announcementTopic, encodeAnnouncement, parseAnnouncement } from "../../../operators/discovery/announcement.ts";
import { IpfsClient, IpfsError } from "../../../operators/discovery/ipfsClient.ts";
import { planPeering } from "../../../operators/discovery/peering.ts";
import { planRefusal } from "../../../operators/discovery/refusal.ts";
import { parseSwarmKey, swarmKeyFingerprint } from "../../../operators/discovery/swarmKey.ts";
import { generateIdentityKey } from "../../../operators/federation/keys.ts";
import { eventually, newSwarmKey, startKubo, type TestKubo } from "../../support/kubo.ts";

const suffix = `${process.pid}`;

function log(what: string, ms: number): void {
  console.log(`      [measure] ${what}: ${Math.round(ms)} ms`);
}

async function peersOf(client: IpfsClient): Promise<string[]> {
  return (await client.swarmPeers()).map((p) => p.peerId);
}

describe("discovery: real kubo nodes in private networks", function () {
  this.timeout(120_000);
  const nodes: TestKubo[] = [];
  let a: TestKubo, b: TestKubo, c: TestKubo, d: TestKubo;
  let ipfsA: IpfsClient, ipfsB: IpfsClient, ipfsC: IpfsClient, ipfsD: IpfsClient;
  const identityA = generateIdentityKey();
  let descriptorCid = "";
  const scienceKey = newSwarmKey();

  before(async function () {
    this.timeout(180_000);
    const science = scienceKey;
    const other = newSwarmKey();
    // One at a time: the machine has 2 cores shared with other jobs.
    a = await startKubo(`disc-a-${suffix}`, science);
    nodes.push(a);
    b = await startKubo(`disc-b-${suffix}`, science);
    nodes.push(b);
    c = await startKubo(`disc-c-${suffix}`, other);
    nodes.push(c);
    d = await startKubo(`disc-d-${suffix}`, science, { pubsub: false });
    nodes.push(d);
    for (const n of nodes) log(`kubo ${n.name} init + start until RPC answers`, n.startMs);
    ipfsA = new IpfsClient({ apiURL: a.apiURL });
    ipfsB = new IpfsClient({ apiURL: b.apiURL });
    ipfsC = new IpfsClient({ apiURL: c.apiURL });
    ipfsD = new IpfsClient({ apiURL: d.apiURL });
  });

  after(async function () {
    this.timeout(60_000);
    for (const n of nodes) await n.stop().catch((err: Error) => console.error(`stopping ${n.name}: ${err.message}`));
  });

  it("reports its identity and listens only on its loopback address", async () => {
    const id = await ipfsA.id();
    assert.equal(id.peerId, a.peerId);
    assert.ok(a.swarmAddrs[0]?.startsWith(`/ip4/${a.host}/tcp/`), a.swarmAddrs[0]);
    for (const addr of id.addresses) assert.match(addr, new RegExp(`^/ip4/${a.host.replaceAll(".", "\\.")}/tcp/\\d+/p2p/`));
  });

  it("two nodes with the same swarm key connect and see each other", async () => {
    const start = performance.now();
    await ipfsA.connect(b.swarmAddrs[0] ?? "");
    await eventually("A and B see each other", async () => (await peersOf(ipfsA)).includes(b.peerId) && (await peersOf(ipfsB)).includes(a.peerId));
    log("swarm connect A→B until both list each other", performance.now() - start);
  });

  it("a node with another swarm key can connect to neither", async () => {
    for (const target of [a, b]) {
      await assert.rejects(ipfsC.connect(target.swarmAddrs[0] ?? "", { timeoutMs: 15_000 }), (err: unknown) => {
        assert.ok(err instanceof IpfsError);
        assert.match(err.message, /swarm connect/);
        return true;
      });
    }
    await assert.rejects(ipfsA.connect(c.swarmAddrs[0] ?? "", { timeoutMs: 15_000 }), IpfsError);
    assert.deepEqual(await peersOf(ipfsC), []);
    assert.ok(!(await peersOf(ipfsA)).includes(c.peerId));
    assert.ok(!(await peersOf(ipfsB)).includes(c.peerId));
  });

  it("measures the round-trip time to a connected peer", async () => {
    const m = await ipfsA.ping(b.peerId, 3);
    assert.ok(m.samples.length > 0);
    assert.ok(m.rttMs > 0 && m.rttMs < 1_000, `rtt ${m.rttMs} ms`);
    console.log(`      [measure] libp2p ping A→B: ${m.rttMs.toFixed(3)} ms mean of ${m.samples.length}`);
  });

  it("a descriptor added and IPNS-published by A is resolved and fetched by B, and verifies", async () => {
    const issuedAt = Date.now();
    const descriptor = buildDescriptor(
      { clusterName: "alpha", displayName: "Alpha", apiEndpoint: "https://127.0.0.1:8443", publicKey: identityA.publicKey, networks: [{ name: "science", peerId: a.peerId }] },
      issuedAt,
    );
    const text = serializeSignedDescriptor(signDescriptor(descriptor, identityA.privateKeyPem));
    let start = performance.now();
    descriptorCid = await ipfsA.addBytes(text);
    const published = await ipfsA.publishName(descriptorCid, { key: "self", lifetimeMs: 24 * 3_600_000, ttlMs: 10_000, timeoutMs: 30_000 });
    log("add + IPNS publish on A", performance.now() - start);
    assert.equal(published.value, `/ipfs/${descriptorCid}`);

    start = performance.now();
    const path = await eventually("B resolves A's IPNS name", () => ipfsB.resolveName(`/ipns/${a.peerId}`, { fresh: true, timeoutMs: 10_000 }), 30_000, 500);
    assert.equal(path, `/ipfs/${descriptorCid}`);
    const bytes = await ipfsB.catBytes(descriptorCid, MAX_DESCRIPTOR_BYTES, { timeoutMs: 15_000 });
    log("IPNS resolve + fetch on B", performance.now() - start);
    const result = verifyDescriptor(bytes, Date.now(), { peerId: a.peerId });
    assert.equal(result.ok ? "ok" : `${result.reason}: ${result.message}`, "ok");
    assert.equal(result.ok && result.descriptor.apiEndpoint, "https://127.0.0.1:8443");
  });

  it("resolving with the first record stops kubo's query there and gives the same path; the node answers a full resolve after", async () => {
    let start = performance.now();
    const first = await ipfsB.resolveName(`/ipns/${a.peerId}`, { fresh: true, first: true, timeoutMs: 10_000 });
    log("IPNS resolve on B, first record", performance.now() - start);
    assert.equal(first, `/ipfs/${descriptorCid}`);
    start = performance.now();
    const full = await ipfsB.resolveName(`/ipns/${a.peerId}`, { fresh: true, timeoutMs: 10_000 });
    log("IPNS resolve on B, whole query", performance.now() - start);
    assert.equal(full, first);
  });

  it("a named IPNS key is created once and kept", async () => {
    const first = await ipfsA.ensureKey("archipel-descriptor");
    assert.equal(await ipfsA.ensureKey("archipel-descriptor"), first);
    assert.match(first, /^k51/);
  });

  it("a tampered copy fetched over IPFS does not verify, nor one re-signed by another key", async () => {
    const original = JSON.parse(Buffer.from(await ipfsB.catBytes(descriptorCid, MAX_DESCRIPTOR_BYTES)).toString()) as SignedDescriptor;
    const tampered = structuredClone(original);
    tampered.descriptor.apiEndpoint = "https://attacker.example.test";
    const tamperedCid = await ipfsA.addBytes(JSON.stringify(tampered));
    const fetched = await ipfsB.catBytes(tamperedCid, MAX_DESCRIPTOR_BYTES, { timeoutMs: 15_000 });
    const result = verifyDescriptor(fetched, Date.now(), { peerId: a.peerId });
    assert.equal(result.ok ? "ok" : result.reason, DescriptorReason.BadSignature);

    const mallory = generateIdentityKey();
    const resigned = signDescriptor({ ...tampered.descriptor, publicKey: mallory.publicKey }, mallory.privateKeyPem);
    const resignedCid = await ipfsA.addBytes(serializeSignedDescriptor(resigned));
    const again = verifyDescriptor(await ipfsB.catBytes(resignedCid, MAX_DESCRIPTOR_BYTES), Date.now(), { publicKey: identityA.publicKey, peerId: a.peerId });
    assert.equal(again.ok ? "ok" : again.reason, DescriptorReason.KeyMismatch);
  });

  it("refuses to read a document larger than the limit", async () => {
    const cid = await ipfsA.addBytes("x".repeat(MAX_DESCRIPTOR_BYTES + 10));
    await assert.rejects(ipfsB.catBytes(cid, MAX_DESCRIPTOR_BYTES, { timeoutMs: 15_000 }), /larger than/);
  });

  it("a node outside the network cannot resolve the descriptor", async () => {
    await assert.rejects(ipfsC.resolveName(`/ipns/${a.peerId}`, { fresh: true, timeoutMs: 5_000 }), /name resolve .*(could not resolve|timed out)/);
  });

  it("pubsub announcements reach a peer when kubo has pubsub on, and lead to a verified descriptor (optional path)", async function () {
    if (!(await ipfsB.pubsubEnabled())) this.skip();
    const key = parseSwarmKey(scienceKey);
    assert.ok(key.ok);
    const topic = announcementTopic(swarmKeyFingerprint(key.key));
    const received: Announcement[] = [];
    const stop = new AbortController();
    try {
      await ipfsB.pubsubSubscribe(
        topic,
        (m) => {
          const parsed = parseAnnouncement(m.data, m.from);
          if (parsed.ok) received.push(parsed.announcement);
        },
        { signal: stop.signal },
      );
      // Gossipsub needs a heartbeat or two to graft the mesh: publish until it arrives.
      const start = performance.now();
      const heard = await eventually(
        "B receives A's announcement",
        async () => {
          await ipfsA.pubsubPublish(topic, encodeAnnouncement(a.peerId, descriptorCid));
          return received.find((x) => x.peerId === a.peerId);
        },
        20_000,
        500,
      );
      log("pubsub announcement A→B (subscribe to first delivery)", performance.now() - start);
      const result = verifyDescriptor(await ipfsB.catBytes(heard.descriptorCid, MAX_DESCRIPTOR_BYTES), Date.now(), { peerId: heard.peerId });
      assert.equal(result.ok ? "ok" : result.reason, "ok");
    } finally {
      stop.abort();
    }
  });

  it("without pubsub, a node still finds, resolves and verifies a peer's descriptor", async () => {
    assert.equal(await ipfsD.pubsubEnabled(), false);
    assert.equal(await ipfsA.pubsubEnabled(), true);
    await ipfsD.connect(a.swarmAddrs[0] ?? "");
    const path = await eventually("D resolves A's IPNS name", () => ipfsD.resolveName(`/ipns/${a.peerId}`, { fresh: true, timeoutMs: 10_000 }), 30_000, 500);
    const result = verifyDescriptor(await ipfsD.catBytes(path.replace("/ipfs/", ""), MAX_DESCRIPTOR_BYTES, { timeoutMs: 15_000 }), Date.now(), { peerId: a.peerId });
    assert.equal(result.ok ? "ok" : result.reason, "ok");
  });

  it("a peering plan applied to a real node converges: applying it again changes nothing", async () => {
    const apply = async (wanted: Array<{ peerId: string; addrs: string[] }>): Promise<ReturnType<typeof planPeering>> => {
      const plan = planPeering(await ipfsA.peeringList(), wanted);
      for (const peerId of plan.remove) await ipfsA.peeringRemove(peerId);
      for (const addrs of plan.add) await ipfsA.peeringAdd(addrs);
      return plan;
    };
    const wanted = [{ peerId: b.peerId, addrs: b.swarmAddrs }, { peerId: d.peerId, addrs: d.swarmAddrs }];
    assert.equal((await apply(wanted)).add.length, 2);
    assert.deepEqual(await apply(wanted), { add: [], remove: [] });
    assert.deepEqual((await apply([])).remove.sort(), [b.peerId, d.peerId].sort());
    assert.deepEqual(await ipfsA.peeringList(), []);
  });

  it("refusing a peer disconnects it, and it stays disconnected (both directions), until allowed again", async function () {
    this.timeout(90_000);
    await ipfsA.peeringAdd(b.swarmAddrs[0] ?? "");
    await eventually("A and B connected", async () => (await peersOf(ipfsA)).includes(b.peerId));
    const plan = planRefusal(b.swarmAddrs, [], a.swarmAddrs);
    assert.deepEqual(plan.filters, [`/ip4/${b.host}/ipcidr/32`]);

    await ipfsA.refusePeer(b.peerId, plan.filters);
    assert.deepEqual(await ipfsA.peeringList(), []);
    assert.ok((await ipfsA.filtersList()).includes(plan.filters[0] ?? ""));
    await eventually("B no longer connected to A", async () => !(await peersOf(ipfsB)).includes(a.peerId) && !(await peersOf(ipfsA)).includes(b.peerId));

    await assert.rejects(ipfsB.connect(a.swarmAddrs[0] ?? "", { timeoutMs: 10_000 }), IpfsError, "B re-dialing A is refused by A's gater");
    await assert.rejects(ipfsA.connect(b.swarmAddrs[0] ?? "", { timeoutMs: 10_000 }), /gater|failed to dial/, "A never dials B");
    // Stays disconnected: watch for a while (kubo's DHT refresh re-dials within ~40 s without the filter).
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      assert.ok(!(await peersOf(ipfsA)).includes(b.peerId), "B reconnected to A");
      await new Promise((r) => setTimeout(r, 1_000));
    }
    await ipfsA.refusePeer(b.peerId, plan.filters); // idempotent

    await ipfsA.allowPeer(plan.filters);
    assert.ok(!(await ipfsA.filtersList()).includes(plan.filters[0] ?? ""));
    await ipfsB.connect(a.swarmAddrs[0] ?? "");
    assert.ok((await peersOf(ipfsA)).includes(b.peerId));
  });

  it("a hung peer fails a probe within its deadline, while swarm peers still lists it", async function () {
    this.timeout(60_000);
    await ipfsA.connect(b.swarmAddrs[0] ?? "");
    const before = await ipfsA.probePeer(b.peerId);
    assert.equal(before.reachable, true);
    await b.freeze();
    try {
      const start = performance.now();
      const probe = await ipfsA.probePeer(b.peerId, 3_000);
      log("probe of a frozen peer (ping deadline 3 s)", performance.now() - start);
      assert.equal(probe.reachable, false);
      assert.ok((await peersOf(ipfsA)).includes(b.peerId), "the stale connection is still listed");
    } finally {
      b.thaw();
    }
    await eventually("B answers probes again", async () => (await ipfsA.probePeer(b.peerId)).reachable, 20_000, 500);
  });

  it("a probe blames this node, not the peer, when this node's kubo is down", async () => {
    const dead = new IpfsClient({ apiURL: "http://127.0.0.1:9", timeoutMs: 1_000 });
    await assert.rejects(dead.probePeer(b.peerId, 1_000), /kubo at http:\/\/127.0.0.1:9: id:/);
  });

  it("a peer that goes down disappears from swarm peers and, kept by peering, comes back after a restart", async function () {
    this.timeout(120_000);
    await ipfsA.peeringAdd(b.swarmAddrs[0] ?? "");
    await b.halt();
    let start = performance.now();
    await eventually("A drops B", async () => !(await peersOf(ipfsA)).includes(b.peerId), 30_000, 250);
    log("B stopped → gone from A's swarm peers", performance.now() - start);
    await assert.rejects(ipfsA.ping(b.peerId, 1, { timeoutMs: 5_000 }), IpfsError);

    start = performance.now();
    await b.restart();
    log(`B restart (same identity) until RPC answers [hack/kubo: ${b.startMs} ms]`, performance.now() - start);
    assert.equal((await ipfsB.id()).peerId, b.peerId);
    start = performance.now();
    await eventually("A reconnects B through peering", async () => (await peersOf(ipfsA)).includes(b.peerId), 90_000, 250);
    log("B back → in A's swarm peers again (peering re-dial, no explicit connect)", performance.now() - start);
  });

  it("every call has a deadline: a kubo that never answers fails fast with the operation named", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((sock) => sockets.push(sock)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    try {
      const stuck = new IpfsClient({ apiURL: `http://127.0.0.1:${port}`, timeoutMs: 500 });
      const start = performance.now();
      await assert.rejects(stuck.swarmPeers(), (err: unknown) => {
        assert.ok(err instanceof IpfsError);
        assert.match(err.message, new RegExp(`kubo at http://127.0.0.1:${port}: swarm peers: timed out`));
        return true;
      });
      await assert.rejects(stuck.peeringList({ timeoutMs: 300 }), /swarm peering ls: timed out/);
      const aborted = new AbortController();
      setTimeout(() => aborted.abort(new Error("reconciler shutting down")), 100);
      await assert.rejects(stuck.id({ signal: aborted.signal, timeoutMs: 10_000 }), /id: .*reconciler shutting down/);
      assert.ok(performance.now() - start < 5_000, "deadlines were not honoured");
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
