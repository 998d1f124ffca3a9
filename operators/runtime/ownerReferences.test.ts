import assert from "node:assert/strict";
import { controllerOf, controllerRef, isControlledBy, withControllerRef } from "./ownerReferences.ts";

const owner = { apiVersion: "archipel.io/v1alpha1", kind: "Network", metadata: { name: "n1", uid: "u-1" } };

describe("runtime/ownerReferences", () => {
  it("builds a blocking controller reference", () => {
    assert.deepEqual(controllerRef(owner), { apiVersion: "archipel.io/v1alpha1", kind: "Network", name: "n1", uid: "u-1", controller: true, blockOwnerDeletion: true });
  });

  it("refuses an owner that was never read from the API", () => {
    assert.throws(() => controllerRef({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } }), /metadata.uid/);
  });

  it("finds and replaces the controller", () => {
    const other = { apiVersion: "v1", kind: "ConfigMap", name: "c", uid: "u-2", controller: true };
    const refs = withControllerRef([other, { apiVersion: "v1", kind: "Secret", name: "s", uid: "u-3" }], owner);
    const child = { metadata: { ownerReferences: refs } };
    assert.equal(refs.length, 2);
    assert.equal(controllerOf(child)?.uid, "u-1");
    assert.equal(isControlledBy(child, owner), true);
    assert.equal(isControlledBy({ metadata: {} }, owner), false);
  });
});
