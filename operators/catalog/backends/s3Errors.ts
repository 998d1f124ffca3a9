// What an S3 or IAM failure means for a grant, as a reason (postgresErrors.ts's BackendReason) and
// a short message of ours. The server's message (an XML body's <Message>, which may quote bucket
// policies, ARNs or account names) stays out of status and Events; its error code is kept, it
// is a fixed vocabulary (AccessDenied, NoSuchBucket…).
import { BackendError, BackendReason } from "./postgresErrors.ts";

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const denied = new Set(["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken", "AccessDeniedException"]);
const missing = new Set(["NoSuchBucket", "NoSuchKey", "NotFound", "NoSuchEntity", "NoSuchEntityException"]);
const timedOut = new Set(["TimeoutError", "RequestTimeout", "RequestTimeoutException", "ETIMEDOUT"]);
const unavailable = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "ServiceUnavailable", "SlowDown", "InternalError"]);

function reasonOfCode(code: string): BackendReason | undefined {
  if (timedOut.has(code)) return BackendReason.BackendTimeout;
  if (denied.has(code)) return BackendReason.BackendPermissionDenied;
  if (missing.has(code)) return BackendReason.BackendObjectMissing;
  if (unavailable.has(code)) return BackendReason.BackendUnavailable;
  return undefined;
}

function reasonOfStatus(status: number): BackendReason {
  if (status === 401 || status === 403) return BackendReason.BackendPermissionDenied;
  if (status === 404) return BackendReason.BackendObjectMissing;
  if (status >= 500) return BackendReason.BackendUnavailable;
  return status >= 400 ? BackendReason.BackendRejected : BackendReason.BackendError;
}

function reasonOf(code: string, status: number | undefined): BackendReason {
  return reasonOfCode(code) ?? (status === undefined ? BackendReason.BackendError : reasonOfStatus(status));
}

/** A safe code: the SDK's error name or a socket error code, never free text. */
function codeOf(e: SdkError): string {
  const code = e.code ?? e.name ?? "";
  return /^[A-Za-z][A-Za-z0-9_.]{0,63}$/.test(code) ? code : "Error";
}

/** Wraps an S3 or IAM failure: `what` says what was being done ("issuing the grant"). */
export function s3BackendError(err: unknown, what: string): BackendError {
  if (err instanceof BackendError) return err;
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const code = codeOf(e);
  const reason = reasonOf(code, status);
  const http = status ? ` (HTTP ${status})` : "";
  const said = status ? `the S3/IAM server answered ${code}${http}` : `the S3/IAM call failed: ${code}`;
  const message = reason === BackendReason.BackendTimeout && !status ? `the S3/IAM server did not answer in time (${code})` : said;
  return new BackendError(reason, `${what}: ${message}`, e.message ?? String(err));
}
