// Catalog search latency, in process (no apiserver): 4 API servers on loopback (this cluster
// + 3 peers), each with 1,000 Resources in its cache (the same Store the informers fill) and
// real Ed25519-signed federation requests between them. Prints p50/p99 of local and federated
// search over HTTP. The caller's identity lookup is stubbed (a SelfSubjectReview is cached per
// token in production anyway). Not measured here: the manager's RSS with 10,000 Resources.
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
import { defaultEgressPolicy } from "../operators/runtime/egress.ts";

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
    routes: [(a) => registerCatalogRoutes(a, { kubeConfig, caches, nonces: new MemoryNonceCache(), signingIdentity: async () => ({ clusterName: name, privateKeyPem: key.privateKeyPem }), whoAmI: async () => ({ user: "alice", groups: [] }), accessReview: async () => true, egress: defaultEgressPolicy })],
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { name, key, app, url, peers };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function time(url: string, iterations: number): Promise<{ p50: number; p99: number; items: number }> {
  const samples: number[] = [];
  let items = 0;
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    const res = await fetch(url, { headers: { authorization: "Bearer bench" } });
    const body = (await res.json()) as { items: unknown[] };
    samples.push(performance.now() - started);
    items = body.items.length;
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), items };
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
    console.log(`${label.padEnd(18)} local p50 ${local.p50.toFixed(2)} ms p99 ${local.p99.toFixed(2)} ms (${local.items} items) | federated (3 peers × ${perCluster}) p50 ${fed.p50.toFixed(2)} ms p99 ${fed.p99.toFixed(2)} ms (${fed.items} items)`);
  }
  await Promise.all(nodes.map((n) => n.app.close()));
}

await main();
