import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { type Cache, Store } from "../runtime/cache.ts";
import type { Resource } from "../schema/resource.ts";
import { computeSiblingsToWake, indexedResources } from "./resourceReconciler.ts";

function compute(name: string, second: number, generation = 1): KubernetesObject {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "Resource",
    metadata: { namespace: "a", name, generation, resourceVersion: `${name}-${generation}-${Math.random()}`, creationTimestamp: `2026-01-01T00:00:${String(second).padStart(2, "0")}Z` } as unknown as KubernetesObject["metadata"],
    spec: { type: "compute", providerRef: { name: "cpu" }, title: name, visibility: "public", compute: { cpu: "1", memory: "1Gi" } },
  } as KubernetesObject;
}

describe("compute admission wake-ups", () => {
  const setup = (): { store: Store<KubernetesObject>; wake: (o: KubernetesObject) => string[] } => {
    const store = new Store<KubernetesObject>();
    const cache = indexedResources(store as unknown as Cache<Resource>);
    store.replace([compute("r1", 1), compute("r2", 2), compute("r3", 3)]);
    const map = computeSiblingsToWake(() => cache);
    for (const o of store.list()) map(o); // what the informer's initial adds do
    return { store, wake: (o) => map(o).map((k) => k.name).sort() };
  };

  it("a status write (same generation) wakes nobody; a spec change wakes only the Resources admitted after it", () => {
    const { store, wake } = setup();
    const statusOnly = { ...compute("r1", 1), status: { observedGeneration: 1 } } as KubernetesObject;
    store.upsert(statusOnly);
    assert.deepEqual(wake(statusOnly), []);
    const edited = compute("r2", 2, 2);
    store.upsert(edited);
    assert.deepEqual(wake(edited), ["r3"]);
    assert.deepEqual(wake(edited), [], "the current version again: nothing new");
  });

  it("a new Resource wakes only those ordered after it; a deleted one those after it", () => {
    const { store, wake } = setup();
    const late = compute("r4", 4);
    store.upsert(late);
    assert.deepEqual(wake(late), [], "the newest moves nobody (first come, first served)");
    const sameSecond = compute("r0", 2);
    store.upsert(sameSecond);
    assert.deepEqual(wake(sameSecond), ["r2", "r3", "r4"], "created in r2's second with a smaller name: before r2");
    store.remove(compute("r1", 1));
    assert.deepEqual(wake(compute("r1", 1)), ["r0", "r2", "r3", "r4"]);
  });
});
