// The federated catalog end to end on the local federation fixture (hack/federation): three
// members, each with its own control plane, kubo, manager and API, publish Resources of every
// visibility; each member's federated search, as alice and as bob, must return exactly what the
// visibility rules allow — computed here from a table, independently of operators/catalog — and
// with one peer's API stopped (or frozen) the others' results plus that peer's error, within the
// deadline.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api, type V1ClusterRole } from "@kubernetes/client-node";
import { loadAll } from "js-yaml";
import type { Peer } from "../../operators/schema/peer.ts";
import { repoRoot } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";
import { type Federation, type FederationMember, startFederation } from "../support/federation.ts";

const group = { group: "archipel.io", version: "v1alpha1" };
const run = String(process.pid);
const tag = `e2e-cat-${run}`;
const namespace = `e2e-cat-${run}`;
const ocean = `ocean-${run}`;
const lab = `lab-${run}`;
type User = "alice" | "bob";

/** What each member publishes: the same four names everywhere, told apart by their origin. */
const table = [
  { name: "pub", visibility: "public", projects: [] },
  { name: "priv", visibility: "private", projects: [] },
  { name: "ocean", visibility: "restricted", projects: [ocean] },
  { name: "lab", visibility: "restricted", projects: [lab] },
] as const;

interface Item {
  origin: string;
  namespace: string;
  name: string;
}

interface Answer {
  status: number;
  ms: number;
  items: string[];
  errors: { cluster: string; code: string; message: string }[];
  body: unknown;
}

function measure(what: string, ms: number): void {
  console.log(`      [measure] ${what}: ${Math.round(ms)} ms`);
}

describe("federated catalog across a local federation (3 clusters, mixed visibility)", function () {
  this.timeout(240_000);
  let fed: Federation;
  let names: string[];
  /** Members whose requests may act for project ocean (lab lists none): the first two. */
  let oceanClusters: string[];

  /** Exactly what `user` of `home` must see, searching with `project` (or none). */
  function expected(home: string, user: User, project?: string): string[] {
    const out: string[] = [];
    for (const origin of names) {
      for (const r of table) {
        const local = origin === home;
        const member = (r.name === "ocean" && user === "alice") || (r.name === "lab" && user === "bob");
        const peerMay = project !== undefined && (r.projects as readonly string[]).includes(project) && project === ocean && oceanClusters.includes(home);
        const visible = r.visibility === "public" || (local && r.visibility === "private") || (r.visibility === "restricted" && (local ? member : peerMay));
        if (visible) out.push(`${origin}/${r.name}`);
      }
    }
    return out.sort();
  }

  async function search(m: FederationMember, user: User, query: string): Promise<Answer> {
    const started = Date.now();
    const res = await fetch(`${m.apiUrl}/api/v1/catalog/federated?tag=${tag}&${query}`, { headers: { authorization: `Bearer ${m.cluster.userTokens[user]}` } });
    const ms = Date.now() - started;
    const body = (await res.json()) as { items?: Item[]; errors?: Answer["errors"] };
    const items = (body.items ?? []).filter((i) => i.namespace === namespace).map((i) => `${i.origin}/${i.name}`).sort();
    return { status: res.status, ms, items, errors: body.errors ?? [], body };
  }

  /** alice and bob may search the federation and see private Resources (ClusterRole archipel-catalog-user, as shipped). */
  async function bindCatalogUsers(m: FederationMember): Promise<void> {
    const role = (loadAll(readFileSync(path.join(repoRoot, "config/rbac/user_roles.yaml"), "utf8")) as V1ClusterRole[]).find((d) => d.metadata?.name === "archipel-catalog-user");
    if (!role) throw new Error("config/rbac/user_roles.yaml has no archipel-catalog-user");
    const rbac = m.cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({ body: role });
    await rbac.createClusterRoleBinding({
      body: { metadata: { name: "catalog-users" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "archipel-catalog-user" }, subjects: ["alice", "bob"].map((name) => ({ kind: "User", name, apiGroup: "rbac.authorization.k8s.io" })) },
    });
  }

  async function publish(m: FederationMember): Promise<void> {
    await bindCatalogUsers(m);
    const objects = m.cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    await m.cluster.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const project = (name: string, users: string[], clusters: string[]): Promise<unknown> =>
      objects.createClusterCustomObject({ ...group, plural: "projects", body: { apiVersion: "archipel.io/v1alpha1", kind: "Project", metadata: { name }, spec: { displayName: name, members: { users, clusters } } } });
    await project(ocean, ["alice"], oceanClusters);
    await project(lab, ["bob"], []);
    await objects.createNamespacedCustomObject({
      ...group, namespace, plural: "providers",
      body: { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name: "files" }, spec: { type: "data", displayName: "Files", data: { source: "url", url: { baseURL: "http://127.0.0.1:9/" } } } },
    });
    for (const r of table) {
      await objects.createNamespacedCustomObject({
        ...group, namespace, plural: "resources",
        body: {
          apiVersion: "archipel.io/v1alpha1", kind: "Resource", metadata: { name: r.name },
          spec: { providerRef: { name: "files" }, type: "data", title: `${r.name} of ${m.name}`, tags: [tag], visibility: r.visibility, ...(r.projects.length > 0 ? { projects: [...r.projects] } : {}), data: { url: { url: `http://127.0.0.1:9/${r.name}` } } },
        },
      });
    }
  }

  /** Every member trusts the other two: Accepted, with a verified descriptor. */
  async function everyoneTrusted(): Promise<boolean> {
    for (const m of fed.members) {
      const list = (await m.cluster.kubeConfig().makeApiClient(CustomObjectsApi).listClusterCustomObject({ ...group, plural: "peers" })) as { items: Peer[] };
      const trusted = list.items.filter((p) => p.spec.approval === "Accepted" && p.status?.conditions?.some((c) => c.type === "DescriptorVerified" && c.status === "True"));
      const others = names.filter((n) => n !== m.name);
      if (!others.every((o) => trusted.some((p) => p.status?.descriptor?.clusterName === o))) return false;
    }
    return true;
  }

  before(async function () {
    this.timeout(240_000);
    fed = await startFederation({ clusters: 3, namePrefix: "e2e-cat" });
    names = fed.members.map((m) => m.name);
    oceanClusters = names.slice(0, 2);
    await Promise.all(fed.members.map(publish));
    await eventually("every member trusts the other two", everyoneTrusted, 60_000, 250);
  });

  after(async function () {
    this.timeout(120_000);
    await fed?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed" && fed) console.log(`      logs: ${fed.members.map((m) => m.dir).join(" ")}`);
  });

  it("each member's federated search returns exactly the expected set, per caller", async () => {
    for (const m of fed.members) {
      for (const user of ["alice", "bob"] as const) {
        const want = expected(m.name, user);
        // The first searches may land before a member's API caches hold the peers' Resources.
        const answer = await eventually(`${m.name} as ${user}`, async () => {
          const a = await search(m, user, "deadlineMs=3000");
          return a.status === 200 && a.errors.length === 0 && a.items.length === want.length ? a : undefined;
        }, 30_000, 250);
        assert.deepEqual(answer.items, want, `${m.name} as ${user}`);
        measure(`federated search from ${m.name} as ${user} (3 clusters)`, answer.ms);
      }
    }
    // Never a private or another project's Resource of another cluster, whoever asks.
    for (const m of fed.members) {
      for (const user of ["alice", "bob"] as const) {
        const foreign = (await search(m, user, "deadlineMs=3000")).items.filter((i) => !i.startsWith(`${m.name}/`));
        assert.deepEqual(foreign.filter((i) => !i.endsWith("/pub")), [], `${m.name} as ${user}`);
      }
    }
  });

  it("a search made for a project shows its restricted Resources only from members listing this cluster; a non-member may not claim it", async () => {
    for (const m of fed.members) {
      const answer = await search(m, "alice", `deadlineMs=3000&project=${ocean}`);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual(answer.errors, []);
      assert.deepEqual(answer.items, expected(m.name, "alice", ocean), `${m.name} as alice for ${ocean}`);
    }
    const [a] = fed.members as [FederationMember];
    const bob = await search(a, "bob", `deadlineMs=3000&project=${ocean}`);
    assert.equal(bob.status, 403, JSON.stringify(bob.body));
    // bob is a member of lab, but lab lists no cluster: peers show him none of its Resources.
    const bobForLab = await search(a, "bob", `deadlineMs=3000&project=${lab}`);
    assert.deepEqual(bobForLab.items, expected(a.name, "bob", lab));
  });

  it("with one peer's API stopped and another frozen: the rest of the results plus each one's error, within the deadline", async () => {
    const [a, b, c] = fed.members as [FederationMember, FederationMember, FederationMember];
    const deadlineMs = 1_500;
    await fed.stopComponent(b.name, "api");
    const stopped = await search(a, "alice", `deadlineMs=${deadlineMs}`);
    measure(`one peer API stopped: answer after (deadline ${deadlineMs} ms)`, stopped.ms);
    assert.equal(stopped.status, 200);
    assert.deepEqual(stopped.items, expected(a.name, "alice").filter((i) => !i.startsWith(`${b.name}/`)));
    assert.deepEqual(stopped.errors.map((e) => e.cluster), [b.name], JSON.stringify(stopped.errors));
    assert.ok(stopped.ms < deadlineMs + 1_000, `${stopped.ms} ms`);

    // A frozen API accepts the connection and never answers: only the deadline ends the wait.
    const frozen = fed.member(c.name).pids.api;
    assert.ok(frozen, `no pid for ${c.name}'s API`);
    process.kill(frozen, "SIGSTOP");
    try {
      const answer = await search(a, "alice", `deadlineMs=${deadlineMs}`);
      measure(`one peer API stopped, one frozen: answer after (deadline ${deadlineMs} ms)`, answer.ms);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.items, expected(a.name, "alice").filter((i) => i.startsWith(`${a.name}/`)));
      const byCluster = Object.fromEntries(answer.errors.map((e) => [e.cluster, e.code]));
      assert.deepEqual(byCluster, { [b.name]: "Unreachable", [c.name]: "Timeout" });
      assert.ok(answer.ms >= deadlineMs - 50 && answer.ms < deadlineMs + 1_000, `${answer.ms} ms`);
    } finally {
      process.kill(frozen, "SIGCONT");
    }

    await fed.startComponent(b.name, "api");
    const want = expected(a.name, "alice");
    const back = await eventually("every peer answers again", async () => {
      const r = await search(a, "alice", "deadlineMs=3000");
      return r.errors.length === 0 && r.items.length === want.length ? r : undefined;
    }, 60_000, 500);
    assert.deepEqual(back.items, want);
  });
});
