import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { formatNumber, toJson, toSpacedJson } from "./json.ts";

describe("CWL JSON numbers", () => {
  it("writes a large integer literal with the digits the document wrote, not the double's exact value", () => {
    assert.equal(formatNumber(4.2e42), "4200000000000000000000000000000000000000000");
    assert.equal(formatNumber(1e42), `1${"0".repeat(42)}`);
    assert.equal(formatNumber(-1e42), `-1${"0".repeat(42)}`);
    assert.equal(formatNumber(2 ** 70), "1180591620717411300000");
  });

  it("writes small fractions without an exponent", () => {
    assert.equal(formatNumber(1.23e-5), "0.0000123");
    assert.equal(formatNumber(-1.5e-7), "-0.00000015");
    assert.equal(formatNumber(123000), "123000");
    assert.equal(formatNumber(4.2), "4.2");
  });

  it("reads back as the same number", () => {
    for (const n of [4.2e42, 1e300, -9.87654321e25, 2 ** 53 + 2, 1.23e-5, 5e-324]) assert.equal(Number(formatNumber(n)), n);
  });

  it("keeps a record default from YAML exact through the output object and interpolated JSON", () => {
    const record = parseYaml("fifth: 4200000000000000000000000000000000000000000\nfourth: 4242424242\n") as Record<string, unknown>;
    assert.equal(toSpacedJson(record), '{"fifth": 4200000000000000000000000000000000000000000, "fourth": 4242424242}');
    assert.equal(toJson({ same_record: record }, 0).replace(/\n/g, ""), '{"same_record": {"fifth": 4200000000000000000000000000000000000000000,"fourth": 4242424242}}');
  });
});
