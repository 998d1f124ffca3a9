// What an AccessGrant on a PostgreSQL Resource means in SQL, as pure statement builders:
//  - read (data provider): a VIEW over a table or a query, in a schema of the grant's own, and a
//    LOGIN role that can SELECT that view and nothing else;
//  - write (storage provider): a schema (the grant's own, or the Resource's, shared by its
//    grantees) and a LOGIN role that can create and write tables in it and nothing else;
//  - revoke: the role can no longer log in, its sessions end, the role is dropped; a read grant's
//    view schema goes with it, a storage grant's tables stay (handed to the provider) unless
//    their removal is asked for.
// Read-only is enforced by the database's privileges, not by the client. Names and literals are
// quoted (sql.ts); the role's password arrives as a SCRAM verifier, never in plain text.
import { createHash } from "node:crypto";
import { isScramVerifier } from "./scram.ts";
import { maxIdentifierBytes, quoteIdent, quoteLiteral, quoteQualified } from "./sql.ts";

/** Where a read grant's view takes its rows from. */
export type ReadSource =
  | { kind: "table"; schema: string; table: string; columns?: string[] }
  /** One SELECT (or VALUES/WITH … SELECT) statement, written by the Resource's author. */
  | { kind: "query"; sql: string };

/** The deterministic PostgreSQL names of one grant (role and schema share the name). */
export interface GrantNames {
  role: string;
  schema: string;
}

export interface RoleOptions {
  /** The database the grant is in (CONNECT is granted on it). */
  database: string;
  /** SCRAM-SHA-256 verifier of the generated password (scram.ts). */
  passwordVerifier: string;
  /** The role stops authenticating after this instant (VALID UNTIL); none: never. */
  validUntil?: Date;
  /** Concurrent sessions the grantee may open (default 10). */
  connectionLimit?: number;
}

export interface ReadGrantSpec extends RoleOptions {
  names: GrantNames;
  source: ReadSource;
  /** The view's name inside the grant's schema (default "data"). */
  viewName?: string;
}

export interface StorageGrantSpec extends RoleOptions {
  names: GrantNames;
  /**
   * names.schema is the Resource's schema, shared by its grantees (not the grant's own): it is
   * created if missing but its other privileges are left alone.
   */
  sharedSchema?: boolean;
}

/** Statements that converge one grant; the executor runs them in a single transaction. */
export interface GrantPlan {
  names: GrantNames;
  /** Qualified view name for read grants. */
  view?: { schema: string; name: string };
  /** Runs when the role does not exist yet. */
  createRole: string;
  /** Runs when it does: resets password, expiry and attributes to the spec's. */
  alterRole: string;
  /** Runs after createRole/alterRole, in order. */
  statements: string[];
}

export const defaultViewName = "data";
export const defaultConnectionLimit = 10;
const namePrefix = "archipel_g_";

/**
 * Names for the grant identified by `key` (e.g. "namespace/name" of the AccessGrant): a readable
 * slug plus a hash of the whole key, so two keys never share a role even after truncation.
 */
export function grantNames(key: string): GrantNames {
  if (key.length === 0) throw new Error("a grant key must not be empty");
  const hash = createHash("sha256").update(key).digest("hex").slice(0, 12);
  const room = maxIdentifierBytes - namePrefix.length - hash.length - 1;
  const slug = key
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, room);
  const name = slug ? `${namePrefix}${slug}_${hash}` : `${namePrefix}${hash}`;
  return { role: name, schema: name };
}

/** Checks a query Resource's SQL is one statement; the view makes it read-only, this keeps it single. */
export function checkViewQuery(sql: string): string {
  const trimmed = sql.trim().replace(/;\s*$/, "").trim();
  if (trimmed.length === 0) throw new Error("spec.postgres.query is empty: give one SELECT statement");
  // A ';' inside a string literal is refused too: simpler to explain than a partial SQL parser.
  if (trimmed.includes(";")) throw new Error("spec.postgres.query must be a single SELECT statement without ';'");
  if (!/^(select|with|values|table)\b/i.test(trimmed.replace(/^\(+\s*/, ""))) {
    throw new Error("spec.postgres.query must start with SELECT, WITH, VALUES or TABLE");
  }
  return trimmed;
}

function viewBody(source: ReadSource): string {
  if (source.kind === "query") return checkViewQuery(source.sql);
  const columns = source.columns?.length ? source.columns.map(quoteIdent).join(", ") : "*";
  return `SELECT ${columns} FROM ${quoteQualified(source.schema, source.table)}`;
}

function roleAttributes(opts: RoleOptions): string {
  if (!isScramVerifier(opts.passwordVerifier)) {
    throw new Error("passwordVerifier must be a SCRAM-SHA-256 verifier (scramSha256Verifier), never a plain password");
  }
  const limit = opts.connectionLimit ?? defaultConnectionLimit;
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`connectionLimit must be a positive integer (got ${limit})`);
  const validUntil = opts.validUntil ? opts.validUntil.toISOString() : "infinity";
  return (
    "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS " +
    `CONNECTION LIMIT ${limit} PASSWORD ${quoteLiteral(opts.passwordVerifier)} VALID UNTIL ${quoteLiteral(validUntil)}`
  );
}

function roleStatements(role: string, opts: RoleOptions): Pick<GrantPlan, "createRole" | "alterRole"> {
  const attributes = roleAttributes(opts);
  return {
    createRole: `CREATE ROLE ${quoteIdent(role)} ${attributes}`,
    alterRole: `ALTER ROLE ${quoteIdent(role)} WITH ${attributes}`,
  };
}

/** A role that can SELECT one view over `source`, and nothing else in the database. */
export function readGrantPlan(spec: ReadGrantSpec): GrantPlan {
  const { role, schema } = spec.names;
  const view = { schema, name: spec.viewName ?? defaultViewName };
  const r = quoteIdent(role);
  const s = quoteIdent(schema);
  const v = quoteQualified(view.schema, view.name);
  return {
    names: spec.names,
    view,
    ...roleStatements(role, spec),
    statements: [
      // Start from nothing: whatever was granted to this role since (by hand, by an older
      // version of the grant) is revoked, then exactly the minimum is granted again.
      `DROP OWNED BY ${r}`,
      `GRANT CONNECT ON DATABASE ${quoteIdent(spec.database)} TO ${r}`,
      `CREATE SCHEMA IF NOT EXISTS ${s}`,
      `REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`,
      `GRANT USAGE ON SCHEMA ${s} TO ${r}`,
      // Dropped and created, not replaced: CREATE OR REPLACE refuses a changed column list.
      `DROP VIEW IF EXISTS ${v}`,
      // The view runs with its owner's (the provider's) rights on the base table; the grantee
      // has no privilege on the table itself.
      `CREATE VIEW ${v} AS ${viewBody(spec.source)}`,
      `REVOKE ALL ON TABLE ${v} FROM PUBLIC`,
      `GRANT SELECT ON TABLE ${v} TO ${r}`,
      `ALTER ROLE ${r} SET search_path TO ${s}`,
      // Defence in depth only (a session can SET it back): the privileges above are what forbid writes.
      `ALTER ROLE ${r} SET default_transaction_read_only TO on`,
    ],
  };
}

/** Schemas no grant may write into. */
export function checkStorageSchema(schema: string): string {
  if (schema === "information_schema" || schema.startsWith("pg_")) {
    throw new Error(`spec.storage.postgres.schema ${JSON.stringify(schema)} is a system schema: choose another`);
  }
  return schema;
}

/** A role that can create and write tables in one schema, and nothing else. */
export function storageGrantPlan(spec: StorageGrantSpec): GrantPlan {
  const { role } = spec.names;
  const schema = checkStorageSchema(spec.names.schema);
  const r = quoteIdent(role);
  const s = quoteIdent(schema);
  return {
    names: spec.names,
    ...roleStatements(role, spec),
    statements: [
      `GRANT CONNECT ON DATABASE ${quoteIdent(spec.database)} TO ${r}`,
      // Owned by the provider, not the grantee: the grantee cannot drop the schema or open it to others.
      `CREATE SCHEMA IF NOT EXISTS ${s}`,
      ...(spec.sharedSchema ? [] : [`REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`]),
      `GRANT USAGE, CREATE ON SCHEMA ${s} TO ${r}`,
      `ALTER ROLE ${r} SET search_path TO ${s}`,
    ],
  };
}

/** Statements that end a grant; the executor runs `whenRoleExists` only if the role exists. */
export interface RevokePlan {
  names: GrantNames;
  /** Before terminating sessions: no new login can race the drop. */
  disableLogin: string;
  /** After terminating the role's sessions. */
  whenRoleExists: string[];
  /** Always (idempotent). */
  always: string[];
}

export interface RevokeOptions {
  /** Drop the schema and everything in it (a read grant's view schema; a removed storage schema of the grant's own). */
  dropSchema: boolean;
  /** Hand the objects the role created (a storage grant's tables) to the provider instead of dropping them. */
  keepOwnedObjects: boolean;
}

function revokePlan(names: GrantNames, opts: RevokeOptions): RevokePlan {
  const r = quoteIdent(names.role);
  const dropSchema = opts.dropSchema ? [`DROP SCHEMA IF EXISTS ${quoteIdent(names.schema)} CASCADE`] : [];
  return {
    names,
    disableLogin: `ALTER ROLE ${r} NOLOGIN`,
    whenRoleExists: [
      ...dropSchema,
      ...(opts.keepOwnedObjects ? [`REASSIGN OWNED BY ${r} TO CURRENT_USER`] : []),
      // Revokes every privilege the role holds here (and drops what it still owns), so DROP ROLE can succeed.
      `DROP OWNED BY ${r}`,
      `DROP ROLE ${r}`,
    ],
    always: dropSchema,
  };
}

/** Ends a read grant: role, view and the view's schema. */
export function revokeReadGrantPlan(names: GrantNames): RevokePlan {
  return revokePlan(names, { dropSchema: true, keepOwnedObjects: false });
}

/**
 * Ends a storage grant. The tables it wrote stay, owned by the provider (results outlive the
 * grant), unless `removeData`: then they are dropped, with the schema when it is the grant's own.
 */
export function revokeStorageGrantPlan(names: GrantNames, opts: { sharedSchema?: boolean; removeData?: boolean } = {}): RevokePlan {
  const removeData = opts.removeData ?? false;
  return revokePlan(names, { dropSchema: removeData && !opts.sharedSchema, keepOwnedObjects: !removeData });
}

/**
 * One-time database hardening a provider may apply (opt-in: it changes what every role of that
 * database may do). PUBLIC's privileges reach every role and cannot be revoked per role, so a
 * grant role inherits them: on servers before PostgreSQL 15, CREATE on schema public (a write
 * path); on all, TEMPORARY tables.
 */
export function hardenDatabaseStatements(database: string): string[] {
  return [`REVOKE CREATE ON SCHEMA public FROM PUBLIC`, `REVOKE TEMPORARY ON DATABASE ${quoteIdent(database)} FROM PUBLIC`];
}
