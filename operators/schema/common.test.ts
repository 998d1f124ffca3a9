import assert from "node:assert/strict";
import { Type } from "typebox";
import { Value } from "typebox/value";
import { blockMatches, Currency, Decimal, described, Duration, exactlyOneOf, Multiaddr, PeerId, Quantity, Timestamp } from "./common.ts";

describe("schema building blocks", () => {
  it("quantities are Kubernetes quantity strings, never numbers", () => {
    for (const ok of ["4", "500m", "16Gi", "1.5", "2e3", "0.5Ki"]) assert.ok(Value.Check(Quantity, ok), ok);
    for (const bad of ["16 GB", "-1", "four", "", "1.2.3"]) assert.ok(!Value.Check(Quantity, bad), bad);
    assert.ok(!Value.Check(Quantity, 4));
  });

  it("money and ratios are non-negative decimal strings with at most 9 decimals", () => {
    for (const ok of ["0", "0.042", "25.00", "1000000"]) assert.ok(Value.Check(Decimal, ok), ok);
    for (const bad of ["-1", "1e3", "01.5", ".5", "1.", "0.0000000001", "1,5"]) assert.ok(!Value.Check(Decimal, bad), bad);
    assert.ok(!Value.Check(Decimal, 0.5));
    assert.ok(Value.Check(Currency, "EUR"));
    for (const bad of ["eur", "EURO", "E1R"]) assert.ok(!Value.Check(Currency, bad), bad);
  });

  it("times, durations, multiaddrs and peer IDs have the shapes their users write", () => {
    assert.ok(Value.Check(Timestamp, "2026-01-01T00:00:00Z"));
    assert.ok(!Value.Check(Timestamp, "2026-01-01"));
    for (const ok of ["30s", "5m", "1h30m", "250ms"]) assert.ok(Value.Check(Duration, ok), ok);
    for (const bad of ["1 day", "5", "m"]) assert.ok(!Value.Check(Duration, bad), bad);
    assert.ok(Value.Check(Multiaddr, "/ip4/127.0.0.1/tcp/4001"));
    assert.ok(!Value.Check(Multiaddr, "127.0.0.1:4001"));
    assert.ok(Value.Check(PeerId, "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"));
    assert.ok(Value.Check(PeerId, "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"));
    for (const bad of ["12D3KooW0OIl", "not-a-peer-id"]) assert.ok(!Value.Check(PeerId, bad), bad);
  });

  it("described() changes the description only: optionality and validation stay", () => {
    const d = described(Decimal, "per hour");
    assert.equal((d as { description?: string }).description, "per hour");
    assert.notEqual((Decimal as { description?: string }).description, "per hour");
    const obj = Type.Object({ a: Type.Optional(d), b: described(Decimal, "b") });
    assert.deepEqual(obj.required, ["b"]);
    assert.ok(Value.Check(obj, { b: "1" }));
    assert.ok(!Value.Check(obj, { a: "x", b: "1" }));
  });

  it("blockMatches makes one rule per block that names the block", () => {
    assert.deepEqual(blockMatches("spec", "type", ["data", "compute"]), [
      { rule: "has(self.data) == (self.type == 'data')", message: 'spec.data must be set when spec.type is "data", and only then', fieldPath: ".data" },
      { rule: "has(self.compute) == (self.type == 'compute')", message: 'spec.compute must be set when spec.type is "compute", and only then', fieldPath: ".compute" },
    ]);
    assert.deepEqual(exactlyOneOf("spec.x", ["a", "b"]), {
      rule: "[has(self.a), has(self.b)].filter(x, x).size() == 1",
      message: "exactly one of spec.x.a, spec.x.b must be set",
    });
  });
});
