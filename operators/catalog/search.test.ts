import assert from "node:assert/strict";
import { authenticatePeer, peerFinder } from "../api/federationAuth.ts";
import { generateIdentityKey } from "../federation/keys.ts";
import { MemoryNonceCache, type ReceivedRequest, signRequest } from "../federation/requestSigning.ts";
import type { Peer } from "../schema/peer.ts";
import type { Project } from "../schema/project.ts";
import type { Resource } from "../schema/resource.ts";
import type { KubernetesObject } from "@kubernetes/client-node";
import { type Cache, Store } from "../runtime/cache.ts";
import { candidatesFor, catalogIndexes, CatalogQueryError, maxTrigramText, mergeFederated, projectMemberships, searchCatalog, searchOrdered, type SearchViewer } from "./search.ts";
import type { Caller } from "./visibility.ts";

function resource(name: string, visibility: string, extra: Partial<Resource["spec"]> = {}, namespace = "data"): Resource {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "Resource",
    metadata: { name, namespace },
    spec: { providerRef: { name: "files" }, type: "data", title: `Title ${name}`, visibility, ...extra },
  } as Resource;
}

const catalog: Resource[] = [
  resource("pub", "public", { tags: ["Sentinel", "optical"], description: "Sentinel-2 tiles over Brittany" }),
  resource("priv", "private", { tags: ["internal"] }),
  resource("ocean", "restricted", { projects: ["ocean"] }),
  resource("forest", "restricted", { projects: ["forest"] }),
  resource("tool", "public", { type: "service", providerRef: { name: "tools" }, title: "NDVI tool" }),
  resource("weird", "secret-ish"),
];

const projects = [
  { metadata: { name: "ocean" }, spec: { members: { users: ["alice"], groups: ["oceanographers"], clusters: ["alpha"] } } },
  { metadata: { name: "forest" }, spec: { members: { users: ["carol"], clusters: ["gamma"] } } },
] as unknown as Project[];
const memberships = projectMemberships(projects);

function names(caller: Caller, query = {}): string[] {
  return searchCatalog(catalog, query, { caller, memberships }).items.map((i) => i.name);
}

// Peers as the federation endpoint sees them: alpha Accepted, gamma Pending; mallory unknown.
const alpha = generateIdentityKey();
const gamma = generateIdentityKey();
const mallory = generateIdentityKey();
const now = 1_790_000_000_000;
function peer(clusterName: string, publicKey: string, approval: string): Peer {
  return {
    metadata: { name: clusterName },
    spec: { peerId: "p", networkRef: { name: "n" }, approval },
    status: { descriptor: { cid: "c", clusterName, apiEndpoint: "http://127.0.0.1:1", publicKey, issuedAt: "", expiresAt: "" } },
  } as unknown as Peer;
}
const peers = [peer("alpha", alpha.publicKey, "Accepted"), peer("gamma", gamma.publicKey, "Pending")];
let counter = 0;
function signedBy(keyId: string, key: string, project?: string): ReceivedRequest {
  const nonce = `nonce-${keyId}-${String(counter++).padStart(20, "0")}`;
  const headers = signRequest({ method: "POST", target: "/federation/v1/catalog", body: "{}", keyId, audience: "beta", now, nonce, ...(project ? { project } : {}) }, key);
  return { method: "POST", target: "/federation/v1/catalog", body: "{}", headers };
}
const nonces = new MemoryNonceCache();
function peerCaller(req: ReceivedRequest): Caller {
  // The federation endpoint serves only authenticated callers; a refused request's caller is
  // still searched here to prove decideVisibility hides everything from it as well.
  return authenticatePeer(req, { audience: "beta", peerByCluster: peerFinder(() => peers), nonces, now }).caller;
}

describe("catalog search: visibility matrix", () => {
  it("a local user in the project sees public, private and that project's restricted", () => {
    assert.deepEqual(names({ kind: "local", user: "alice", groups: [], listableNamespaces: new Set(["data"]) }), ["ocean", "priv", "pub", "tool"]);
  });

  it("a local user who is a member through a group sees the project's restricted too", () => {
    assert.deepEqual(names({ kind: "local", user: "dave", groups: ["oceanographers"], listableNamespaces: "all" }), ["ocean", "priv", "pub", "tool"]);
  });

  it("a local user in no project sees public and private only", () => {
    assert.deepEqual(names({ kind: "local", user: "bob", groups: ["system:authenticated"], listableNamespaces: new Set(["data"]) }), ["priv", "pub", "tool"]);
  });

  it("a private Resource is hidden from a local user RBAC does not let list Resources in its namespace", () => {
    assert.deepEqual(names({ kind: "local", user: "bob", groups: [], listableNamespaces: new Set(["other"]) }), ["pub", "tool"]);
    assert.deepEqual(names({ kind: "local", user: "bob", groups: [] }), ["pub", "tool"], "unknown rights: hidden");
  });

  it("an Accepted peer's signed request without a project sees public only", () => {
    assert.deepEqual(names(peerCaller(signedBy("alpha", alpha.privateKeyPem))), ["pub", "tool"]);
  });

  it("an Accepted peer acting for a project that lists it sees that project's restricted", () => {
    assert.deepEqual(names(peerCaller(signedBy("alpha", alpha.privateKeyPem, "ocean"))), ["ocean", "pub", "tool"]);
  });

  it("an Accepted peer claiming a project that does not list its cluster sees public only", () => {
    assert.deepEqual(names(peerCaller(signedBy("alpha", alpha.privateKeyPem, "forest"))), ["pub", "tool"]);
  });

  it("a Pending peer (even listed in a project) sees nothing", () => {
    assert.deepEqual(names(peerCaller(signedBy("gamma", gamma.privateKeyPem, "forest"))), []);
  });

  it("an unknown peer sees nothing", () => {
    assert.deepEqual(names(peerCaller(signedBy("mallory", mallory.privateKeyPem))), []);
  });

  it("an unsigned request sees nothing", () => {
    assert.deepEqual(names(peerCaller({ method: "POST", target: "/federation/v1/catalog", body: "{}", headers: {} })), []);
  });

  it("a replayed request sees nothing", () => {
    const req = signedBy("alpha", alpha.privateKeyPem, "ocean");
    assert.deepEqual(names(peerCaller(req)), ["ocean", "pub", "tool"]);
    assert.deepEqual(names(peerCaller(req)), []);
  });

  it("a request signed by another key in an Accepted peer's name sees nothing", () => {
    assert.deepEqual(names(peerCaller(signedBy("alpha", mallory.privateKeyPem, "ocean"))), []);
  });

  it("no private, unknown-visibility or foreign-restricted Resource ever reaches any peer caller", () => {
    const callers: Caller[] = [];
    for (const approval of ["Accepted", "Pending", "Rejected", "Unknown"] as const) {
      for (const signature of ["Verified", "Missing", "Invalid", "Replayed"] as const) {
        for (const project of [undefined, "ocean", "forest", "nope"]) {
          for (const cluster of ["alpha", "gamma", "zeta"]) callers.push({ kind: "peer", cluster, approval, signature, ...(project ? { project } : {}) });
        }
      }
    }
    for (const caller of callers) {
      const seen = searchCatalog(catalog, { limit: 500 }, { caller, memberships }).items;
      for (const item of seen) {
        assert.notEqual(item.visibility, "private", JSON.stringify(caller));
        assert.ok(["public", "restricted"].includes(item.visibility));
        if (item.visibility === "restricted") {
          assert.ok(caller.kind === "peer" && caller.approval === "Accepted" && caller.signature === "Verified");
          assert.ok(caller.project && item.projects?.includes(caller.project) && memberships.get(caller.project)?.clusters.includes(caller.cluster));
        }
        if (caller.kind === "peer") assert.ok(caller.approval === "Accepted" && caller.signature === "Verified");
      }
    }
  });
});

describe("catalog search: filters and pages", () => {
  const bob: SearchViewer = { caller: { kind: "local", user: "bob", groups: [] }, memberships };

  it("text matches title, description and tags case-insensitively", () => {
    assert.deepEqual(searchCatalog(catalog, { text: "brittany" }, bob).items.map((i) => i.name), ["pub"]);
    assert.deepEqual(searchCatalog(catalog, { text: "ndvi" }, bob).items.map((i) => i.name), ["tool"]);
    assert.deepEqual(searchCatalog(catalog, { text: "INTERNAL" }, { ...bob, caller: { ...bob.caller, listableNamespaces: "all" } as Caller }).items.map((i) => i.name), ["priv"]);
  });

  it("type, tags (all required) and provider filter", () => {
    assert.deepEqual(searchCatalog(catalog, { type: "service" }, bob).items.map((i) => i.name), ["tool"]);
    assert.deepEqual(searchCatalog(catalog, { tags: ["sentinel", "OPTICAL"] }, bob).items.map((i) => i.name), ["pub"]);
    assert.deepEqual(searchCatalog(catalog, { tags: ["sentinel", "radar"] }, bob).items, []);
    assert.deepEqual(searchCatalog(catalog, { provider: "tools" }, bob).items.map((i) => i.name), ["tool"]);
  });

  it("pages follow a stable namespace/name order and the token resumes after the last item", () => {
    const many = Array.from({ length: 25 }, (_, i) => resource(`r${String(i).padStart(2, "0")}`, "public", {}, i % 2 ? "b" : "a")).reverse();
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = searchCatalog(many, { limit: 10, ...(token ? { continueToken: token } : {}) }, bob);
      seen.push(...page.items.map((i) => `${i.namespace}/${i.name}`));
      token = page.continue;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.equal(seen.length, 25);
    assert.deepEqual(seen, [...seen].sort());
  });

  it("from an ordered cache a page reads its own items plus one, whatever its page number", () => {
    const raw = new Store<KubernetesObject>();
    const store = raw as unknown as Cache<Resource>;
    for (const [name, fn] of Object.entries(catalogIndexes)) store.addIndex(name, fn);
    raw.replace(Array.from({ length: 1_000 }, (_, i) => resource(`r${String(i).padStart(4, "0")}`, i % 10 === 0 ? "private" : "public")) as unknown as KubernetesObject[]);
    let read = 0;
    const counted = (after: string | undefined): Iterable<Resource> => ({
      *[Symbol.iterator]() {
        for (const r of store.scan(after === undefined ? {} : { after })) {
          read++;
          yield r;
        }
      },
    });
    const perPage: number[] = [];
    let token: string | undefined;
    const seen: string[] = [];
    do {
      read = 0;
      const page = searchOrdered(counted, { limit: 20, ...(token ? { continueToken: token } : {}) }, bob);
      seen.push(...page.items.map((i) => i.name));
      perPage.push(read);
      token = page.continue;
    } while (token);
    assert.equal(seen.length, 900, "private ones hidden from bob");
    assert.deepEqual(seen, [...seen].sort());
    // 20 visible items need 22–23 reads (one private in ten) plus the one that says more follow.
    assert.ok(perPage.slice(0, -1).every((n) => n <= 24), JSON.stringify(perPage));
    assert.deepEqual(store.indexValues("privateNamespace"), ["data"]);
  });

  it("narrows text by its trigrams: the same pages as a full scan, reading only Resources holding the text", () => {
    const raw = new Store<KubernetesObject>();
    const store = raw as unknown as Cache<Resource>;
    for (const [name, fn] of Object.entries(catalogIndexes)) store.addIndex(name, fn);
    const long = "x".repeat(maxTrigramText);
    const items = Array.from({ length: 2_000 }, (_, i) =>
      resource(`r${String(i).padStart(4, "0")}`, i % 10 === 0 ? "private" : "public", {
        title: `Dataset ${i}`,
        description: i === 1501 ? `${long} dataset 12 at the very end` : `benchmark item ${i}`,
        tags: i === 7 ? ["DataSet 12"] : [`t${i % 20}`],
      }),
    );
    raw.replace(items as unknown as KubernetesObject[]);
    const allPages = (page: (token: string | undefined) => { items: { name: string }[]; continue?: string }): string[] => {
      const names: string[] = [];
      let token: string | undefined;
      do {
        const next = page(token);
        names.push(...next.items.map((i) => i.name));
        token = next.continue;
      } while (token);
      return names;
    };
    for (const text of ["dataset 12", "SET 19", "et 1", "item 1999", "zzz", "12"]) {
      let read = 0;
      const counted = (after: string | undefined): Iterable<Resource> => ({
        *[Symbol.iterator]() {
          for (const r of candidatesFor(store, { text })(after)) {
            read++;
            yield r;
          }
        },
      });
      const narrowed = allPages((token) => searchOrdered(counted, { text, limit: 20, ...(token ? { continueToken: token } : {}) }, bob));
      const full = allPages((token) => searchCatalog(items, { text, limit: 20, ...(token ? { continueToken: token } : {}) }, bob));
      assert.deepEqual(narrowed, full, `"${text}": same items as a full scan`);
      if (text === "dataset 12") {
        assert.ok(full.includes("r0007") && full.includes("r1501"), "a tag, and a long description beyond the trigram limit, still match");
        assert.ok(read < 130, `"${text}" read ${read} candidates of 2,000 for ${full.length} matches`);
      }
    }
  });

  it("a bad token or limit is a query error naming the parameter", () => {
    assert.throws(() => searchCatalog(catalog, { continueToken: "garbage" }, bob), (e: CatalogQueryError) => e.field === "continue");
    assert.throws(() => searchCatalog(catalog, { limit: 0 }, bob), (e: CatalogQueryError) => e.field === "limit");
  });

  it("items carry spec facts only", () => {
    const item = searchCatalog(catalog, { text: "brittany" }, { ...bob, origin: "beta" }).items[0];
    assert.deepEqual(Object.keys(item ?? {}).sort(), ["description", "name", "namespace", "origin", "provider", "ready", "tags", "title", "type", "visibility"]);
  });
});

describe("catalog search: federated merge", () => {
  it("tags origins, de-duplicates and keeps per-peer errors", () => {
    const a = { namespace: "d", name: "x", type: "data", title: "X", tags: [], provider: "p", visibility: "public", ready: true };
    const result = mergeFederated("beta", [a], [
      { cluster: "alpha", items: [a, a, { ...a, origin: "beta" }] },
      { cluster: "gamma", error: { code: "Timeout", message: "gamma did not answer within 2000 ms" } },
    ]);
    assert.deepEqual(result.items.map((i) => `${i.origin}/${i.name}`), ["alpha/x", "beta/x"]);
    assert.deepEqual(result.errors, [{ cluster: "gamma", code: "Timeout", message: "gamma did not answer within 2000 ms" }]);
  });
});
