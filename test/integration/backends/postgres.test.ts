// Grants on a real PostgreSQL (hack/postgres): what the database itself allows the granted
// credentials to do, asserted through PostgreSQL's error codes.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import pg from "pg";
import {
  type GrantCredentials,
  type PostgresAdmin,
  applyGrantPlan,
  applyRevokePlan,
  credentialsUrl,
  grantCredentials,
  newGrantPassword,
  roleExists,
} from "../../../operators/catalog/backends/postgresClient.ts";
import {
  type GrantNames,
  type ReadSource,
  grantNames,
  readGrantPlan,
  revokeReadGrantPlan,
  revokeStorageGrantPlan,
  storageGrantPlan,
} from "../../../operators/catalog/backends/postgresGrant.ts";
import { BackendError, BackendReason } from "../../../operators/catalog/backends/postgresErrors.ts";
import { type TestPostgres, startPostgres } from "../../support/postgres.ts";

const insufficientPrivilege = "42501";
const invalidPassword = "28P01";
const wrongObjectType = "42809";
const syntaxError = "42601";
const adminShutdown = "57P01";

/** The SQLSTATE of a server error (the grantee's client) or of a BackendError (the executor's, which maps it). */
function rejectsWithCode(code: string): (err: unknown) => boolean {
  return (err: unknown) => {
    const e = err as { code?: string; sqlstate?: string };
    assert.equal(e instanceof BackendError ? e.sqlstate : e.code, code, `expected SQLSTATE ${code}, got: ${String(err)}`);
    return true;
  };
}

async function connect(c: GrantCredentials): Promise<pg.Client> {
  const client = new pg.Client({ host: c.host, port: c.port, database: c.database, user: c.user, password: c.password });
  await client.connect();
  return client;
}

async function withGrantee<T>(c: GrantCredentials, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(c);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe("PostgreSQL grants (real server)", function () {
  this.timeout(60_000);
  let server: TestPostgres;
  let admin: PostgresAdmin;
  let database: string;
  let adminClient: pg.Client;

  async function grantRead(key: string, source: ReadSource, validUntil?: Date): Promise<{ names: GrantNames; creds: GrantCredentials }> {
    const names = grantNames(key);
    const { password, verifier } = newGrantPassword();
    const plan = readGrantPlan({ names, database, passwordVerifier: verifier, source, validUntil });
    await applyGrantPlan(admin, plan);
    return { names, creds: grantCredentials({ host: server.host, port: server.port, database }, names, password, plan.view?.name) };
  }

  before(async function () {
    this.timeout(120_000);
    server = await startPostgres(`it-backends-${process.pid}`);
    database = `shop_${randomBytes(3).toString("hex")}`;
    const root = new pg.Client({ connectionString: server.url });
    await root.connect();
    await root.query(`CREATE DATABASE ${database}`);
    await root.end();
    admin = { host: server.host, port: server.port, database, user: server.superuser, password: server.password };
    adminClient = new pg.Client(admin);
    await adminClient.connect();
    await adminClient.query(`
      CREATE TABLE public.orders (id int PRIMARY KEY, customer text, total numeric);
      INSERT INTO public.orders VALUES (1, 'ada', 12.5), (2, 'bob', 99), (3, 'cy', 3);
      CREATE TABLE public.salaries (name text, amount int);
      INSERT INTO public.salaries VALUES ('ada', 100);
      CREATE TABLE public."weird""; DROP TABLE orders; --" (v int);
      INSERT INTO public."weird""; DROP TABLE orders; --" VALUES (7);
    `);
  });

  after(async function () {
    this.timeout(60_000);
    await adminClient?.end().catch(() => undefined);
    await server?.stop();
  });

  it("a read grant on a table creates the role and the view; the credentials can SELECT the view", async () => {
    const { names, creds } = await grantRead("ns/orders-read", { kind: "table", schema: "public", table: "orders" });
    assert.equal(await roleExists(admin, names.role), true);
    const views = await adminClient.query("SELECT viewname FROM pg_views WHERE schemaname = $1", [names.schema]);
    assert.deepEqual(views.rows, [{ viewname: "data" }]);
    await withGrantee(creds, async (c) => {
      const rows = await c.query("SELECT id, customer FROM data ORDER BY id");
      assert.deepEqual(rows.rows, [
        { id: 1, customer: "ada" },
        { id: 2, customer: "bob" },
        { id: 3, customer: "cy" },
      ]);
      const qualified = await c.query(`SELECT count(*)::int AS n FROM "${names.schema}".data`);
      assert.equal(qualified.rows[0].n, 3);
    });
    const viaUrl = new pg.Client({ connectionString: credentialsUrl(creds) });
    await viaUrl.connect();
    assert.equal((await viaUrl.query("SELECT count(*)::int AS n FROM data")).rows[0].n, 3);
    await viaUrl.end();
  });

  it("the read credentials cannot INSERT, UPDATE or DELETE through the view, even with read-only turned off", async () => {
    const { creds } = await grantRead("ns/orders-write-attempt", { kind: "table", schema: "public", table: "orders" });
    await withGrantee(creds, async (c) => {
      // Read-only transactions are the role's default, but only a default the session can turn off:
      // the privileges are what forbid writes.
      assert.equal((await c.query("SHOW default_transaction_read_only")).rows[0].default_transaction_read_only, "on");
      await c.query("SET default_transaction_read_only = off");
      await assert.rejects(c.query("INSERT INTO data VALUES (4, 'eve', 1)"), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query("UPDATE data SET total = 0"), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query("DELETE FROM data"), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query("TRUNCATE data"), rejectsWithCode(wrongObjectType));
      await assert.rejects(c.query("TRUNCATE public.orders"), rejectsWithCode(insufficientPrivilege));
    });
    const count = await adminClient.query("SELECT count(*)::int AS n FROM public.orders");
    assert.equal(count.rows[0].n, 3);
  });

  it("the read credentials cannot read or write the base table, other tables, or create objects", async () => {
    const { names, creds } = await grantRead("ns/orders-escape", { kind: "table", schema: "public", table: "orders" });
    await withGrantee(creds, async (c) => {
      await c.query("SET default_transaction_read_only = off");
      await assert.rejects(c.query("SELECT * FROM public.orders"), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query("SELECT * FROM public.salaries"), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query("INSERT INTO public.orders VALUES (5, 'x', 1)"), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query("CREATE TABLE public.mine (x int)"), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query(`CREATE TABLE "${names.schema}".mine (x int)`), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query(`CREATE VIEW "${names.schema}".v2 AS SELECT 1`), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query(`DROP VIEW "${names.schema}".data`), rejectsWithCode(insufficientPrivilege));
      // Without the grant option PostgreSQL only warns "no privileges were granted".
      await c.query(`GRANT SELECT ON "${names.schema}".data TO PUBLIC`);
    });
    const acl = await adminClient.query("SELECT relacl::text AS acl FROM pg_class WHERE oid = $1::regclass", [`"${names.schema}".data`]);
    assert.doesNotMatch(String(acl.rows[0].acl), /[{,]=/, "PUBLIC holds no privilege on the view");
  });

  it("a read grant over a query shows only the query's rows and columns", async () => {
    const { creds } = await grantRead("ns/big-orders", { kind: "query", sql: "SELECT id, total FROM public.orders WHERE total > 10;" });
    await withGrantee(creds, async (c) => {
      const rows = await c.query("SELECT * FROM data ORDER BY id");
      assert.deepEqual(rows.fields.map((f) => f.name), ["id", "total"]);
      assert.deepEqual(rows.rows.map((r) => r.id), [1, 2]);
    });
  });

  it("a table whose name is an injection attempt is quoted, not run", async () => {
    const { creds } = await grantRead("ns/weird", { kind: "table", schema: "public", table: 'weird"; DROP TABLE orders; --' });
    await withGrantee(creds, async (c) => {
      assert.deepEqual((await c.query("SELECT v FROM data")).rows, [{ v: 7 }]);
    });
    assert.equal((await adminClient.query("SELECT to_regclass('public.orders') IS NOT NULL AS ok")).rows[0].ok, true);
  });

  it("the executor runs one statement per call and all or nothing: a smuggled second statement fails the whole grant", async () => {
    const names = grantNames("ns/smuggled");
    const plan = readGrantPlan({ names, database, passwordVerifier: newGrantPassword().verifier, source: { kind: "table", schema: "public", table: "orders" } });
    plan.statements.push("SELECT 1; DROP TABLE public.orders");
    await assert.rejects(applyGrantPlan(admin, plan), rejectsWithCode(syntaxError));
    assert.equal((await adminClient.query("SELECT to_regclass('public.orders') IS NOT NULL AS ok")).rows[0].ok, true);
    assert.equal(await roleExists(admin, names.role), false, "the role created earlier in the transaction is rolled back");
  });

  it("re-applying converges: a new password replaces the old one and privileges granted by hand are revoked", async () => {
    const key = "ns/rotate";
    const first = await grantRead(key, { kind: "table", schema: "public", table: "orders" });
    await adminClient.query(`GRANT SELECT ON public.salaries TO "${first.names.role}"`);
    await withGrantee(first.creds, async (c) => {
      assert.equal((await c.query("SELECT count(*)::int AS n FROM public.salaries")).rows[0].n, 1, "drift is in place");
    });
    const second = await grantRead(key, { kind: "table", schema: "public", table: "orders" });
    await assert.rejects(connect(first.creds), rejectsWithCode(invalidPassword));
    await withGrantee(second.creds, async (c) => {
      assert.equal((await c.query("SELECT count(*)::int AS n FROM data")).rows[0].n, 3);
      await assert.rejects(c.query("SELECT * FROM public.salaries"), rejectsWithCode(insufficientPrivilege));
    });
  });

  it("a grant alone leaves its role no TEMPORARY, no CREATE on public or the database, no CONNECT to other databases", async () => {
    // What PUBLIC holds on a fresh server (and CREATE on public, as before PostgreSQL 15).
    await adminClient.query("GRANT CREATE ON SCHEMA public TO PUBLIC");
    await adminClient.query(`GRANT TEMPORARY ON DATABASE ${database} TO PUBLIC`);
    await adminClient.query("GRANT CONNECT ON DATABASE postgres TO PUBLIC");
    const { names, creds } = await grantRead("ns/hardened", { kind: "table", schema: "public", table: "orders" });
    await withGrantee(creds, async (c) => {
      await c.query("SET default_transaction_read_only = off");
      await assert.rejects(c.query("CREATE TEMPORARY TABLE scratch (x int)"), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query("CREATE TABLE public.mine (x int)"), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query("CREATE SCHEMA mine"), rejectsWithCode(insufficientPrivilege));
      assert.equal((await c.query("SELECT count(*)::int AS n FROM data")).rows[0].n, 3, "the grant itself works");
    });
    await assert.rejects(connect({ ...creds, database: "postgres" }), rejectsWithCode(insufficientPrivilege));
    await assert.rejects(connect({ ...creds, database: "template1" }), rejectsWithCode(insufficientPrivilege));
    const role = await adminClient.query(
      "SELECT rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls, rolconnlimit FROM pg_roles WHERE rolname = $1",
      [names.role],
    );
    assert.deepEqual(role.rows[0], { rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolinherit: false, rolreplication: false, rolbypassrls: false, rolconnlimit: 10 });
  });

  it("a storage grant's role is hardened the same way: its schema only", async () => {
    const names = grantNames("ns/storage-hardened");
    const { password, verifier } = newGrantPassword();
    await applyGrantPlan(admin, storageGrantPlan({ names, database, passwordVerifier: verifier }));
    const creds = grantCredentials({ host: server.host, port: server.port, database }, names, password);
    await withGrantee(creds, async (c) => {
      await c.query("CREATE TABLE mine (x int)");
      await assert.rejects(c.query("CREATE TEMPORARY TABLE scratch (x int)"), rejectsWithCode(insufficientPrivilege));
      await assert.rejects(c.query("CREATE TABLE public.mine (x int)"), rejectsWithCode(insufficientPrivilege));
    });
    await assert.rejects(connect({ ...creds, database: "postgres" }), rejectsWithCode(insufficientPrivilege));
    await applyRevokePlan(admin, revokeStorageGrantPlan(names, { removeData: true }));
  });

  it("a read grant refuses system schemas and schemas the Provider does not declare, before touching the database", async () => {
    const names = grantNames("ns/system");
    const base = { names, database, passwordVerifier: newGrantPassword().verifier };
    assert.throws(() => readGrantPlan({ ...base, source: { kind: "table", schema: "pg_catalog", table: "pg_authid" } }), /spec\.data\.postgres\.table\.schema: "pg_catalog" is a system schema/);
    assert.throws(() => readGrantPlan({ ...base, source: { kind: "table", schema: "information_schema", table: "tables" } }), /system schema/);
    assert.throws(() => readGrantPlan({ ...base, source: { kind: "table", schema: "hr", table: "salaries" } }), /not one the Provider allows/);
    assert.throws(() => readGrantPlan({ ...base, source: { kind: "query", sql: "SELECT rolname, rolpassword FROM pg_authid" } }), /spec\.data\.postgres\.query: names "pg_authid"/);
    assert.throws(() => readGrantPlan({ ...base, source: { kind: "query", sql: "SELECT * FROM orders -- all of them" } }), /must not contain comments/);
    assert.equal(await roleExists(admin, names.role), false);
  });

  it("a query's view reads with its owner's rights, the allowed schemas only: not another schema", async () => {
    await adminClient.query("CREATE SCHEMA IF NOT EXISTS hr; CREATE TABLE IF NOT EXISTS hr.salaries (name text, amount int); INSERT INTO hr.salaries VALUES ('ada', 100)");
    // The text check passes (hr is an ordinary name); the database refuses, because the view's
    // owner is a role of the grant that may read the Provider's schemas only, not the admin.
    const other = await grantRead("ns/other-schema", { kind: "query", sql: "SELECT name, amount FROM hr.salaries" });
    await withGrantee(other.creds, (c) => assert.rejects(c.query("SELECT * FROM data"), rejectsWithCode(insufficientPrivilege)));
    // Declared by the Provider, the same schema is readable.
    const names = grantNames("ns/hr-allowed");
    const { password, verifier } = newGrantPassword();
    const plan = readGrantPlan({ names, database, passwordVerifier: verifier, allowedSchemas: ["public", "hr"], source: { kind: "query", sql: "SELECT name, amount FROM hr.salaries" } });
    await applyGrantPlan(admin, plan);
    const creds = grantCredentials({ host: server.host, port: server.port, database }, names, password, plan.view?.name);
    await withGrantee(creds, async (c) => assert.deepEqual((await c.query("SELECT * FROM data")).rows, [{ name: "ada", amount: 100 }]));
  });

  it("a failure reaches the caller as a reason and a message of ours, never the server's text", async () => {
    const names = grantNames("ns/missing-table");
    const plan = readGrantPlan({ names, database, passwordVerifier: newGrantPassword().verifier, source: { kind: "table", schema: "public", table: "nope_secret_table" } });
    await assert.rejects(applyGrantPlan(admin, plan), (err: unknown) => {
      assert.ok(err instanceof BackendError, String(err));
      assert.equal(err.reason, BackendReason.BackendObjectMissing);
      assert.equal(err.message, "issuing the grant: a table or view it names does not exist (SQLSTATE 42P01)");
      assert.doesNotMatch(String(err.stack), /nope_secret_table/);
      assert.match(err.detail, /nope_secret_table/, "the server's text is kept for a debug log");
      return true;
    });
    await assert.rejects(applyGrantPlan({ ...admin, password: "wrong" }, readGrantPlan({ ...plan, names, database, passwordVerifier: newGrantPassword().verifier, source: { kind: "table", schema: "public", table: "orders" } })), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.reason, BackendReason.BackendPermissionDenied);
      assert.doesNotMatch(err.message, new RegExp(server.superuser));
      return true;
    });
  });

  it("a lock held on the view by the grantee's open transaction fails the grant pass fast with BackendTimeout", async () => {
    const key = "ns/locked";
    const { creds } = await grantRead(key, { kind: "table", schema: "public", table: "orders" });
    const holder = await connect(creds);
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT count(*) FROM data"); // ACCESS SHARE on the view until the transaction ends
      const plan = readGrantPlan({ names: grantNames(key), database, passwordVerifier: newGrantPassword().verifier, source: { kind: "table", schema: "public", table: "orders" } });
      await assert.rejects(applyGrantPlan({ ...admin, lock_timeout: 200 }, plan), (err: unknown) => {
        assert.ok(err instanceof BackendError, String(err));
        assert.equal(err.reason, BackendReason.BackendTimeout);
        assert.equal(err.sqlstate, "55P03");
        return true;
      });
    } finally {
      await holder.end().catch(() => undefined);
    }
    await grantRead(key, { kind: "table", schema: "public", table: "orders" }); // the lock gone, the next pass converges
  });

  it("a host that accepts the connection and never answers makes connect time out (BackendTimeout)", async () => {
    const silent = net.createServer(() => undefined); // holds every socket open, says nothing
    const sockets: net.Socket[] = [];
    silent.on("connection", (s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const plan = readGrantPlan({ names: grantNames("ns/silent"), database, passwordVerifier: newGrantPassword().verifier, source: { kind: "table", schema: "public", table: "orders" } });
      await assert.rejects(applyGrantPlan({ ...admin, host: "127.0.0.1", port, connectionTimeoutMillis: 300 }, plan), (err: unknown) => {
        assert.ok(err instanceof BackendError, String(err));
        assert.equal(err.reason, BackendReason.BackendTimeout);
        return true;
      });
      await assert.rejects(roleExists({ ...admin, host: "127.0.0.1", port, connectionTimeoutMillis: 300 }, "x"), (err: unknown) => (err as BackendError).reason === BackendReason.BackendTimeout);
      assert.ok(sockets.length >= 2, "the client did reach the silent listener");
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("an expired grant no longer authenticates (VALID UNTIL)", async () => {
    const { creds } = await grantRead("ns/expired", { kind: "table", schema: "public", table: "orders" }, new Date(Date.now() - 60_000));
    await assert.rejects(connect(creds), rejectsWithCode(invalidPassword));
  });

  it("revoking a grant ends its sessions, drops role and view, and the credentials stop working", async () => {
    const { names, creds } = await grantRead("ns/to-revoke", { kind: "table", schema: "public", table: "orders" });
    const open = await connect(creds);
    open.on("error", () => undefined); // the server ends this session: expected
    assert.equal((await open.query("SELECT count(*)::int AS n FROM data")).rows[0].n, 3);

    await applyRevokePlan(admin, revokeReadGrantPlan(names));

    await assert.rejects(open.query("SELECT 1"), (err: unknown) => {
      const code = (err as { code?: string }).code;
      assert.ok(code === adminShutdown || /terminat|Connection/i.test(String(err)), `session should be ended, got ${String(err)}`);
      return true;
    });
    await open.end().catch(() => undefined);
    assert.equal(await roleExists(admin, names.role), false);
    const schema = await adminClient.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1", [names.schema]);
    assert.equal(schema.rows[0].n, 0);
    await assert.rejects(connect(creds), rejectsWithCode(invalidPassword));
    // Idempotent: revoking again (role already gone) is not an error.
    await applyRevokePlan(admin, revokeReadGrantPlan(names));
  });

  describe("storage grants (a schema with a write role)", () => {
    let names: GrantNames;
    let creds: GrantCredentials;

    before(async () => {
      names = grantNames("ns/results");
      const { password, verifier } = newGrantPassword();
      await applyGrantPlan(admin, storageGrantPlan({ names, database, passwordVerifier: verifier }));
      creds = grantCredentials({ host: server.host, port: server.port, database }, names, password);
    });

    it("can create tables and write them in its own schema", async () => {
      await withGrantee(creds, async (c) => {
        await c.query("CREATE TABLE results (run text, value int)");
        await c.query("INSERT INTO results VALUES ('r1', 1), ('r2', 2)");
        await c.query("UPDATE results SET value = 3 WHERE run = 'r2'");
        await c.query("DELETE FROM results WHERE run = 'r1'");
        assert.deepEqual((await c.query("SELECT * FROM results")).rows, [{ run: "r2", value: 3 }]);
      });
      const owner = await adminClient.query("SELECT schemaname FROM pg_tables WHERE tablename = 'results'");
      assert.deepEqual(owner.rows, [{ schemaname: names.schema }]);
    });

    it("cannot write anywhere else: not schema public, not other tables, not another grant's schema", async () => {
      const other = await grantRead("ns/other-read", { kind: "table", schema: "public", table: "orders" });
      await withGrantee(creds, async (c) => {
        await assert.rejects(c.query("CREATE TABLE public.escape (x int)"), rejectsWithCode(insufficientPrivilege));
        await assert.rejects(c.query("INSERT INTO public.orders VALUES (9, 'x', 1)"), rejectsWithCode(insufficientPrivilege));
        await assert.rejects(c.query("SELECT * FROM public.orders"), rejectsWithCode(insufficientPrivilege));
        await assert.rejects(c.query(`CREATE TABLE "${other.names.schema}".x (x int)`), rejectsWithCode(insufficientPrivilege));
        await assert.rejects(c.query(`DROP SCHEMA "${names.schema}"`), rejectsWithCode(insufficientPrivilege));
      });
    });

    it("revoking drops the role; the tables it wrote stay, handed to the provider", async () => {
      await applyRevokePlan(admin, revokeStorageGrantPlan(names));
      assert.equal(await roleExists(admin, names.role), false);
      const tables = await adminClient.query("SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = 'results'", [names.schema]);
      assert.deepEqual(tables.rows, [{ tableowner: server.superuser }]);
      assert.deepEqual((await adminClient.query(`SELECT * FROM "${names.schema}".results`)).rows, [{ run: "r2", value: 3 }]);
      await assert.rejects(connect(creds), rejectsWithCode(invalidPassword));
    });

    it("revoking with removeData drops the grant's own schema and its tables", async () => {
      const own = grantNames("ns/results-removed");
      const { password, verifier } = newGrantPassword();
      await applyGrantPlan(admin, storageGrantPlan({ names: own, database, passwordVerifier: verifier }));
      await withGrantee(grantCredentials({ host: server.host, port: server.port, database }, own, password), (c) => c.query("CREATE TABLE t (x int)"));
      await applyRevokePlan(admin, revokeStorageGrantPlan(own, { removeData: true }));
      const schema = await adminClient.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1", [own.schema]);
      assert.equal(schema.rows[0].n, 0);
      assert.equal(await roleExists(admin, own.role), false);
    });
  });

  describe("storage grants in the Resource's shared schema", () => {
    const shared = "pipeline_results";
    async function sharedGrant(key: string): Promise<{ names: GrantNames; creds: GrantCredentials }> {
      const names = { ...grantNames(key), schema: shared };
      const { password, verifier } = newGrantPassword();
      await applyGrantPlan(admin, storageGrantPlan({ names, database, passwordVerifier: verifier, sharedSchema: true }));
      return { names, creds: grantCredentials({ host: server.host, port: server.port, database }, names, password) };
    }

    it("each grantee writes its own tables; none can write another's; removing one grantee's data leaves the rest", async () => {
      const a = await sharedGrant("ns/run-a");
      const b = await sharedGrant("ns/run-b");
      await withGrantee(a.creds, (c) => c.query("CREATE TABLE run_a (x int); INSERT INTO run_a VALUES (1)"));
      await withGrantee(b.creds, async (c) => {
        await c.query("CREATE TABLE run_b (x int)");
        await assert.rejects(c.query("INSERT INTO run_a VALUES (2)"), rejectsWithCode(insufficientPrivilege));
        await assert.rejects(c.query("SELECT * FROM run_a"), rejectsWithCode(insufficientPrivilege));
        await assert.rejects(c.query("DROP TABLE run_a"), rejectsWithCode(insufficientPrivilege));
      });
      await applyRevokePlan(admin, revokeStorageGrantPlan(a.names, { sharedSchema: true, removeData: true }));
      const left = await adminClient.query("SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", [shared]);
      assert.deepEqual(left.rows, [{ tablename: "run_b" }]);
      await applyRevokePlan(admin, revokeStorageGrantPlan(b.names, { sharedSchema: true }));
      const kept = await adminClient.query("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = $1", [shared]);
      assert.deepEqual(kept.rows, [{ tablename: "run_b", tableowner: server.superuser }]);
    });
  });
});
