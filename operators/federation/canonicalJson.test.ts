import assert from "node:assert/strict";
import { canonicalJson } from "./canonicalJson.ts";

describe("canonicalJson", () => {
  it("sorts keys at every depth, drops undefined and whitespace", () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: null, y: "é" }], c: undefined } }), '{"a":{"d":[3,{"y":"é","z":null}]},"b":1}');
  });

  it("is independent of insertion order", () => {
    assert.equal(canonicalJson({ x: 1, y: 2 }), canonicalJson({ y: 2, x: 1 }));
  });

  it("refuses values JSON cannot carry faithfully", () => {
    assert.throws(() => canonicalJson({ n: Number.NaN }), /NaN/);
    assert.throws(() => canonicalJson({ f: () => 1 }), /function/);
    assert.throws(() => canonicalJson({ b: 1n }), /bigint/);
  });
});
