import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { keyString, mergeScans, objectKey, parseKey, Store } from "./cache.ts";

interface Labeled extends KubernetesObject {
  spec?: { provider?: string };
}

const obj = (ns: string | undefined, name: string, rv: string, provider?: string): Labeled => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, resourceVersion: rv, ...(ns ? { namespace: ns } : {}) },
  ...(provider ? { spec: { provider } } : {}),
});

describe("runtime/cache", () => {
  it("keys like client-go: namespace/name, or name when cluster-scoped", () => {
    assert.equal(keyString({ namespace: "a", name: "b" }), "a/b");
    assert.equal(keyString({ name: "b" }), "b");
    assert.deepEqual(parseKey("a/b"), { namespace: "a", name: "b" });
    assert.deepEqual(parseKey("b"), { name: "b" });
    assert.deepEqual(objectKey(obj(undefined, "x", "1")), { name: "x" });
  });

  it("is not synced until the first list, then reports what a relist changed", () => {
    const store = new Store<Labeled>();
    assert.equal(store.hasSynced(), false);
    const first = store.replace([obj("a", "1", "10"), obj("a", "2", "11")]);
    assert.equal(store.hasSynced(), true);
    assert.equal(first.added.length, 2);
    const relist = store.replace([obj("a", "1", "10"), obj("a", "3", "12"), obj("a", "2", "13")]);
    assert.deepEqual(relist.added.map((o) => o.metadata?.name), ["3"]);
    assert.deepEqual(relist.updated.map((u) => [u.old.metadata?.resourceVersion, u.current.metadata?.resourceVersion]), [["11", "13"]]);
    const gone = store.replace([obj("a", "3", "12")]);
    assert.deepEqual(gone.deleted.map((o) => o.metadata?.name).sort(), ["1", "2"]);
  });

  it("upsert ignores a repeat of the same resourceVersion and returns the old version otherwise", () => {
    const store = new Store<Labeled>();
    assert.equal(store.upsert(obj("a", "x", "1")), null);
    assert.equal(store.upsert(obj("a", "x", "1")), "unchanged");
    const old = store.upsert(obj("a", "x", "2"));
    assert.equal(old !== null && old !== "unchanged" ? old.metadata?.resourceVersion : "?", "1");
    assert.equal(store.get({ namespace: "a", name: "x" })?.metadata?.resourceVersion, "2");
  });

  it("lists by namespace and keeps secondary indexes in step with updates and deletes", () => {
    const store = new Store<Labeled>();
    store.upsert(obj("a", "r1", "1", "p1"));
    store.addIndex("provider", (o) => (o.spec?.provider ? [o.spec.provider] : []));
    store.upsert(obj("a", "r2", "1", "p1"));
    store.upsert(obj("b", "r3", "1", "p2"));
    assert.deepEqual(store.byIndex("provider", "p1").map((o) => o.metadata?.name), ["r1", "r2"]);
    store.upsert(obj("a", "r2", "2", "p2"));
    assert.deepEqual(store.byIndex("provider", "p2").map((o) => o.metadata?.name).sort(), ["r2", "r3"]);
    store.remove(obj("b", "r3", "1"));
    assert.deepEqual(store.byIndex("provider", "p2").map((o) => o.metadata?.name), ["r2"]);
    assert.deepEqual(store.list("a").map((o) => o.metadata?.name).sort(), ["r1", "r2"]);
    assert.equal(store.list().length, 2);
  });

  it("names the missing or duplicate index in its error", () => {
    const store = new Store<Labeled>();
    assert.throws(() => store.byIndex("nope", "x"), /index "nope" does not exist/);
    store.addIndex("p", () => []);
    assert.throws(() => store.addIndex("p", () => []), /already exists/);
  });

  it("scans in key order, overall or within an index value, from after any key, kept in order through events", () => {
    const store = new Store<Labeled>();
    store.addIndex("provider", (o) => (o.spec?.provider ? [o.spec.provider] : []));
    store.replace([obj("b", "2", "1", "p"), obj("a", "9", "1", "q"), obj("a", "10", "1", "p")]);
    const names = (it: Iterable<Labeled>): string[] => [...it].map((o) => keyString(objectKey(o)));
    assert.deepEqual(names(store.scan()), ["a/10", "a/9", "b/2"], "string order of namespace/name");
    store.upsert(obj("a", "5", "2", "p"));
    store.upsert(obj("a", "9", "3", "p")); // moves from q to p
    store.remove(obj("b", "2", "4"));
    assert.deepEqual(names(store.scan()), ["a/10", "a/5", "a/9"]);
    assert.deepEqual(names(store.scan({ index: "provider", value: "p" })), ["a/10", "a/5", "a/9"]);
    assert.deepEqual(names(store.scan({ index: "provider", value: "q" })), []);
    assert.deepEqual(names(store.scan({ after: "a/10" })), ["a/5", "a/9"]);
    assert.deepEqual(names(store.scan({ after: "a/6" })), ["a/9"], "after a key that is not stored");
    assert.equal(store.indexCount("provider", "p"), 3);
    assert.deepEqual(store.indexValues("provider"), ["p"]);
    assert.deepEqual(store.byIndex("provider", "p").map((o) => o.metadata?.name), ["10", "5", "9"]);
  });

  it("a scan continues after the last key it gave when objects come and go meanwhile", () => {
    const store = new Store<Labeled>();
    store.replace([obj("a", "1", "1"), obj("a", "3", "1"), obj("a", "5", "1")]);
    const seen: string[] = [];
    for (const o of store.scan()) {
      seen.push(o.metadata?.name ?? "");
      if (o.metadata?.name === "1") {
        store.upsert(obj("a", "0", "2")); // before the cursor: not seen
        store.upsert(obj("a", "4", "2")); // after it: seen
        store.remove(obj("a", "3", "3"));
      }
    }
    assert.deepEqual(seen, ["1", "4", "5"]);
  });

  it("merges two scans in key order, an object in both once, and stays lazy", () => {
    const store = new Store<Labeled>();
    store.addIndex("provider", (o) => (o.spec?.provider ? [o.spec.provider] : []));
    store.addIndex("even", (o) => (Number(o.metadata?.name) % 2 === 0 ? ["yes"] : []));
    store.replace(["1", "2", "3", "4", "6", "7"].map((n) => obj("a", n, "1", Number(n) < 4 ? "p" : "q")));
    const names = (it: Iterable<Labeled>): string[] => [...it].map((o) => o.metadata?.name ?? "");
    assert.deepEqual(names(mergeScans(store.scan({ index: "provider", value: "p" }), store.scan({ index: "even", value: "yes" }))), ["1", "2", "3", "4", "6"]);
    assert.deepEqual(names(mergeScans(store.scan({ index: "provider", value: "none" }), store.scan({ index: "even", value: "yes", after: "a/2" }))), ["4", "6"]);
    let read = 0;
    const counting = (function* () {
      for (const o of store.scan()) {
        read++;
        yield o;
      }
    })();
    const merged = mergeScans(counting, store.scan({ index: "even", value: "yes" }));
    merged.next();
    merged.next();
    assert.ok(read <= 3, `read ${read} objects for two`);
  });
});
