// Request and response schemas of a kind's routes, built from the kind's own spec and status
// schemas (the TypeBox source the CRDs are generated from), so the API validates and documents
// exactly what Kubernetes stores. Pure: schemas only.
import { Type, type TSchema } from "typebox";
import { apiVersionOf, type ApiKind } from "./view.ts";

// Kubernetes object names: DNS-1123 subdomain (namespaces: DNS-1123 label).
const dnsSubdomain = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
const dnsLabel = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

export const ObjectName = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: dnsSubdomain,
  description: "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
});
export const NamespaceName = Type.String({ minLength: 1, maxLength: 63, pattern: dnsLabel, description: "a namespace" });
// additionalProperties rather than Type.Record's patternProperties: what CRDs and client
// generators understand.
const StringMap = Type.Object({}, { additionalProperties: Type.String() });

export const ObjectMeta = Type.Object(
  {
    name: Type.String(),
    namespace: Type.Optional(Type.String()),
    uid: Type.Optional(Type.String()),
    resourceVersion: Type.Optional(Type.String({ description: "send it back on update: a stale one gives 409" })),
    generation: Type.Optional(Type.Integer()),
    creationTimestamp: Type.Optional(Type.String({ format: "date-time" })),
    deletionTimestamp: Type.Optional(Type.String({ format: "date-time" })),
    labels: Type.Optional(StringMap),
    annotations: Type.Optional(StringMap),
    finalizers: Type.Optional(Type.Array(Type.String())),
  },
  { description: "the object's metadata, as Kubernetes keeps it" },
);

export const ListMeta = Type.Object({
  resourceVersion: Type.Optional(Type.String()),
  continue: Type.Optional(Type.String({ description: "pass as ?continue= to get the next page" })),
  remainingItemCount: Type.Optional(Type.Integer()),
});

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: "CamelCase reason, e.g. Invalid, Forbidden, Conflict, AlreadyExists" }),
      status: Type.Integer(),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: "the offending field as a dotted path, e.g. spec.type" })),
      details: Type.Optional(
        Type.Object({
          in: Type.Optional(Type.Union([Type.Literal("body"), Type.Literal("query"), Type.Literal("path"), Type.Literal("header")])),
          causes: Type.Optional(
            Type.Array(Type.Object({ field: Type.Optional(Type.String()), message: Type.String() })),
          ),
        }),
      ),
    }),
  },
  { description: "an error" },
);

const typeHeader = (kind: ApiKind): { apiVersion: TSchema; kind: TSchema } => ({
  apiVersion: Type.Optional(Type.Literal(apiVersionOf(kind))),
  kind: Type.Optional(Type.Literal(kind.kind)),
});

/** Every schema of one kind's routes; `named` is what OpenAPI publishes under components. */
export interface KindSchemas {
  object: TSchema;
  list: TSchema;
  createBody: TSchema;
  replaceBody: TSchema;
  named: Record<string, TSchema>;
}

export function kindSchemas(kind: ApiKind): KindSchemas {
  const object = Type.Object(
    {
      apiVersion: Type.Literal(apiVersionOf(kind)),
      kind: Type.Literal(kind.kind),
      metadata: ObjectMeta,
      spec: kind.spec,
      status: Type.Optional(kind.status),
    },
    { description: `a ${kind.kind}` },
  );
  const list = Type.Object(
    {
      apiVersion: Type.Literal(apiVersionOf(kind)),
      kind: Type.Literal(`${kind.kind}List`),
      metadata: ListMeta,
      items: Type.Array(object),
    },
    { description: `a page of ${kind.plural}` },
  );
  const labels = { labels: Type.Optional(StringMap), annotations: Type.Optional(StringMap) };
  const createBody = Type.Object(
    {
      ...typeHeader(kind),
      metadata: Type.Object({ name: ObjectName, ...labels }, { additionalProperties: false }),
      spec: kind.spec,
    },
    { additionalProperties: false, description: `a new ${kind.kind}: apiVersion and kind are set by the server` },
  );
  const replaceBody = Type.Object(
    {
      ...typeHeader(kind),
      metadata: Type.Object(
        {
          name: Type.Optional(ObjectName),
          resourceVersion: Type.String({ minLength: 1, description: "the resourceVersion you read; 409 when it is stale" }),
          ...labels,
        },
        { additionalProperties: false },
      ),
      spec: kind.spec,
    },
    { additionalProperties: false, description: `the new spec of a ${kind.kind} (labels and annotations replaced when given)` },
  );
  const named: Record<string, TSchema> = {
    [kind.kind]: object,
    [`${kind.kind}List`]: list,
    [`${kind.kind}Spec`]: kind.spec,
    [`${kind.kind}Status`]: kind.status,
    [`${kind.kind}Create`]: createBody,
    [`${kind.kind}Replace`]: replaceBody,
  };
  return { object, list, createBody, replaceBody, named };
}

/** Schemas shared by every kind. */
export const commonNamedSchemas: Record<string, TSchema> = { ObjectMeta, ListMeta, Error: ErrorResponse };
