// The in-memory store behind an informer: objects of one kind by key, with secondary indexes.
// Pure (no I/O): the informer feeds it list results and watch events; reconcilers read it.
import type { KubernetesObject } from "@kubernetes/client-node";

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

export interface StoreChange<T> {
  added: T[];
  updated: { old: T; current: T }[];
  deleted: T[];
}

const namespaceIndex = "__namespace";

export class Store<T extends KubernetesObject> implements Cache<T> {
  private readonly objects = new Map<string, T>();
  private readonly indexers = new Map<string, (o: T) => string[]>();
  private readonly indices = new Map<string, Map<string, Set<string>>>();
  private synced = false;

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
    this.indices.set(name, new Map());
    for (const [key, obj] of this.objects) this.indexOne(name, key, obj);
  }

  byIndex(name: string, value: string): T[] {
    const index = this.indices.get(name);
    if (!index) throw new Error(`cache index "${name}" does not exist: call addIndex("${name}", fn) before start`);
    const out: T[] = [];
    for (const key of index.get(value) ?? []) {
      const obj = this.objects.get(key);
      if (obj) out.push(obj);
    }
    return out;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Replaces the whole content with a fresh list (initial list or relist) and reports the difference. */
  replace(items: T[]): StoreChange<T> {
    const change: StoreChange<T> = { added: [], updated: [], deleted: [] };
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(keyString(objectKey(item)));
      this.collect(change, item, this.upsert(item));
    }
    for (const [key, obj] of this.objects) {
      if (seen.has(key)) continue;
      this.remove(obj);
      change.deleted.push(obj);
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
    if (old) this.unindex(key, old);
    this.objects.set(key, obj);
    for (const name of this.indexers.keys()) this.indexOne(name, key, obj);
    return old ?? null;
  }

  /** Removes the stored version of `obj`; returns it (the last known state) or undefined. */
  remove(obj: T): T | undefined {
    const key = keyString(objectKey(obj));
    const old = this.objects.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.objects.delete(key);
    return old;
  }

  private collect(change: StoreChange<T>, item: T, previous: T | null | "unchanged"): void {
    if (previous === null) change.added.push(item);
    else if (previous !== "unchanged") change.updated.push({ old: previous, current: item });
  }

  private indexOne(name: string, key: string, obj: T): void {
    const fn = this.indexers.get(name);
    const index = this.indices.get(name);
    if (!fn || !index) return;
    for (const value of fn(obj)) {
      let keys = index.get(value);
      if (!keys) index.set(value, (keys = new Set()));
      keys.add(key);
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name);
      for (const value of fn(obj)) {
        const keys = index?.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index?.delete(value);
      }
    }
  }
}
