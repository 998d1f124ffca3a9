import assert from "node:assert/strict";
import { Type } from "typebox";
import { isDeletedStatus, newObject, replacedObject, toListView, toObjectView, type ApiKind } from "./view.ts";

const widget: ApiKind = {
  group: "example.io",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  singular: "widget",
  scope: "Namespaced",
  spec: Type.Object({ size: Type.Integer() }),
  status: Type.Object({}),
};

const stored = {
  apiVersion: "example.io/v1",
  kind: "Widget",
  metadata: {
    name: "w",
    namespace: "ns",
    uid: "u-1",
    resourceVersion: "42",
    generation: 3,
    creationTimestamp: "2026-01-01T00:00:00Z",
    labels: { tier: "gold" },
    annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{...}", note: "kept" },
    finalizers: ["archipel.io/in-use"],
    ownerReferences: [{ kind: "X", name: "x", uid: "o", apiVersion: "v1" }],
    managedFields: [{ manager: "kubectl" }],
  },
  spec: { size: 2 },
  status: { conditions: [] },
};

describe("api view", () => {
  it("keeps what a client needs and drops Kubernetes machinery", () => {
    const view = toObjectView(widget, stored);
    assert.deepEqual(view, {
      apiVersion: "example.io/v1",
      kind: "Widget",
      metadata: {
        name: "w",
        namespace: "ns",
        uid: "u-1",
        resourceVersion: "42",
        generation: 3,
        creationTimestamp: "2026-01-01T00:00:00Z",
        labels: { tier: "gold" },
        annotations: { note: "kept" },
        finalizers: ["archipel.io/in-use"],
      },
      spec: { size: 2 },
      status: { conditions: [] },
    });
  });

  it("passes the continue token of a list through, and omits an empty one", () => {
    const page = toListView(widget, { metadata: { resourceVersion: "9", continue: "abc", remainingItemCount: 4 }, items: [stored] });
    assert.equal(page.kind, "WidgetList");
    assert.deepEqual(page.metadata, { resourceVersion: "9", continue: "abc", remainingItemCount: 4 });
    assert.equal(page.items[0]?.metadata.name, "w");
    assert.deepEqual(toListView(widget, { metadata: { continue: "" }, items: [] }).metadata, {});
  });

  it("sets apiVersion, kind and namespace of a new object itself", () => {
    const obj = newObject(widget, "ns", { metadata: { name: "w", labels: { a: "b" } }, spec: { size: 1 } });
    assert.deepEqual(obj, { apiVersion: "example.io/v1", kind: "Widget", metadata: { name: "w", namespace: "ns", labels: { a: "b" } }, spec: { size: 1 } });
    const clusterScoped = newObject({ ...widget, scope: "Cluster" }, undefined, { metadata: { name: "c" }, spec: {} });
    assert.equal(Object.hasOwn(clusterScoped.metadata as object, "namespace"), false);
  });

  it("replaces the spec with the caller's resourceVersion, keeping finalizers and owners", () => {
    const obj = replacedObject(stored, { metadata: { resourceVersion: "41" }, spec: { size: 5 } });
    const metadata = obj.metadata as Record<string, unknown>;
    assert.equal(metadata.resourceVersion, "41");
    assert.deepEqual(metadata.finalizers, ["archipel.io/in-use"]);
    assert.deepEqual(metadata.labels, { tier: "gold" });
    assert.equal(metadata.managedFields, undefined);
    assert.ok(Array.isArray(metadata.ownerReferences));
    assert.deepEqual(obj.spec, { size: 5 });
    assert.deepEqual(stored.spec, { size: 2 }, "the current object is not mutated");
    const relabelled = replacedObject(stored, { metadata: { resourceVersion: "42", labels: {} }, spec: { size: 2 } });
    assert.deepEqual((relabelled.metadata as Record<string, unknown>).labels, {});
  });

  it("tells a DELETE that removed the object from one that left it to its finalizers", () => {
    assert.equal(isDeletedStatus({ kind: "Status", apiVersion: "v1", status: "Success", details: { name: "w" } }), true);
    assert.equal(isDeletedStatus({ ...stored, metadata: { ...stored.metadata, deletionTimestamp: "2026-01-01T00:00:01Z" } }), false);
  });
});
