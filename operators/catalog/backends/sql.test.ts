import assert from "node:assert/strict";
import { quoteIdent, quoteLiteral, quoteQualified } from "./sql.ts";

describe("sql quoting", () => {
  it("double-quotes identifiers and doubles embedded quotes", () => {
    assert.equal(quoteIdent("orders"), '"orders"');
    assert.equal(quoteIdent('a"b'), '"a""b"');
    assert.equal(quoteIdent('x"; DROP TABLE t; --'), '"x""; DROP TABLE t; --"');
    assert.equal(quoteQualified("Sales", "Order Items"), '"Sales"."Order Items"');
  });

  it("refuses empty, NUL-containing and over-long identifiers instead of letting PostgreSQL truncate them", () => {
    assert.throws(() => quoteIdent(""), /must not be empty/);
    assert.throws(() => quoteIdent("a\0b"), /NUL/);
    assert.equal(quoteIdent("a".repeat(63)), `"${"a".repeat(63)}"`);
    assert.throws(() => quoteIdent("a".repeat(64)), /longer than 63 bytes/);
    assert.throws(() => quoteIdent("é".repeat(32)), /longer than 63 bytes/, "the limit is in bytes, not characters");
  });

  it("quotes literals so that quotes and backslashes cannot end the string", () => {
    assert.equal(quoteLiteral("plain"), "'plain'");
    assert.equal(quoteLiteral("it's"), "'it''s'");
    assert.equal(quoteLiteral("a\\'; DROP ROLE x; --"), "E'a\\\\''; DROP ROLE x; --'");
    assert.throws(() => quoteLiteral("a\0"), /NUL/);
  });
});
