import assert from "node:assert/strict";
import { allowedReadSchemas, checkReadSchema, checkSelectQuery, defaultReadSchemas, isSystemSchema, SqlSpecError } from "./sqlCheck.ts";

const field = "spec.data.postgres.query";

function refused(sql: string, pattern: RegExp): void {
  assert.throws(
    () => checkSelectQuery(sql, field),
    (err: unknown) => {
      assert.ok(err instanceof SqlSpecError, String(err));
      assert.equal(err.field, field);
      assert.match(err.message, /^spec\.data\.postgres\.query: /);
      assert.match(err.message, pattern);
      return true;
    },
    sql,
  );
}

describe("checkSelectQuery", () => {
  it("accepts one SELECT, WITH, VALUES or TABLE statement and drops a final ';'", () => {
    assert.equal(checkSelectQuery("  SELECT id, total FROM public.orders WHERE total > 10;  ", field), "SELECT id, total FROM public.orders WHERE total > 10");
    assert.equal(checkSelectQuery("with t as (select 1 as x) select x from t", field), "with t as (select 1 as x) select x from t");
    assert.equal(checkSelectQuery("VALUES (1), (2)", field), "VALUES (1), (2)");
    assert.equal(checkSelectQuery("TABLE orders", field), "TABLE orders");
    assert.equal(checkSelectQuery("(SELECT 1) UNION (SELECT 2)", field), "(SELECT 1) UNION (SELECT 2)");
  });

  it("keeps what only looks like a comment or a second statement inside quotes", () => {
    const sql = `SELECT 'a -- b; c /* d */' AS "x; -- y", E'it\\'s; --', $$; DROP TABLE t; --$$, $q$;$q$ FROM orders`;
    assert.equal(checkSelectQuery(sql, field), sql);
    assert.equal(checkSelectQuery("SELECT 'it''s' AS a, 1-2 AS b, 4/2 AS c, x::text FROM t", field), "SELECT 'it''s' AS a, 1-2 AS b, 4/2 AS c, x::text FROM t");
  });

  it("refuses comments, wherever they are", () => {
    refused("SELECT 1 -- trailing", /comments \(-- at character 10\)/);
    refused("SELECT /* hidden */ 1", /comments \(\/\* at character 8\)/);
    refused("SELECT 1+--2\n3", /comments/);
    refused("SELECT 1 /*", /comments/);
  });

  it("refuses a second statement", () => {
    refused("SELECT 1; DROP TABLE orders", /single statement/);
    refused("SELECT 1;;", /single statement/);
    // E'' honours the backslash: the quote after it is escaped, the string ends at the next one.
    refused("SELECT E'\\''; DROP TABLE orders", /single statement/);
    refused("SELECT E'\\''; DROP TABLE orders; --'", /unterminated quote/);
  });

  it("refuses system catalogs, schemas and pg_* functions, quoted or not, in any case", () => {
    refused("SELECT * FROM pg_catalog.pg_authid", /"pg_catalog"/);
    refused("SELECT rolpassword FROM pg_authid", /"pg_authid"/);
    refused("SELECT * FROM information_schema.tables", /"information_schema"/);
    refused('SELECT * FROM "PG_CATALOG"."pg_class"', /system catalogs/);
    refused("SELECT * FROM PG_Toast.x", /"pg_toast"/);
    refused("SELECT pg_read_file('/etc/passwd')", /"pg_read_file"/);
    refused('SELECT U&"pg_authid" FROM t', /"pg_authid"/);
  });

  it("refuses statements that write, copy or lock, and bind parameters", () => {
    refused("WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", /must only read: DELETE/);
    refused("SELECT * INTO copy_of_orders FROM orders", /INTO/);
    refused("SELECT * FROM orders FOR UPDATE", /UPDATE/);
    refused("SELECT * FROM orders WHERE id = $1", /parameters \(\$1\)/);
  });

  it("refuses what is not a query, is empty, or cannot be read", () => {
    refused("DROP TABLE orders", /must start with SELECT/);
    refused("EXPLAIN SELECT 1", /must start with SELECT/);
    refused('"select" 1', /must start with SELECT/);
    refused("   ;", /is empty/);
    refused("", /is empty/);
    refused("SELECT 'unterminated", /unterminated quote/);
    refused("SELECT $$unterminated", /unterminated quote/);
  });
});

describe("read schemas", () => {
  it("default to public when the Provider declares none", () => {
    assert.deepEqual(allowedReadSchemas(undefined, "spec.data.postgres.schemas"), ["public"]);
    assert.deepEqual(allowedReadSchemas([], "spec.data.postgres.schemas"), [...defaultReadSchemas]);
    assert.deepEqual(allowedReadSchemas(["sales", "sales", "geo"], "spec.data.postgres.schemas"), ["sales", "geo"]);
  });

  it("a Provider cannot open a system schema", () => {
    assert.throws(() => allowedReadSchemas(["public", "pg_catalog"], "spec.data.postgres.schemas"), /spec\.data\.postgres\.schemas: "pg_catalog" is a system schema/);
    assert.throws(() => allowedReadSchemas(["information_schema"], "spec.data.postgres.schemas"), /system schema/);
  });

  it("a table Resource's schema is refused when it is a system schema or not allowed", () => {
    const f = "spec.data.postgres.table.schema";
    assert.equal(checkReadSchema("public", ["public"], f), "public");
    assert.throws(() => checkReadSchema("pg_catalog", ["public"], f), /^SqlSpecError: spec\.data\.postgres\.table\.schema: "pg_catalog" is a system schema/);
    assert.throws(() => checkReadSchema("pg_toast", ["public", "pg_toast"], f), /system schema/);
    assert.throws(() => checkReadSchema("information_schema", ["public"], f), /system schema/);
    assert.throws(() => checkReadSchema("billing", ["public"], f), /schema "billing" is not one the Provider allows \(public\)/);
  });

  it("isSystemSchema knows the reserved names", () => {
    for (const s of ["pg_catalog", "pg_toast", "pg_temp_3", "pg_anything", "information_schema", "PG_CATALOG"]) assert.equal(isSystemSchema(s), true, s);
    for (const s of ["public", "sales", "pgx", "info"]) assert.equal(isSystemSchema(s), false, s);
  });
});
