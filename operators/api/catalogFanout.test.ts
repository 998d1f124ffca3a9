// The federated catalog fan-out against peers of its own on loopback (in-process API, no cluster):
// a malformed or oversized peer answer is that peer's error and nothing of it is merged; with
// the default egress policy no connection reaches a loopback peer at all.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import type { FastifyInstance } from "fastify";
import { generateIdentityKey } from "../federation/keys.ts";
import { MemoryNonceCache } from "../federation/requestSigning.ts";
import { Store } from "../runtime/cache.ts";
import { defaultEgressPolicy, type EgressPolicy } from "../runtime/egress.ts";
import type { Peer } from "../schema/peer.ts";
import { loopbackEgress } from "../../test/support/egress.ts";
import { catalogIndexes } from "../catalog/search.ts";
import { type CatalogCaches, federatedCatalogPath, registerCatalogRoutes } from "./catalogRoutes.ts";
import { buildServer } from "./server.ts";

interface FakePeer {
  name: string;
  url: string;
  connections: number;
  close(): Promise<void>;
}

async function fakePeer(name: string, answer: () => { status: number; body: string }): Promise<FakePeer> {
  const server = http.createServer((_req, res) => {
    const a = answer();
    res.writeHead(a.status, { "content-type": "application/json" }).end(a.body);
  });
  const p: FakePeer = { name, url: "", connections: 0, close: () => new Promise((r) => {
    server.close(() => r());
    server.closeAllConnections();
  }) };
  server.on("connection", () => p.connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  p.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return p;
}

const item = (name: string): Record<string, unknown> => ({ namespace: "sat", name, type: "data", title: `Title ${name}`, tags: ["s2"], provider: "files", visibility: "public", ready: true });

function peerObject(p: FakePeer): Peer {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "Peer",
    metadata: { name: `peer-${p.name}` },
    spec: { peerId: "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp", networkRef: { name: "net" }, approval: "Accepted", origin: "Declared" },
    status: {
      descriptor: { cid: "bafy", clusterName: p.name, apiEndpoint: p.url, publicKey: "unused", issuedAt: "2026-01-01T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z" },
      conditions: [{ type: "DescriptorVerified", status: "True", reason: "Verified", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }],
    },
  } as unknown as Peer;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function unreachableCluster(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "server", token: "t" }],
    contexts: [{ name: "c", cluster: "c", user: "server" }],
    currentContext: "c",
  });
  return kc;
}

async function apiWith(peers: FakePeer[], egress: EgressPolicy): Promise<FastifyInstance> {
  // The caches hold API objects (string timestamps); Store is typed on client-node's objects.
  const store = (): Store<KubernetesObject> => new Store<KubernetesObject>();
  const [resources, projects, peerStore, identities] = [store(), store(), store(), store()];
  for (const [name, fn] of Object.entries(catalogIndexes)) resources.addIndex(name, fn as unknown as (o: KubernetesObject) => string[]);
  identities.upsert({ apiVersion: "archipel.io/v1alpha1", kind: "Identity", metadata: { name: "self" }, spec: { clusterName: "beta" } } as KubernetesObject);
  for (const p of peers) peerStore.upsert(peerObject(p) as unknown as KubernetesObject);
  const caches = { resources, projects, peers: peerStore, identities } as unknown as CatalogCaches;
  const key = generateIdentityKey();
  const app = buildServer({
    kubeConfig: unreachableCluster(await closedPort()),
    kinds: [],
    routes: [
      (a) =>
        registerCatalogRoutes(a, {
          kubeConfig: unreachableCluster(1),
          caches,
          nonces: new MemoryNonceCache(),
          signingIdentity: async () => ({ clusterName: "beta", privateKeyPem: key.privateKeyPem }),
          whoAmI: async () => ({ user: "alice", groups: [] }),
          accessReview: async () => true,
          egress,
        }),
    ],
  });
  await app.ready();
  return app;
}

describe("federated catalog fan-out: bounded, validated peer answers (loopback peers)", function () {
  this.timeout(20_000);
  const peers: FakePeer[] = [];

  before(async () => {
    peers.push(await fakePeer("good", () => ({ status: 200, body: JSON.stringify({ items: [item("tiles"), { ...item("extra"), unknownField: "dropped" }] }) })));
    peers.push(await fakePeer("junk", () => ({ status: 200, body: JSON.stringify({ items: [item("ok-one"), { name: 5, title: { html: "<b>" } }] }) })));
    // 5 MiB of valid items: over the 4 MiB cap, so it must not be merged.
    const many = Array.from({ length: 20_000 }, (_, i) => ({ ...item(`flood-${i}`), description: "x".repeat(200) }));
    peers.push(await fakePeer("huge", () => ({ status: 200, body: JSON.stringify({ items: many }) })));
    peers.push(await fakePeer("notjson", () => ({ status: 200, body: "<html>oops</html>" })));
  });
  after(async () => Promise.all(peers.map((p) => p.close())));

  const search = async (app: FastifyInstance): Promise<{ items: { origin: string; name: string }[]; errors: { cluster: string; code: string; message: string }[] }> => {
    const res = await app.inject({ url: `${federatedCatalogPath}?deadlineMs=10000`, headers: { authorization: "Bearer alice" } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  };

  it("merges the valid peer, and makes each malformed or oversized answer that peer's error", async () => {
    const app = await apiWith(peers, loopbackEgress);
    try {
      const body = await search(app);
      const byOrigin = (o: string): string[] => body.items.filter((i) => i.origin === o).map((i) => i.name);
      assert.deepEqual(byOrigin("good"), ["extra", "tiles"]);
      assert.deepEqual(byOrigin("junk"), []);
      assert.deepEqual(byOrigin("huge"), []);
      assert.ok(!("unknownField" in (body.items.find((i) => i.name === "extra") ?? {})));
      const errors = Object.fromEntries(body.errors.map((e) => [e.cluster, e]));
      assert.equal(errors.junk?.code, "BadResponse");
      assert.match(errors.junk?.message ?? "", /not a catalog page .*nothing of it was merged/);
      assert.equal(errors.huge?.code, "TooLarge");
      assert.equal(errors.notjson?.code, "BadResponse");
      assert.equal(errors.good, undefined);
    } finally {
      await app.close();
    }
  });

  it("with the default egress policy, no connection reaches a loopback peer: each is EgressRefused", async () => {
    const app = await apiWith(peers, defaultEgressPolicy);
    const before = peers.map((p) => p.connections);
    try {
      const body = await search(app);
      assert.deepEqual(body.items, []);
      assert.deepEqual(body.errors.map((e) => e.code), ["EgressRefused", "EgressRefused", "EgressRefused", "EgressRefused"]);
      assert.match(body.errors[0]?.message ?? "", /plain-http-peer|plain HTTP/);
      assert.deepEqual(peers.map((p) => p.connections), before);
    } finally {
      await app.close();
    }
  });

  it("with plain HTTP allowed but not loopback, the refusal names the loopback range", async () => {
    const app = await apiWith(peers.slice(0, 1), { ...defaultEgressPolicy, allowHttpPeers: true });
    const before = peers[0]!.connections;
    try {
      const body = await search(app);
      assert.equal(body.errors[0]?.code, "EgressRefused");
      assert.match(body.errors[0]?.message ?? "", /127\.0\.0\.1 is in a loopback range \(127\.0\.0\.0\/8\)/);
      assert.equal(peers[0]!.connections, before);
    } finally {
      await app.close();
    }
  });
});
