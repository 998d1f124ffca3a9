import assert from "node:assert/strict";
import { DefaultControllerRateLimiter } from "./rateLimiter.ts";
import { QueueWaiter, WorkQueue, type QueueMetricsSink } from "./workqueue.ts";

function fakeClock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function recorder(): QueueMetricsSink & { adds: number; retries: number; depths: number[]; queuedS: number[]; workedS: number[] } {
  const r = { adds: 0, retries: 0, depths: [] as number[], queuedS: [] as number[], workedS: [] as number[] };
  return Object.assign(r, {
    depth: (n: number) => void r.depths.push(n),
    added: () => void r.adds++,
    queued: (s: number) => void r.queuedS.push(s),
    worked: (s: number) => void r.workedS.push(s),
    retried: () => void r.retries++,
  });
}

describe("runtime/workqueue", () => {
  it("hands keys out in order and de-duplicates waiting keys", () => {
    const q = new WorkQueue({ clock: fakeClock().now });
    q.add("ns/a");
    q.add("ns/b");
    q.add("ns/a");
    assert.equal(q.len(), 2);
    assert.equal(q.get(), "ns/a");
    assert.equal(q.get(), "ns/b");
    assert.equal(q.get(), undefined);
  });

  it("never hands a key to two workers; a key added in flight comes back once after done", () => {
    const q = new WorkQueue({ clock: fakeClock().now });
    q.add("k");
    assert.equal(q.get(), "k");
    q.add("k");
    q.add("k");
    assert.equal(q.get(), undefined, "k is in flight: a second worker must not get it");
    q.done("k");
    assert.equal(q.get(), "k");
    q.done("k");
    assert.equal(q.get(), undefined, "processed exactly once more");
  });

  it("addAfter holds a key until its time, keeping the earliest time", () => {
    const clock = fakeClock();
    const q = new WorkQueue({ clock: clock.now });
    q.addAfter("k", 500);
    q.addAfter("k", 100);
    q.addAfter("k", 900);
    assert.equal(q.nextReadyAt(), clock.now() + 100);
    assert.equal(q.get(), undefined);
    clock.advance(99);
    assert.equal(q.get(), undefined);
    clock.advance(1);
    assert.equal(q.get(), "k");
    q.done("k");
    assert.equal(q.nextReadyAt(), undefined);
  });

  it("addRateLimited backs off 5, 10, 20 ms and forget resets; retries are counted", () => {
    const clock = fakeClock();
    const metrics = recorder();
    const q = new WorkQueue({ clock: clock.now, metrics });
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      q.addRateLimited("k");
      delays.push((q.nextReadyAt() ?? 0) - clock.now());
      clock.advance(delays[i] ?? 0);
      assert.equal(q.get(), "k");
      q.done("k");
    }
    assert.deepEqual(delays, [5, 10, 20]);
    assert.equal(q.numRequeues("k"), 3);
    assert.equal(metrics.retries, 3);
    q.forget("k");
    q.addRateLimited("k");
    assert.equal((q.nextReadyAt() ?? 0) - clock.now(), 5);
  });

  it("applies the overall token bucket across keys", () => {
    const clock = fakeClock();
    const q = new WorkQueue({ clock: clock.now, rateLimiter: new DefaultControllerRateLimiter({ qps: 10, burst: 2 }) });
    q.addRateLimited("a");
    q.addRateLimited("b");
    q.addRateLimited("c");
    clock.advance(5);
    assert.deepEqual([q.get(), q.get(), q.get()], ["a", "b", undefined]);
    clock.advance(95);
    assert.equal(q.get(), "c");
  });

  it("reports depth, adds, time queued and time worked", () => {
    const clock = fakeClock();
    const metrics = recorder();
    const q = new WorkQueue({ clock: clock.now, metrics });
    q.add("a");
    q.add("b");
    clock.advance(250);
    q.get();
    clock.advance(1500);
    q.done("a");
    assert.equal(metrics.adds, 2);
    assert.deepEqual(metrics.depths, [1, 2, 1]);
    assert.deepEqual(metrics.queuedS, [0.25]);
    assert.deepEqual(metrics.workedS, [1.5]);
  });

  it("stops handing out work after shutDown and ignores adds", () => {
    const q = new WorkQueue({ clock: fakeClock().now });
    q.add("a");
    q.shutDown();
    q.add("b");
    assert.equal(q.get(), undefined);
    assert.equal(q.isShuttingDown(), true);
  });

  it("QueueWaiter wakes a waiting worker on add, on a delay's expiry and on shutdown", async () => {
    const hooks = { wake: (): void => {} };
    const q = new WorkQueue({ clock: Date.now, onChange: () => hooks.wake() });
    const waiter = new QueueWaiter(q);
    hooks.wake = () => waiter.wake();
    const first = waiter.take();
    q.add("a");
    assert.equal(await first, "a");
    q.done("a");
    const started = Date.now();
    q.addAfter("b", 30);
    assert.equal(await waiter.take(), "b");
    assert.ok(Date.now() - started >= 25, "b came before its delay");
    q.done("b");
    const last = waiter.take();
    q.shutDown();
    assert.equal(await last, undefined);
  });
});
