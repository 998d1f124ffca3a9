// Builds the API server: health routes, the OpenAPI document, one error model, and the thin
// per-kind views executed as the caller. `main.ts` runs it; tests start it in-process.
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from "fastify";
import type { KubeConfig } from "@kubernetes/client-node";
import { Type } from "typebox";
import { callerKubeConfig, serverCluster } from "./caller.ts";
import { ApiError, notFound, toApiError } from "./errors.ts";
import { kindClient } from "./kind-client.ts";
import { registerKindRoutes, type CallerClientFactory } from "./kind-routes.ts";
import { commonNamedSchemas, ErrorResponse, kindSchemas } from "./kind-schemas.ts";
import { buildOpenApiDocument, type DocumentedRoute } from "./openapi.ts";
import { validatorCompiler } from "./validation.ts";
import type { ApiKind } from "./view.ts";

export interface ApiServerOptions {
  /** The server's own kubeconfig: only its cluster (address, CA) is used for user requests. */
  kubeConfig: KubeConfig;
  /** The kinds to serve, each as a thin view (list/get/create/replace/delete). */
  kinds: readonly ApiKind[];
  /** Whether Kubernetes can be reached; /readyz answers 503 while it says false. */
  readiness?: () => Promise<boolean>;
  /** Fastify/pino logger options, or false (tests). */
  logger?: FastifyServerOptions["logger"];
  version?: string;
  /** Routes beyond the per-kind views (discovery, catalog, federation), registered in order. */
  routes?: readonly ((app: FastifyInstance) => void)[];
}

/**
 * Pino options: JSON lines shaped like the logs of the other components (runtime/logger.ts)
 * (`level` as a word, `message`, ISO `timestamp`, `component`), and never a bearer token even
 * if a serializer starts logging headers.
 */
export function loggerOptions(level = "info"): FastifyServerOptions["logger"] {
  return {
    level,
    base: { component: "api" },
    messageKey: "message",
    timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: ["req.headers.authorization", "req.headers.cookie", "headers.authorization"], censor: "[redacted]" },
  };
}

/** How long SIGTERM waits for in-flight requests and the caches to stop; config/manager/api.yaml's terminationGracePeriodSeconds exceeds it. */
export const shutdownTimeoutMs = 15_000;

/** Runs `close`, giving up after `ms`: true when it finished in time. */
export async function closeWithin(close: () => Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([close().then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

const Health = Type.Object({ status: Type.String() });

function registerHealthRoutes(app: FastifyInstance, readiness: () => Promise<boolean>): void {
  const common = { tags: ["health"], security: [] };
  app.get("/healthz", { schema: { ...common, operationId: "healthz", summary: "The process is alive", response: { 200: Health } } }, async () => ({
    status: "ok",
  }));
  app.get(
    "/readyz",
    { schema: { ...common, operationId: "readyz", summary: "The Kubernetes API server can be reached", response: { 200: Health, 503: ErrorResponse } } },
    async () => {
      if (!(await readiness().catch(() => false))) {
        throw new ApiError(503, "NotReady", "the Kubernetes API server cannot be reached yet");
      }
      return { status: "ok" };
    },
  );
}

function registerOpenApiRoute(app: FastifyInstance, routes: DocumentedRoute[], options: ApiServerOptions): void {
  const namedSchemas = Object.assign({}, commonNamedSchemas, ...options.kinds.map((k) => kindSchemas(k).named)) as Record<string, unknown>;
  let document: Record<string, unknown> | undefined;
  // No schema: the document does not describe itself.
  app.get("/openapi.json", async () => {
    document ??= buildOpenApiDocument({
      title: "Archipel API",
      version: options.version ?? "v1",
      description: "Thin views over Archipel's custom resources, executed with the caller's Kubernetes identity.",
      routes,
      namedSchemas,
      securitySchemes: {
        kubernetesToken: {
          type: "http",
          scheme: "bearer",
          description: "A token the Kubernetes API server accepts (ServiceAccount, OIDC or static). Kubernetes RBAC decides.",
        },
      },
      security: [{ kubernetesToken: [] }],
      errorSchema: ErrorResponse,
      signedPathPrefix,
    });
    return document;
  });
}

function callerClients(kubeConfig: KubeConfig): CallerClientFactory {
  const cluster = serverCluster(kubeConfig);
  return (token, kind) => kindClient(callerKubeConfig(cluster, token), kind);
}

/**
 * Longest path parameter routed; longer ones get 414. Above the longest Kubernetes name (253),
 * so a name too long for Kubernetes is a 400 naming the parameter, not a 414.
 */
export const maxPathParamLength = 1024;

/** Routes under this prefix authenticate peers by request signature (documented as answering 401). */
const signedPathPrefix = "/federation/";

/** Errors Fastify raises before routing (bad URL encoding, a path parameter too long) → our error model. */
export function frameworkError(err: { code?: string; message: string }): ApiError {
  if (err.code === "FST_ERR_MAX_PARAM_LENGTH") {
    return new ApiError(414, "URITooLong", `a path parameter is longer than ${maxPathParamLength} characters: no name is that long`, { details: { in: "path" } });
  }
  if (err.code === "FST_ERR_BAD_URL") return new ApiError(400, "BadRequest", "the URL path is not valid percent-encoding", { details: { in: "path" } });
  return toApiError(err);
}

/** Requests whose line (method, URI, version) exceeds this, or Node's header limit with it, get 414. */
export const maxRequestLineBytes = 8192;

/**
 * Errors Node's HTTP parser raises before Fastify sees a request → our error model: a request
 * whose header section overflows Node's limit is a 414 when its request line is what is too long
 * (a long URI), a 431 otherwise; a timeout 408; anything else a 400.
 */
export function httpParseError(err: { code?: string; rawPacket?: unknown }): ApiError {
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") return new ApiError(408, "RequestTimeout", "the request was not received in time");
  if (err.code !== "HPE_HEADER_OVERFLOW") return new ApiError(400, "BadRequest", "the request is not valid HTTP/1.1");
  const packet = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.toString("latin1") : "";
  const lineEnd = packet.indexOf("\r\n");
  if (lineEnd < 0 || lineEnd > maxRequestLineBytes) {
    return new ApiError(414, "URITooLong", `the request URI is too long (the request line may take ${maxRequestLineBytes} bytes); send fewer or shorter parameters`);
  }
  return new ApiError(431, "RequestHeaderFieldsTooLarge", "the request headers are too large");
}

function onClientError(err: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  if (socket.writable) {
    const e = httpParseError(err);
    const body = JSON.stringify(e.toBody());
    socket.write(`HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? ""}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

export function buildServer(options: ApiServerOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    exposeHeadRoutes: false,
    routerOptions: { maxParamLength: maxPathParamLength },
    clientErrorHandler: onClientError,
    frameworkErrors: (err, _request, reply: FastifyReply) => {
      const apiError = frameworkError(err);
      void reply.code(apiError.status).send(apiError.toBody());
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API; serialising with them would silently drop fields they
  // do not list (fast-json-stringify), so responses are sent as they are.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  const routes: DocumentedRoute[] = [];
  app.addHook("onRoute", (route) => {
    routes.push({ method: route.method, url: route.url, ...(route.schema ? { schema: route.schema as DocumentedRoute["schema"] } : {}) });
  });

  app.setErrorHandler((err, request, reply) => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) request.log.error({ err }, "request failed");
    else request.log.info({ code: apiError.code, status: apiError.status, field: apiError.field }, apiError.message);
    if (apiError.status === 401) void reply.header("WWW-Authenticate", 'Bearer realm="archipel"');
    return reply.code(apiError.status).send(apiError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const e = notFound(`no route ${request.method} ${request.url.split("?")[0]}; see /openapi.json`);
    return reply.code(404).send(e.toBody());
  });

  registerHealthRoutes(app, options.readiness ?? (async () => true));
  registerOpenApiRoute(app, routes, options);
  const clientFor = callerClients(options.kubeConfig);
  for (const kind of options.kinds) registerKindRoutes(app, kind, clientFor);
  for (const register of options.routes ?? []) register(app);
  return app;
}
