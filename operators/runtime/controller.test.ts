import assert from "node:assert/strict";
import { createLogger } from "./logger.ts";
import { ApiException, KubeConfig, KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { Writable } from "node:stream";
import { Store, type KindRef, type ObjectKey } from "./cache.ts";
import { Controller, controllerOwnerKeys, generationChanged, outcomeOf, type ControllerOptions } from "./controller.ts";
import { TerminalError } from "./errors.ts";
import type { InformerHandlers } from "./informer.ts";
import { RuntimeMetrics } from "./metrics.ts";

const configMaps: KindRef = { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true };
const providers: KindRef = { group: "archipel.io", version: "v1alpha1", kind: "Provider", plural: "providers", namespaced: true };
const secrets: KindRef = { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true };

const conflict = (): ApiException<string> => new ApiException(409, "Conflict", JSON.stringify({ reason: "Conflict", message: "the object has been modified" }), {});

/** Collects the JSON log lines a logger writes. */
class LevelRecorder extends Writable {
  lines: { level: string; message: string }[] = [];
  override _write(chunk: Buffer, _enc: string, next: () => void): void {
    for (const line of chunk.toString().split("\n").filter(Boolean)) this.lines.push(JSON.parse(line) as { level: string; message: string });
    next();
  }
}

/** In-memory informers: a real Store each, and handlers the test can fire. */
class FakeInformers {
  private readonly byKind = new Map<string, { store: Store<KubernetesObject>; handlers: InformerHandlers<KubernetesObject>[] }>();
  get(kind: KindRef): { store: Store<KubernetesObject>; handlers: InformerHandlers<KubernetesObject>[]; addHandlers(h: InformerHandlers<KubernetesObject>): void } {
    let entry = this.byKind.get(kind.plural);
    if (!entry) this.byKind.set(kind.plural, (entry = { store: new Store(), handlers: [] }));
    const e = entry;
    return { ...e, addHandlers: (h) => void e.handlers.push(h) };
  }
  add(kind: KindRef, obj: KubernetesObject): void {
    this.get(kind).store.upsert(obj);
    for (const h of this.get(kind).handlers) h.onAdd?.(obj);
  }
}

const obj = (kind: string, ns: string, name: string, extra: Partial<KubernetesObject["metadata"]> = {}): KubernetesObject => ({
  apiVersion: "v1",
  kind,
  metadata: { namespace: ns, name, resourceVersion: "1", ...extra },
});

function harness(opts: Omit<ControllerOptions, "name" | "for"> & { for?: KindRef }): {
  controller: Controller;
  informers: FakeInformers;
  metrics: RuntimeMetrics;
  logs: LevelRecorder;
} {
  const informers = new FakeInformers();
  const metrics = new RuntimeMetrics({ processMetrics: false });
  const logs = new LevelRecorder();
  const logger = createLogger("test", { level: "debug", sink: (line) => logs.write(line) });
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: "c", server: "https://127.0.0.1:1" }], users: [{ name: "u" }], contexts: [{ name: "x", cluster: "c", user: "u" }], currentContext: "x" });
  const controller = new Controller(
    { name: "test", for: configMaps, ...opts },
    { informer: (k) => informers.get(k), cache: (k) => informers.get(k).store as never, client: KubernetesObjectApi.makeApiClient(kc), logger, metrics },
  );
  return { controller, informers, metrics, logs };
}

async function until(what: string, check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function counter(metrics: RuntimeMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return m.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
}

describe("runtime/controller", () => {
  it("decides each outcome of the reconcile contract", () => {
    assert.deepEqual(outcomeOf(undefined), { result: "success", next: "forget" });
    assert.deepEqual(outcomeOf({}), { result: "success", next: "forget" });
    assert.deepEqual(outcomeOf({ requeueAfter: 250 }), { result: "requeue_after", next: "after", afterMs: 250 });
    assert.deepEqual(outcomeOf(undefined, new Error("boom")), { result: "error", next: "backoff", log: "error" });
    assert.deepEqual(outcomeOf(undefined, conflict()), { result: "requeue", next: "backoff", log: "debug" });
    assert.deepEqual(outcomeOf(undefined, new TerminalError("InvalidSpec", "bad")), { result: "error", next: "forget", log: "error", terminal: true });
  });

  it("finds the controlling owner of the owner kind only", () => {
    const child = obj("Secret", "ns", "s", {
      ownerReferences: [
        { apiVersion: "archipel.io/v1alpha1", kind: "Provider", name: "p1", uid: "1", controller: true },
        { apiVersion: "archipel.io/v1alpha1", kind: "Provider", name: "p2", uid: "2" },
        { apiVersion: "other.io/v1", kind: "Provider", name: "p3", uid: "3", controller: true },
      ],
    });
    assert.deepEqual(controllerOwnerKeys(child, providers), [{ namespace: "ns", name: "p1" }]);
  });

  it("reconciles every cached object on start, then objects as they arrive", async () => {
    const seen: string[] = [];
    const { controller, informers } = harness({ reconcile: async (k) => void seen.push(`${k.namespace}/${k.name}`) });
    informers.add(configMaps, obj("ConfigMap", "a", "before"));
    controller.start();
    await until("first reconcile", () => seen.length === 1);
    informers.add(configMaps, obj("ConfigMap", "a", "after"));
    await until("second reconcile", () => seen.length === 2);
    assert.deepEqual(seen, ["a/before", "a/after"]);
    await controller.stop();
  });

  it("enqueues the owner of an owned object and the keys a watch maps to", async () => {
    const seen: string[] = [];
    const { controller, informers } = harness({
      for: providers,
      owns: [secrets],
      watches: [{ kind: configMaps, map: (o) => [{ namespace: o.metadata?.namespace ?? "", name: o.metadata?.labels?.provider ?? "" }] }],
      reconcile: async (k) => void seen.push(k.name),
    });
    controller.start();
    informers.add(secrets, obj("Secret", "ns", "s", { ownerReferences: [{ apiVersion: "archipel.io/v1alpha1", kind: "Provider", name: "owner", uid: "u", controller: true }] }));
    await until("owner reconciled", () => seen.includes("owner"));
    informers.add(configMaps, obj("ConfigMap", "ns", "r", { labels: { provider: "mapped" } }));
    await until("mapped key reconciled", () => seen.includes("mapped"));
    await controller.stop();
  });

  it("enqueues a watched object's update only when the watch's predicate says it changed (generationChanged)", async () => {
    const seen: string[] = [];
    const { controller, informers } = harness({
      for: providers,
      watches: [{ kind: configMaps, map: (o) => [{ namespace: "ns", name: o.metadata?.labels?.provider ?? "" }], changed: generationChanged }],
      reconcile: async (k) => void seen.push(k.name),
    });
    controller.start();
    const v1 = obj("ConfigMap", "ns", "r", { labels: { provider: "p" }, generation: 1 });
    informers.add(configMaps, v1);
    await until("added object's key reconciled", () => seen.length === 1);
    const handlers = informers.get(configMaps).handlers;
    for (const h of handlers) h.onUpdate?.(v1, { ...v1, metadata: { ...v1.metadata, resourceVersion: "2" } });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, ["p"], "the status-only update enqueued nothing");
    for (const h of handlers) h.onUpdate?.(v1, { ...v1, metadata: { ...v1.metadata, resourceVersion: "3", generation: 2 } });
    await until("the spec change reconciled", () => seen.length === 2);
    await controller.stop();
  });

  it("retries a failing key with back-off, counting errors and retries, and forgets it on success", async () => {
    let calls = 0;
    const times: number[] = [];
    const { controller, informers, metrics, logs } = harness({
      reconcile: async () => {
        times.push(Date.now());
        if (++calls <= 3) throw new Error("backend down");
      },
    });
    informers.add(configMaps, obj("ConfigMap", "a", "x"));
    controller.start();
    await until("success after 3 failures", () => calls === 4);
    await controller.stop();
    assert.equal(await counter(metrics, "controller_runtime_reconcile_errors_total", { controller: "test" }), 3);
    assert.equal(await counter(metrics, "controller_runtime_reconcile_total", { controller: "test", result: "success" }), 1);
    assert.equal(await counter(metrics, "workqueue_retries_total", { name: "test" }), 3);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
    assert.ok((gaps[2] ?? 0) >= 18, `third retry waits ~20 ms, gaps were ${gaps.join(",")}`);
    assert.equal(logs.lines.filter((l) => l.level === "error").length, 3);
  });

  it("retries a 409 conflict without an error log", async () => {
    let calls = 0;
    const { controller, informers, metrics, logs } = harness({
      reconcile: async () => {
        if (++calls === 1) throw conflict();
      },
    });
    informers.add(configMaps, obj("ConfigMap", "a", "x"));
    controller.start();
    await until("retried after conflict", () => calls === 2);
    await controller.stop();
    assert.equal(logs.lines.filter((l) => l.level === "error").length, 0);
    assert.equal(logs.lines.filter((l) => l.level === "debug" && /conflict/.test(l.message)).length, 1);
    assert.equal(await counter(metrics, "controller_runtime_reconcile_total", { controller: "test", result: "requeue" }), 1);
    assert.equal(await counter(metrics, "controller_runtime_reconcile_errors_total", { controller: "test" }), 0);
  });

  it("does not retry a TerminalError but logs and counts it", async () => {
    let calls = 0;
    const { controller, informers, metrics, logs } = harness({
      reconcile: async () => {
        calls++;
        throw new TerminalError("InvalidSpec", "spec.type is missing");
      },
    });
    informers.add(configMaps, obj("ConfigMap", "a", "x"));
    controller.start();
    await until("first call", () => calls === 1);
    await new Promise((r) => setTimeout(r, 60));
    await controller.stop();
    assert.equal(calls, 1);
    assert.equal(await counter(metrics, "controller_runtime_terminal_reconcile_errors_total", { controller: "test" }), 1);
    assert.ok(logs.lines.some((l) => l.level === "error" && /terminally/.test(l.message)));
  });

  it("honours requeueAfter", async () => {
    const times: number[] = [];
    const { controller, informers } = harness({
      reconcile: async () => {
        times.push(Date.now());
        return times.length < 2 ? { requeueAfter: 40 } : {};
      },
    });
    informers.add(configMaps, obj("ConfigMap", "a", "x"));
    controller.start();
    await until("requeued", () => times.length === 2);
    await controller.stop();
    assert.ok((times[1] ?? 0) - (times[0] ?? 0) >= 35);
  });

  it("runs up to `concurrency` keys at once, never one key twice at once", async () => {
    let running = 0;
    let peak = 0;
    const active = new Set<string>();
    let overlap = false;
    let done = 0;
    const { controller, informers } = harness({
      concurrency: 3,
      reconcile: async (k: ObjectKey) => {
        if (active.has(k.name)) overlap = true;
        active.add(k.name);
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 15));
        running--;
        active.delete(k.name);
        done++;
      },
    });
    for (let i = 0; i < 8; i++) informers.add(configMaps, obj("ConfigMap", "a", `k${i}`));
    controller.start();
    // Re-add keys while they are in flight: each must run again afterwards, never concurrently.
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 3; i++) informers.add(configMaps, obj("ConfigMap", "a", `k${i}`, { resourceVersion: "2" }));
    await until("all done", () => done >= 11);
    await controller.stop();
    assert.equal(peak, 3);
    assert.equal(overlap, false);
  });

  it("stop waits for an in-flight reconcile, bounded by the timeout", async () => {
    let finished = false;
    const { controller, informers } = harness({
      reconcile: async () => {
        await new Promise((r) => setTimeout(r, 80));
        finished = true;
      },
    });
    informers.add(configMaps, obj("ConfigMap", "a", "x"));
    controller.start();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(await controller.stop(1000), true);
    assert.equal(finished, true);

    const slow = harness({ reconcile: () => new Promise((r) => setTimeout(r, 500)) });
    slow.informers.add(configMaps, obj("ConfigMap", "a", "y"));
    slow.controller.start();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(await slow.controller.stop(30), false);
  });

  it("stop aborts the signal of in-flight reconciles, and start refuses to run beside one that ignores it", async () => {
    let aborted = 0;
    let entered = 0;
    const polite = harness({
      reconcile: (_key, ctx) =>
        new Promise<void>((resolve) => {
          entered++;
          const onAbort = (): void => {
            aborted++;
            resolve();
          };
          if (ctx.signal?.aborted) onAbort();
          else ctx.signal?.addEventListener("abort", onAbort);
        }),
    });
    polite.informers.add(configMaps, obj("ConfigMap", "a", "x"));
    polite.controller.start();
    await until("the reconcile runs", () => entered === 1);
    assert.equal(await polite.controller.stop(60_000), true, "the aborted reconcile returned long before the bound");
    assert.equal(aborted, 1);
    assert.equal(polite.controller.runningWorkers(), 0);
    polite.controller.start();
    assert.equal(polite.controller.isRunning(), true, "a fresh run starts with a fresh signal");
    await polite.controller.stop();

    let release: (() => void) | undefined;
    const stubborn = harness({ reconcile: () => new Promise<void>((resolve) => (release = resolve)) });
    stubborn.informers.add(configMaps, obj("ConfigMap", "a", "y"));
    stubborn.controller.start();
    await until("the reconcile runs", () => release !== undefined);
    assert.equal(await stubborn.controller.stop(20), false);
    assert.throws(() => stubborn.controller.start(), /cannot start: 1 worker\(s\) of its previous run are still reconciling/);
    release?.();
    assert.equal(await stubborn.controller.stop(1000), true, "a later stop still waits for the old run");
    assert.equal(stubborn.controller.runningWorkers(), 0);
  });

  it("resync re-enqueues every cached object", async () => {
    let calls = 0;
    const { controller, informers } = harness({ resyncPeriodMs: 30, reconcile: async () => void calls++ });
    informers.add(configMaps, obj("ConfigMap", "a", "x"));
    controller.start();
    await until("three resyncs", () => calls >= 3);
    await controller.stop();
  });
});
