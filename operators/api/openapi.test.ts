import assert from "node:assert/strict";
import { buildOpenApiDocument, openApiPath, type DocumentedRoute } from "./openapi.ts";

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
});
