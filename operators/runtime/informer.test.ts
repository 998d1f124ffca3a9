import assert from "node:assert/strict";
import { createLogger } from "./logger.ts";
import type { KubernetesObject } from "@kubernetes/client-node";
import { collectionPath, Informer, type ListResult, type ListWatchSource, type WatchEventType } from "./informer.ts";

const silent = createLogger("test", { silent: true });
const cm = (name: string, rv: string): KubernetesObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "ns", name, resourceVersion: rv } });

interface OpenWatch {
  rv: string;
  send(type: WatchEventType, obj: unknown): void;
  end(err: unknown): void;
}

/** A scripted API server: list answers come from `lists`, each watch call is exposed to the test. */
class FakeSource implements ListWatchSource<KubernetesObject> {
  lists: (ListResult<KubernetesObject> | Error)[] = [];
  listCalls = 0;
  watches: OpenWatch[] = [];
  private arrived: (() => void)[] = [];

  async list(): Promise<ListResult<KubernetesObject>> {
    this.listCalls++;
    const next = this.lists.shift() ?? new Error("no list scripted");
    if (next instanceof Error) throw next;
    return next;
  }

  async watch(rv: string, onEvent: (t: WatchEventType, o: KubernetesObject) => void, onDone: (e: unknown) => void): Promise<{ abort(): void }> {
    let ended = false;
    const end = (err: unknown): void => {
      if (!ended) onDone(err);
      ended = true;
    };
    this.watches.push({ rv, send: (t, o) => onEvent(t, o as KubernetesObject), end });
    for (const a of this.arrived.splice(0)) a();
    return { abort: () => end(new Error("aborted")) };
  }

  async nextWatch(count: number): Promise<OpenWatch> {
    while (this.watches.length < count) await new Promise<void>((r) => this.arrived.push(r));
    const w = this.watches[count - 1];
    assert.ok(w);
    return w;
  }
}

function recordingInformer(source: FakeSource): { informer: Informer<KubernetesObject>; events: string[] } {
  const informer = new Informer({ name: "test", source, logger: silent, backoffBaseMs: 1, backoffMaxMs: 4 });
  const events: string[] = [];
  informer.addHandlers({
    onAdd: (o) => events.push(`add ${o.metadata?.name}`),
    onUpdate: (_old, o) => events.push(`update ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
    onDelete: (o) => events.push(`delete ${o.metadata?.name}`),
  });
  return { informer, events };
}

describe("runtime/informer", () => {
  it("lists, reports synced, then watches from the list's resourceVersion", async () => {
    const source = new FakeSource();
    source.lists.push({ items: [cm("a", "5")], resourceVersion: "7" });
    const { informer, events } = recordingInformer(source);
    assert.equal(informer.hasSynced(), false);
    informer.start();
    const w = await source.nextWatch(1);
    assert.equal(informer.hasSynced(), true);
    assert.equal(w.rv, "7");
    w.send("ADDED", cm("b", "8"));
    w.send("MODIFIED", cm("a", "9"));
    w.send("MODIFIED", cm("a", "9"));
    w.send("DELETED", cm("b", "10"));
    w.send("BOOKMARK", { metadata: { resourceVersion: "12" } });
    assert.deepEqual(events, ["add a", "add b", "update a@9", "delete b"]);
    assert.equal(informer.resourceVersion(), "12");
    await informer.stop();
  });

  it("caches objects without managedFields or last-applied-configuration, from the list and from watch events", async () => {
    const heavy = (name: string, rv: string): KubernetesObject => ({
      ...cm(name, rv),
      metadata: { ...cm(name, rv).metadata, managedFields: [{ manager: "kubectl", operation: "Apply" }], annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}", note: "kept" } } as KubernetesObject["metadata"],
    });
    const source = new FakeSource();
    source.lists.push({ items: [heavy("a", "5")], resourceVersion: "7" });
    const { informer } = recordingInformer(source);
    informer.start();
    const w = await source.nextWatch(1);
    w.send("ADDED", heavy("b", "8"));
    for (const name of ["a", "b"]) {
      const cached = informer.store.get({ namespace: "ns", name }) as KubernetesObject & { metadata: { managedFields?: unknown } };
      assert.equal(cached.metadata.managedFields, undefined, name);
      assert.deepEqual(cached.metadata.annotations, { note: "kept" }, name);
    }
    await informer.stop();
  });

  it("resumes a closed watch from the last resourceVersion without relisting", async () => {
    const source = new FakeSource();
    source.lists.push({ items: [], resourceVersion: "1" });
    const { informer } = recordingInformer(source);
    informer.start();
    const w1 = await source.nextWatch(1);
    w1.send("ADDED", cm("a", "3"));
    w1.end(null);
    const w2 = await source.nextWatch(2);
    assert.equal(w2.rv, "3");
    assert.equal(source.listCalls, 1);
    await informer.stop();
  });

  it("relists on 410 Gone and reports objects deleted meanwhile", async () => {
    const source = new FakeSource();
    source.lists.push({ items: [cm("a", "1"), cm("b", "1")], resourceVersion: "2" });
    source.lists.push({ items: [cm("b", "1"), cm("c", "20")], resourceVersion: "21" });
    const { informer, events } = recordingInformer(source);
    informer.start();
    const w1 = await source.nextWatch(1);
    w1.send("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" });
    const w2 = await source.nextWatch(2);
    assert.equal(w2.rv, "21");
    assert.equal(source.listCalls, 2);
    assert.deepEqual(events, ["add a", "add b", "add c", "delete a"]);
    await informer.stop();
  });

  it("relists when the watch request itself answers 410", async () => {
    const source = new FakeSource();
    source.lists.push({ items: [], resourceVersion: "2" }, { items: [], resourceVersion: "30" });
    const { informer } = recordingInformer(source);
    informer.start();
    (await source.nextWatch(1)).end(Object.assign(new Error("Gone"), { statusCode: 410 }));
    assert.equal((await source.nextWatch(2)).rv, "30");
    await informer.stop();
  });

  it("restarts with back-off after other errors (failed list, broken watch) instead of stopping", async () => {
    const source = new FakeSource();
    source.lists.push(new Error("connection refused"), new Error("connection refused"), { items: [], resourceVersion: "4" });
    const { informer } = recordingInformer(source);
    informer.start();
    const w1 = await source.nextWatch(1);
    assert.equal(informer.restarts, 2);
    assert.equal(informer.hasSynced(), true);
    w1.end(new Error("socket hang up"));
    const w2 = await source.nextWatch(2);
    assert.equal(w2.rv, "4", "a broken watch resumes from where it was");
    w2.send("ERROR", { kind: "Status", code: 500, message: "internal error" });
    const w3 = await source.nextWatch(3);
    assert.equal(w3.rv, "4");
    assert.equal(informer.restarts, 4);
    assert.equal(source.listCalls, 3);
    await informer.stop();
  });

  it("backs off instead of spinning when the server ends each watch at once with no events", async () => {
    const source = new FakeSource();
    source.lists.push({ items: [], resourceVersion: "4" });
    const { informer } = recordingInformer(source);
    informer.start();
    (await source.nextWatch(1)).end(null);
    (await source.nextWatch(2)).end(null);
    await source.nextWatch(3);
    assert.equal(informer.restarts, 2, "each empty close counted as a failure (and waited for)");
    assert.equal(source.listCalls, 1, "still resumed from the resourceVersion");
    await informer.stop();
  });

  it("stop does not wait for a watch whose response has not started", async () => {
    const source = new FakeSource();
    source.lists.push({ items: [], resourceVersion: "1" });
    let opened = false;
    source.watch = () => {
      opened = true;
      return new Promise(() => {});
    };
    const { informer } = recordingInformer(source);
    informer.start();
    while (!opened) await new Promise((r) => setTimeout(r, 1));
    const started = Date.now();
    await informer.stop();
    assert.ok(Date.now() - started < 100);
  });

  it("stop ends the loop while it waits in back-off", async () => {
    const source = new FakeSource();
    const informer = new Informer({ name: "t", source, logger: silent, backoffBaseMs: 60_000 });
    informer.start();
    await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    await informer.stop();
    assert.ok(Date.now() - started < 1000);
  });

  it("builds collection paths for core, grouped, namespaced and cluster-scoped kinds", () => {
    const cmKind = { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true };
    assert.equal(collectionPath(cmKind), "/api/v1/configmaps");
    assert.equal(collectionPath(cmKind, "a"), "/api/v1/namespaces/a/configmaps");
    const peer = { group: "archipel.io", version: "v1alpha1", kind: "Peer", plural: "peers", namespaced: false };
    assert.equal(collectionPath(peer, "a"), "/apis/archipel.io/v1alpha1/peers");
  });
});
