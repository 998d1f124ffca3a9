// The API's one error model, and the pure mappings into it from request-validation errors
// and from Kubernetes Status responses. No I/O here: the HTTP layer only serialises these.

/** The body of every error response: `{ error: { code, status, message, field?, details? } }`. */
export interface ApiErrorBody {
  error: {
    /** Machine-readable reason, CamelCase (Kubernetes' StatusReason names where one fits). */
    code: string;
    /** The HTTP status, repeated so a logged body is self-contained. */
    status: number;
    /** For humans: what is wrong and, where possible, what to do. */
    message: string;
    /** The offending field as a dotted path (`spec.postgres.host`, `items[0].name`). */
    field?: string;
    details?: ApiErrorDetails;
  };
}

export interface ApiErrorDetails {
  /** Which part of the request the field is in. */
  in?: "body" | "query" | "path" | "header";
  /** Every invalid field, when there is more than one. */
  causes?: { field?: string; message: string }[];
}

/** An error that carries its HTTP response; handlers throw it and the error handler sends it. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly details: ApiErrorDetails | undefined;

  constructor(status: number, code: string, message: string, extra: { field?: string; details?: ApiErrorDetails } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = extra.field;
    this.details = extra.details;
  }

  toBody(): ApiErrorBody {
    const error: ApiErrorBody["error"] = { code: this.code, status: this.status, message: this.message };
    if (this.field !== undefined) error.field = this.field;
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

export const unauthorized = (message: string): ApiError => new ApiError(401, "Unauthorized", message);
export const notFound = (message: string): ApiError => new ApiError(404, "NotFound", message);

// ---------------------------------------------------------------------------------------------
// Request validation (Ajv errors, as Fastify attaches them to `error.validation`)

/** The subset of an Ajv ErrorObject this mapping reads. */
export interface SchemaViolation {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

export type RequestPart = "body" | "querystring" | "params" | "headers";

const partNames: Record<RequestPart, NonNullable<ApiErrorDetails["in"]>> = {
  body: "body",
  querystring: "query",
  params: "path",
  headers: "header",
};

/** `/spec/items/0/name` → `spec.items[0].name` (JSON pointer unescaping included). */
export function dottedPath(pointer: string): string {
  if (pointer === "") return "";
  return pointer
    .split("/")
    .slice(1)
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((path, token) => (/^\d+$/.test(token) ? `${path}[${token}]` : path === "" ? token : `${path}.${token}`), "");
}

function joinPath(base: string, child: string): string {
  return base === "" ? child : `${base}.${child}`;
}

/** The field a violation is about: for `required` and `additionalProperties` the child named in params. */
export function violationField(v: SchemaViolation): string {
  const base = dottedPath(v.instancePath);
  if (v.keyword === "required" && typeof v.params.missingProperty === "string") {
    return joinPath(base, v.params.missingProperty);
  }
  if (v.keyword === "additionalProperties" && typeof v.params.additionalProperty === "string") {
    return joinPath(base, v.params.additionalProperty);
  }
  return base;
}

function violationMessage(v: SchemaViolation): string {
  if (v.keyword === "required") return "is required";
  if (v.keyword === "additionalProperties") return "is not a known field; remove it";
  if (v.keyword === "enum" && Array.isArray(v.params.allowedValues)) {
    return `must be one of: ${v.params.allowedValues.map(String).join(", ")}`;
  }
  return v.message ?? `fails the "${v.keyword}" rule`;
}

/** Ajv errors of one request part → 400 naming the (first) offending field. */
export function fromSchemaViolations(part: RequestPart, violations: readonly SchemaViolation[]): ApiError {
  const causes = violations.map((v) => ({ field: violationField(v), message: violationMessage(v) }));
  const first = causes[0] ?? { field: "", message: "is invalid" };
  const where = partNames[part];
  const field = first.field === "" ? undefined : first.field;
  const subject = field ?? `the request ${where}`;
  return new ApiError(400, "BadRequest", `${subject}: ${first.message}`, {
    ...(field === undefined ? {} : { field }),
    details: { in: where, ...(causes.length > 1 ? { causes } : {}) },
  });
}

// ---------------------------------------------------------------------------------------------
// resourceVersion sent back by a client

/**
 * resourceVersions are opaque to clients, but the only ones a Kubernetes API server hands out
 * are decimal counters, and it answers anything else in an update with a 500 (it fails to parse
 * it). So what is not one is the caller's mistake: a 400 naming the field, never a 502.
 */
export const resourceVersionPattern = "^[0-9]{1,19}$";

export function resourceVersionError(value: string | undefined, field: string, where: "body" | "query"): ApiError | undefined {
  if (value === undefined || new RegExp(resourceVersionPattern).test(value)) return undefined;
  return new ApiError(400, "BadRequest", `${field}: "${value.slice(0, 40)}" is not a resourceVersion; send back the one you read from the object`, { field, details: { in: where } });
}

// ---------------------------------------------------------------------------------------------
// Kubernetes Status responses (metav1.Status)

/** The parts of a metav1.Status this mapping reads. */
export interface KubernetesStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

/** Parses a response body (string or already-parsed) as a Status; anything else → undefined. */
export function parseKubernetesStatus(body: unknown): KubernetesStatus | undefined {
  let value = body;
  if (typeof body === "string") {
    try {
      value = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== "object" || value === null) return undefined;
  const status = value as KubernetesStatus;
  return status.kind === "Status" || typeof status.reason === "string" ? status : undefined;
}

/** Kubernetes' status code → ours. Upstream server errors become 502: the fault is not the caller's. */
const statusByCode: Record<number, { status: number; code: string }> = {
  400: { status: 400, code: "BadRequest" },
  401: { status: 401, code: "Unauthorized" },
  403: { status: 403, code: "Forbidden" },
  404: { status: 404, code: "NotFound" },
  405: { status: 405, code: "MethodNotAllowed" },
  409: { status: 409, code: "Conflict" },
  410: { status: 410, code: "Gone" },
  413: { status: 413, code: "RequestEntityTooLarge" },
  415: { status: 415, code: "UnsupportedMediaType" },
  422: { status: 422, code: "Invalid" },
  429: { status: 429, code: "TooManyRequests" },
};

const fallbackMessages: Record<number, string> = {
  401: "the bearer token was rejected by Kubernetes; send a valid token",
  403: "Kubernetes RBAC does not allow this request",
  // A 404 without a Status comes from the API server's router: no such resource type is served
  // (a CRD not installed), not a missing object (that 404 carries a Status naming the object).
  404: "this cluster does not serve this kind: its CustomResourceDefinition is not installed",
  409: "the object was changed or already exists; read it again and retry",
};

/**
 * A Kubernetes error response → our error. 422 Invalid keeps the first cause's field;
 * 409 keeps Kubernetes' reason (Conflict or AlreadyExists) as the code.
 */
export function fromKubernetes(httpCode: number, body: unknown): ApiError {
  const status = parseKubernetesStatus(body);
  const mapped = statusByCode[httpCode] ?? { status: 502, code: "UpstreamError" };
  const code = httpCode === 409 && status?.reason === "AlreadyExists" ? "AlreadyExists" : mapped.code;
  const causes = kubernetesCauses(status);
  const field = causes.find((c) => c.field !== undefined)?.field;
  return new ApiError(mapped.status, code, upstreamMessage(httpCode, status), {
    ...(field === undefined ? {} : { field }),
    ...(causes.length > 0 ? { details: { in: "body", causes } } : {}),
  });
}

function kubernetesCauses(status: KubernetesStatus | undefined): { field?: string; message: string }[] {
  return (status?.details?.causes ?? [])
    .filter((c) => c.message !== undefined || c.field !== undefined)
    // Rules on the whole object are reported on "<nil>": that names no field.
    .map((c) => ({ ...(c.field && c.field !== "<nil>" ? { field: c.field } : {}), message: c.message ?? c.reason ?? "invalid" }));
}

function upstreamMessage(httpCode: number, status: KubernetesStatus | undefined): string {
  // 401 bodies never say more than "Unauthorized"; ours tells the caller what to do.
  if (httpCode === 401) return fallbackMessages[401] ?? "Unauthorized";
  if (httpCode >= 500 || statusByCode[httpCode] === undefined) {
    return `the Kubernetes API server answered ${httpCode}${status?.message ? `: ${status.message}` : ""}`;
  }
  return status?.message ?? fallbackMessages[httpCode] ?? `the Kubernetes API server answered ${httpCode}`;
}

/** An error thrown by something we did not write → a generic 500 whose message leaks nothing. */
export function internalError(): ApiError {
  return new ApiError(500, "InternalError", "internal error; the server log has the details");
}

const upstreamUnreachable = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

const codeByClientStatus: Record<number, string> = {
  400: "BadRequest",
  404: "NotFound",
  405: "MethodNotAllowed",
  413: "RequestEntityTooLarge",
  415: "UnsupportedMediaType",
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function systemErrorCode(err: Record<string, unknown>): string | undefined {
  if (typeof err.code === "string") return err.code;
  return isRecord(err.cause) && typeof err.cause.code === "string" ? err.cause.code : undefined;
}

/**
 * Anything a handler or Fastify threw → our error model. Recognises, by shape: ApiError,
 * Fastify request-validation errors, Fastify's own 4xx errors (bad JSON, wrong content type,
 * body too large), Kubernetes client ApiExceptions (numeric `code` + `body`), an
 * unreachable API server and one past a call's deadline. Everything else is a 500 that reveals nothing.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (!isRecord(err)) return internalError();
  return fromValidationError(err) ?? fromKubernetesException(err) ?? fromFastifyClientError(err) ?? fromSystemError(err) ?? fromDeadline(err) ?? internalError();
}

/** A call aborted by its deadline (AbortSignal.timeout): every Kubernetes call the API makes has one. */
function fromDeadline(err: Record<string, unknown>): ApiError | undefined {
  if (err.name !== "TimeoutError") return undefined;
  return new ApiError(504, "UpstreamTimeout", "the Kubernetes API server did not answer in time; retry later");
}

function fromValidationError(err: Record<string, unknown>): ApiError | undefined {
  if (!Array.isArray(err.validation)) return undefined;
  const part = (typeof err.validationContext === "string" ? err.validationContext : "body") as RequestPart;
  return fromSchemaViolations(part, err.validation as SchemaViolation[]);
}

function fromKubernetesException(err: Record<string, unknown>): ApiError | undefined {
  return typeof err.code === "number" && "body" in err ? fromKubernetes(err.code, err.body) : undefined;
}

function fromFastifyClientError(err: Record<string, unknown>): ApiError | undefined {
  const status = typeof err.statusCode === "number" ? err.statusCode : undefined;
  const code = status === undefined ? undefined : codeByClientStatus[status];
  if (status === undefined || code === undefined || typeof err.message !== "string") return undefined;
  return new ApiError(status, code, err.message);
}

function fromSystemError(err: Record<string, unknown>): ApiError | undefined {
  const sys = systemErrorCode(err);
  // undici's fetch (under client-node) wraps every network failure as TypeError("fetch failed").
  const fetchFailed = err instanceof TypeError && err.message === "fetch failed";
  if (!fetchFailed && (sys === undefined || !upstreamUnreachable.has(sys))) return undefined;
  return new ApiError(503, "UpstreamUnavailable", "the Kubernetes API server cannot be reached; retry later");
}
