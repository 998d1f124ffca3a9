import assert from "node:assert/strict";
import { eventName, objectReference } from "./events.ts";

const provider = { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name: "lab", namespace: "ns", uid: "u-1", resourceVersion: "7" } };
const e = { type: "Warning" as const, reason: "InvalidSpec", action: "Validate", note: "spec.compute.overcommit.cpu is 0.5" };

describe("runtime/events", () => {
  it("names an occurrence deterministically, so a repeat (or a restarted process) finds the same Event", () => {
    const name = eventName(provider, e, "archipel.io/provider-controller");
    assert.match(name, /^lab\.[0-9a-f]{16}$/);
    assert.equal(eventName(provider, { ...e }, "archipel.io/provider-controller"), name);
  });

  it("gives different occurrences different names", () => {
    const base = eventName(provider, e, "c");
    assert.notEqual(eventName(provider, { ...e, note: "other" }, "c"), base);
    assert.notEqual(eventName(provider, { ...e, reason: "Valid" }, "c"), base);
    assert.notEqual(eventName({ ...provider, metadata: { ...provider.metadata, uid: "u-2" } }, e, "c"), base, "a recreated object starts afresh");
    assert.notEqual(eventName(provider, e, "other-controller"), base);
  });

  it("keeps names within the API's limit for long object names", () => {
    const long = { ...provider, metadata: { ...provider.metadata, name: "x".repeat(253) } };
    assert.ok(eventName(long, e, "c").length <= 253);
  });

  it("refers to the object by uid and resourceVersion", () => {
    assert.deepEqual(objectReference(provider), { apiVersion: "archipel.io/v1alpha1", kind: "Provider", name: "lab", namespace: "ns", uid: "u-1", resourceVersion: "7" });
  });
});
