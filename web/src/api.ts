// The one way the UI talks to the REST API: same origin, the bearer token in a header (never in
// a URL), errors turned into ApiFailure with the API's code, message and field.
import { currentToken } from "./token.ts";

export interface ApiErrorBody {
  error: { code: string; status: number; message: string; field?: string; details?: { in?: string; causes?: { field?: string; message: string }[] } };
}

export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly causes: { field?: string; message: string }[];

  constructor(status: number, body: Partial<ApiErrorBody> | undefined, fallback: string) {
    const error: Partial<ApiErrorBody["error"]> = body?.error ?? {};
    super(error.message ?? fallback);
    this.name = "ApiFailure";
    this.status = status;
    this.code = error.code ?? "Error";
    this.field = error.field;
    this.causes = error.details?.causes ?? [];
  }

  /** Every field this error names (the first, then each cause's). */
  fields(): string[] {
    const all = [this.field, ...this.causes.map((c) => c.field)].filter((f): f is string => !!f);
    return [...new Set(all)];
  }
}

/** What a user should do about an error, in one sentence. */
export function adviceFor(error: unknown): string {
  if (!(error instanceof ApiFailure)) return "Check your connection to the API server and try again.";
  if (error.status === 401) return "Your token was not accepted: sign in again with a valid token.";
  if (error.status === 403) return "Ask an administrator for the permission named above (a Kubernetes Role or ClusterRole binding).";
  if (error.status === 404) return "It may have been deleted, or it is in another namespace.";
  if (error.status === 409) return "Someone changed it meanwhile: reload and apply your change again.";
  if (error.status === 400 || error.status === 422) return "Correct the field named above and submit again.";
  if (error.status >= 500) return "The server failed: try again; if it persists, look at the API's logs.";
  return "Try again.";
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const token = currentToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method: init.method ?? "GET", headers, cache: "no-store", ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }) });
  } catch {
    throw new ApiFailure(0, undefined, "The API server cannot be reached.");
  }
  const text = await res.text();
  const json = text === "" ? undefined : safeJson(text);
  if (!res.ok) throw new ApiFailure(res.status, json as Partial<ApiErrorBody> | undefined, `${res.status} ${res.statusText}`);
  return json as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ types of the API's answers

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
}

export interface KubeObject<S = Record<string, unknown>, T = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: S;
  status?: T & { conditions?: Condition[] };
}

export interface KubeList<O> {
  items: O[];
  metadata: { continue?: string };
}

export interface CatalogItem {
  origin?: string;
  namespace: string;
  name: string;
  type: string;
  title: string;
  description?: string;
  tags: string[];
  provider: string;
  visibility: string;
  projects?: string[];
  ready: boolean;
}

export interface FederatedAnswer {
  items: CatalogItem[];
  errors: { cluster: string; code: string; message: string }[];
}

export interface WhoAmI {
  user: string;
  groups: string[];
}

export interface ObjectEvent {
  type: string;
  reason: string;
  message: string;
  count: number;
  lastSeen?: string;
  source?: string;
}

/** A kind's REST collection: namespaced kinds under /api/v1/namespaces/NS/. */
export function collection(plural: string, namespace?: string): string {
  return namespace === undefined ? `/api/v1/${plural}` : `/api/v1/namespaces/${encodeURIComponent(namespace)}/${plural}`;
}

export function item(plural: string, name: string, namespace?: string): string {
  return `${collection(plural, namespace)}/${encodeURIComponent(name)}`;
}

export function readyOf(obj: { status?: { conditions?: Condition[] } }): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === "Ready");
}
