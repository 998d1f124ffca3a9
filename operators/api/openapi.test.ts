import assert from "node:assert/strict";
import { buildOpenApiDocument, frameworkStatuses, openApiPath, type DocumentedRoute } from "./openapi.ts";

const Thing = { type: "object", properties: { size: { type: "integer" } }, required: ["size"] };
const ThingList = { type: "object", properties: { items: { type: "array", items: Thing } } };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test reads deep into the document
function build(routes: DocumentedRoute[]): Record<string, any> {
  return buildOpenApiDocument({
    title: "t",
    version: "1",
    routes,
    namedSchemas: { Thing, ThingList },
    securitySchemes: { token: { type: "http", scheme: "bearer" } },
    security: [{ token: [] }],
  });
}

describe("api openapi", () => {
  it("turns Fastify path parameters into OpenAPI templates", () => {
    assert.equal(openApiPath("/api/v1/namespaces/:namespace/things/:name"), "/api/v1/namespaces/{namespace}/things/{name}");
  });

  it("describes parameters, body and responses, referring to named schemas", () => {
    const doc = build([
      {
        method: "POST",
        url: "/things/:name",
        schema: {
          operationId: "createThing",
          params: { type: "object", properties: { name: { type: "string", description: "the name" } } },
          querystring: { type: "object", properties: { dryRun: { type: "boolean" } }, required: [] },
          body: Thing,
          response: { 201: ThingList, "4xx": { type: "object", description: "an error" }, 204: {} },
        },
      },
    ]);
    const op = doc.paths["/things/{name}"].post;
    assert.equal(op.operationId, "createThing");
    assert.deepEqual(op.parameters, [
      { name: "name", in: "path", required: true, description: "the name", schema: { type: "string", description: "the name" } },
      { name: "dryRun", in: "query", required: false, schema: { type: "boolean" } },
    ]);
    assert.deepEqual(op.requestBody.content["application/json"].schema, { $ref: "#/components/schemas/Thing" });
    assert.deepEqual(op.responses["201"].content["application/json"].schema, { $ref: "#/components/schemas/ThingList" });
    assert.equal(op.responses["4XX"].description, "an error");
    assert.deepEqual(op.responses["204"], { description: "HTTP 204" });
    assert.deepEqual(op.security, [{ token: [] }]);
    // A named schema that contains another refers to it rather than repeating it.
    assert.deepEqual(doc.components.schemas.ThingList.properties.items.items, { $ref: "#/components/schemas/Thing" });
    assert.deepEqual(doc.components.schemas.Thing, Thing);
  });

  it("documents every media type of a response given in Fastify's content form", () => {
    const csv = { type: "string", description: "CSV" };
    const doc = build([{ method: "GET", url: "/report", schema: { response: { 200: { description: "a report", content: { "application/json": { schema: Thing }, "text/csv": { schema: csv } } } } } }]);
    const ok = doc.paths["/report"].get.responses["200"];
    assert.equal(ok.description, "a report");
    assert.deepEqual(ok.content, { "application/json": { schema: { $ref: "#/components/schemas/Thing" } }, "text/csv": { schema: csv } });
  });

  it("leaves out routes without schema, hidden routes and HEAD", () => {
    const doc = build([
      { method: "GET", url: "/plain" },
      { method: "GET", url: "/hidden", schema: { hide: true } },
      { method: ["GET", "HEAD"], url: "/shown", schema: { security: [] } },
    ]);
    assert.deepEqual(Object.keys(doc.paths), ["/shown"]);
    assert.deepEqual(Object.keys(doc.paths["/shown"]), ["get"]);
    assert.deepEqual(doc.paths["/shown"].get.security, []);
  });

  it("knows the errors any route of a shape answers: 414 always, 400 with input, 404 with path parameters, 401/403 when secured or signed", () => {
    const params = { type: "object", properties: { name: { type: "string" } } };
    assert.deepEqual(frameworkStatuses({ url: "/healthz", schema: { security: [] } }), [414]);
    assert.deepEqual(frameworkStatuses({ url: "/things", schema: {} }), [401, 403, 414]);
    assert.deepEqual(frameworkStatuses({ url: "/things/:name", schema: { params } }), [400, 401, 403, 404, 414]);
    assert.deepEqual(frameworkStatuses({ url: "/federation/v1/things", schema: { security: [], body: {} } }, "/federation/"), [400, 401, 414]);
  });

  it("documents those errors with the error schema unless the route documents the status (or its range) itself", () => {
    const Err = { type: "object", properties: { error: { type: "object" } } };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test reads deep into the document
    const doc: Record<string, any> = buildOpenApiDocument({
      title: "t",
      version: "1",
      routes: [{ method: "GET", url: "/things/:name", schema: { params: { type: "object", properties: { name: { type: "string" } } }, response: { 200: Thing, 404: { type: "object", description: "no such thing" }, "4xx": Err } } }],
      namedSchemas: { Thing, Err },
      securitySchemes: {},
      security: [],
      errorSchema: Err,
    });
    const responses = doc.paths["/things/{name}"].get.responses as Record<string, { description: string; content?: unknown }>;
    assert.deepEqual(Object.keys(responses), ["200", "404", "4XX"], "a 4xx range covers the framework's 4xx errors");
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test reads deep into the document
    const narrow: Record<string, any> = buildOpenApiDocument({
      title: "t",
      version: "1",
      routes: [{ method: "GET", url: "/things/:name", schema: { params: { type: "object", properties: { name: { type: "string" } } }, response: { 200: Thing, 404: { type: "object", description: "no such thing" } } } }],
      namedSchemas: { Thing, Err },
      securitySchemes: {},
      security: [],
      errorSchema: Err,
    });
    const narrowResponses = narrow.paths["/things/{name}"].get.responses as Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
    assert.deepEqual(Object.keys(narrowResponses), ["200", "400", "404", "414"], "security [] needs no 401/403");
    assert.equal(narrowResponses["404"]?.description, "no such thing", "the route's own description wins");
    assert.deepEqual(narrowResponses["414"]?.content?.["application/json"]?.schema, { $ref: "#/components/schemas/Err" });
  });
});
