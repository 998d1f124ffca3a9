import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { maxCachedAnnotationLength, slimForCache } from "./cacheTransform.ts";

describe("runtime/cacheTransform", () => {
  it("drops managedFields, last-applied-configuration and other large annotations; keeps the rest and ours", () => {
    const big = "x".repeat(maxCachedAnnotationLength + 1);
    const obj = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "a",
        resourceVersion: "3",
        labels: { app: "x" },
        managedFields: [{ manager: "kubectl", operation: "Apply", fieldsV1: { "f:data": {} } }],
        annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}", "example.com/blob": big, "archipel.io/big": big, note: "kept" },
      },
      data: { k: "v" },
    } as KubernetesObject;
    const slim = slimForCache(obj) as KubernetesObject & { metadata: Record<string, unknown> };
    assert.equal(slim.metadata.managedFields, undefined);
    assert.deepEqual(Object.keys(slim.metadata.annotations as object).sort(), ["archipel.io/big", "note"]);
    assert.deepEqual(slim.metadata.labels, { app: "x" });
    assert.equal(slim.metadata.resourceVersion, "3");
    assert.deepEqual((slim as unknown as { data: unknown }).data, { k: "v" });
  });

  it("removes an annotations map left empty, and leaves an object without metadata alone", () => {
    const obj = { metadata: { name: "a", annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}" } } } as KubernetesObject;
    assert.equal(slimForCache(obj).metadata?.annotations, undefined);
    assert.deepEqual(slimForCache({ kind: "X" } as KubernetesObject), { kind: "X" });
  });
});
