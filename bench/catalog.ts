// Catalog search latency, in process (no apiserver): 4 API servers on loopback (this cluster
// + 3 peers), each with 1,000 Resources in its cache (the same Store the informers fill) and
// real Ed25519-signed federation requests between them. Prints p50/p99 of local and federated
// search over HTTP, then the same federated search with one peer slowed down (100 ms per
// request) against that peer's own p99, measured alternately in the same loop (target: ≤ 1.5×).
// Each query shape is warmed up (WARMUP requests, not counted) before its samples.
// The caller's identity lookup is stubbed (a SelfSubjectReview is cached per token in production
// anyway). Not measured here: the manager's RSS with 10,000 Resources.
//   node bench/catalog.ts [iterations] [Resources per cluster, default 1,000]
import { KubeConfig } from "@kubernetes/client-node";
import type { FastifyInstance } from "fastify";
import { type CatalogCaches, registerCatalogRoutes } from "../operators/api/catalogRoutes.ts";
import { buildServer } from "../operators/api/server.ts";
import { catalogIndexes } from "../operators/catalog/search.ts";
import { generateIdentityKey, type IdentityKeyPair } from "../operators/federation/keys.ts";
import { MemoryNonceCache } from "../operators/federation/requestSigning.ts";
import { Store } from "../operators/runtime/cache.ts";
import type { Identity } from "../operators/schema/identity.ts";
import type { Project } from "../operators/schema/project.ts";
import type { Resource } from "../operators/schema/resource.ts";
import { type EgressPolicy, parseCidrList } from "../operators/runtime/egress.ts";
import { federationCatalogPath } from "../operators/discovery/contracts.ts";
import { signedFetch } from "../operators/federation/client.ts";
import { percentile, report } from "./results.ts";

/** The peers are on loopback over plain HTTP: allowed here as in the tests. */
const egress: EgressPolicy = { allow: parseCidrList("127.0.0.0/8"), cluster: [], allowHttpPeers: true };
const SLOW_PEER_MS = 100;

const names = ["alpha", "beta", "gamma", "delta"];
const perCluster = Number(process.argv[3] ?? 1_000);
const visibilities = ["public", "private", "restricted"];

function resources(cluster: string): Resource[] {
  return Array.from({ length: perCluster }, (_, i) => ({
    apiVersion: "archipel.io/v1alpha1",
    kind: "Resource",
    metadata: { name: `${cluster}-${i}`, namespace: `ns-${i % 10}` },
    spec: { providerRef: { name: `p${i % 5}` }, type: i % 4 === 0 ? "service" : "data", title: `Dataset ${i} of ${cluster}`, tags: [`t${i % 20}`, "bench"], visibility: visibilities[i % 3], projects: i % 3 === 2 ? ["ocean"] : undefined },
  }) as unknown as Resource);
}

function store<T extends { metadata?: { name?: string } }>(items: T[]): Store<never> {
  const s = new Store<never>();
  s.replace(items as never[]);
  return s;
}

interface Node {
  name: string;
  key: IdentityKeyPair;
  app: FastifyInstance;
  url: string;
  peers: Store<never>;
  /** Added to every request's time (the slow-peer phase). */
  delay: { ms: number };
}

async function startNode(name: string, key: IdentityKeyPair): Promise<Node> {
  const resourceStore = store(resources(name));
  for (const [index, fn] of Object.entries(catalogIndexes)) resourceStore.addIndex(index, fn as never);
  const peers = new Store<never>();
  const caches = {
    resources: resourceStore,
    projects: store([{ metadata: { name: "ocean" }, spec: { displayName: "Ocean", members: { users: ["alice"], clusters: names } } }] as unknown as Project[]),
    peers,
    identities: store([{ metadata: { name: "self" }, spec: { clusterName: name } }] as unknown as Identity[]),
  } as unknown as CatalogCaches;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromClusterAndUser({ name: "none", server: "https://127.0.0.1:1", skipTLSVerify: true }, { name: "none" });
  const app = buildServer({
    kubeConfig,
    kinds: [],
    routes: [
      (a) => {
        a.addHook("onRequest", async () => {
          if (delay.ms > 0) await new Promise((r) => setTimeout(r, delay.ms));
        });
        registerCatalogRoutes(a, { kubeConfig, caches, nonces: new MemoryNonceCache(), signingIdentity: async () => ({ clusterName: name, privateKeyPem: key.privateKeyPem }), whoAmI: async () => ({ user: "alice", groups: [] }), accessReview: async () => true, egress });
      },
    ],
  });
  const delay = { ms: 0 };
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { name, key, app, url, peers, delay };
}

interface Timing {
  p50: number;
  p99: number;
  items: number;
  errors: number;
}

function summary(samples: number[], items: number, errors: number): Timing {
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), items, errors };
}

/** One GET through the API; its time, item count and per-peer error count. */
async function once(url: string): Promise<{ ms: number; items: number; errors: number }> {
  const started = performance.now();
  const res = await fetch(url, { headers: { authorization: "Bearer bench" } });
  const body = (await res.json()) as { items: unknown[]; errors?: unknown[] };
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${JSON.stringify(body)}`);
  return { ms: performance.now() - started, items: body.items.length, errors: body.errors?.length ?? 0 };
}

/**
 * Requests of each shape sent and not counted before its samples: the first requests of a route
 * compile its code paths (measured: "all", the first shape asked, had p50 0.8 ms and p99 19 ms
 * cold, while the shapes after it had p99 1.0–1.2 ms).
 */
const WARMUP = 50;

async function time(url: string, iterations: number): Promise<Timing> {
  const samples: number[] = [];
  let items = 0;
  let errors = 0;
  for (let i = 0; i < WARMUP; i++) await once(url);
  for (let i = 0; i < iterations; i++) {
    const r = await once(url);
    samples.push(r.ms);
    items = r.items;
    errors += r.errors;
  }
  return summary(samples, items, errors);
}

/** The slow peer asked directly (the signed request a fan-out makes) and the federated search, alternately. */
async function slowPeerSideBySide(home: Node, slow: Node, qs: string, iterations: number): Promise<{ peer: Timing; federated: Timing }> {
  const identity = { clusterName: home.name, privateKeyPem: home.key.privateKeyPem };
  const peer: number[] = [];
  const fed: number[] = [];
  let items = 0;
  let errors = 0;
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    const res = await signedFetch(identity, { endpoint: slow.url, audience: slow.name, method: "POST", target: federationCatalogPath, body: { limit: 50 }, deadlineMs: 5_000, egress });
    if (res.status !== 200) throw new Error(`${slow.name} answered ${res.status}`);
    peer.push(performance.now() - started);
    const f = await once(`${home.url}/api/v1/catalog/federated?${qs}&deadlineMs=5000`);
    fed.push(f.ms);
    items = f.items;
    errors += f.errors;
  }
  return { peer: summary(peer, 50, 0), federated: summary(fed, items, errors) };
}

async function main(): Promise<void> {
  const iterations = Number(process.argv[2] ?? 200);
  const keys = names.map(() => generateIdentityKey());
  const nodes = await Promise.all(names.map((n, i) => startNode(n, keys[i] as IdentityKeyPair)));
  for (const node of nodes) {
    const others = nodes.filter((o) => o !== node).map((o) => ({
      metadata: { name: o.name },
      spec: { approval: "Accepted" },
      status: {
        descriptor: { clusterName: o.name, apiEndpoint: o.url, publicKey: o.key.publicKey },
        conditions: [{ type: "DescriptorVerified", status: "True", reason: "Verified", message: "", lastTransitionTime: new Date().toISOString() }],
      },
    }));
    node.peers.replace(others as never[]);
  }
  const home = nodes[0] as Node;
  const queries = { "all (limit 50)": "limit=50", "text 'dataset 1'": "q=dataset%201&limit=50", "tag t7": "tag=t7&limit=50" };
  for (const [label, qs] of Object.entries(queries)) {
    const local = await time(`${home.url}/api/v1/catalog?${qs}`, iterations);
    const fed = await time(`${home.url}/api/v1/catalog/federated?${qs}&deadlineMs=2000`, iterations);
    console.log(`${label.padEnd(18)} local p50 ${local.p50.toFixed(2)} ms p99 ${local.p99.toFixed(2)} ms (${local.items} items) | federated (3 peers × ${perCluster}) p50 ${fed.p50.toFixed(2)} ms p99 ${fed.p99.toFixed(2)} ms (${fed.items} items, ${fed.errors} peer errors)`);
    report({ name: `local search p99, ${label}, ${perCluster} Resources (in process, HTTP)`, value: Number(local.p99.toFixed(2)), unit: "ms", atMost: 10, note: `p50 ${local.p50.toFixed(2)} ms` });
    report({ name: `federated search p99, ${label}, 3 peers × ${perCluster}`, value: Number(fed.p99.toFixed(2)), unit: "ms", note: `p50 ${fed.p50.toFixed(2)} ms; ${fed.errors} peer errors` });
  }
  const slow = nodes[3] as Node;
  slow.delay.ms = SLOW_PEER_MS;
  const side = await slowPeerSideBySide(home, slow, "limit=50", Math.max(50, Math.floor(iterations / 2)));
  slow.delay.ms = 0;
  const ratio = side.federated.p99 / side.peer.p99;
  console.log(`one slow peer (+${SLOW_PEER_MS} ms): its own p99 ${side.peer.p99.toFixed(2)} ms | federated p99 ${side.federated.p99.toFixed(2)} ms (${side.federated.items} items, ${side.federated.errors} peer errors) → ${ratio.toFixed(2)}×`);
  report({ name: "federated search p99 / slowest peer's own p99 (one peer +100 ms)", value: Number(side.federated.p99.toFixed(2)), unit: "ms", floor: Number(side.peer.p99.toFixed(2)), note: `ratio target ≤ 1.5×; ${side.federated.errors} peer errors` });
  report({ name: "federated search, one slow peer: ratio to its own p99", value: Number(ratio.toFixed(2)), unit: "×", atMost: 1.5, targetText: "≤ 1.5× the slowest peer's p99" });
  await Promise.all(nodes.map((n) => n.app.close()));
}

await main();
