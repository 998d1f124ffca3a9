// What a PostgreSQL failure means for a grant or a probe, as a reason and a short message of our
// own. The server's text never reaches a status or an Event: it can quote names the caller may
// not see (another tenant's table, a role), values of rows (a failed cast), or the provider's
// configuration. It stays on the error (non-enumerable) for a debug log at most.

export const BackendReason = {
  /** Credentials refused, or a privilege the provider's admin role lacks (28xxx, 42501). */
  BackendPermissionDenied: "BackendPermissionDenied",
  /** Cannot connect, connection lost, server shutting down or out of connections (08, 53, 57P0x). */
  BackendUnavailable: "BackendUnavailable",
  /** A database, schema, table, column, function or role named does not exist (3D000, 3F000, 42P01…). */
  BackendObjectMissing: "BackendObjectMissing",
  /** Connect, statement or lock timeout: a silent host, a held lock (55P03, 57014, client timeouts). */
  BackendTimeout: "BackendTimeout",
  /** A serialization failure or deadlock (40xxx): the next pass retries. */
  BackendConflict: "BackendConflict",
  /** The server refused a statement (syntax, data, other access rules: 42xxx, 22xxx, 0A…). */
  BackendRejected: "BackendRejected",
  /** After applying a grant, the grantee's role still holds a privilege it must not (see postgresGrant.ts). */
  BackendNotHardened: "BackendNotHardened",
  /** Anything else (internal error, a bug). */
  BackendError: "BackendError",
} as const;
export type BackendReason = (typeof BackendReason)[keyof typeof BackendReason];

export interface BackendFailure {
  reason: BackendReason;
  /** Ours, short, safe for status and Events. */
  message: string;
}

const exactCodes: Readonly<Record<string, BackendFailure>> = {
  "42501": { reason: BackendReason.BackendPermissionDenied, message: "the provider's admin role lacks a privilege this needs" },
  "55P03": { reason: BackendReason.BackendTimeout, message: "a lock on an object of the grant was not granted in time (another session holds it)" },
  "57014": { reason: BackendReason.BackendTimeout, message: "a statement ran longer than the statement timeout and was canceled" },
  "3D000": { reason: BackendReason.BackendObjectMissing, message: "the database does not exist" },
  "3F000": { reason: BackendReason.BackendObjectMissing, message: "a schema it names does not exist" },
  "42P01": { reason: BackendReason.BackendObjectMissing, message: "a table or view it names does not exist" },
  "42703": { reason: BackendReason.BackendObjectMissing, message: "a column it names does not exist" },
  "42883": { reason: BackendReason.BackendObjectMissing, message: "a function or operator it names does not exist (or not for these argument types)" },
  "42704": { reason: BackendReason.BackendObjectMissing, message: "an object it names (type, role) does not exist" },
  "42601": { reason: BackendReason.BackendRejected, message: "syntax error" },
};

const classes: Readonly<Record<string, BackendFailure>> = {
  "08": { reason: BackendReason.BackendUnavailable, message: "the connection to the database failed" },
  "28": { reason: BackendReason.BackendPermissionDenied, message: "the database refused the provider's credentials" },
  "40": { reason: BackendReason.BackendConflict, message: "a concurrent transaction conflicted; retried on the next pass" },
  "42": { reason: BackendReason.BackendRejected, message: "the database refused a statement (access rule or definition)" },
  "22": { reason: BackendReason.BackendRejected, message: "the database refused a value (data exception)" },
  "0A": { reason: BackendReason.BackendRejected, message: "the database does not support a feature this needs" },
  "53": { reason: BackendReason.BackendUnavailable, message: "the database is out of resources (connections, memory or disk)" },
  "57": { reason: BackendReason.BackendUnavailable, message: "the database is shutting down or not accepting connections" },
  "55": { reason: BackendReason.BackendRejected, message: "an object is not in the state this needs (in use by another session)" },
};

// Node's socket errors and node-postgres's own, which carry no SQLSTATE.
const socketUnavailable = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EPIPE"]);
const clientTimeout = /^(timeout expired|Query read timeout|Connection terminated due to connection timeout)$/;
const clientLost = /^Connection terminated( unexpectedly)?$/;

function clientFailure(code: string | undefined, message: string): BackendFailure {
  if (code === "ETIMEDOUT" || clientTimeout.test(message)) return { reason: BackendReason.BackendTimeout, message: "the database did not answer in time" };
  if ((code && socketUnavailable.has(code)) || clientLost.test(message)) return { reason: BackendReason.BackendUnavailable, message: "the database cannot be reached" };
  return { reason: BackendReason.BackendError, message: "the database call failed" };
}

/** SQLSTATE (5 characters), when the error came from the server. */
export function sqlstateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The reason and our message for a failure of the server or of the connection to it. */
export function classifyPostgresError(err: unknown): BackendFailure & { sqlstate?: string } {
  const sqlstate = sqlstateOf(err);
  if (sqlstate) {
    const known = exactCodes[sqlstate] ?? classes[sqlstate.slice(0, 2)] ?? { reason: BackendReason.BackendError, message: "the database reported an error" };
    return { ...known, message: `${known.message} (SQLSTATE ${sqlstate})`, sqlstate };
  }
  const e = err as { code?: unknown; message?: unknown } | null;
  return clientFailure(typeof e?.code === "string" ? e.code : undefined, typeof e?.message === "string" ? e.message : "");
}

/**
 * A backend failure as status and Events may show it. `detail` (the server's own text and
 * SQLSTATE) is non-enumerable: a structured logger that spreads the error does not print it.
 */
export class BackendError extends Error {
  readonly reason: string;
  readonly sqlstate?: string;
  declare readonly detail: string;
  constructor(reason: string, message: string, detail = "", sqlstate?: string) {
    super(message);
    this.name = "BackendError";
    this.reason = reason;
    if (sqlstate) this.sqlstate = sqlstate;
    Object.defineProperty(this, "detail", { value: detail, enumerable: false });
  }
}

/** Wraps any failure of a PostgreSQL call: `what` says what was being done ("issuing the grant"). */
export function postgresBackendError(err: unknown, what: string): BackendError {
  if (err instanceof BackendError) return err;
  const failure = classifyPostgresError(err);
  const raw = err instanceof Error ? err.message : String(err);
  return new BackendError(failure.reason, `${what}: ${failure.message}`, raw, failure.sqlstate);
}
