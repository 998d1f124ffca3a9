import assert from "node:assert/strict";
import {
  checkViewQuery,
  grantNames,
  hardenDatabaseStatements,
  readGrantPlan,
  revokeReadGrantPlan,
  revokeStorageGrantPlan,
  storageGrantPlan,
} from "./postgresGrant.ts";
import { scramSha256Verifier } from "./scram.ts";

const verifier = scramSha256Verifier("s3cret-Password", Buffer.alloc(16, 3));
const names = grantNames("team-a/orders-read");

describe("grantNames", () => {
  it("is deterministic, lower-case, prefixed and within PostgreSQL's 63 bytes", () => {
    assert.deepEqual(grantNames("team-a/orders-read"), names);
    assert.match(names.role, /^archipel_g_team_a_orders_read_[0-9a-f]{12}$/);
    assert.equal(names.schema, names.role);
    const long = grantNames(`ns/${"x".repeat(300)}`);
    assert.ok(Buffer.byteLength(long.role) <= 63, long.role);
  });

  it("never gives two keys the same name, even when their slugs collide or are truncated", () => {
    assert.notEqual(grantNames("a/b-c").role, grantNames("a/b_c").role);
    assert.notEqual(grantNames(`ns/${"x".repeat(300)}1`).role, grantNames(`ns/${"x".repeat(300)}2`).role);
    assert.match(grantNames("///").role, /^archipel_g_[0-9a-f]{12}$/);
    assert.throws(() => grantNames(""), /must not be empty/);
  });
});

describe("checkViewQuery", () => {
  it("accepts one SELECT-like statement, without a trailing ';'", () => {
    assert.equal(checkViewQuery("  SELECT id FROM t;  "), "SELECT id FROM t");
    assert.equal(checkViewQuery("with x as (select 1) select * from x"), "with x as (select 1) select * from x");
    assert.equal(checkViewQuery("(SELECT 1) UNION (SELECT 2)"), "(SELECT 1) UNION (SELECT 2)");
  });

  it("refuses several statements and anything that is not a query", () => {
    assert.throws(() => checkViewQuery("SELECT 1; DROP TABLE t"), /single SELECT statement/);
    assert.throws(() => checkViewQuery("SELECT ';'"), /single SELECT statement/);
    assert.throws(() => checkViewQuery("DELETE FROM t RETURNING *"), /must start with SELECT/);
    assert.throws(() => checkViewQuery("   ;"), /empty/);
  });
});

describe("readGrantPlan", () => {
  it("creates a login role with only a SCRAM verifier, an expiry and a connection limit", () => {
    const plan = readGrantPlan({
      names,
      database: "shop",
      passwordVerifier: verifier,
      validUntil: new Date("2030-01-02T03:04:05Z"),
      source: { kind: "table", schema: "public", table: "orders" },
    });
    const role = `"${names.role}"`;
    assert.equal(
      plan.createRole,
      `CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS ` +
        `CONNECTION LIMIT 10 PASSWORD '${verifier}' VALID UNTIL '2030-01-02T03:04:05.000Z'`,
    );
    assert.equal(plan.alterRole, plan.createRole.replace(`CREATE ROLE ${role} `, `ALTER ROLE ${role} WITH `));
    assert.ok(!plan.createRole.includes("s3cret"), "the plain password never appears");
  });

  it("resets the role's privileges, then grants CONNECT, USAGE on its schema and SELECT on its view only", () => {
    const plan = readGrantPlan({
      names,
      database: "shop",
      passwordVerifier: verifier,
      source: { kind: "table", schema: "public", table: "orders", columns: ["id", "total"] },
    });
    const r = `"${names.role}"`;
    const s = `"${names.schema}"`;
    assert.deepEqual(plan.view, { schema: names.schema, name: "data" });
    assert.deepEqual(plan.statements, [
      `DROP OWNED BY ${r}`,
      `GRANT CONNECT ON DATABASE "shop" TO ${r}`,
      `CREATE SCHEMA IF NOT EXISTS ${s}`,
      `REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`,
      `GRANT USAGE ON SCHEMA ${s} TO ${r}`,
      `DROP VIEW IF EXISTS ${s}."data"`,
      `CREATE VIEW ${s}."data" AS SELECT "id", "total" FROM "public"."orders"`,
      `REVOKE ALL ON TABLE ${s}."data" FROM PUBLIC`,
      `GRANT SELECT ON TABLE ${s}."data" TO ${r}`,
      `ALTER ROLE ${r} SET search_path TO ${s}`,
      `ALTER ROLE ${r} SET default_transaction_read_only TO on`,
    ]);
    assert.match(plan.createRole, /VALID UNTIL 'infinity'$/);
    const grants = plan.statements.filter((s) => s.startsWith("GRANT"));
    assert.equal(grants.length, 3, "no privilege beyond CONNECT, USAGE and SELECT on the view");
  });

  it("quotes hostile table, column and database names instead of running them", () => {
    const plan = readGrantPlan({
      names,
      database: 'db"; DROP DATABASE x; --',
      passwordVerifier: verifier,
      viewName: 'v"x',
      source: { kind: "table", schema: 'sch"', table: 't"; DELETE FROM y; --', columns: ['c"1'] },
    });
    assert.ok(plan.statements.includes(`GRANT CONNECT ON DATABASE "db""; DROP DATABASE x; --" TO "${names.role}"`));
    assert.ok(
      plan.statements.includes(`CREATE VIEW "${names.schema}"."v""x" AS SELECT "c""1" FROM "sch"""."t""; DELETE FROM y; --"`),
      plan.statements.join("\n"),
    );
  });

  it("builds a view over a checked query", () => {
    const plan = readGrantPlan({
      names,
      database: "shop",
      passwordVerifier: verifier,
      source: { kind: "query", sql: "SELECT id FROM public.orders WHERE total > 10;" },
    });
    assert.ok(plan.statements.includes(`CREATE VIEW "${names.schema}"."data" AS SELECT id FROM public.orders WHERE total > 10`));
    assert.throws(
      () => readGrantPlan({ names, database: "shop", passwordVerifier: verifier, source: { kind: "query", sql: "SELECT 1; DROP TABLE t" } }),
      /single SELECT/,
    );
  });

  it("refuses a plain password and a bad connection limit", () => {
    const source = { kind: "table", schema: "public", table: "t" } as const;
    assert.throws(() => readGrantPlan({ names, database: "d", passwordVerifier: "plain", source }), /SCRAM-SHA-256 verifier/);
    assert.throws(
      () => readGrantPlan({ names, database: "d", passwordVerifier: verifier, connectionLimit: 0, source }),
      /connectionLimit must be a positive integer/,
    );
  });
});

describe("storageGrantPlan", () => {
  it("gives the role USAGE and CREATE on a provider-owned schema of its own, and nothing else", () => {
    const plan = storageGrantPlan({ names, database: "results", passwordVerifier: verifier, connectionLimit: 3 });
    const r = `"${names.role}"`;
    const s = `"${names.schema}"`;
    assert.equal(plan.view, undefined);
    assert.match(plan.createRole, /CONNECTION LIMIT 3 /);
    assert.deepEqual(plan.statements, [
      `GRANT CONNECT ON DATABASE "results" TO ${r}`,
      `CREATE SCHEMA IF NOT EXISTS ${s}`,
      `REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`,
      `GRANT USAGE, CREATE ON SCHEMA ${s} TO ${r}`,
      `ALTER ROLE ${r} SET search_path TO ${s}`,
    ]);
    assert.ok(!plan.statements.some((st) => /AUTHORIZATION/.test(st)), "the grantee does not own its schema");
  });

  it("in the Resource's shared schema, leaves the schema's other privileges alone", () => {
    const shared = { role: names.role, schema: "results" };
    const plan = storageGrantPlan({ names: shared, database: "results", passwordVerifier: verifier, sharedSchema: true });
    assert.deepEqual(plan.statements, [
      `GRANT CONNECT ON DATABASE "results" TO "${names.role}"`,
      `CREATE SCHEMA IF NOT EXISTS "results"`,
      `GRANT USAGE, CREATE ON SCHEMA "results" TO "${names.role}"`,
      `ALTER ROLE "${names.role}" SET search_path TO "results"`,
    ]);
  });

  it("refuses system schemas", () => {
    for (const schema of ["pg_catalog", "pg_toast", "information_schema"]) {
      assert.throws(
        () => storageGrantPlan({ names: { role: names.role, schema }, database: "d", passwordVerifier: verifier, sharedSchema: true }),
        /system schema/,
      );
    }
  });
});

describe("revoke plans and hardenDatabaseStatements", () => {
  const r = `"${names.role}"`;
  const dropSchema = `DROP SCHEMA IF EXISTS "${names.schema}" CASCADE`;

  it("a read grant: disables login first, then drops the view's schema, the role's privileges and the role", () => {
    const plan = revokeReadGrantPlan(names);
    assert.equal(plan.disableLogin, `ALTER ROLE ${r} NOLOGIN`);
    assert.deepEqual(plan.whenRoleExists, [dropSchema, `DROP OWNED BY ${r}`, `DROP ROLE ${r}`]);
    assert.deepEqual(plan.always, [dropSchema]);
  });

  it("a storage grant: keeps the tables it wrote (handed to the provider) unless asked to remove them", () => {
    assert.deepEqual(revokeStorageGrantPlan(names).whenRoleExists, [`REASSIGN OWNED BY ${r} TO CURRENT_USER`, `DROP OWNED BY ${r}`, `DROP ROLE ${r}`]);
    assert.deepEqual(revokeStorageGrantPlan(names).always, []);
    assert.deepEqual(revokeStorageGrantPlan(names, { removeData: true }).whenRoleExists, [dropSchema, `DROP OWNED BY ${r}`, `DROP ROLE ${r}`]);
    assert.deepEqual(revokeStorageGrantPlan(names, { removeData: true }).always, [dropSchema]);
  });

  it("a storage grant in a shared schema: removing data drops the role's own tables, never the schema", () => {
    const plan = revokeStorageGrantPlan(names, { sharedSchema: true, removeData: true });
    assert.deepEqual(plan.whenRoleExists, [`DROP OWNED BY ${r}`, `DROP ROLE ${r}`]);
    assert.deepEqual(plan.always, []);
  });

  it("revokes PUBLIC's write paths on the database", () => {
    assert.deepEqual(hardenDatabaseStatements("shop"), [
      "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
      'REVOKE TEMPORARY ON DATABASE "shop" FROM PUBLIC',
    ]);
  });
});
