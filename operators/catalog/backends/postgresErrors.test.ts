import assert from "node:assert/strict";
import { BackendError, BackendReason, classifyPostgresError, postgresBackendError, sqlstateOf } from "./postgresErrors.ts";

/** An error shaped like node-postgres's DatabaseError: the server's text and its SQLSTATE. */
function serverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: "ERROR" });
}

describe("classifyPostgresError", () => {
  const cases: Array<[string, string, BackendReason]> = [
    ["42501", 'permission denied for table "salaries"', BackendReason.BackendPermissionDenied],
    ["28P01", 'password authentication failed for user "dba_root"', BackendReason.BackendPermissionDenied],
    ["28000", 'no pg_hba.conf entry for host "10.1.2.3"', BackendReason.BackendPermissionDenied],
    ["08006", "connection failure", BackendReason.BackendUnavailable],
    ["53300", "sorry, too many clients already", BackendReason.BackendUnavailable],
    ["57P01", "terminating connection due to administrator command", BackendReason.BackendUnavailable],
    ["3D000", 'database "secret_db" does not exist', BackendReason.BackendObjectMissing],
    ["3F000", 'schema "hr" does not exist', BackendReason.BackendObjectMissing],
    ["42P01", 'relation "hr.salaries" does not exist', BackendReason.BackendObjectMissing],
    ["42703", 'column "ssn" does not exist', BackendReason.BackendObjectMissing],
    ["42883", "function leak(integer) does not exist", BackendReason.BackendObjectMissing],
    ["55P03", 'canceling statement due to lock timeout on relation "data"', BackendReason.BackendTimeout],
    ["57014", "canceling statement due to statement timeout", BackendReason.BackendTimeout],
    ["40P01", "deadlock detected", BackendReason.BackendConflict],
    ["40001", "could not serialize access", BackendReason.BackendConflict],
    ["42601", 'syntax error at or near "FROMM"', BackendReason.BackendRejected],
    ["22P02", 'invalid input syntax for type integer: "hunter2"', BackendReason.BackendRejected],
    ["XX000", "cache lookup failed for relation 16384", BackendReason.BackendError],
  ];

  it("maps SQLSTATE codes and classes to a reason, and never repeats the server's text", () => {
    for (const [code, text, reason] of cases) {
      const failure = classifyPostgresError(serverError(code, text));
      assert.equal(failure.reason, reason, code);
      assert.equal(failure.sqlstate, code);
      assert.match(failure.message, new RegExp(`\\(SQLSTATE ${code}\\)$`));
      assert.ok(!failure.message.includes(text), `${code}: "${failure.message}" quotes the server`);
      for (const leak of ["salaries", "secret_db", "hunter2", "10.1.2.3", "ssn", "dba_root"]) assert.ok(!failure.message.includes(leak), `${code} leaks ${leak}`);
    }
  });

  it("maps the client's own failures (no SQLSTATE): timeouts and unreachable hosts", () => {
    assert.equal(classifyPostgresError(new Error("timeout expired")).reason, BackendReason.BackendTimeout);
    assert.equal(classifyPostgresError(new Error("Connection terminated due to connection timeout")).reason, BackendReason.BackendTimeout);
    assert.equal(classifyPostgresError(new Error("Query read timeout")).reason, BackendReason.BackendTimeout);
    assert.equal(classifyPostgresError(Object.assign(new Error("connect ETIMEDOUT 127.0.0.1:1"), { code: "ETIMEDOUT" })).reason, BackendReason.BackendTimeout);
    assert.equal(classifyPostgresError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })).reason, BackendReason.BackendUnavailable);
    assert.equal(classifyPostgresError(Object.assign(new Error("getaddrinfo ENOTFOUND db.internal"), { code: "ENOTFOUND" })).reason, BackendReason.BackendUnavailable);
    assert.equal(classifyPostgresError(new Error("Connection terminated unexpectedly")).reason, BackendReason.BackendUnavailable);
    const other = classifyPostgresError(new Error("something odd about db.internal"));
    assert.equal(other.reason, BackendReason.BackendError);
    assert.doesNotMatch(other.message, /db\.internal/);
  });

  it("reads a SQLSTATE only when it is one", () => {
    assert.equal(sqlstateOf(serverError("42P01", "x")), "42P01");
    assert.equal(sqlstateOf({ code: "ECONNREFUSED" }), undefined);
    assert.equal(sqlstateOf(null), undefined);
    assert.equal(sqlstateOf("42P01"), undefined);
  });
});

describe("postgresBackendError", () => {
  it("says what was being done with our message; the server's text stays in a non-enumerable detail", () => {
    const err = postgresBackendError(serverError("42501", 'permission denied for table "salaries"'), "issuing the grant");
    assert.ok(err instanceof BackendError);
    assert.equal(err.reason, BackendReason.BackendPermissionDenied);
    assert.equal(err.message, "issuing the grant: the provider's admin role lacks a privilege this needs (SQLSTATE 42501)");
    assert.equal(err.detail, 'permission denied for table "salaries"');
    assert.equal(err.sqlstate, "42501");
    assert.ok(!JSON.stringify({ ...err }).includes("salaries"), "spreading the error does not carry the detail");
    assert.ok(!String(err.stack).includes("salaries"));
  });

  it("keeps an error that is already ours", () => {
    const ours = new BackendError(BackendReason.BackendNotHardened, "kept");
    assert.equal(postgresBackendError(ours, "issuing the grant"), ours);
  });
});
