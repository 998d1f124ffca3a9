import assert from "node:assert/strict";
import { ApiError, dottedPath, fromKubernetes, fromSchemaViolations, resourceVersionError, toApiError, violationField } from "./errors.ts";

describe("api errors", () => {
  describe("dottedPath", () => {
    it("turns JSON pointers into dotted paths with indexes", () => {
      assert.equal(dottedPath(""), "");
      assert.equal(dottedPath("/spec"), "spec");
      assert.equal(dottedPath("/spec/items/0/name"), "spec.items[0].name");
      assert.equal(dottedPath("/metadata/labels/a~1b"), "metadata.labels.a/b");
    });
  });

  describe("request validation", () => {
    it("names the missing property for `required`", () => {
      const v = { keyword: "required", instancePath: "/spec", params: { missingProperty: "type" }, message: "must have required property 'type'" };
      assert.equal(violationField(v), "spec.type");
      const e = fromSchemaViolations("body", [v]);
      assert.equal(e.status, 400);
      assert.deepEqual(e.toBody(), {
        error: { code: "BadRequest", status: 400, message: "spec.type: is required", field: "spec.type", details: { in: "body" } },
      });
    });

    it("names an unknown property and lists allowed enum values", () => {
      const unknown = fromSchemaViolations("body", [
        { keyword: "additionalProperties", instancePath: "", params: { additionalProperty: "status" } },
      ]);
      assert.equal(unknown.field, "status");
      assert.match(unknown.message, /status: is not a known field/);
      const badEnum = fromSchemaViolations("body", [
        { keyword: "enum", instancePath: "/spec/type", params: { allowedValues: ["data", "storage"] }, message: "must be equal to one of the allowed values" },
      ]);
      assert.equal(badEnum.field, "spec.type");
      assert.equal(badEnum.message, "spec.type: must be one of: data, storage");
    });

    it("says which part of the request a query or path field is in", () => {
      const e = fromSchemaViolations("querystring", [{ keyword: "type", instancePath: "/limit", params: {}, message: "must be integer" }]);
      assert.equal(e.field, "limit");
      assert.equal(e.details?.in, "query");
      assert.equal(fromSchemaViolations("params", [{ keyword: "pattern", instancePath: "/namespace", params: {} }]).details?.in, "path");
    });

    it("keeps every cause when there are several", () => {
      const e = fromSchemaViolations("body", [
        { keyword: "required", instancePath: "", params: { missingProperty: "spec" } },
        { keyword: "required", instancePath: "/metadata", params: { missingProperty: "name" } },
      ]);
      assert.deepEqual(e.details?.causes?.map((c) => c.field), ["spec", "metadata.name"]);
    });
  });

  describe("Kubernetes Status responses", () => {
    const invalid = {
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message: 'Provider.archipel.io "p" is invalid: spec.type: Unsupported value: "x"',
      reason: "Invalid",
      details: {
        name: "p",
        kind: "Provider",
        causes: [{ reason: "FieldValueNotSupported", message: 'Unsupported value: "x"', field: "spec.type" }],
      },
      code: 422,
    };

    it("maps 422 Invalid to 422 with the first cause's field", () => {
      const e = fromKubernetes(422, JSON.stringify(invalid));
      assert.equal(e.status, 422);
      assert.equal(e.code, "Invalid");
      assert.equal(e.field, "spec.type");
      assert.equal(e.message, invalid.message);
      assert.deepEqual(e.details?.causes, [{ field: "spec.type", message: 'Unsupported value: "x"' }]);
    });

    it("distinguishes AlreadyExists from a resourceVersion Conflict, both 409", () => {
      const exists = fromKubernetes(409, { kind: "Status", reason: "AlreadyExists", message: 'providers.archipel.io "p" already exists' });
      assert.deepEqual([exists.status, exists.code], [409, "AlreadyExists"]);
      const conflict = fromKubernetes(409, { kind: "Status", reason: "Conflict", message: "the object has been modified" });
      assert.deepEqual([conflict.status, conflict.code], [409, "Conflict"]);
    });

    it("maps 401, 403 and 404 and tells the caller what to do on 401", () => {
      const unauthorized = fromKubernetes(401, { kind: "Status", reason: "Unauthorized", message: "Unauthorized" });
      assert.deepEqual([unauthorized.status, unauthorized.code], [401, "Unauthorized"]);
      assert.match(unauthorized.message, /send a valid token/);
      const forbidden = fromKubernetes(403, { kind: "Status", reason: "Forbidden", message: 'User "bob" cannot list resource "providers"' });
      assert.deepEqual([forbidden.status, forbidden.code, forbidden.message], [403, "Forbidden", 'User "bob" cannot list resource "providers"']);
      assert.equal(fromKubernetes(404, "not json").status, 404);
      // The router's plain-text 404 (no such resource type) vs a missing object's Status.
      assert.match(fromKubernetes(404, "404 page not found").message, /CustomResourceDefinition is not installed/);
      assert.equal(fromKubernetes(404, { kind: "Status", reason: "NotFound", message: 'providers.archipel.io "x" not found' }).message, 'providers.archipel.io "x" not found');
    });

    it("turns upstream 5xx into 502, not a 500 of ours", () => {
      const e = fromKubernetes(500, { kind: "Status", message: "etcdserver: request timed out" });
      assert.deepEqual([e.status, e.code], [502, "UpstreamError"]);
      assert.match(e.message, /answered 500: etcdserver/);
    });
  });

  describe("toApiError", () => {
    it("keeps ApiErrors", () => {
      const e = new ApiError(418, "Teapot", "short and stout");
      assert.equal(toApiError(e), e);
    });

    it("maps Fastify validation errors by their context", () => {
      const err = Object.assign(new Error("x"), {
        statusCode: 400,
        validationContext: "body",
        validation: [{ keyword: "required", instancePath: "", params: { missingProperty: "spec" } }],
      });
      assert.equal(toApiError(err).field, "spec");
    });

    it("maps Kubernetes client exceptions (numeric code + body)", () => {
      const err = Object.assign(new Error("HTTP-Code: 403"), { code: 403, body: '{"kind":"Status","reason":"Forbidden","message":"no"}', headers: {} });
      assert.deepEqual([toApiError(err).status, toApiError(err).message], [403, "no"]);
    });

    it("maps Fastify's own client errors and an unreachable API server", () => {
      const badJson = Object.assign(new SyntaxError("Unexpected token"), { statusCode: 400, code: "FST_ERR_CTP_INVALID_JSON_BODY" });
      assert.deepEqual([toApiError(badJson).status, toApiError(badJson).code], [400, "BadRequest"]);
      const media = Object.assign(new Error("Unsupported Media Type: text/plain"), { statusCode: 415 });
      assert.equal(toApiError(media).status, 415);
      const refused = Object.assign(new Error("request failed"), { type: "system", code: "ECONNREFUSED" });
      assert.deepEqual([toApiError(refused).status, toApiError(refused).code], [503, "UpstreamUnavailable"]);
      const fetchFailed = new TypeError("fetch failed", { cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }) });
      assert.equal(toApiError(fetchFailed).status, 503);
    });

    it("reveals nothing of an unexpected error", () => {
      const e = toApiError(new TypeError("cannot read secret-token-123 of undefined"));
      assert.equal(e.status, 500);
      assert.doesNotMatch(JSON.stringify(e.toBody()), /secret-token-123/);
    });
  });

  it("takes only an API server's resourceVersions (decimal counters) back, naming the field otherwise", () => {
    assert.equal(resourceVersionError(undefined, "metadata.resourceVersion", "body"), undefined);
    assert.equal(resourceVersionError("12345", "metadata.resourceVersion", "body"), undefined);
    for (const garbage of ["", "abc", "-1", "1.5", " 1", "1".repeat(20)]) {
      const e = resourceVersionError(garbage, "resourceVersion", "query");
      assert.deepEqual([e?.status, e?.field, e?.details?.in], [400, "resourceVersion", "query"], JSON.stringify(garbage));
    }
  });
});
