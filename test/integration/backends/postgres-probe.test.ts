// The Resource controller's PostgreSQL probe (resourceProbes.ts) against a real server
// (hack/postgres): a query's columns come from Parse/Describe (never planned, never run), text
// checks refuse comments, second statements and system catalogs, a table outside the Provider's
// schemas is refused, the server's error text stays out of the verdict, and every call is bounded.
// The probe reads the admin Secret through ProbeEnv; here that is a map, the server is real.
import { DownloadSlots } from "../../../operators/catalog/downloadSlots.ts";
import { loopbackEgress } from "../../support/egress.ts";
import assert from "node:assert/strict";
import net from "node:net";
import pg from "pg";
import { probeFor, runProbe, type ProbeEnv } from "../../../operators/catalog/resourceProbes.ts";
import type { Provider } from "../../../operators/schema/provider.ts";
import type { Resource } from "../../../operators/schema/resource.ts";
import { type TestPostgres, startPostgres } from "../../support/postgres.ts";

type PostgresData = NonNullable<NonNullable<Resource["spec"]["data"]>["postgres"]>;

describe("PostgreSQL Resource probe (real server)", function () {
  this.timeout(60_000);
  let server: TestPostgres;
  let root: pg.Client;
  let env: ProbeEnv;

  function provider(extra: { host?: string; port?: number; schemas?: string[] } = {}): Provider {
    const postgres = { host: extra.host ?? server.host, port: extra.port ?? server.port, database: server.database, credentialsSecretRef: { name: "pg-admin" }, ...(extra.schemas ? { schemas: extra.schemas } : {}) };
    return { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name: "db", namespace: "ns" }, spec: { type: "data", data: { source: "postgres", postgres } } } as Provider;
  }

  function resource(postgres: PostgresData): Resource {
    return { apiVersion: "archipel.io/v1alpha1", kind: "Resource", metadata: { name: "r", namespace: "ns" }, spec: { providerRef: { name: "db" }, type: "data", visibility: "private", data: { postgres } } } as Resource;
  }

  async function probe(postgres: PostgresData, p: Provider = provider(), e: ProbeEnv = env): Promise<{ ready: boolean; reason: string; message: string }> {
    const result = await runProbe(probeFor(p)!, resource(postgres), p, e);
    return result.verdict;
  }

  before(async function () {
    this.timeout(120_000);
    server = await startPostgres(`it-probe-${process.pid}`);
    root = new pg.Client({ connectionString: server.url });
    await root.connect();
    await root.query(`
      CREATE TABLE IF NOT EXISTS public.stations (id int, name text, elevation_m int);
      CREATE SCHEMA IF NOT EXISTS hr;
      CREATE TABLE IF NOT EXISTS hr.salaries (name text, amount int);
      CREATE TABLE IF NOT EXISTS public.calls (n int);
      -- Marked IMMUTABLE, so a planner folds it (runs it) while planning; it leaves a trace.
      CREATE OR REPLACE FUNCTION public.leaves_trace() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
      BEGIN RAISE EXCEPTION 'ran: secret-token-123'; END $$;
    `);
    const secrets: Record<string, Record<string, string>> = { "pg-admin": { username: server.superuser, password: server.password } };
    env = { secret: async (name) => secrets[name], configMap: () => undefined, timeoutMs: 5_000, maxChecksumBytes: 1 << 20, scratchDir: "/nonexistent", egress: loopbackEgress, downloads: new DownloadSlots() };
  });

  after(async function () {
    this.timeout(60_000);
    await root?.end().catch(() => undefined);
    await server?.stop();
  });

  it("a query's columns come from Parse/Describe: its expressions are never evaluated, not even while planning", async () => {
    const divide = await probe({ query: "SELECT 1/0 AS boom, name FROM stations" });
    assert.equal(divide.reason, "Available", divide.message);
    assert.equal(divide.message, "the query is a valid SELECT of 2 column(s): boom, name");
    const fn = await probe({ query: "SELECT leaves_trace() AS t" });
    assert.equal(fn.reason, "Available", fn.message);
    assert.doesNotMatch(fn.message, /secret-token/);
  });

  it("comments, second statements and system catalogs are refused with a reason naming the field", async () => {
    for (const [query, pattern] of [
      ["SELECT id FROM stations -- and more", /^spec\.data\.postgres\.query: must not contain comments/],
      ["SELECT id /* x */ FROM stations", /^spec\.data\.postgres\.query: must not contain comments/],
      ["SELECT 1; SELECT 2", /^spec\.data\.postgres\.query: must be a single statement/],
      ["SELECT rolname, rolpassword FROM pg_authid", /^spec\.data\.postgres\.query: names "pg_authid"/],
      ["SELECT table_name FROM information_schema.tables", /^spec\.data\.postgres\.query: names "information_schema"/],
    ] as const) {
      const v = await probe({ query });
      assert.equal(v.reason, "InvalidQuery", query);
      assert.match(v.message, pattern, query);
    }
  });

  it("a query reading a schema the Provider does not allow is refused; allowed, it is Available", async () => {
    const refused = await probe({ query: "SELECT name, amount FROM hr.salaries" });
    assert.equal(refused.reason, "InvalidQuery");
    assert.equal(refused.message, "spec.data.postgres.query: reads schema hr, which the Provider does not allow (public)");
    const allowed = await probe({ query: "SELECT name, amount FROM hr.salaries" }, provider({ schemas: ["public", "hr"] }));
    assert.equal(allowed.reason, "Available", allowed.message);
  });

  it("a table in a system schema, or outside the Provider's schemas, is refused", async () => {
    const system = await probe({ table: { schema: "pg_catalog", name: "pg_authid" } });
    assert.equal(system.reason, "InvalidSpec");
    assert.match(system.message, /^spec\.data\.postgres\.table\.schema: "pg_catalog" is a system schema/);
    const other = await probe({ table: { schema: "hr", name: "salaries" } });
    assert.equal(other.reason, "InvalidSpec");
    assert.match(other.message, /schema "hr" is not one the Provider allows \(public\)/);
    const declared = await probe({ table: { schema: "information_schema", name: "tables" } }, provider({ schemas: ["information_schema"] }));
    assert.equal(declared.reason, "InvalidSpec");
    assert.match(declared.message, /^Provider spec\.data\.postgres\.schemas: "information_schema" is a system schema/);
  });

  it("the database's refusal is a message of ours with the SQLSTATE, never the server's text", async () => {
    const missing = await probe({ query: "SELECT id FROM stations WHERE colour_secret = 'red'" });
    assert.equal(missing.reason, "InvalidQuery");
    assert.match(missing.message, /^spec\.data\.postgres\.query: the database refused it at character \d+: a column it names does not exist \(SQLSTATE 42703\)$/);
    const syntax = await probe({ query: "SELECT id FROMM stations" });
    assert.match(syntax.message, /syntax error \(SQLSTATE 42601\)$/);
    assert.doesNotMatch(syntax.message, /at or near/);
    const badLogin = await probe({ query: "SELECT 1 AS one" }, provider(), { ...env, secret: async () => ({ username: server.superuser, password: "wrong" }) });
    assert.equal(badLogin.reason, "BackendUnreachable");
    assert.match(badLogin.message, /the database refused the provider's credentials \(SQLSTATE 28P01\) \[BackendPermissionDenied\]$/);
    assert.doesNotMatch(badLogin.message, new RegExp(`password authentication|${server.superuser}`));
  });

  it("a host that accepts and never answers makes the probe time out instead of hanging", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const v = await probe({ table: { name: "stations" } }, provider({ host: "127.0.0.1", port }), { ...env, timeoutMs: 300 });
      assert.equal(v.reason, "BackendUnreachable");
      assert.match(v.message, /\[BackendTimeout\]$/);
      assert.ok(sockets.length >= 1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
