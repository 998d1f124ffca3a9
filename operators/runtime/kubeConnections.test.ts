import assert from "node:assert/strict";
import { KubeConfig } from "@kubernetes/client-node";
import { connectionKey, pooledConnections } from "./kubeConnections.ts";

const caData = Buffer.from("-----BEGIN CERTIFICATE-----\nnot a real certificate\n-----END CERTIFICATE-----\n").toString("base64");

function kubeConfig(token: string, ca = caData, server = "https://127.0.0.1:6443"): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server, caData: ca, skipTLSVerify: false }],
    users: [{ name: "u", token }],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx",
  });
  return kc;
}

/** The dispatcher the library gives one request of a typed API client (no I/O: nothing is sent). */
async function dispatcherOf(kc: KubeConfig): Promise<unknown> {
  let dispatcher: unknown;
  const context = { setHeaderParam: (): void => undefined, setDispatcher: (d: unknown): void => void (dispatcher = d) };
  await kc.applySecurityAuthentication(context as unknown as Parameters<KubeConfig["applySecurityAuthentication"]>[0]);
  return dispatcher;
}

describe("pooledConnections", () => {
  it("gives every request of one KubeConfig the same dispatcher", async () => {
    const kc = pooledConnections(kubeConfig("t1"));
    const first = await dispatcherOf(kc);
    assert.ok(first);
    assert.equal(await dispatcherOf(kc), first);
  });

  it("shares connections between callers that differ only by bearer token", async () => {
    assert.equal(await dispatcherOf(pooledConnections(kubeConfig("alice"))), await dispatcherOf(pooledConnections(kubeConfig("bob"))));
  });

  it("keeps TLS identities apart: another CA or server gets another dispatcher", async () => {
    const base = await dispatcherOf(pooledConnections(kubeConfig("t")));
    const otherCa = Buffer.from("another CA").toString("base64");
    assert.notEqual(await dispatcherOf(pooledConnections(kubeConfig("t", otherCa))), base);
    assert.notEqual(await dispatcherOf(pooledConnections(kubeConfig("t", caData, "https://127.0.0.2:6443"))), base);
  });
});

describe("connectionKey", () => {
  const cluster = { server: "https://a:6443", skipTLSVerify: false };
  it("depends on certificate and key bytes, not on object identity", () => {
    assert.equal(connectionKey(cluster, { cert: Buffer.from("c"), key: Buffer.from("k") }), connectionKey(cluster, { key: Buffer.from("k"), cert: Buffer.from("c") }));
    assert.notEqual(connectionKey(cluster, { cert: Buffer.from("c"), key: Buffer.from("k") }), connectionKey(cluster, { cert: Buffer.from("c"), key: Buffer.from("k2") }));
  });

  it("tells verification settings apart", () => {
    assert.notEqual(connectionKey(cluster, { rejectUnauthorized: false }), connectionKey(cluster, {}));
    assert.notEqual(connectionKey({ ...cluster, tlsServerName: "x" }, {}), connectionKey(cluster, {}));
  });
});
