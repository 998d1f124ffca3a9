import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import { errorMessage, isAlreadyExists, isConflict, isNotFound, isTerminal, TerminalError } from "./errors.ts";

const status = (code: number, reason: string): ApiException<string> =>
  new ApiException(code, "Unsuccessful HTTP Request", JSON.stringify({ kind: "Status", reason, message: `${reason} happened` }), {});

describe("runtime/errors", () => {
  it("tells a stale-write conflict from AlreadyExists (both 409)", () => {
    assert.equal(isConflict(status(409, "Conflict")), true);
    assert.equal(isAlreadyExists(status(409, "Conflict")), false);
    assert.equal(isAlreadyExists(status(409, "AlreadyExists")), true);
    assert.equal(isConflict(status(409, "AlreadyExists")), false);
  });

  it("recognises NotFound and ignores non-API errors", () => {
    assert.equal(isNotFound(status(404, "NotFound")), true);
    assert.equal(isNotFound(new Error("404")), false);
    assert.equal(isConflict(undefined), false);
  });

  it("gives the API's message without headers", () => {
    assert.equal(errorMessage(status(409, "Conflict")), "HTTP 409 Conflict: Conflict happened");
    assert.equal(errorMessage(new Error("plain")), "plain");
  });

  it("marks terminal errors with a reason", () => {
    const err = new TerminalError("InvalidSpec", "spec.postgres.host is required");
    assert.equal(isTerminal(err), true);
    assert.equal(err.reason, "InvalidSpec");
    assert.equal(isTerminal(new Error("x")), false);
  });
});
