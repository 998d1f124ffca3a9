import assert from "node:assert/strict";
import { audiencesOverlap, conflictingPrices, inForce, resolvePrice, type Resolution } from "./priceResolution.ts";
import { at, price } from "./testing.ts";

const resource = { namespace: "team-a", resource: "big-vm", provider: "cpus" };
const when = at("2026-06-01T00:00:00Z");

function resolvedName(r: Resolution): string {
  assert.equal(r.outcome, "resolved", "message" in r ? r.message : "");
  return r.outcome === "resolved" ? r.rates.price : "";
}

describe("price resolution", () => {
  it("is in force from validFrom included to validUntil excluded", () => {
    const p = price("p", { validFrom: "2026-01-01T00:00:00Z", validUntil: "2026-02-01T00:00:00Z" });
    assert.equal(inForce(p, at("2025-12-31T23:59:59.999Z")), false, "a millisecond before validFrom");
    assert.equal(inForce(p, at("2026-01-01T00:00:00Z")), true, "exactly at validFrom");
    assert.equal(inForce(p, at("2026-01-31T23:59:59.999Z")), true, "a millisecond before validUntil");
    assert.equal(inForce(p, at("2026-02-01T00:00:00Z")), false, "exactly at validUntil");
    assert.equal(inForce(price("open"), at("2999-01-01T00:00:00Z")), true, "no validUntil: for ever");
  });

  it("hands over at validUntil from one Price to the next without a gap or an overlap", () => {
    const january = price("january", { validUntil: "2026-02-01T00:00:00Z" });
    const february = price("february", { validFrom: "2026-02-01T00:00:00Z" });
    assert.equal(resolvedName(resolvePrice([january, february], resource, {}, at("2026-01-31T23:59:59Z"))), "january");
    assert.equal(resolvedName(resolvePrice([january, february], resource, {}, at("2026-02-01T00:00:00Z"))), "february");
    assert.deepEqual(conflictingPrices(january, [january, february]), [], "back-to-back windows do not overlap");
  });

  it("prefers a Price on the Resource to one on its Provider", () => {
    const onProvider = price("provider-wide");
    const onResource = price("big-vm-price", { targetRef: { kind: "Resource", name: "big-vm" } });
    assert.equal(resolvedName(resolvePrice([onProvider, onResource], resource, {}, when)), "big-vm-price");
    assert.equal(resolvedName(resolvePrice([onProvider, onResource], { ...resource, resource: "small-vm" }, {}, when)), "provider-wide", "another Resource of the Provider");
  });

  it("prefers custom rates for the peer or project to the default, and a project to a peer", () => {
    const base = price("default");
    const forPeer = price("fed-2-rate", { audience: { peers: ["fed-2"] } });
    const forProject = price("ocean-rate", { audience: { projects: ["ocean"] } });
    const all = [base, forPeer, forProject];
    assert.equal(resolvedName(resolvePrice(all, resource, {}, when)), "default", "a local user of no listed project");
    assert.equal(resolvedName(resolvePrice(all, resource, { peer: "fed-3" }, when)), "default", "an unlisted peer");
    assert.equal(resolvedName(resolvePrice(all, resource, { peer: "fed-2" }, when)), "fed-2-rate");
    assert.equal(resolvedName(resolvePrice(all, resource, { project: "ocean" }, when)), "ocean-rate");
    assert.equal(resolvedName(resolvePrice(all, resource, { peer: "fed-2", project: "ocean" }, when)), "ocean-rate");
  });

  it("ranks the target before the audience: a default on the Resource beats custom rates on the Provider", () => {
    const custom = price("fed-2-provider", { audience: { peers: ["fed-2"] } });
    const onResource = price("big-vm-price", { targetRef: { kind: "Resource", name: "big-vm" } });
    assert.equal(resolvedName(resolvePrice([custom, onResource], resource, { peer: "fed-2" }, when)), "big-vm-price");
  });

  it("offers custom rates to their audience only: no default, no price for others", () => {
    const r = resolvePrice([price("fed-2-rate", { audience: { peers: ["fed-2"] } })], resource, { peer: "fed-3" }, when);
    assert.equal(r.outcome, "none");
    assert.match(r.outcome === "none" ? r.message : "", /no Price is in force at 2026-06-01T00:00:00.000Z for Resource team-a\/big-vm \(Provider cpus\) for peer fed-3/);
  });

  it("ignores Prices of other namespaces and of other targets", () => {
    const elsewhere = price("elsewhere", {}, "team-b");
    const other = price("other", { targetRef: { kind: "Provider", name: "gpus" } });
    assert.equal(resolvePrice([elsewhere, other], resource, {}, when).outcome, "none");
  });

  it("refuses both of two Prices of the same rank in force at once, deterministically", () => {
    const a = price("b-second", { validUntil: "2026-07-01T00:00:00Z" });
    const b = price("a-first", { validFrom: "2026-05-01T00:00:00Z" });
    for (const order of [[a, b], [b, a]]) {
      const r = resolvePrice(order, resource, {}, when);
      assert.equal(r.outcome, "conflict");
      assert.deepEqual(r.outcome === "conflict" ? r.prices : [], ["a-first", "b-second"]);
      assert.match(r.outcome === "conflict" ? r.message : "", /Prices a-first, b-second apply equally/);
    }
    assert.equal(resolvedName(resolvePrice([a, b], resource, {}, at("2026-04-30T00:00:00Z"))), "b-second", "before the overlap, one applies");
  });

  it("a conflict is not resolved by falling back to a less specific Price", () => {
    const fallback = price("provider-wide");
    const x = price("x", { targetRef: { kind: "Resource", name: "big-vm" } });
    const y = price("y", { targetRef: { kind: "Resource", name: "big-vm" } });
    assert.equal(resolvePrice([fallback, x, y], resource, {}, when).outcome, "conflict");
  });

  it("finds the conflicts the controller reports: same target, overlapping audience and validity", () => {
    const base = price("base");
    const same = price("same", { validFrom: "2026-03-01T00:00:00Z" });
    const later = price("later", { validFrom: "2027-01-01T00:00:00Z" });
    const earlier = price("earlier", { validFrom: "2025-01-01T00:00:00Z", validUntil: "2026-01-01T00:00:00Z" });
    const forPeer = price("for-peer", { audience: { peers: ["fed-2", "fed-3"] } });
    const forPeerToo = price("for-peer-too", { audience: { peers: ["fed-3"], projects: ["x"] } });
    const onResource = price("on-resource", { targetRef: { kind: "Resource", name: "cpus" } });
    const all = [base, same, later, earlier, forPeer, forPeerToo, onResource];
    assert.deepEqual(conflictingPrices(base, all).map((p) => p.metadata.name), ["later", "same"], "validity open-ended: it overlaps a later Price");
    assert.deepEqual(conflictingPrices(earlier, all).map((p) => p.metadata.name), [], "ends exactly where base begins");
    assert.deepEqual(conflictingPrices(forPeer, all).map((p) => p.metadata.name), ["for-peer-too"], "they share peer fed-3");
    assert.deepEqual(conflictingPrices(onResource, all), [], "a Resource named like the Provider is another target");
  });

  it("audiences overlap when both are the default or they share a peer or a project", () => {
    assert.equal(audiencesOverlap(undefined, undefined), true);
    assert.equal(audiencesOverlap(undefined, { peers: ["a"] }), false);
    assert.equal(audiencesOverlap({ peers: ["a"] }, { projects: ["a"] }), false, "a peer and a project of the same name are different audiences");
    assert.equal(audiencesOverlap({ projects: ["p", "q"] }, { projects: ["q"] }), true);
  });
});
