// Thin executor of the grant plans (postgresGrant.ts) against a real PostgreSQL, as the provider's
// admin role (a superuser, or a role with CREATEROLE that is a member of the grant roles and owns
// the base tables). No decision is taken here. Every call is bounded (connect, statement and lock
// timeouts, and a client-side read timeout for a host that stops answering), and every failure
// leaves as a BackendError with a reason and a message of ours (postgresErrors.ts).
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import pg from "pg";
import type { EgressPolicy } from "../../runtime/egress.ts";
import { resolveChecked } from "../../runtime/egressHttp.ts";
import { BackendError, BackendReason, postgresBackendError } from "./postgresErrors.ts";
import { type GrantNames, type GrantPlan, type HardeningRow, hardeningViolations, type RevokePlan } from "./postgresGrant.ts";
import { scramSha256Verifier } from "./scram.ts";

/**
 * How the provider reaches its database as admin (host, port, database, user, password, ssl;
 * timeouts override the defaults), and the egress policy the host is checked against (the
 * manager always sets it).
 */
export type PostgresAdmin = pg.ClientConfig & { egress?: EgressPolicy };

/** The config with the host replaced by a checked address (TLS still verifies the host name). */
async function checkedConfig(admin: PostgresAdmin): Promise<pg.ClientConfig> {
  const { egress, ...config } = admin;
  const host = config.host;
  if (!egress || !host) return config;
  const ssl = typeof config.ssl === "object" && !isIP(host) ? { ...config.ssl, servername: host } : config.ssl;
  return { ...config, host: await resolveChecked(host, egress), ...(ssl === undefined ? {} : { ssl }) };
}

/**
 * Bounds of every admin call. lock_timeout is short: a grantee holding a lock on its own view
 * (an open transaction reading it) must fail the pass (BackendTimeout, retried with back-off),
 * not wedge a controller worker. The read timeout is the backstop for a host that accepted the
 * connection and then went silent (statement_timeout is the server's, it cannot fire then).
 */
export const defaultPostgresTimeouts = {
  connectionTimeoutMillis: 10_000,
  statement_timeout: 30_000,
  lock_timeout: 5_000,
  idle_in_transaction_session_timeout: 60_000,
  query_timeout: 45_000,
} as const satisfies Partial<pg.ClientConfig>;

/** The admin's config with every timeout set (the admin's own values win), for any client of the provider's database. */
export function boundedConfig(admin: PostgresAdmin, applicationName = "archipel-access-grant"): PostgresAdmin {
  return { application_name: applicationName, ...defaultPostgresTimeouts, ...admin };
}

// Serializes grant transactions on one database: two grants revoking PUBLIC's defaults or
// granting on the same database row at once would otherwise fail with "tuple concurrently updated".
const grantLockKey = 0x61726368; // "arch"

/** What the grantee gets (the reconciler puts it in the grant's Secret). */
export interface GrantCredentials {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  schema: string;
  /** The view a read grant may SELECT. */
  view?: string;
}

/** A fresh password (192 random bits, URL-safe) and the SCRAM verifier sent to the server instead of it. */
export function newGrantPassword(): { password: string; verifier: string } {
  const password = randomBytes(24).toString("base64url");
  return { password, verifier: scramSha256Verifier(password, randomBytes(16)) };
}

/** postgresql://user:password@host:port/database (the role's search_path already points at its schema). */
export function credentialsUrl(c: GrantCredentials): string {
  const url = new URL(`postgresql://${c.host}:${c.port}/${encodeURIComponent(c.database)}`);
  url.username = c.user; // the setters percent-encode
  url.password = c.password;
  return url.toString();
}

// The extended protocol runs exactly one statement per call: a statement that smuggled a second
// one past the builders would fail instead of running. (@types/pg lacks queryMode; pg 8.11+ has it.)
function oneStatement(text: string, values: unknown[] = []): pg.QueryConfig {
  const config: pg.QueryConfig & { queryMode: "extended" } = { text, values, queryMode: "extended" };
  return config;
}

async function withClient<T>(admin: PostgresAdmin, what: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(boundedConfig(await checkedConfig(admin)));
  client.on("error", () => undefined); // a dropped connection surfaces on the pending query
  try {
    await client.connect();
    return await fn(client);
  } catch (err) {
    throw postgresBackendError(err, what);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function inTransaction(client: pg.Client, fn: () => Promise<void>): Promise<void> {
  await client.query("BEGIN");
  try {
    await fn();
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

async function roleExistsOn(client: pg.Client, role: string): Promise<boolean> {
  const res = await client.query(oneStatement("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]));
  return (res.rowCount ?? 0) > 0;
}

export function roleExists(admin: PostgresAdmin, role: string): Promise<boolean> {
  return withClient(admin, "looking up the grant's role", (client) => roleExistsOn(client, role));
}

async function convergeRole(client: pg.Client, role: string, create: string, alter: string): Promise<void> {
  await client.query(oneStatement((await roleExistsOn(client, role)) ? alter : create));
}

/** Refuses to commit a grant whose role could still do what no grant gives (hardeningViolations). */
async function checkHardened(client: pg.Client, plan: GrantPlan): Promise<void> {
  const res = await client.query<HardeningRow>(oneStatement(plan.hardeningCheck.text, plan.hardeningCheck.values));
  const violations = hardeningViolations(res.rows[0], plan.hardeningCheck.write);
  if (violations.length === 0) return;
  throw new BackendError(
    BackendReason.BackendNotHardened,
    `issuing the grant: its role would keep ${violations.join(", ")}; the provider's admin role must be able to revoke PUBLIC's defaults (own the databases, or be a superuser)`,
  );
}

/** Creates or converges the grant's roles, schema, view and privileges, all or nothing, and checks the result. */
export async function applyGrantPlan(admin: PostgresAdmin, plan: GrantPlan): Promise<void> {
  await withClient(admin, "issuing the grant", (client) =>
    inTransaction(client, async () => {
      await client.query(oneStatement("SELECT pg_advisory_xact_lock($1)", [grantLockKey]));
      await convergeRole(client, plan.names.role, plan.createRole, plan.alterRole);
      if (plan.viewOwner) await convergeRole(client, plan.viewOwner.role, plan.viewOwner.createRole, plan.viewOwner.alterRole);
      for (const statement of plan.statements) await client.query(oneStatement(statement));
      await checkHardened(client, plan);
    }),
  );
}

/** Ends a grant: no new logins, open sessions terminated, schema (with its view or tables) and role dropped. */
export async function applyRevokePlan(admin: PostgresAdmin, plan: RevokePlan): Promise<void> {
  await withClient(admin, "revoking the grant", async (client) => {
    if (!(await roleExistsOn(client, plan.names.role))) {
      for (const statement of plan.always) await client.query(oneStatement(statement));
      return;
    }
    // Committed on its own first, so a login attempted while sessions are being ended is refused.
    await client.query(oneStatement(plan.disableLogin));
    await client.query(
      oneStatement("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1", [plan.names.role]),
    );
    await inTransaction(client, async () => {
      await client.query(oneStatement("SELECT pg_advisory_xact_lock($1)", [grantLockKey]));
      for (const statement of plan.whenRoleExists) await client.query(oneStatement(statement));
    });
  });
}

/** The credentials a grant hands out, from the admin's endpoint and the grant's names. */
export function grantCredentials(
  admin: { host: string; port: number; database: string },
  names: GrantNames,
  password: string,
  view?: string,
): GrantCredentials {
  return { host: admin.host, port: admin.port, database: admin.database, user: names.role, password, schema: names.schema, view };
}

/** A column of a statement's result, as the server described it (name and type OID). */
export interface DescribedColumn {
  name: string;
  dataTypeID: number;
  /** The table the column is read from as is (0 for an expression). */
  tableID: number;
}

type DescribeCallback = (err: Error | undefined, columns: DescribedColumn[]) => void;

/**
 * Parse and Describe of the unnamed statement, then Sync: the server analyses the SQL and says
 * what columns it would return, and never plans or runs it (no Bind, no Execute). A custom
 * pg Submittable, since node-postgres's Query always executes.
 */
class DescribeStatement implements pg.Submittable {
  private columns: DescribedColumn[] = [];
  private done = false;
  private readonly text: string;
  // node-postgres wraps `callback` with its read timeout and calls handleError on expiry.
  callback: DescribeCallback;

  constructor(text: string, callback: DescribeCallback) {
    this.text = text;
    this.callback = callback;
  }

  submit(connection: pg.Connection): void {
    connection.parse({ text: this.text, name: "", types: [] }, true);
    connection.describe({ type: "S", name: "" }, true);
    connection.sync();
  }

  handleRowDescription(msg: { fields: Array<{ name: string; dataTypeID: number; tableID: number }> }): void {
    this.columns = msg.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID, tableID: f.tableID }));
  }

  handleError(err: Error): void {
    this.finish(err);
  }

  handleReadyForQuery(): void {
    this.finish(undefined);
  }

  // Never sent for a Describe-only exchange; present because the client calls them on any active query.
  handleDataRow(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  private finish(err: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.callback(err, this.columns);
  }
}

/** The columns `sql` would return, from Parse/Describe: the statement is analysed, never executed. */
export function describeColumns(client: pg.Client, sql: string): Promise<DescribedColumn[]> {
  return new Promise((resolve, reject) => {
    client.query(new DescribeStatement(sql, (err, columns) => (err ? reject(err) : resolve(columns))));
  });
}
