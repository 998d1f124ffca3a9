// Thin executor of the grant plans (postgresGrant.ts) against a real PostgreSQL, as the provider's
// admin role (a superuser, or a role with CREATEROLE that is a member of the grant roles and owns
// the base tables). No decision is taken here.
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import pg from "pg";
import type { EgressPolicy } from "../../runtime/egress.ts";
import { resolveChecked } from "../../runtime/egressHttp.ts";
import type { GrantNames, GrantPlan, RevokePlan } from "./postgresGrant.ts";
import { scramSha256Verifier } from "./scram.ts";

/**
 * How the provider reaches its database as admin (host, port, database, user, password, ssl), and
 * the egress policy the host is checked against (the manager always sets it).
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

async function withClient<T>(admin: PostgresAdmin, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(await checkedConfig(admin));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
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
  return withClient(admin, (client) => roleExistsOn(client, role));
}

/** Creates or converges the grant's role, schema, view and privileges, all or nothing. */
export async function applyGrantPlan(admin: PostgresAdmin, plan: GrantPlan): Promise<void> {
  await withClient(admin, (client) =>
    inTransaction(client, async () => {
      const exists = await roleExistsOn(client, plan.names.role);
      await client.query(oneStatement(exists ? plan.alterRole : plan.createRole));
      for (const statement of plan.statements) await client.query(oneStatement(statement));
    }),
  );
}

/** Ends a grant: no new logins, open sessions terminated, schema (with its view or tables) and role dropped. */
export async function applyRevokePlan(admin: PostgresAdmin, plan: RevokePlan): Promise<void> {
  await withClient(admin, async (client) => {
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
