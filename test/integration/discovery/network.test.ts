// The Network controller end to end: the manager (controllers identity and network) runs as a
// child process against its own kube-apiserver. External Networks use real kubo daemons; a
// managed Network is checked through the objects it creates (no kubelet runs here, so its
// node never answers: NodeStarting).
import assert from "node:assert/strict";
import { type KubernetesObject, KubernetesObjectApi, type V1OwnerReference } from "@kubernetes/client-node";
import { kuboRpcPort, managedKuboName, managedKuboSwarmKeySecretName, swarmKeyField } from "../../../operators/discovery/contracts.ts";
import { IpfsClient } from "../../../operators/discovery/ipfsClient.ts";
import { parseSwarmKey } from "../../../operators/discovery/swarmKey.ts";
import type { Network } from "../../../operators/schema/network.ts";
import { eventually, newSwarmKey, startKubo, type TestKubo } from "../../support/kubo.ts";
import { discoveryEnv, type DiscoveryEnv, measure, readyOf } from "./reconcilerFixtures.ts";

const suffix = `${process.pid}`;

function ownedByNetwork(obj: KubernetesObject | undefined, network: Network): V1OwnerReference | undefined {
  return obj?.metadata?.ownerReferences?.find((r) => r.controller === true && r.kind === "Network" && r.uid === network.metadata?.uid);
}

describe("Network controller (manager process, real kubo, real API server)", function () {
  this.timeout(180_000);
  let env: DiscoveryEnv;
  let c: TestKubo, d: TestKubo;
  let ipfsC: IpfsClient;

  before(async function () {
    this.timeout(180_000);
    env = await discoveryEnv(`disc-net-${suffix}`);
    const key = newSwarmKey();
    c = await startKubo(`net-c-${suffix}`, key);
    d = await startKubo(`net-d-${suffix}`, key);
    ipfsC = new IpfsClient({ apiURL: c.apiURL });
    await env.startManager("network-it");
  });

  after(async function () {
    this.timeout(60_000);
    for (const n of [c, d]) await n?.stop().catch((err: Error) => console.error(`stopping ${n.name}: ${err.message}`));
    await env?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${env.manager?.logFile}`);
  });

  const network = (name: string) => (): Promise<Network> => env.getNetwork(name);

  it("an external node answers: NodeReady with its peer ID and addresses; the bootstrap peer is dialled and kept in peering", async () => {
    const start = performance.now();
    await env.createNetwork("science", { approvalPolicy: "auto", ipfs: { mode: "external", apiURL: c.apiURL }, bootstrap: [d.swarmAddrs[0] ?? ""] });
    const ready = await env.readyWith(network("science"), "True", "NodeReady");
    measure("external Network created → NodeReady", performance.now() - start);
    assert.equal(ready.status?.peerId, c.peerId);
    assert.ok(ready.status?.addresses?.includes(c.swarmAddrs[0] ?? ""), JSON.stringify(ready.status?.addresses));
    assert.equal(ready.status?.swarmKeySecretRef, undefined, "an external node's key is its own: none is generated");
    assert.deepEqual((await ipfsC.peeringList()).map((p) => p.peerId), [d.peerId]);
    assert.ok(await ipfsC.isConnected(d.peerId));
    const counted = await eventually("connectedPeers counts D", async () => ((await env.getNetwork("science")).status?.connectedPeers ?? 0) >= 1, 15_000, 200);
    assert.ok(counted);
    const events = await env.events("Network", "science");
    assert.ok(events.some((e) => e.reason === "NodeReady" && e.type === "Normal"));
  });

  it("reconnects the bootstrap peer after it was dropped (kept fresh every discovery interval)", async () => {
    await ipfsC.peeringRemove(d.peerId);
    await ipfsC.disconnect(d.peerId);
    const start = performance.now();
    await eventually("C connected to D again", async () => (await ipfsC.isConnected(d.peerId)) && (await ipfsC.peeringList()).some((p) => p.peerId === d.peerId), 20_000, 200);
    measure("bootstrap peer dropped → back in peering and connected", performance.now() - start);
  });

  it("a second Network on the same node is NodeInUse and gets no peer ID; the first one stays NodeReady", async () => {
    await env.createNetwork("science-copy", { approvalPolicy: "auto", ipfs: { mode: "external", apiURL: `${c.apiURL}/` } });
    const dup = await env.readyWith(network("science-copy"), "False", "NodeInUse");
    assert.match(readyOf(dup)?.message ?? "", /already belongs to Network science/);
    assert.equal(dup.status?.peerId, undefined);
    assert.equal(readyOf(await env.getNetwork("science"))?.reason, "NodeReady");
    await env.deleteNetwork("science-copy");
  });

  it("an unreachable apiURL is NodeUnreachable, naming spec.ipfs.apiURL", async () => {
    const start = performance.now();
    await env.createNetwork("nowhere", { approvalPolicy: "auto", ipfs: { mode: "external", apiURL: "http://127.0.0.1:9" } });
    const down = await env.readyWith(network("nowhere"), "False", "NodeUnreachable");
    measure("unreachable apiURL → NodeUnreachable", performance.now() - start);
    assert.match(readyOf(down)?.message ?? "", /spec\.ipfs\.apiURL http:\/\/127\.0\.0\.1:9 does not answer/);
    assert.equal(down.status?.peerId, undefined);
  });

  it("a missing or invalid swarm key Secret: SwarmKeyMissing / SwarmKeyInvalid naming spec.swarmKeySecretRef, never the key", async () => {
    await env.createNetwork("keyless", { approvalPolicy: "auto", ipfs: { mode: "external", apiURL: d.apiURL }, swarmKeySecretRef: { namespace: env.systemNamespace, name: "no-such-secret" } });
    const missing = await env.readyWith(network("keyless"), "False", "SwarmKeyMissing");
    assert.match(readyOf(missing)?.message ?? "", new RegExp(`spec\\.swarmKeySecretRef \\(Secret ${env.systemNamespace}/no-such-secret\\) does not exist`));

    const digits = "c0ffee".repeat(10);
    await env.createSecret(env.systemNamespace, "bad-swarm-key", { [swarmKeyField]: `/key/swarm/psk/1.0.0/\n/base16/\n${digits}\n` });
    await env.createNetwork("badkey", { approvalPolicy: "auto", ipfs: { mode: "external", apiURL: d.apiURL }, swarmKeySecretRef: { namespace: env.systemNamespace, name: "bad-swarm-key" } });
    const bad = await env.readyWith(network("badkey"), "False", "SwarmKeyInvalid");
    assert.match(readyOf(bad)?.message ?? "", /spec\.swarmKeySecretRef \(Secret .*\/bad-swarm-key\) key swarm\.key is not a swarm key file: line 3 must be 64 hexadecimal digits/);
    assert.doesNotMatch(JSON.stringify(bad.status), new RegExp(digits));
    assert.doesNotMatch(JSON.stringify(await env.events("Network", "badkey")), new RegExp(digits));
    await env.deleteNetwork("keyless");
    await env.deleteNetwork("badkey");
  });

  it("managed: generates the swarm key once and creates the kubo StatefulSet, Service, ConfigMap, Secret and NetworkPolicy, owned by the Network", async () => {
    const start = performance.now();
    const created = await env.createNetwork("lab", { approvalPolicy: "manual", ipfs: { mode: "managed", storage: "2Gi" } });
    const starting = await env.readyWith(network("lab"), "False", "NodeStarting");
    measure("managed Network created → objects applied, NodeStarting", performance.now() - start);
    const ns = env.systemNamespace;
    const name = managedKuboName("lab");
    assert.match(readyOf(starting)?.message ?? "", new RegExp(`StatefulSet ${ns}/${name}\\) does not answer at http://${name}\\.${ns}\\.svc:${kuboRpcPort}`));
    assert.deepEqual(starting.status?.swarmKeySecretRef, { namespace: ns, name: managedKuboSwarmKeySecretName("lab") });

    const secret = await env.readSecret(ns, managedKuboSwarmKeySecretName("lab"));
    assert.ok(ownedByNetwork(secret as KubernetesObject, created));
    assert.equal(parseSwarmKey(Buffer.from(secret?.data?.[swarmKeyField] ?? "", "base64").toString()).ok, true);

    const sts = await env.apps.readNamespacedStatefulSet({ namespace: ns, name });
    assert.ok(ownedByNetwork(sts, created));
    assert.equal(sts.spec?.replicas, 1);
    const container = sts.spec?.template.spec?.containers[0];
    assert.equal(container?.env?.find((e) => e.name === "LIBP2P_FORCE_PNET")?.value, "1");
    assert.deepEqual(container?.ports?.map((p) => p.containerPort).sort(), [4001, 5001], "no gateway port");
    assert.equal(sts.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage, "2Gi");
    assert.ok(sts.spec?.template.spec?.volumes?.some((v) => v.secret?.secretName === managedKuboSwarmKeySecretName("lab")));

    const svc = await env.core.readNamespacedService({ namespace: ns, name });
    assert.ok(ownedByNetwork(svc, created));
    assert.equal(svc.spec?.type, "ClusterIP");
    const cm = await env.core.readNamespacedConfigMap({ namespace: ns, name });
    assert.ok(ownedByNetwork(cm, created));
    const configure = cm.data?.["configure.sh"] ?? "";
    for (const setting of [/'Discovery\.MDNS\.Enabled' 'false'/, /'Bootstrap' '\[\]'/, /'Addresses\.Gateway' '\[\]'/, /'AutoConf\.Enabled' 'false'/, /'Addresses\.API' '"\/ip4\/0\.0\.0\.0\/tcp\/5001"'/]) {
      assert.match(configure, setting);
    }
    const policy = await KubernetesObjectApi.makeApiClient(env.cluster.kubeConfig()).read({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { namespace: ns, name } });
    assert.ok(ownedByNetwork(policy, created));
  });

  it("managed: a second pass changes nothing, and a deleted StatefulSet is re-created with the same key", async () => {
    const ns = env.systemNamespace;
    const name = managedKuboName("lab");
    const stsBefore = await env.apps.readNamespacedStatefulSet({ namespace: ns, name });
    const secretBefore = await env.readSecret(ns, managedKuboSwarmKeySecretName("lab"));
    const svcBefore = await env.core.readNamespacedService({ namespace: ns, name });
    await new Promise((r) => setTimeout(r, 6_000)); // more than one discovery interval (5 s)
    assert.equal((await env.apps.readNamespacedStatefulSet({ namespace: ns, name })).metadata?.resourceVersion, stsBefore.metadata?.resourceVersion);
    assert.equal((await env.core.readNamespacedService({ namespace: ns, name })).metadata?.resourceVersion, svcBefore.metadata?.resourceVersion);
    assert.equal((await env.readSecret(ns, managedKuboSwarmKeySecretName("lab")))?.metadata?.resourceVersion, secretBefore?.metadata?.resourceVersion);

    await env.apps.deleteNamespacedStatefulSet({ namespace: ns, name });
    const start = performance.now();
    const again = await eventually("StatefulSet re-created", () => env.apps.readNamespacedStatefulSet({ namespace: ns, name }).then((s) => (s.metadata?.uid !== stsBefore.metadata?.uid ? s : undefined)), 20_000, 200);
    measure("managed StatefulSet deleted → re-created", performance.now() - start);
    assert.equal(again.spec?.template.metadata?.annotations?.["archipel.io/config-hash"], stsBefore.spec?.template.metadata?.annotations?.["archipel.io/config-hash"], "same settings and key");
    const secretAfter = await env.readSecret(ns, managedKuboSwarmKeySecretName("lab"));
    assert.equal(secretAfter?.data?.[swarmKeyField], secretBefore?.data?.[swarmKeyField], "the swarm key is never regenerated");
  });

  it("managed with a given key in another namespace: the key is validated and copied into the node's Secret", async () => {
    const given = newSwarmKey();
    await env.core.createNamespace({ body: { metadata: { name: "keys" } } });
    await env.createSecret("keys", "team-swarm", { [swarmKeyField]: given });
    await env.createNetwork("joined", { approvalPolicy: "manual", ipfs: { mode: "managed" }, swarmKeySecretRef: { namespace: "keys", name: "team-swarm" } });
    const starting = await env.readyWith(network("joined"), "False", "NodeStarting");
    assert.deepEqual(starting.status?.swarmKeySecretRef, { namespace: "keys", name: "team-swarm" });
    const copy = await env.readSecret(env.systemNamespace, managedKuboSwarmKeySecretName("joined"));
    assert.equal(Buffer.from(copy?.data?.[swarmKeyField] ?? "", "base64").toString(), given);
  });

  it("deleting a managed Network garbage-collects its objects (owner references)", async () => {
    const ns = env.systemNamespace;
    const name = managedKuboName("lab");
    await env.deleteNetwork("lab");
    const start = performance.now();
    await eventually(
      "kubo-lab objects gone",
      async () => {
        const sts = await env.apps.readNamespacedStatefulSet({ namespace: ns, name }).catch(() => undefined);
        const secret = await env.readSecret(ns, managedKuboSwarmKeySecretName("lab"));
        return !sts && !secret;
      },
      60_000,
      500,
    );
    measure("managed Network deleted → StatefulSet and Secret collected", performance.now() - start);
  });
});
