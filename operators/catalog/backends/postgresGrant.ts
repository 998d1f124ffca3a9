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
// Least privilege: a read grant's view is owned by a NOLOGIN role of the grant's own that may
// read the Provider's allowed schemas only (a query cannot reach pg_authid, another schema, or a
// superuser-only function through the view); every grant role is stripped of what PUBLIC would
// give it (TEMPORARY, CREATE on public, CONNECT to the server's other databases), and the
// executor checks that after each apply (hardeningCheck).
import { createHash } from "node:crypto";
import { isScramVerifier } from "./scram.ts";
import { maxIdentifierBytes, quoteIdent, quoteLiteral, quoteQualified } from "./sql.ts";
import { allowedReadSchemas, checkReadSchema, checkSelectQuery, isSystemSchema } from "./sqlCheck.ts";

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
  /** Schemas the Provider lets Resources read (its spec's postgres.schemas); default sqlCheck.defaultReadSchemas. */
  allowedSchemas?: readonly string[];
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
  /** A read grant's view owner (NOLOGIN): created when missing, its attributes reset when not. */
  viewOwner?: { role: string; createRole: string; alterRole: string };
  /** Runs after the roles, in order. */
  statements: string[];
  /** Asks what the grantee's role may still do that it must not; hardeningViolations reads the row. */
  hardeningCheck: { text: string; values: string[]; write: boolean };
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

/**
 * The NOLOGIN role owning a read grant's view: the view reads with its rights, which are SELECT on
 * the Resource's table (or the allowed schemas' tables, for a query) and nothing else.
 */
export function viewOwnerRole(names: GrantNames): string {
  if (!names.role.startsWith(namePrefix)) throw new Error(`grant role ${JSON.stringify(names.role)} was not made by grantNames`);
  return `archipel_v_${names.role.slice(namePrefix.length)}`;
}

/** The field a query Resource's SQL is refused under. */
export const queryField = "spec.data.postgres.query";
const schemasField = "Provider spec.data.postgres.schemas";

/** Checks a query Resource's SQL (sqlCheck.checkSelectQuery) and returns the statement without its final ';'. */
export function checkViewQuery(sql: string): string {
  return checkSelectQuery(sql, queryField);
}

function viewBody(source: ReadSource): string {
  if (source.kind === "query") return checkViewQuery(source.sql);
  const columns = source.columns?.length ? source.columns.map(quoteIdent).join(", ") : "*";
  return `SELECT ${columns} FROM ${quoteQualified(source.schema, source.table)}`;
}

/** What the view owner may read: the table alone, or (a query) every table and view of the allowed schemas. */
function viewOwnerReads(source: ReadSource, allowed: readonly string[], owner: string): string[] {
  const o = quoteIdent(owner);
  if (source.kind === "table") {
    checkReadSchema(source.schema, allowed, "spec.data.postgres.table.schema");
    return [`GRANT USAGE ON SCHEMA ${quoteIdent(source.schema)} TO ${o}`, `GRANT SELECT ON TABLE ${quoteQualified(source.schema, source.table)} TO ${o}`];
  }
  return allowed.flatMap((schema) => [`GRANT USAGE ON SCHEMA ${quoteIdent(schema)} TO ${o}`, `GRANT SELECT ON ALL TABLES IN SCHEMA ${quoteIdent(schema)} TO ${o}`]);
}

// Literal-free DO block (names are quoted by format('%I')): PUBLIC's TEMPORARY on this database,
// CREATE on schema public (PUBLIC's before PostgreSQL 15) and CONNECT on every other database
// that accepts connections reach every role, grant roles included, and cannot be revoked per
// role. Only what PUBLIC still holds is revoked, so a converged server sees no catalog write.
const revokePublicDefaults = `DO $archipel$
DECLARE other name;
BEGIN
  IF has_database_privilege('public', current_database(), 'TEMPORARY') THEN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  END IF;
  IF to_regnamespace('public') IS NOT NULL AND has_schema_privilege('public', 'public', 'CREATE') THEN
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
  END IF;
  FOR other IN SELECT datname FROM pg_database WHERE datname <> current_database() AND datallowconn AND has_database_privilege('public', oid, 'CONNECT') LOOP
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', other);
  END LOOP;
END
$archipel$`;

/** Statements every grant runs after its role exists: PUBLIC's defaults revoked, CONNECT to this database only. */
function hardeningStatements(database: string, role: string): string[] {
  return [revokePublicDefaults, `GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)}`];
}

/** One row: what the role may still do beyond its grant (an empty answer everywhere is the goal). */
function hardeningCheck(role: string, schema: string, write: boolean): GrantPlan["hardeningCheck"] {
  return {
    write,
    text:
      "SELECT has_database_privilege($1, current_database(), 'TEMPORARY') AS temporary, " +
      "has_database_privilege($1, current_database(), 'CREATE') AS create_database, " +
      "coalesce(has_schema_privilege($1, to_regnamespace('public'), 'CREATE'), false) AS create_public, " +
      "has_schema_privilege($1, $2, 'CREATE') AS create_own_schema, " +
      "r.rolsuper OR r.rolcreatedb OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls OR r.rolinherit AS attributes, " +
      "r.rolconnlimit < 0 AS unlimited_connections, " +
      "ARRAY(SELECT datname::text FROM pg_database WHERE datname <> current_database() AND datallowconn AND has_database_privilege($1, oid, 'CONNECT') ORDER BY 1) AS other_databases " +
      "FROM pg_roles r WHERE r.rolname = $1",
    values: [role, schema],
  };
}

export interface HardeningRow {
  temporary: boolean;
  create_database: boolean;
  create_public: boolean;
  create_own_schema: boolean;
  attributes: boolean;
  unlimited_connections: boolean;
  other_databases: string[];
}

const hardeningFlags: ReadonlyArray<[keyof Omit<HardeningRow, "other_databases">, string]> = [
  ["temporary", "TEMPORARY on the database"],
  ["create_database", "CREATE on the database"],
  ["create_public", "CREATE on schema public"],
  ["create_own_schema", "CREATE on its view's schema"],
  ["attributes", "a role attribute (SUPERUSER, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS or INHERIT)"],
  ["unlimited_connections", "no connection limit"],
];

/** What the grantee's role may still do that a grant must not give (empty: hardened); CREATE on its schema is a storage grant's purpose. */
export function hardeningViolations(row: HardeningRow | undefined, write = false): string[] {
  if (!row) return ["the role does not exist"];
  const found = hardeningFlags.filter(([flag]) => row[flag] && !(write && flag === "create_own_schema")).map(([, what]) => what);
  if (row.other_databases.length > 0) found.push(`CONNECT on ${row.other_databases.length} other database(s)`);
  return found;
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

const viewOwnerAttributes = "NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS";

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
  const allowed = allowedReadSchemas(spec.allowedSchemas, schemasField);
  const owner = viewOwnerRole(spec.names);
  const view = { schema, name: spec.viewName ?? defaultViewName };
  const r = quoteIdent(role);
  const o = quoteIdent(owner);
  const s = quoteIdent(schema);
  const v = quoteQualified(view.schema, view.name);
  const body = viewBody(spec.source);
  return {
    names: spec.names,
    view,
    ...roleStatements(role, spec),
    viewOwner: { role: owner, createRole: `CREATE ROLE ${o} ${viewOwnerAttributes}`, alterRole: `ALTER ROLE ${o} WITH ${viewOwnerAttributes}` },
    statements: [
      // Start from nothing: whatever was granted to these roles since (by hand, by an older
      // version of the grant) is revoked, the owner's view dropped, then exactly the minimum is
      // granted again.
      `DROP OWNED BY ${r}`,
      `DROP OWNED BY ${o}`,
      ...hardeningStatements(spec.database, role),
      `CREATE SCHEMA IF NOT EXISTS ${s}`,
      `REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`,
      `GRANT USAGE ON SCHEMA ${s} TO ${r}`,
      ...viewOwnerReads(spec.source, allowed, owner),
      // Dropped and created, not replaced: CREATE OR REPLACE refuses a changed column list.
      `DROP VIEW IF EXISTS ${v}`,
      // Unqualified names in a query resolve in the allowed schemas (and pg_catalog) only.
      `SET LOCAL search_path TO ${allowed.map(quoteIdent).join(", ")}`,
      `CREATE VIEW ${v} AS ${body}`,
      // The view runs with its owner's rights on what it reads; the grantee has none of its own.
      `ALTER VIEW ${v} OWNER TO ${o}`,
      `REVOKE ALL ON TABLE ${v} FROM PUBLIC`,
      `GRANT SELECT ON TABLE ${v} TO ${r}`,
      `ALTER ROLE ${r} SET search_path TO ${s}`,
      // Defence in depth only (a session can SET it back): the privileges above are what forbid writes.
      `ALTER ROLE ${r} SET default_transaction_read_only TO on`,
    ],
    hardeningCheck: hardeningCheck(role, schema, false),
  };
}

/** Schemas no grant may write into. */
export function checkStorageSchema(schema: string): string {
  if (isSystemSchema(schema)) {
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
      ...hardeningStatements(spec.database, role),
      // Owned by the provider, not the grantee: the grantee cannot drop the schema or open it to others.
      `CREATE SCHEMA IF NOT EXISTS ${s}`,
      ...(spec.sharedSchema ? [] : [`REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`]),
      `GRANT USAGE, CREATE ON SCHEMA ${s} TO ${r}`,
      `ALTER ROLE ${r} SET search_path TO ${s}`,
    ],
    hardeningCheck: hardeningCheck(role, schema, true),
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

/** Drops a role if it exists, with its privileges (names from grantNames only: [a-z0-9_]). */
function dropRoleIfExists(role: string): string {
  if (!/^[a-z0-9_]+$/.test(role)) throw new Error(`unexpected role name ${JSON.stringify(role)}`);
  return `DO $archipel$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)}) THEN
    DROP OWNED BY ${quoteIdent(role)};
    DROP ROLE ${quoteIdent(role)};
  END IF;
END
$archipel$`;
}

/** Ends a read grant: role, view, the view's schema and the view's owner. */
export function revokeReadGrantPlan(names: GrantNames): RevokePlan {
  const plan = revokePlan(names, { dropSchema: true, keepOwnedObjects: false });
  const dropOwner = dropRoleIfExists(viewOwnerRole(names));
  return { ...plan, whenRoleExists: [...plan.whenRoleExists, dropOwner], always: [...plan.always, dropOwner] };
}

/**
 * Ends a storage grant. The tables it wrote stay, owned by the provider (results outlive the
 * grant), unless `removeData`: then they are dropped, with the schema when it is the grant's own.
 */
export function revokeStorageGrantPlan(names: GrantNames, opts: { sharedSchema?: boolean; removeData?: boolean } = {}): RevokePlan {
  const removeData = opts.removeData ?? false;
  return revokePlan(names, { dropSchema: removeData && !opts.sharedSchema, keepOwnedObjects: !removeData });
}

