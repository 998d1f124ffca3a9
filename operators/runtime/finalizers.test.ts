import assert from "node:assert/strict";
import { hasFinalizer, isBeingDeleted } from "./finalizers.ts";

describe("runtime/finalizers (pure parts)", () => {
  it("tells whether a finalizer is present and whether deletion started", () => {
    const obj = { metadata: { name: "a", finalizers: ["archipel.io/provider-in-use"] } };
    assert.equal(hasFinalizer(obj, "archipel.io/provider-in-use"), true);
    assert.equal(hasFinalizer(obj, "other"), false);
    assert.equal(hasFinalizer({}, "other"), false);
    assert.equal(isBeingDeleted(obj), false);
    assert.equal(isBeingDeleted({ metadata: { deletionTimestamp: new Date() } }), true);
  });
});
