// The runtime's write helpers against a real kube-apiserver: status through /status with
// server-side apply (skipped when unchanged, 409 on a stale read), conflict-safe finalizers,
// and Events that fold repeats into one object's series.
import assert from "node:assert/strict";
import { KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { setCondition } from "../../../operators/runtime/conditions.ts";
import { isConflict } from "../../../operators/runtime/errors.ts";
import { EventRecorder } from "../../../operators/runtime/events.ts";
import { ensureFinalizer, removeFinalizer } from "../../../operators/runtime/finalizers.ts";
import { StatusWriter } from "../../../operators/runtime/status.ts";
import { providerKindRef } from "../../../operators/catalog/providerReconciler.ts";
import { freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { computeSpec, objects, type Objects } from "./fixtures.ts";

describe("runtime write helpers on a real API server", () => {
  let cluster: TestCluster;
  let ns: TestNamespace;
  let o: Objects;
  let client: KubernetesObjectApi;

  before(async () => {
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "helpers");
    o = objects(cluster, ns.name);
    client = KubernetesObjectApi.makeApiClient(cluster.kubeConfig());
  });
  after(async () => ns?.cleanup());

  const ready = (message: string, generation: number) =>
    setCondition([], { type: "Ready", status: "True", reason: "Valid", message }, generation, new Date());

  it("writes status through /status, and only when it changed", async () => {
    const writer = new StatusWriter(cluster.kubeConfig(), "test-status-writer");
    const created = await o.createProvider("status-a", computeSpec);
    const desired = { conditions: ready("ok", 1), observedGeneration: 1, resourceCount: 0 };
    assert.equal(await writer.apply(providerKindRef, created, desired), true);
    const after = await o.getProvider("status-a");
    assert.equal(after.status?.observedGeneration, 1);
    assert.equal(after.status?.conditions?.[0]?.reason, "Valid");
    assert.equal(after.metadata?.generation, 1, "a status write must not bump generation (it went through /status)");
    const managers = (after.metadata as { managedFields?: { manager: string; subresource?: string; operation: string }[] }).managedFields ?? [];
    assert.ok(managers.some((m) => m.manager === "test-status-writer" && m.subresource === "status" && m.operation === "Apply"), JSON.stringify(managers));
    // Same desired status again: no request, resourceVersion unchanged.
    assert.equal(await writer.apply(providerKindRef, after, { ...desired, conditions: after.status?.conditions ?? [] }), false);
    assert.equal((await o.getProvider("status-a")).metadata?.resourceVersion, after.metadata?.resourceVersion);
  });

  it("refuses a status computed from a stale read with 409", async () => {
    const writer = new StatusWriter(cluster.kubeConfig(), "test-status-writer");
    const stale = await o.createProvider("status-b", computeSpec);
    await o.patchProviderSpec("status-b", { displayName: "changed meanwhile" });
    await assert.rejects(writer.apply(providerKindRef, stale, { conditions: ready("ok", 1), observedGeneration: 1 }), (err) => isConflict(err));
    assert.equal((await o.getProvider("status-b")).status?.observedGeneration, undefined);
  });

  it("adds and removes a finalizer without losing a concurrent one", async () => {
    const p = (await o.createProvider("fin-a", computeSpec)) as KubernetesObject;
    const added = await ensureFinalizer(client, p, "example.org/one");
    assert.deepEqual(added?.metadata?.finalizers, ["example.org/one"]);
    assert.equal(await ensureFinalizer(client, added!, "example.org/one"), undefined, "already there: no write");
    // Someone else adds a finalizer; our write based on the older copy must fail, not erase it.
    const theirs = await ensureFinalizer(client, added!, "example.org/two");
    await assert.rejects(removeFinalizer(client, added!, "example.org/one"), (err) => isConflict(err));
    const removed = await removeFinalizer(client, theirs!, "example.org/one");
    assert.deepEqual(removed?.metadata?.finalizers, ["example.org/two"]);
    await removeFinalizer(client, removed!, "example.org/two");
  });

  it("records events.k8s.io/v1 Events and folds a repeat into its series", async () => {
    const p = (await o.createProvider("ev-a", computeSpec)) as KubernetesObject;
    const recorder = new EventRecorder(cluster.kubeConfig(), { reportingController: "archipel.io/test", reportingInstance: "test-1" });
    const e = { type: "Warning" as const, reason: "InvalidSpec", action: "Validate", note: "spec.compute.overcommit.cpu is 0.5" };
    await recorder.record(p, e);
    await recorder.record(p, e);
    // A second recorder (a restarted process) continues the same series.
    await new EventRecorder(cluster.kubeConfig(), { reportingController: "archipel.io/test", reportingInstance: "test-2" }).record(p, e);
    await recorder.record(p, { ...e, type: "Normal", reason: "Valid", note: "ok" });
    const events = await o.eventsFor("ev-a");
    assert.equal(events.length, 2, JSON.stringify(events.map((x) => x.reason)));
    const invalid = events.find((x) => x.reason === "InvalidSpec");
    assert.equal(invalid?.series?.count, 3);
    assert.equal(invalid?.note, e.note);
    assert.equal(invalid?.reportingController, "archipel.io/test");
    assert.equal(invalid?.regarding?.uid, p.metadata?.uid);
    assert.equal(events.find((x) => x.reason === "Valid")?.series, undefined);
  });
});
