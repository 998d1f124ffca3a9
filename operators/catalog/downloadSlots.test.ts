import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { DownloadSlots } from "./downloadSlots.ts";

/** A download that finishes when the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("catalog/downloadSlots", () => {
  it("runs at most perProvider downloads of one Provider at once", async () => {
    const slots = new DownloadSlots({ total: 10, perProvider: 2 });
    const gates = [gate(), gate(), gate(), gate()];
    let started = 0;
    const runs = gates.map((g) => slots.run("ns/p", async () => { started++; await g.promise; }));
    await tick();
    assert.equal(started, 2);
    assert.equal(slots.inFlight("ns/p"), 2);
    gates[0]!.open();
    await tick();
    assert.equal(started, 3);
    for (const g of gates) g.open();
    await Promise.all(runs);
    assert.equal(slots.inFlight(), 0);
    assert.equal(slots.inFlight("ns/p"), 0);
  });

  it("runs at most total downloads across Providers, and a busy Provider does not block another", async () => {
    const slots = new DownloadSlots({ total: 3, perProvider: 2 });
    const gates = Array.from({ length: 6 }, gate);
    const started: string[] = [];
    const providers = ["ns/a", "ns/a", "ns/a", "ns/b", "ns/c", "ns/c"];
    const runs = providers.map((p, i) => slots.run(p, async () => { started.push(p); await gates[i]!.promise; }));
    await tick();
    assert.deepEqual(started, ["ns/a", "ns/a", "ns/b"]); // the third of ns/a waits for its Provider; ns/b passes it
    assert.equal(slots.inFlight(), 3);
    gates[3]!.open(); // ns/b done: the waiting ns/a is first in line and its Provider is still full
    await tick();
    assert.deepEqual(started, ["ns/a", "ns/a", "ns/b", "ns/c"]);
    for (const g of gates) g.open();
    await Promise.all(runs);
    assert.equal(started.length, 6);
    assert.equal(slots.inFlight(), 0);
  });

  it("frees the slot when the download fails", async () => {
    const slots = new DownloadSlots({ total: 1, perProvider: 1 });
    await assert.rejects(slots.run("ns/p", async () => { throw new Error("boom"); }), /boom/);
    assert.equal(await slots.run("ns/p", async () => "next"), "next");
  });

  it("refuses limits below one", () => {
    assert.throws(() => new DownloadSlots({ total: 0, perProvider: 1 }), /at least 1/);
  });
});
