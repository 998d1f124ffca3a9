// Generic thin-view routes for one kind: list/get/create/replace/delete, each executed with the
// caller's own token (RBAC decides). A new kind is one `registerKindRoutes(app, kind, …)` call.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type TSchema } from "typebox";
import { bearerToken } from "./caller.ts";
import type { KindClient, ListQuery } from "./kind-client.ts";
import { ErrorResponse, kindSchemas, NamespaceName, ObjectName } from "./kind-schemas.ts";
import { ApiError, resourceVersionError, resourceVersionPattern } from "./errors.ts";
import { isDeletedStatus, newObject, replacedObject, toListView, toObjectView, type ApiKind, type CreateRequest, type ReplaceRequest } from "./view.ts";

/** Builds a client of `kind` that authenticates to Kubernetes with `token` only. */
export type CallerClientFactory = (token: string, kind: ApiKind) => KindClient;

interface ObjectParams {
  namespace?: string;
  name: string;
}

const errorResponses = (...codes: number[]): Record<number, TSchema> =>
  Object.fromEntries(codes.map((c) => [c, ErrorResponse]));

const ListQuerystring = Type.Object(
  {
    labelSelector: Type.Optional(Type.String({ description: "Kubernetes label selector, e.g. tier=gold,env!=dev" })),
    fieldSelector: Type.Optional(Type.String({ description: "Kubernetes field selector, e.g. metadata.name=x" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: "page size" })),
    continue: Type.Optional(Type.String({ description: "metadata.continue of the previous page" })),
  },
  { additionalProperties: false },
);

const DeleteQuerystring = Type.Object(
  { resourceVersion: Type.Optional(Type.String({ pattern: resourceVersionPattern, description: "delete only if unchanged (409 otherwise)" })) },
  { additionalProperties: false },
);

/** Where a kind's collection lives: `/api/v1/namespaces/:namespace/<plural>` or `/api/v1/<plural>`. */
export function collectionPath(kind: ApiKind): string {
  return kind.scope === "Namespaced" ? `/api/v1/namespaces/:namespace/${kind.plural}` : `/api/v1/${kind.plural}`;
}

function paramsSchemas(kind: ApiKind): { collection: TSchema | undefined; item: TSchema } {
  const namespaced = kind.scope === "Namespaced";
  const collection = namespaced ? Type.Object({ namespace: NamespaceName }) : undefined;
  const item = namespaced ? Type.Object({ namespace: NamespaceName, name: ObjectName }) : Type.Object({ name: ObjectName });
  return { collection, item };
}

function checkResourceVersion(body: ReplaceRequest): void {
  const error = resourceVersionError(body.metadata.resourceVersion, "metadata.resourceVersion", "body");
  if (error) throw error;
}

function checkNameMatches(path: string, body: ReplaceRequest): void {
  if (body.metadata.name !== undefined && body.metadata.name !== path) {
    throw new ApiError(400, "BadRequest", `metadata.name "${body.metadata.name}" differs from the name in the path "${path}"; names cannot change`, {
      field: "metadata.name",
      details: { in: "body" },
    });
  }
}

export function registerKindRoutes(app: FastifyInstance, kind: ApiKind, clientFor: CallerClientFactory): void {
  const schemas = kindSchemas(kind);
  const params = paramsSchemas(kind);
  const collection = collectionPath(kind);
  const item = `${collection}/:name`;
  const tags = [kind.kind];
  const scopeNote = kind.scope === "Namespaced" ? " in a namespace" : "";
  const client = (request: FastifyRequest): KindClient => clientFor(bearerToken(request.headers.authorization), kind);
  // 401 comes before validation: an anonymous caller learns nothing from a 400.
  const onRequest = async (request: FastifyRequest): Promise<void> => {
    bearerToken(request.headers.authorization);
  };

  app.get(collection, {
    onRequest,
    schema: {
      operationId: `list${kind.kind}`,
      summary: `List ${kind.plural}${scopeNote}`,
      tags,
      ...(params.collection ? { params: params.collection } : {}),
      querystring: ListQuerystring,
      response: { 200: schemas.list, ...errorResponses(400, 401, 403, 410) },
    },
    handler: async (request) => {
      const { namespace } = request.params as { namespace?: string };
      return toListView(kind, await client(request).list(namespace, request.query as ListQuery));
    },
  });

  app.get(item, {
    onRequest,
    schema: {
      operationId: `read${kind.kind}`,
      summary: `Read one ${kind.singular}`,
      tags,
      params: params.item,
      response: { 200: schemas.object, ...errorResponses(400, 401, 403, 404) },
    },
    handler: async (request) => {
      const { namespace, name } = request.params as ObjectParams;
      return toObjectView(kind, await client(request).get(namespace, name));
    },
  });

  app.post(collection, {
    onRequest,
    schema: {
      operationId: `create${kind.kind}`,
      summary: `Create a ${kind.singular}`,
      tags,
      ...(params.collection ? { params: params.collection } : {}),
      body: schemas.createBody,
      // 404: the namespace does not exist.
      response: { 201: schemas.object, ...errorResponses(400, 401, 403, 404, 409, 422) },
    },
    handler: async (request, reply) => {
      const { namespace } = request.params as { namespace?: string };
      const created = await client(request).create(namespace, newObject(kind, namespace, request.body as CreateRequest));
      return reply.code(201).send(toObjectView(kind, created));
    },
  });

  app.put(item, {
    onRequest,
    schema: {
      operationId: `replace${kind.kind}`,
      summary: `Replace the spec of a ${kind.singular} (optimistic concurrency on metadata.resourceVersion)`,
      tags,
      params: params.item,
      body: schemas.replaceBody,
      response: { 200: schemas.object, ...errorResponses(400, 401, 403, 404, 409, 422) },
    },
    handler: async (request) => {
      const { namespace, name } = request.params as ObjectParams;
      const body = request.body as ReplaceRequest;
      checkNameMatches(name, body);
      checkResourceVersion(body);
      const kinds = client(request);
      const current = await kinds.get(namespace, name);
      return toObjectView(kind, await kinds.replace(namespace, name, replacedObject(current, body)));
    },
  });

  app.delete(item, {
    onRequest,
    schema: {
      operationId: `delete${kind.kind}`,
      summary: `Delete a ${kind.singular}: 204 when it is gone, 202 with the object while finalizers hold it`,
      tags,
      params: params.item,
      querystring: DeleteQuerystring,
      response: {
        202: schemas.object,
        204: { description: "deleted" },
        ...errorResponses(400, 401, 403, 404, 409),
      },
    },
    handler: async (request, reply) => {
      const { namespace, name } = request.params as ObjectParams;
      const { resourceVersion } = request.query as { resourceVersion?: string };
      const result = await client(request).delete(namespace, name, resourceVersion);
      // Kubernetes answers a Status when the object is gone, and the object while finalizers remain.
      if (isDeletedStatus(result)) return reply.code(204).send();
      return reply.code(202).send(toObjectView(kind, result));
    },
  });
}
