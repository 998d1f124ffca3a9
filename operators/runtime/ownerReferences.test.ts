import assert from "node:assert/strict";
import { controllerMarks, controllerOf, controllerRef, isControlledAcross, isControlledBy, markedOwnerOf, withControllerRef } from "./ownerReferences.ts";

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

  describe("across namespaces (no owner reference may cross one)", () => {
    const run = { apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { namespace: "shop", name: "r1", uid: "u-9" } };

    it("gives an object of the owner's namespace the controller reference, and one elsewhere the marks instead", () => {
      assert.deepEqual(controllerMarks(run, "shop"), { ownerReferences: [controllerRef(run)] });
      const marks = controllerMarks(run, "archipel-rsv-1");
      assert.equal(marks.ownerReferences, undefined, "the garbage collector would delete an object whose owner it cannot find in its namespace");
      assert.deepEqual(marks.labels, { "archipel.io/owner-uid": "u-9", "archipel.io/owner-namespace": "shop", "archipel.io/owner-kind": "PipelineRun" });
    });

    it("counts an object as controlled only with the owner's uid and namespace; in the owner's namespace, only by reference", () => {
      const marked = { metadata: { namespace: "archipel-rsv-1", ...controllerMarks(run, "archipel-rsv-1") } };
      assert.equal(isControlledAcross(marked, run), true);
      assert.equal(isControlledAcross(marked, { ...run, metadata: { ...run.metadata, uid: "u-10" } }), false, "a namesake run");
      assert.equal(isControlledAcross(marked, { ...run, metadata: { ...run.metadata, namespace: "other" } }), false);
      assert.equal(isControlledAcross({ metadata: { namespace: "shop", labels: marked.metadata.labels } }, run), false, "marks do not stand for a reference in the owner's own namespace");
      assert.equal(isControlledAcross({ metadata: { namespace: "shop", ...controllerMarks(run, "shop") } }, run), true);
    });

    it("wakes the marked owner of the watched kind, and nothing for an unmarked object or another kind", () => {
      const marked = { metadata: { namespace: "archipel-rsv-1", ...controllerMarks(run, "archipel-rsv-1") } };
      assert.deepEqual(markedOwnerOf("PipelineRun")(marked), [{ namespace: "shop", name: "r1" }]);
      assert.deepEqual(markedOwnerOf("Reservation")(marked), []);
      assert.deepEqual(markedOwnerOf("PipelineRun")({ metadata: { namespace: "shop", ownerReferences: [controllerRef(run)] } }), []);
    });
  });
});
