// The in-memory store behind an informer: objects of one kind by key, with secondary indexes.
// Pure (no I/O): the informer feeds it list results and watch events; reconcilers read it.
// Keys are kept sorted — overall and within each index value — on every event, so a reader can
// page through objects in key order from any key without sorting or copying (scan()).
import type { KubernetesObject } from "@kubernetes/client-node";
import { insertSorted, lowerBound, removeSorted } from "./sortedKeys.ts";

export interface ObjectKey {
  namespace?: string;
  name: string;
}

/** A kind the runtime watches. `group` is "" for the core group. */
export interface KindRef {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

/** Read-only view of a kind's informer cache. Objects are plain JSON as the API server sent them. */
export interface Cache<T> {
  get(key: ObjectKey): T | undefined;
  list(namespace?: string): T[];
  /** Adds a secondary index; `fn` returns the index values of an object. */
  addIndex(name: string, fn: (o: T) => string[]): void;
  byIndex(name: string, value: string): T[];
  /** How many objects an index value holds (without building the list). */
  indexCount(name: string, value: string): number;
  /** The values of an index that hold at least one object, in order. */
  indexValues(name: string): string[];
  /**
   * Objects in key order (keyString, compared as strings), lazily: all of them or one index
   * value's, starting after `after` (a key). Cost: a binary search, then one step per object read.
   */
  scan(options?: { index?: string; value?: string; after?: string }): IterableIterator<T>;
  /** True once the initial list has been loaded. */
  hasSynced(): boolean;
}

export function apiVersionOf(kind: KindRef): string {
  return kind.group ? `${kind.group}/${kind.version}` : kind.version;
}

/** "namespace/name" for namespaced objects, "name" for cluster-scoped ones (client-go's key). */
export function keyString(key: ObjectKey): string {
  return key.namespace ? `${key.namespace}/${key.name}` : key.name;
}

export function parseKey(key: string): ObjectKey {
  const slash = key.indexOf("/");
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export function objectKey(obj: KubernetesObject): ObjectKey {
  const namespace = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? "";
  return namespace ? { namespace, name } : { name };
}

/** Two scans in key order merged into one (an object in both is yielded once), lazily. */
export function* mergeScans<T extends { metadata?: { namespace?: string; name?: string } }>(a: Iterator<T>, b: Iterator<T>): IterableIterator<T> {
  const keyOf = (o: T): string => keyString({ name: o.metadata?.name ?? "", ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}) });
  let x = a.next();
  let y = b.next();
  while (!x.done || !y.done) {
    if (!x.done && (y.done || keyOf(x.value) <= keyOf(y.value))) {
      if (!y.done && keyOf(y.value) === keyOf(x.value)) y = b.next();
      yield x.value;
      x = a.next();
    } else if (!y.done) {
      yield y.value;
      y = b.next();
    }
  }
}

export interface StoreChange<T> {
  added: T[];
  updated: { old: T; current: T }[];
  deleted: T[];
}

const namespaceIndex = "__namespace";

function indexKey(index: Map<string, string[]>, value: string, key: string): void {
  let keys = index.get(value);
  if (!keys) index.set(value, (keys = []));
  insertSorted(keys, key);
}

function unindexKey(index: Map<string, string[]>, value: string, key: string): void {
  const keys = index.get(value);
  if (!keys) return;
  removeSorted(keys, key);
  if (keys.length === 0) index.delete(value);
}

export class Store<T extends KubernetesObject> implements Cache<T> {
  private readonly objects = new Map<string, T>();
  /** Every key, sorted. */
  private order: string[] = [];
  private readonly indexers = new Map<string, (o: T) => string[]>();
  /** Per index, per value: the keys holding it, sorted. */
  private readonly indices = new Map<string, Map<string, string[]>>();
  private synced = false;
  /** During replace(): order and indices are rebuilt once at the end instead of per object. */
  private bulk = false;

  constructor() {
    this.addIndex(namespaceIndex, (o) => [o.metadata?.namespace ?? ""]);
  }

  get(key: ObjectKey): T | undefined {
    return this.objects.get(keyString(key));
  }

  list(namespace?: string): T[] {
    return namespace === undefined ? [...this.objects.values()] : this.byIndex(namespaceIndex, namespace);
  }

  addIndex(name: string, fn: (o: T) => string[]): void {
    if (this.indexers.has(name)) throw new Error(`cache index "${name}" already exists: pick another index name`);
    this.indexers.set(name, fn);
    this.indices.set(name, this.buildIndex(fn));
  }

  byIndex(name: string, value: string): T[] {
    const out: T[] = [];
    for (const key of this.indexKeys(name).get(value) ?? []) {
      const obj = this.objects.get(key);
      if (obj) out.push(obj);
    }
    return out;
  }

  indexCount(name: string, value: string): number {
    return this.indexKeys(name).get(value)?.length ?? 0;
  }

  indexValues(name: string): string[] {
    return [...this.indexKeys(name).keys()].sort();
  }

  *scan(options: { index?: string; value?: string; after?: string } = {}): IterableIterator<T> {
    const keys = options.index === undefined ? this.order : (this.indexKeys(options.index).get(options.value ?? "") ?? []);
    // The array may change while a caller iterates (it is lazy): continue after the last key
    // yielded rather than at a position.
    let last = options.after;
    for (let i = last === undefined ? 0 : lowerBound(keys, last); i < keys.length; ) {
      const key = keys[i] as string;
      const obj = this.objects.get(key);
      if (obj) yield obj;
      last = key;
      i = keys[i] === key ? i + 1 : lowerBound(keys, last);
    }
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Replaces the whole content with a fresh list (initial list or relist) and reports the difference. */
  replace(items: T[]): StoreChange<T> {
    const change: StoreChange<T> = { added: [], updated: [], deleted: [] };
    const seen = new Set<string>();
    this.bulk = true;
    try {
      for (const item of items) {
        seen.add(keyString(objectKey(item)));
        this.collect(change, item, this.upsert(item));
      }
      for (const [key, obj] of this.objects) {
        if (seen.has(key)) continue;
        this.remove(obj);
        change.deleted.push(obj);
      }
    } finally {
      this.bulk = false;
      this.rebuild();
    }
    this.synced = true;
    return change;
  }

  /** Stores `obj`; returns the previous version, null when new, or "unchanged" for the same resourceVersion. */
  upsert(obj: T): T | null | "unchanged" {
    const key = keyString(objectKey(obj));
    const old = this.objects.get(key);
    if (old && old.metadata?.resourceVersion !== undefined && old.metadata.resourceVersion === obj.metadata?.resourceVersion) {
      return "unchanged";
    }
    this.objects.set(key, obj);
    if (!this.bulk) {
      if (!old) insertSorted(this.order, key);
      for (const name of this.indexers.keys()) this.reindex(name, key, old, obj);
    }
    return old ?? null;
  }

  /** Removes the stored version of `obj`; returns it (the last known state) or undefined. */
  remove(obj: T): T | undefined {
    const key = keyString(objectKey(obj));
    const old = this.objects.get(key);
    if (!old) return undefined;
    this.objects.delete(key);
    if (!this.bulk) {
      removeSorted(this.order, key);
      for (const name of this.indexers.keys()) this.reindex(name, key, old, undefined);
    }
    return old;
  }

  private collect(change: StoreChange<T>, item: T, previous: T | null | "unchanged"): void {
    if (previous === null) change.added.push(item);
    else if (previous !== "unchanged") change.updated.push({ old: previous, current: item });
  }

  private indexKeys(name: string): Map<string, string[]> {
    const index = this.indices.get(name);
    if (!index) throw new Error(`cache index "${name}" does not exist: call addIndex("${name}", fn) before start`);
    return index;
  }

  /** Moves `key` from the values `old` had to those `current` has (most updates change none). */
  private reindex(name: string, key: string, old: T | undefined, current: T | undefined): void {
    const fn = this.indexers.get(name);
    const index = this.indices.get(name);
    if (!fn || !index) return;
    const before = new Set(old ? fn(old) : []);
    const after = new Set(current ? fn(current) : []);
    for (const value of before) if (!after.has(value)) unindexKey(index, value, key);
    for (const value of after) if (!before.has(value)) indexKey(index, value, key);
  }

  private buildIndex(fn: (o: T) => string[]): Map<string, string[]> {
    const index = new Map<string, string[]>();
    for (const key of this.order) {
      const obj = this.objects.get(key);
      if (!obj) continue;
      for (const value of new Set(fn(obj))) {
        let keys = index.get(value);
        if (!keys) index.set(value, (keys = []));
        keys.push(key); // in order: this.order is sorted
      }
    }
    return index;
  }

  private rebuild(): void {
    this.order = [...this.objects.keys()].sort();
    for (const [name, fn] of this.indexers) this.indices.set(name, this.buildIndex(fn));
  }
}
