import assert from "node:assert/strict";
import {
  checkViewQuery,
  grantNames,
  type HardeningRow,
  hardeningViolations,
  readGrantPlan,
  revokeReadGrantPlan,
  revokeStorageGrantPlan,
  storageGrantPlan,
  viewOwnerRole,
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

  it("refuses several statements, comments, system catalogs and anything that is not a query, naming the field", () => {
    assert.throws(() => checkViewQuery("SELECT 1; DROP TABLE t"), /^SqlSpecError: spec\.data\.postgres\.query: must be a single statement/);
    assert.throws(() => checkViewQuery("SELECT 1 -- x"), /spec\.data\.postgres\.query: must not contain comments/);
    assert.throws(() => checkViewQuery("SELECT rolpassword FROM pg_authid"), /spec\.data\.postgres\.query: names "pg_authid"/);
    assert.throws(() => checkViewQuery("DELETE FROM t RETURNING *"), /must only read: DELETE/);
    assert.throws(() => checkViewQuery("DROP TABLE t"), /must start with SELECT/);
    assert.throws(() => checkViewQuery("   ;"), /empty/);
    assert.equal(checkViewQuery("SELECT ';' AS semicolon"), "SELECT ';' AS semicolon", "a ';' inside a literal is no second statement");
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

  it("resets both roles' privileges, revokes PUBLIC's defaults, then grants CONNECT, USAGE on its schema and SELECT on its view only", () => {
    const plan = readGrantPlan({
      names,
      database: "shop",
      passwordVerifier: verifier,
      source: { kind: "table", schema: "public", table: "orders", columns: ["id", "total"] },
    });
    const r = `"${names.role}"`;
    const o = `"${viewOwnerRole(names)}"`;
    const s = `"${names.schema}"`;
    assert.deepEqual(plan.view, { schema: names.schema, name: "data" });
    assert.deepEqual(plan.viewOwner, {
      role: viewOwnerRole(names),
      createRole: `CREATE ROLE ${o} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS`,
      alterRole: `ALTER ROLE ${o} WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS`,
    });
    const [revokePublic, ...rest] = plan.statements.slice(2);
    assert.deepEqual(plan.statements.slice(0, 2), [`DROP OWNED BY ${r}`, `DROP OWNED BY ${o}`]);
    assert.match(revokePublic!, /^DO \$archipel\$/);
    for (const part of ["REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC", "REVOKE CREATE ON SCHEMA public FROM PUBLIC", "REVOKE CONNECT ON DATABASE %I FROM PUBLIC"]) {
      assert.ok(revokePublic!.includes(part), part);
    }
    assert.deepEqual(rest, [
      `GRANT CONNECT ON DATABASE "shop" TO ${r}`,
      `CREATE SCHEMA IF NOT EXISTS ${s}`,
      `REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`,
      `GRANT USAGE ON SCHEMA ${s} TO ${r}`,
      `GRANT USAGE ON SCHEMA "public" TO ${o}`,
      `GRANT SELECT ON TABLE "public"."orders" TO ${o}`,
      `DROP VIEW IF EXISTS ${s}."data"`,
      `SET LOCAL search_path TO "public"`,
      `CREATE VIEW ${s}."data" AS SELECT "id", "total" FROM "public"."orders"`,
      `ALTER VIEW ${s}."data" OWNER TO ${o}`,
      `REVOKE ALL ON TABLE ${s}."data" FROM PUBLIC`,
      `GRANT SELECT ON TABLE ${s}."data" TO ${r}`,
      `ALTER ROLE ${r} SET search_path TO ${s}`,
      `ALTER ROLE ${r} SET default_transaction_read_only TO on`,
    ]);
    assert.match(plan.createRole, /VALID UNTIL 'infinity'$/);
    const grantsToGrantee = plan.statements.filter((st) => st.startsWith("GRANT") && st.endsWith(`TO ${r}`));
    assert.equal(grantsToGrantee.length, 3, "no privilege beyond CONNECT, USAGE and SELECT on the view");
    assert.deepEqual(plan.hardeningCheck.values, [names.role, names.schema]);
  });

  it("refuses a table outside the Provider's schemas, and system schemas even when declared", () => {
    const spec = { names, database: "shop", passwordVerifier: verifier };
    assert.throws(() => readGrantPlan({ ...spec, source: { kind: "table", schema: "pg_catalog", table: "pg_authid" } }), /spec\.data\.postgres\.table\.schema: "pg_catalog" is a system schema/);
    assert.throws(() => readGrantPlan({ ...spec, source: { kind: "table", schema: "information_schema", table: "tables" } }), /system schema/);
    assert.throws(() => readGrantPlan({ ...spec, source: { kind: "table", schema: "hr", table: "salaries" } }), /schema "hr" is not one the Provider allows \(public\)/);
    assert.throws(() => readGrantPlan({ ...spec, allowedSchemas: ["pg_toast"], source: { kind: "table", schema: "pg_toast", table: "x" } }), /Provider spec\.data\.postgres\.schemas: "pg_toast" is a system schema/);
    const hr = readGrantPlan({ ...spec, allowedSchemas: ["hr"], source: { kind: "table", schema: "hr", table: "salaries" } });
    assert.ok(hr.statements.includes(`GRANT SELECT ON TABLE "hr"."salaries" TO "${viewOwnerRole(names)}"`));
  });

  it("a query's view owner reads the allowed schemas only, and unqualified names resolve there", () => {
    const plan = readGrantPlan({ names, database: "shop", passwordVerifier: verifier, allowedSchemas: ["sales", "geo"], source: { kind: "query", sql: "SELECT 1 AS one" } });
    const o = `"${viewOwnerRole(names)}"`;
    const ownerGrants = plan.statements.filter((st) => st.startsWith("GRANT") && st.endsWith(`TO ${o}`));
    assert.deepEqual(ownerGrants, [
      `GRANT USAGE ON SCHEMA "sales" TO ${o}`,
      `GRANT SELECT ON ALL TABLES IN SCHEMA "sales" TO ${o}`,
      `GRANT USAGE ON SCHEMA "geo" TO ${o}`,
      `GRANT SELECT ON ALL TABLES IN SCHEMA "geo" TO ${o}`,
    ]);
    assert.ok(plan.statements.includes(`SET LOCAL search_path TO "sales", "geo"`));
  });

  it("quotes hostile table, column and database names instead of running them", () => {
    const plan = readGrantPlan({
      names,
      database: 'db"; DROP DATABASE x; --',
      passwordVerifier: verifier,
      viewName: 'v"x',
      allowedSchemas: ['sch"'],
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
      /spec\.data\.postgres\.query: must be a single statement/,
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
    assert.match(plan.statements[0]!, /^DO \$archipel\$[\s\S]*REVOKE TEMPORARY ON DATABASE/);
    assert.deepEqual(plan.statements.slice(1), [
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
    assert.deepEqual(plan.statements.slice(1), [
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

describe("revoke plans", () => {
  const r = `"${names.role}"`;
  const dropSchema = `DROP SCHEMA IF EXISTS "${names.schema}" CASCADE`;

  it("a read grant: disables login first, then drops the view's schema, the role's privileges, the role and the view's owner", () => {
    const plan = revokeReadGrantPlan(names);
    assert.equal(plan.disableLogin, `ALTER ROLE ${r} NOLOGIN`);
    const dropOwner = plan.always.at(-1)!;
    assert.match(dropOwner, new RegExp(`DROP OWNED BY "${viewOwnerRole(names)}";\\s+DROP ROLE "${viewOwnerRole(names)}";`));
    assert.deepEqual(plan.whenRoleExists, [dropSchema, `DROP OWNED BY ${r}`, `DROP ROLE ${r}`, dropOwner]);
    assert.deepEqual(plan.always, [dropSchema, dropOwner]);
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

});

describe("hardeningViolations", () => {
  const clean: HardeningRow = {
    temporary: false,
    create_database: false,
    create_public: false,
    create_own_schema: false,
    attributes: false,
    unlimited_connections: false,
    other_databases: [],
  };

  it("is empty for a role that holds nothing beyond its grant", () => {
    assert.deepEqual(hardeningViolations(clean), []);
  });

  it("names every privilege the role must not keep, without naming other databases", () => {
    const row = { ...clean, temporary: true, create_public: true, create_own_schema: true, other_databases: ["postgres", "billing"] };
    assert.deepEqual(hardeningViolations(row), ["TEMPORARY on the database", "CREATE on schema public", "CREATE on its view's schema", "CONNECT on 2 other database(s)"]);
    assert.deepEqual(hardeningViolations({ ...clean, attributes: true, unlimited_connections: true, create_database: true }).length, 3);
    assert.deepEqual(hardeningViolations(undefined), ["the role does not exist"]);
    assert.deepEqual(hardeningViolations({ ...clean, create_own_schema: true }, true), [], "a storage grant creates in its schema");
  });
});

describe("viewOwnerRole", () => {
  it("is the grant role's name with its own prefix, within 63 bytes", () => {
    assert.equal(viewOwnerRole(names), names.role.replace(/^archipel_g_/, "archipel_v_"));
    const long = grantNames(`ns/${"x".repeat(300)}`);
    assert.ok(Buffer.byteLength(viewOwnerRole(long)) <= 63);
    assert.throws(() => viewOwnerRole({ role: "postgres", schema: "public" }), /not made by grantNames/);
  });
});
