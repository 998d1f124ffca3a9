// The Identity controller end to end: the manager (controllers identity and network) runs as a
// child process against its own kube-apiserver; two real kubo daemons share one private network.
// Node A is the cluster's external Network node; node B stands for a peer, and everything the
// test checks about the descriptor goes through B: resolve /ipns/<A's peer ID>, fetch, verify.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { defaultIdentityKeySecret, identityKeyLabel, identityPrivateKeyField } from "../../../operators/discovery/contracts.ts";
import { MAX_DESCRIPTOR_BYTES, verifyDescriptor } from "../../../operators/discovery/descriptor.ts";
import { IpfsClient } from "../../../operators/discovery/ipfsClient.ts";
import { publicKeyOf } from "../../../operators/federation/keys.ts";
import type { Identity, IdentitySpec } from "../../../operators/schema/identity.ts";
import { eventually, newSwarmKey, startKubo, type TestKubo } from "../../support/kubo.ts";
import { discoveryEnv, type DiscoveryEnv, measure, readyOf } from "./reconcilerFixtures.ts";

const suffix = `${process.pid}`;
const spec: IdentitySpec = { clusterName: "alpha", displayName: "Alpha", apiEndpoint: "https://alpha.example.test:8443" };

describe("Identity controller (manager process, real kubo, real API server)", function () {
  this.timeout(180_000);
  let env: DiscoveryEnv;
  let a: TestKubo, b: TestKubo;
  let ipfsB: IpfsClient;

  before(async function () {
    this.timeout(180_000);
    env = await discoveryEnv(`disc-id-${suffix}`);
    const key = newSwarmKey();
    a = await startKubo(`id-a-${suffix}`, key);
    b = await startKubo(`id-b-${suffix}`, key);
    ipfsB = new IpfsClient({ apiURL: b.apiURL });
    await ipfsB.connect(a.swarmAddrs[0] ?? "");
    await env.startManager("identity-it-1");
  });

  after(async function () {
    this.timeout(60_000);
    for (const n of [a, b]) await n?.stop().catch((err: Error) => console.error(`stopping ${n.name}: ${err.message}`));
    await env?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${env.manager?.logFile}`);
  });

  const identity = (): Promise<Identity> => env.getIdentity("alpha");

  /** What B resolves /ipns/<A> to right now, bypassing B's cache; the verified descriptor. */
  async function resolvedOnB(wantCid?: string): Promise<{ cid: string; displayName: string } | undefined> {
    const path = await ipfsB.resolveName(`/ipns/${a.peerId}`, { fresh: true, timeoutMs: 10_000 });
    const cid = path.replace("/ipfs/", "");
    if (wantCid && cid !== wantCid) return undefined;
    const v = verifyDescriptor(await ipfsB.catBytes(cid, MAX_DESCRIPTOR_BYTES, { timeoutMs: 10_000 }), Date.now(), { peerId: a.peerId });
    assert.equal(v.ok ? "ok" : `${v.reason}: ${v.message}`, "ok");
    return v.ok ? { cid, displayName: v.descriptor.displayName } : undefined;
  }

  it("generates the key once into a labelled Secret without owner, and waits for a Network (NoNetwork)", async () => {
    await env.createIdentity("alpha", spec);
    const waiting = await env.readyWith(identity, "False", "NoNetwork");
    const secret = await env.readSecret(env.systemNamespace, defaultIdentityKeySecret.name);
    assert.ok(secret?.data?.[identityPrivateKeyField], "the key Secret exists with its data key");
    assert.equal(secret.metadata?.labels?.[identityKeyLabel], "true");
    assert.equal(secret.metadata?.ownerReferences, undefined, "no owner: deleting the Identity must not delete the key");
    const pem = Buffer.from(secret.data[identityPrivateKeyField], "base64").toString();
    assert.equal(waiting.status?.publicKey, publicKeyOf(pem));
    assert.deepEqual(waiting.status?.keySecretRef, { namespace: env.systemNamespace, name: defaultIdentityKeySecret.name });
  });

  it("publishes the signed descriptor under the node's IPNS name; another node of the network resolves and verifies it", async () => {
    const start = performance.now();
    await env.createNetwork("science", { approvalPolicy: "auto", ipfs: { mode: "external", apiURL: a.apiURL } });
    const ready = await env.readyWith(identity, "True", "Published", 60_000);
    measure("Network created → Identity Published (status)", performance.now() - start);
    const cid = ready.status?.descriptorCID ?? "";
    const resolved = await eventually("B resolves A's descriptor", () => resolvedOnB(cid), 30_000, 250);
    measure("Network created → descriptor resolvable and verified on another node", performance.now() - start);
    assert.equal(resolved.cid, cid);
    const pub = ready.status?.networks?.find((n) => n.network === "science");
    assert.equal(pub?.peerId, a.peerId);
    assert.equal(pub?.descriptorCID, cid);
    assert.equal(pub?.ipnsName, `/ipns/${a.peerId}`);
    assert.ok(pub?.publishedAt);
    assert.ok(ready.status?.descriptorIssuedAt && ready.status.descriptorExpiresAt);
    assert.match(readyOf(ready)?.message ?? "", new RegExp(a.peerId));
  });

  it("never shows the private key in status, events or logs", async () => {
    const secret = await env.readSecret(env.systemNamespace, defaultIdentityKeySecret.name);
    const pem = Buffer.from(secret?.data?.[identityPrivateKeyField] ?? "", "base64").toString();
    const body = pem.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
    assert.ok(body.length > 40);
    const leaks = (text: string): boolean => text.includes(body) || text.includes(secret?.data?.[identityPrivateKeyField] ?? "\u0000");
    assert.ok(!leaks(JSON.stringify((await identity()).status)), "status");
    const events = await env.events("Identity", "alpha");
    assert.ok(events.some((e) => e.reason === "KeyGenerated"), "a KeyGenerated event names the Secret");
    assert.ok(!leaks(JSON.stringify(events)), "events");
    assert.ok(!leaks(await readFile(env.manager?.logFile ?? "", "utf8")), "manager log");
  });

  it("a restarted manager keeps the key and the descriptor: nothing is re-issued", async () => {
    const before = await identity();
    const secretBefore = await env.readSecret(env.systemNamespace, defaultIdentityKeySecret.name);
    await env.manager?.stop();
    await env.startManager("identity-it-2");
    // A full pass of both controllers (the Network's interval is 5 s) after the restart.
    await new Promise((r) => setTimeout(r, 7_000));
    const after = await identity();
    const secretAfter = await env.readSecret(env.systemNamespace, defaultIdentityKeySecret.name);
    assert.equal(secretAfter?.metadata?.resourceVersion, secretBefore?.metadata?.resourceVersion, "the key Secret was not written");
    assert.equal(after.status?.publicKey, before.status?.publicKey);
    assert.equal(after.status?.descriptorCID, before.status?.descriptorCID);
    assert.equal(after.status?.descriptorIssuedAt, before.status?.descriptorIssuedAt);
    assert.equal(readyOf(after)?.reason, "Published");
  });

  it("re-issues and re-publishes when the content changes", async () => {
    const before = await identity();
    const start = performance.now();
    await env.patchIdentitySpec("alpha", { displayName: "Alpha Lab" });
    const changed = await eventually(
      "a new descriptor in status",
      async () => {
        const i = await identity();
        return i.status?.descriptorCID !== before.status?.descriptorCID && i.status?.observedGeneration === i.metadata?.generation && readyOf(i)?.reason === "Published" ? i : undefined;
      },
      30_000,
      200,
    );
    const resolved = await eventually("B resolves the new descriptor", () => resolvedOnB(changed.status?.descriptorCID), 30_000, 250);
    measure("displayName changed → new descriptor resolvable on another node", performance.now() - start);
    assert.equal(resolved.displayName, "Alpha Lab");
    assert.equal(changed.status?.publicKey, before.status?.publicKey, "same key");
  });

  it("after its kubo node restarts, the descriptor is still (or again) resolvable from the other node", async () => {
    const cid = (await identity()).status?.descriptorCID;
    const start = performance.now();
    await a.restart();
    await ipfsB.connect(a.swarmAddrs[0] ?? "").catch(() => undefined); // the Network has no bootstrap here
    await eventually("B resolves A's descriptor after A restarted", () => resolvedOnB(cid), 60_000, 500);
    measure("A restarted → descriptor resolvable on B", performance.now() - start);
  });

  it("a record that no longer points at the descriptor is published again within the check interval", async function () {
    this.timeout(90_000);
    const cid = (await identity()).status?.descriptorCID ?? "";
    const ipfsA = new IpfsClient({ apiURL: a.apiURL });
    const other = await ipfsA.addBytes(`not a descriptor ${Date.now()}`);
    await ipfsA.publishName(other, { key: "self", lifetimeMs: 3_600_000, ttlMs: 1_000, timeoutMs: 30_000 });
    assert.equal(await ipfsA.resolveName(`/ipns/${a.peerId}`, { fresh: true }), `/ipfs/${other}`);
    const start = performance.now();
    await eventually("A's record points at the descriptor again", async () => (await ipfsA.resolveName(`/ipns/${a.peerId}`, { fresh: true })) === `/ipfs/${cid}`, 45_000, 500);
    measure("IPNS record overwritten → re-published by the controller", performance.now() - start);
    await eventually("B resolves the descriptor again", () => resolvedOnB(cid), 30_000, 500);
  });

  it("a second Identity is refused as DuplicateIdentity and publishes nothing", async () => {
    await env.createIdentity("beta", { ...spec, clusterName: "beta" });
    const dup = await env.readyWith(() => env.getIdentity("beta"), "False", "DuplicateIdentity");
    assert.match(readyOf(dup)?.message ?? "", /this cluster already has Identity alpha/);
    assert.equal(dup.status?.publicKey, undefined);
    assert.equal(dup.status?.descriptorCID, undefined);
    assert.equal(readyOf(await identity())?.reason, "Published");
  });

  it("never replaces a key Secret it cannot use: KeySecretInvalid names the Secret and the data key", async () => {
    await env.deleteIdentity("beta");
    await env.createSecret(env.systemNamespace, "broken-key", { other: "x" });
    await env.deleteIdentity("alpha");
    await env.createIdentity("gamma", { ...spec, clusterName: "gamma", keySecretRef: { namespace: env.systemNamespace, name: "broken-key" } });
    const bad = await env.readyWith(() => env.getIdentity("gamma"), "False", "KeySecretInvalid");
    assert.match(readyOf(bad)?.message ?? "", new RegExp(`Secret ${env.systemNamespace}/broken-key has no data key ${identityPrivateKeyField}`));
    const secret = await env.readSecret(env.systemNamespace, "broken-key");
    assert.deepEqual(Object.keys(secret?.data ?? {}), ["other"], "the Secret was left alone");
    assert.ok(await env.readSecret(env.systemNamespace, defaultIdentityKeySecret.name), "the deleted Identity's key is kept");
  });

  it("an Identity created again finds the kept key: same public key, nothing generated", async () => {
    const kept = await env.readSecret(env.systemNamespace, defaultIdentityKeySecret.name);
    const publicKey = publicKeyOf(Buffer.from(kept?.data?.[identityPrivateKeyField] ?? "", "base64").toString());
    await env.deleteIdentity("gamma");
    await env.createIdentity("delta", { ...spec, clusterName: "alpha" });
    const again = await env.readyWith(() => env.getIdentity("delta"), "True", "Published", 60_000);
    assert.equal(again.status?.publicKey, publicKey);
    assert.equal((await env.readSecret(env.systemNamespace, defaultIdentityKeySecret.name))?.metadata?.resourceVersion, kept?.metadata?.resourceVersion);
    assert.ok(!(await env.events("Identity", "delta")).some((e) => e.reason === "KeyGenerated"));
    await eventually("B resolves delta's descriptor", () => resolvedOnB(again.status?.descriptorCID), 30_000, 250);
  });
});
