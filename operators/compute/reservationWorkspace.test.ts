import assert from "node:assert/strict";
import type { V1LimitRange } from "@kubernetes/client-node";
import type { Reservation } from "../schema/reservation.ts";
import { copiedLimitRange, executorBinding, isolationPolicy, limitRangeSync, madeFor, wantsWorkspace, workspaceBody, workspaceName, workspaceQuota } from "./reservationWorkspace.ts";

const reservation = (uid: string, peer?: string): Reservation =>
  ({
    apiVersion: "archipel.io/v1alpha1",
    kind: "Reservation",
    metadata: { namespace: "shop", name: "peer-b-run-1", uid },
    spec: { providerRef: { name: "nodes" }, cpu: "2", memory: "3Gi", start: "2026-12-04T10:00:00Z", end: "2026-12-04T11:00:00Z", ...(peer ? { requester: { peer } } : {}) },
  }) as Reservation;

describe("a peer's reservation's workspace", () => {
  it("is for a peer's reservation only: one made here keeps its quota in its own namespace", () => {
    assert.equal(wantsWorkspace(reservation("u-1", "member-b")), true);
    assert.equal(wantsWorkspace(reservation("u-1")), false);
  });

  it("is named from the uid: stable across passes, another for a namesake, a DNS label", () => {
    const name = workspaceName(reservation("u-1", "b"));
    assert.equal(name, workspaceName(reservation("u-1", "b")));
    assert.notEqual(name, workspaceName(reservation("u-2", "b")));
    assert.match(name, /^archipel-rsv-[0-9a-f]{16}$/);
  });

  it("is the reservation's only when it carries its uid (on the namespace; on each object in it)", () => {
    const r = reservation("u-1", "b");
    assert.equal(madeFor(workspaceBody(r), r, "namespace"), true);
    assert.equal(madeFor(workspaceBody(r), reservation("u-2", "b"), "namespace"), false);
    assert.equal(madeFor({ metadata: { name: workspaceName(r) } }, r, "namespace"), false, "a namespace of that name made by someone else");
    assert.equal(madeFor(workspaceQuota(r), r, "object"), true);
    assert.equal(madeFor(workspaceQuota(r), r, "namespace"), false, "the uid is an annotation on the namespace, a label on objects");
    assert.equal(madeFor({ metadata: {} }, { ...r, metadata: { ...r.metadata, uid: "" } }, "object"), false, "no uid, no claim");
  });

  it("holds the reservation's own amounts, the admin's LimitRanges and the executor Role bound to its default ServiceAccount", () => {
    const r = reservation("u-1", "b");
    const ns = workspaceName(r);
    assert.deepEqual(workspaceQuota(r).spec?.hard, { "requests.cpu": "2", "requests.memory": "3Gi" });
    assert.equal(workspaceQuota(r).metadata?.namespace, ns);
    const limits = copiedLimitRange(r, { metadata: { name: "defaults", namespace: "shop", uid: "x", resourceVersion: "7" }, spec: { limits: [{ type: "Container", defaultRequest: { cpu: "50m" } }] } });
    assert.deepEqual(limits.metadata, { name: "defaults", namespace: ns, labels: { "archipel.io/reservation-uid": "u-1" } }, "nothing of the source's identity is copied");
    assert.deepEqual(executorBinding(r).subjects, [{ kind: "ServiceAccount", name: "default", namespace: ns }]);
    const isolation = isolationPolicy(r);
    assert.deepEqual([isolation.metadata?.namespace, isolation.spec?.podSelector, isolation.spec?.policyTypes, isolation.spec?.ingress], [ns, {}, ["Ingress"], [{ _from: [{ podSelector: {} }] }]], "ingress from its own pods only; egress open");
    assert.deepEqual(workspaceBody(r).metadata?.labels, { "archipel.io/workspace-of": "shop", "archipel.io/reservation": "peer-b-run-1" });
  });

  it("keeps the workspace's LimitRanges the copies of the namespace's: missing made, changed replaced, stale removed, a stranger's refused", () => {
    const r = reservation("u-1", "b");
    const source = (name: string, cpu: string): V1LimitRange => ({ metadata: { name, namespace: "shop" }, spec: { limits: [{ type: "Container", defaultRequest: { cpu } }] } });
    const copy = (name: string, cpu: string, uid = "u-1"): V1LimitRange => ({ ...copiedLimitRange(r, source(name, cpu)), metadata: { ...copiedLimitRange(r, source(name, cpu)).metadata, labels: { "archipel.io/reservation-uid": uid }, resourceVersion: "9", uid: `lr-${name}` } });
    const sync = limitRangeSync(r, [source("same", "50m"), source("changed", "100m"), source("new", "10m")], [copy("same", "50m"), copy("changed", "50m"), copy("stale", "1"), copy("foreign", "1", "u-other")]);
    assert.ok(!("taken" in sync));
    assert.deepEqual(sync.create.map((l) => l.metadata?.name), ["new"]);
    assert.deepEqual(sync.replace.map((l) => [l.metadata?.name, l.metadata?.resourceVersion, l.spec?.limits[0]?.defaultRequest]), [["changed", "9", { cpu: "100m" }]], "replaced with the version read");
    assert.deepEqual(sync.remove.map((l) => l.metadata?.name), ["stale"], "a LimitRange not made for the reservation is never removed");
    const taken = limitRangeSync(r, [source("foreign", "1")], [copy("foreign", "1", "u-other")]);
    assert.ok("taken" in taken);
    assert.match(taken.taken, /LimitRange archipel-rsv-[0-9a-f]{16}\/foreign exists and was not made for this Reservation/);
  });
});

