// Benchmark (not a test): the heap an informer cache of 10,000 Resources takes, with the cache
// transform (slimForCache: no managedFields, no last-applied-configuration) and without it.
// The objects are copies of three Resources as a real API server served them after the manager
// reconciled them (bench/fixtures: a data file, a compute and a CWL service Resource, each with
// the managedFields of its creator and of the status writer), in the mix of bench/catalog-scale
// (70% data, 20% compute, 10% services). Heap measured after a full GC (node --expose-gc).
//   node --expose-gc bench/cache-heap.ts [N]
import { readFileSync } from "node:fs";
import type { KubernetesObject } from "@kubernetes/client-node";
import { Store } from "../operators/runtime/cache.ts";
import { slimForCache } from "../operators/runtime/cacheTransform.ts";
import { report } from "./results.ts";

const samples = JSON.parse(readFileSync(new URL("./fixtures/resources-as-served.json", import.meta.url), "utf8")) as KubernetesObject[];

function served(i: number): KubernetesObject {
  const sample = samples[i % 10 < 7 ? 0 : i % 10 < 9 ? 1 : 2] as KubernetesObject;
  // A fresh parse per object, as each list page or watch event gives (no sharing between objects).
  const o = JSON.parse(JSON.stringify(sample)) as KubernetesObject;
  if (o.metadata) {
    o.metadata.name = `r-${i}`;
    o.metadata.uid = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
    o.metadata.resourceVersion = String(1000 + i);
  }
  return o;
}

function heapMiB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with node --expose-gc");
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1048576;
}

function cacheHeap(n: number, transform: (o: KubernetesObject) => KubernetesObject): number {
  const before = heapMiB();
  const store = new Store<KubernetesObject>();
  store.replace(Array.from({ length: n }, (_, i) => transform(served(i))));
  const after = heapMiB();
  if (store.list().length !== n) throw new Error("store lost objects");
  return after - before;
}

const n = Number(process.argv[2] ?? 10_000);
const full = cacheHeap(n, (o) => o);
const slim = cacheHeap(n, slimForCache);
console.log(`informer cache of ${n} Resources: ${full.toFixed(1)} MiB of heap as served, ${slim.toFixed(1)} MiB slimmed (${((1 - slim / full) * 100).toFixed(0)}% less)`);
report({ name: `informer cache heap, ${n} Resources, slimmed (as served: ${full.toFixed(1)} MiB)`, value: Number(slim.toFixed(1)), unit: "MiB", note: `${((1 - slim / full) * 100).toFixed(0)}% less than as served` });
