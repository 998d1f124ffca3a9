import assert from "node:assert/strict";
import { BackendError, BackendReason } from "./postgresErrors.ts";
import { s3BackendError } from "./s3Errors.ts";

function sdkError(name: string, message: string, status?: number): Error {
  return Object.assign(new Error(message), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });
}

describe("s3BackendError", () => {
  it("maps the error code and HTTP status to a reason, with the code but never the server's message", () => {
    const cases: Array<[Error, BackendReason]> = [
      [sdkError("AccessDenied", "User arn:aws:iam::123456789012:user/admin is not authorized", 403), BackendReason.BackendPermissionDenied],
      [sdkError("NoSuchBucket", "The bucket secret-bucket does not exist", 404), BackendReason.BackendObjectMissing],
      [sdkError("TimeoutError", "socket hang up after 300 ms"), BackendReason.BackendTimeout],
      [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }), BackendReason.BackendUnavailable],
      [sdkError("InternalError", "we broke", 500), BackendReason.BackendUnavailable],
      [sdkError("MalformedPolicyDocument", "policy text here", 400), BackendReason.BackendRejected],
      [new Error("something else"), BackendReason.BackendError],
    ];
    for (const [err, reason] of cases) {
      const mapped = s3BackendError(err, "issuing the grant");
      assert.ok(mapped instanceof BackendError);
      assert.equal(mapped.reason, reason, err.message);
      assert.match(mapped.message, /^issuing the grant: the S3\/IAM (server answered \w+ \(HTTP \d+\)|call failed: \w+|server did not answer in time \(\w+\))$/);
      assert.ok(!mapped.message.includes(err.message), mapped.message);
      assert.equal(mapped.detail, err.message);
    }
    assert.equal(s3BackendError(sdkError("AccessDenied", "x", 403), "revoking the grant").message, "revoking the grant: the S3/IAM server answered AccessDenied (HTTP 403)");
  });

  it("never takes free text for a code", () => {
    const mapped = s3BackendError(sdkError("not a code: arn:aws:iam::1:user/x", "m"), "issuing the grant");
    assert.equal(mapped.message, "issuing the grant: the S3/IAM call failed: Error");
  });
});
