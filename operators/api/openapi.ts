// The OpenAPI 3.1 document, generated from the schemas the routes validate with (which come
// from the same TypeBox source as the CRDs). Pure: the server collects its routes and calls this.
// OpenAPI 3.1 schemas are JSON Schema 2020-12, so route schemas go in as they are; named ones
// are moved to components.schemas and referenced, so each kind's schema appears once.

type Json = Record<string, unknown>;

/** The documentation part of a route's schema (Fastify ignores these keys when validating). */
export interface RouteSchema {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  /** `[]` marks a route that needs no token. */
  security?: Record<string, string[]>[];
  hide?: boolean;
  params?: unknown;
  querystring?: unknown;
  body?: unknown;
  response?: Record<string, unknown>;
}

export interface DocumentedRoute {
  method: string | string[];
  url: string;
  schema?: RouteSchema;
}

export interface OpenApiInput {
  title: string;
  version: string;
  description?: string;
  routes: readonly DocumentedRoute[];
  /** Schemas to publish under components.schemas; equal subschemas of routes become $refs. */
  namedSchemas: Record<string, unknown>;
  securitySchemes: Record<string, unknown>;
  /** Applied to every operation that does not set its own `security`. */
  security: Record<string, string[]>[];
  /** The error body; with it every operation also documents the errors any route of its shape answers (frameworkStatuses). */
  errorSchema?: unknown;
  /** Routes under this prefix authenticate with a request signature, not `security`: they answer 401 too. */
  signedPathPrefix?: string;
}

const errorDescriptions: Record<number, string> = {
  400: "the request does not match this operation's schema (the body names the field)",
  401: "no valid credentials",
  403: "the caller may not do this",
  404: "what the path names does not exist",
  414: "the URI is too long (a path parameter longer than any name, or too many or too long parameters)",
};

/**
 * The error statuses any route of this shape answers, whatever its handler does: 400 from request
 * validation, 414 for a URI too long, 404 for what its path names, 401/403 when it needs credentials (a token, or
 * a signature under `signedPathPrefix`). The document lists them so clients (and the fuzzing run)
 * can rely on "every status is documented".
 */
export function frameworkStatuses(route: { url: string; schema: RouteSchema }, signedPathPrefix?: string): number[] {
  const s = route.schema;
  const statuses = new Set<number>();
  if (s.params !== undefined || s.querystring !== undefined || s.body !== undefined) statuses.add(400);
  statuses.add(414); // any URI can be too long
  if (/:[A-Za-z0-9_]+/.test(route.url)) statuses.add(404);
  if (s.security === undefined || s.security.length > 0) [401, 403].forEach((c) => statuses.add(c));
  if (signedPathPrefix !== undefined && route.url.startsWith(signedPathPrefix)) statuses.add(401);
  return [...statuses].sort((a, b) => a - b);
}

const httpMethods = new Set(["get", "put", "post", "delete", "patch", "options"]);

/** `/api/v1/namespaces/:namespace/providers/:name` → `/api/v1/namespaces/{namespace}/providers/{name}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

/** Replaces every subschema equal to a named schema by a `$ref` to it. */
class SchemaNamer {
  private readonly byJson = new Map<string, string>();

  constructor(named: Record<string, unknown>) {
    for (const [name, schema] of Object.entries(named)) {
      const json = JSON.stringify(schema);
      if (!this.byJson.has(json)) this.byJson.set(json, name); // equal schemas: the first name wins
    }
  }

  /** `skipRoot`: when publishing a named schema itself, only its children may become refs. */
  refer(schema: unknown, skipRoot = false): unknown {
    if (Array.isArray(schema)) return schema.map((s) => this.refer(s));
    if (typeof schema !== "object" || schema === null) return schema;
    const name = skipRoot ? undefined : this.byJson.get(JSON.stringify(schema));
    if (name !== undefined) return { $ref: `#/components/schemas/${name}` };
    return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, this.refer(v)]));
  }
}

function asJson(value: unknown): Json {
  return typeof value === "object" && value !== null ? (value as Json) : {};
}

function parametersOf(schema: unknown, where: "path" | "query", namer: SchemaNamer): Json[] {
  const object = asJson(schema);
  const required = new Set(Array.isArray(object.required) ? (object.required as string[]) : []);
  return Object.entries(asJson(object.properties)).map(([name, property]) => {
    const description = asJson(property).description;
    return {
      name,
      in: where,
      required: where === "path" || required.has(name),
      ...(typeof description === "string" ? { description } : {}),
      schema: namer.refer(property),
    };
  });
}

function responseOf(status: string, schema: unknown, namer: SchemaNamer): Json {
  const description = asJson(schema).description;
  const text = typeof description === "string" ? description : `HTTP ${status}`;
  if (status === "204") return { description: text };
  // Fastify's form for a response with several media types: {content: {type: {schema}}}.
  const content = asJson(schema).content;
  if (typeof content === "object" && content !== null) {
    return { description: text, content: Object.fromEntries(Object.entries(content).map(([type, c]) => [type, { schema: namer.refer(asJson(c).schema) }])) };
  }
  return { description: text, content: { "application/json": { schema: namer.refer(schema) } } };
}

/** The framework errors a route does not document itself, with their descriptions. */
function undocumentedFrameworkErrors(url: string, schema: RouteSchema, input: OpenApiInput): [string, string][] {
  if (input.errorSchema === undefined) return [];
  const documented = schema.response ?? {};
  return frameworkStatuses({ url, schema: { ...schema, security: schema.security ?? input.security } }, input.signedPathPrefix)
    .filter((status) => {
      const range = `${String(status)[0]}xx`;
      return [String(status), range, range.toUpperCase()].every((key) => documented[key] === undefined);
    })
    .map((status) => [String(status), errorDescriptions[status] ?? `HTTP ${status}`]);
}

function operationOf(url: string, schema: RouteSchema, namer: SchemaNamer, input: OpenApiInput): Json {
  const op: Json = {};
  for (const key of ["operationId", "summary", "description", "tags"] as const) {
    if (schema[key] !== undefined) op[key] = schema[key];
  }
  const parameters = [...parametersOf(schema.params, "path", namer), ...parametersOf(schema.querystring, "query", namer)];
  if (parameters.length > 0) op.parameters = parameters;
  if (schema.body !== undefined) {
    op.requestBody = { required: true, content: { "application/json": { schema: namer.refer(schema.body) } } };
  }
  const responses = Object.entries(schema.response ?? { 200: {} }).map(([status, s]) => [
    status.toUpperCase(), // Fastify's "4xx" is OpenAPI's "4XX"
    responseOf(status, s, namer),
  ]);
  const frameworkErrors = undocumentedFrameworkErrors(url, schema, input).map(([status, description]) => [
    status,
    { description, content: { "application/json": { schema: namer.refer(input.errorSchema) } } },
  ]);
  op.responses = Object.fromEntries([...responses, ...frameworkErrors].sort(([a], [b]) => String(a).localeCompare(String(b))));
  op.security = schema.security ?? input.security;
  return op;
}

/** Builds the document. Routes without a schema or with `hide: true`, and HEAD routes, are left out. */
export function buildOpenApiDocument(input: OpenApiInput): Json {
  const namer = new SchemaNamer(input.namedSchemas);
  const paths: Record<string, Json> = {};
  for (const route of input.routes) {
    if (!route.schema || route.schema.hide) continue;
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => m.toLowerCase());
    for (const method of methods.filter((m) => httpMethods.has(m))) {
      const path = openApiPath(route.url);
      paths[path] = { ...paths[path], [method]: operationOf(route.url, route.schema, namer, input) };
    }
  }
  const schemas = Object.fromEntries(Object.entries(input.namedSchemas).map(([name, s]) => [name, namer.refer(s, true)]));
  return {
    openapi: "3.1.0",
    info: { title: input.title, version: input.version, ...(input.description ? { description: input.description } : {}) },
    paths,
    components: { schemas, securitySchemes: input.securitySchemes },
  };
}
