import assert from "node:assert/strict";
import { appliedHashAnnotation, configHashAnnotation, DEFAULT_KUBO_IMAGE, managedKuboObjects } from "./managedKubo.ts";
import { generateSwarmKey } from "./swarmKey.ts";

const owner = { apiVersion: "archipel.io/v1alpha1", kind: "Network", name: "science", uid: "u-1", controller: true, blockOwnerDeletion: true };

describe("managedKubo", () => {
  const key = generateSwarmKey();
  const objs = managedKuboObjects({ owner, networkName: "science", systemNamespace: "sys", swarmKeyText: key });

  it("names every object after the network, in the system namespace, owned by the Network", () => {
    for (const o of Object.values(objs)) {
      assert.equal(o.metadata?.namespace, "sys");
      assert.deepEqual(o.metadata?.ownerReferences, [owner]);
      assert.match(o.metadata?.annotations?.[appliedHashAnnotation] ?? "", /^[0-9a-f]{16}$/);
    }
    assert.equal(objs.statefulSet.metadata?.name, "kubo-science");
    assert.equal(objs.secret.metadata?.name, "kubo-science-swarm-key");
  });

  it("runs one private kubo: LIBP2P_FORCE_PNET, the key mounted, no gateway port, RPC only on a ClusterIP", () => {
    const spec = objs.statefulSet.spec;
    assert.equal(spec?.replicas, 1);
    const c = spec?.template.spec?.containers[0];
    assert.equal(c?.image, DEFAULT_KUBO_IMAGE);
    assert.deepEqual(c?.env?.find((e) => e.name === "LIBP2P_FORCE_PNET"), { name: "LIBP2P_FORCE_PNET", value: "1" });
    assert.deepEqual(c?.ports?.map((p) => p.containerPort).sort(), [4001, 5001]);
    assert.equal(objs.service.spec?.type, "ClusterIP");
    assert.equal(Buffer.from(objs.secret.data?.["swarm.key"] ?? "", "base64").toString(), key);
    const configure = objs.configMap.data?.["configure.sh"] ?? "";
    assert.match(configure, /'Discovery\.MDNS\.Enabled' 'false'/);
    assert.match(configure, /'Bootstrap' '\[\]'/);
    assert.match(configure, /'Addresses\.Gateway' '\[\]'/);
    assert.match(objs.configMap.data?.["start.sh"] ?? "", /swarm\.key/);
    const rpcRule = objs.networkPolicy.spec?.ingress?.find((r) => r.ports?.some((p) => p.port === 5001));
    assert.deepEqual(rpcRule?._from, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "sys" } } }]);
  });

  it("is deterministic; a new key changes the Secret and restarts the pod, and no hash contains the key", () => {
    const same = managedKuboObjects({ owner, networkName: "science", systemNamespace: "sys", swarmKeyText: key });
    assert.deepEqual(same, objs);
    const other = managedKuboObjects({ owner, networkName: "science", systemNamespace: "sys", swarmKeyText: generateSwarmKey() });
    assert.notEqual(other.secret.metadata?.annotations?.[appliedHashAnnotation], objs.secret.metadata?.annotations?.[appliedHashAnnotation]);
    assert.notEqual(other.statefulSet.spec?.template.metadata?.annotations?.[configHashAnnotation], objs.statefulSet.spec?.template.metadata?.annotations?.[configHashAnnotation]);
    assert.equal(other.service.metadata?.annotations?.[appliedHashAnnotation], objs.service.metadata?.annotations?.[appliedHashAnnotation]);
    const keyDigits = key.split("\n")[2] ?? "";
    assert.ok(!JSON.stringify(objs.statefulSet).includes(keyDigits));
  });
});
