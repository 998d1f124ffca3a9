// Error kinds the runtime and reconcilers tell apart: a TerminalError is recorded in status and
// not retried; API errors are classified from client-node 2.x's ApiException (code + Status body).
import { ApiException } from "@kubernetes/client-node";

/**
 * An error retrying cannot fix (the spec is invalid, a referenced object has the wrong type).
 * The reconciler records `reason`/`message` in status; the work queue does not back off on it.
 */
export class TerminalError extends Error {
  /** CamelCase condition reason, e.g. `InvalidSpec`. */
  readonly reason: string;

  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TerminalError";
    this.reason = reason;
  }
}

export function isTerminal(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

/** A Kubernetes `Status` body, as far as classification needs it. */
interface StatusBody {
  reason?: string;
  message?: string;
}

/** The HTTP code of an API error, or undefined when `err` is not one. */
export function apiErrorCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  // Errors that crossed a module boundary (another copy of client-node) keep the shape only.
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" && err instanceof Error ? code : undefined;
}

/** The `Status` body of an API error; client-node 2.x keeps it as the raw response text. */
export function apiErrorStatus(err: unknown): StatusBody | undefined {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === "object" && body !== null) return body as StatusBody;
  if (typeof body !== "string") return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === "object" && parsed !== null ? (parsed as StatusBody) : undefined;
  } catch {
    return undefined;
  }
}

/** 409 because the object changed since it was read (stale resourceVersion, apply conflict). */
export function isConflict(err: unknown): boolean {
  return apiErrorCode(err) === 409 && apiErrorStatus(err)?.reason !== "AlreadyExists";
}

/** 409 AlreadyExists: a create raced another writer (or an earlier attempt of ours). */
export function isAlreadyExists(err: unknown): boolean {
  return apiErrorCode(err) === 409 && apiErrorStatus(err)?.reason === "AlreadyExists";
}

export function isNotFound(err: unknown): boolean {
  return apiErrorCode(err) === 404;
}

/** One line for logs and conditions: the API's own message when there is one, never the headers. */
export function errorMessage(err: unknown): string {
  const code = apiErrorCode(err);
  if (code !== undefined) {
    const status = apiErrorStatus(err);
    return `HTTP ${code}${status?.reason ? ` ${status.reason}` : ""}: ${status?.message ?? "no message"}`;
  }
  return err instanceof Error ? err.message : String(err);
}
