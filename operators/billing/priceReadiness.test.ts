import assert from "node:assert/strict";
import { PriceReason, priceReadiness } from "./priceReadiness.ts";
import { at, price } from "./testing.ts";

const world = (now: string, others = [] as ReturnType<typeof price>[], targetExists = true): { targetExists: boolean; others: ReturnType<typeof price>[]; now: Date } => ({ targetExists, others, now: at(now) });

describe("price readiness", () => {
  const june = price("june", { validFrom: "2026-06-01T00:00:00Z", validUntil: "2026-07-01T00:00:00Z" });

  it("is Valid inside its window and says when that changes", () => {
    const v = priceReadiness(june, world("2026-06-30T23:59:00Z"));
    assert.deepEqual(v, { ready: true, reason: PriceReason.Valid, message: "in force until 2026-07-01T00:00:00Z", changesInMs: 60_000 });
    assert.deepEqual(priceReadiness(price("open"), world("2030-01-01T00:00:00Z")), { ready: true, reason: PriceReason.Valid, message: "in force, with no end" });
  });

  it("is NotYetValid before validFrom and Expired from validUntil on, at the exact instants", () => {
    const before = priceReadiness(june, world("2026-05-31T23:59:59Z"));
    assert.equal(before.reason, PriceReason.NotYetValid);
    assert.equal(before.changesInMs, 1000);
    assert.equal(priceReadiness(june, world("2026-06-01T00:00:00Z")).reason, PriceReason.Valid);
    const after = priceReadiness(june, world("2026-07-01T00:00:00Z"));
    assert.deepEqual(after, { ready: false, reason: PriceReason.Expired, message: "not in force since spec.validUntil 2026-07-01T00:00:00Z" });
  });

  it("names the missing target", () => {
    const v = priceReadiness(price("p", { targetRef: { kind: "Resource", name: "gone" } }), world("2026-06-01T00:00:00Z", [], false));
    assert.equal(v.reason, PriceReason.TargetNotFound);
    assert.match(v.message, /spec\.targetRef: Resource "gone" does not exist in namespace team-a/);
  });

  it("names every other Price it conflicts with, and ignores itself", () => {
    const a = price("a");
    const b = price("b", { validFrom: "2026-03-01T00:00:00Z" });
    const c = price("c", { validFrom: "2026-04-01T00:00:00Z" });
    const v = priceReadiness(a, world("2026-06-01T00:00:00Z", [a, b, c]));
    assert.equal(v.reason, PriceReason.Conflict);
    assert.match(v.message, /^conflicts with Price "b", "c": same spec\.targetRef/);
    assert.equal(priceReadiness(a, world("2026-06-01T00:00:00Z", [a])).reason, PriceReason.Valid);
  });

  it("checks in order: target, conflict, then validity", () => {
    const old = price("old", { validFrom: "2020-01-01T00:00:00Z", validUntil: "2021-01-01T00:00:00Z" });
    const twin = price("twin", { validFrom: "2020-06-01T00:00:00Z", validUntil: "2021-01-01T00:00:00Z" });
    assert.equal(priceReadiness(old, world("2026-01-01T00:00:00Z", [old, twin], false)).reason, PriceReason.TargetNotFound);
    assert.equal(priceReadiness(old, world("2026-01-01T00:00:00Z", [old, twin])).reason, PriceReason.Conflict, "an expired conflict still matters: old steps are priced at their time");
    assert.equal(priceReadiness(old, world("2026-01-01T00:00:00Z", [old])).reason, PriceReason.Expired);
  });
});
