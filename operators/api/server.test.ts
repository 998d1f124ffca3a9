// The server in-process (Fastify inject), against a kubeconfig whose API server cannot be
// reached: everything decided before Kubernetes is asked — authentication, validation, the
// error model, OpenAPI, logs — is tested here; the Kubernetes side in test/integration/api.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createServer } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Type } from "typebox";
import type { FastifyInstance } from "fastify";
import { buildServer, loggerOptions } from "./server.ts";
import type { ApiKind } from "./view.ts";

const widget: ApiKind = {
  group: "example.io",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  singular: "widget",
  scope: "Namespaced",
  spec: Type.Object({ size: Type.Integer({ minimum: 1 }), colour: Type.Optional(Type.Union([Type.Literal("red"), Type.Literal("blue")])) }),
  status: Type.Object({ conditions: Type.Optional(Type.Array(Type.Object({ type: Type.String() }))) }),
};
const gadget: ApiKind = {
  ...widget,
  kind: "Gadget",
  plural: "gadgets",
  singular: "gadget",
  scope: "Cluster",
  spec: Type.Object({ weight: Type.Integer() }),
};

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function unreachableCluster(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "server", token: "the-servers-own-token" }],
    contexts: [{ name: "c", cluster: "c", user: "server" }],
    currentContext: "c",
  });
  return kc;
}

const auth = { authorization: "Bearer caller-secret-token" };
const ns = "/api/v1/namespaces/team-a/widgets";

describe("api server (in-process, no cluster)", () => {
  let app: FastifyInstance;
  const logLines: string[] = [];

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    const logger = { ...(loggerOptions("debug") as object), stream: sink };
    app = buildServer({ kubeConfig: unreachableCluster(await closedPort()), kinds: [widget, gadget], logger, readiness: async () => false });
    await app.ready();
  });
  after(() => app.close());

  it("answers /healthz and says not ready on /readyz in the error model", async () => {
    assert.equal((await app.inject({ url: "/healthz" })).json().status, "ok");
    const ready = await app.inject({ url: "/readyz" });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().error.code, "NotReady");
  });

  it("refuses a request without a bearer token with 401, before validating its body", async () => {
    const res = await app.inject({ method: "POST", url: ns, payload: { nonsense: true } });
    assert.equal(res.statusCode, 401);
    assert.match(String(res.headers["www-authenticate"]), /^Bearer/);
    assert.deepEqual(Object.keys(res.json().error).sort(), ["code", "message", "status"]);
    assert.equal(res.json().error.code, "Unauthorized");
  });

  it("rejects an invalid body with 400 naming the field", async () => {
    const cases: [unknown, string][] = [
      [{ metadata: { name: "w" }, spec: { size: 0 } }, "spec.size"],
      [{ metadata: { name: "w" }, spec: { size: "2" } }, "spec.size"],
      [{ metadata: { name: "w" } }, "spec"],
      [{ metadata: { name: "Not_A_Name" }, spec: { size: 1 } }, "metadata.name"],
      [{ metadata: { name: "w" }, spec: { size: 1, colour: "green" } }, "spec.colour"],
      [{ metadata: { name: "w" }, spec: { size: 1 }, status: {} }, "status"],
      [{ apiVersion: "other/v1", metadata: { name: "w" }, spec: { size: 1 } }, "apiVersion"],
    ];
    for (const [payload, field] of cases) {
      const res = await app.inject({ method: "POST", url: ns, headers: auth, payload: payload as object });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      const { error } = res.json();
      assert.equal(error.field, field, JSON.stringify(payload));
      assert.equal(error.details.in, "body");
      assert.ok(error.message.startsWith(`${field}:`), error.message);
    }
  });

  it("rejects bad JSON, bad query values and bad path values with 400", async () => {
    const json = await app.inject({ method: "POST", url: ns, headers: { ...auth, "content-type": "application/json" }, payload: "{nope" });
    assert.deepEqual([json.statusCode, json.json().error.code], [400, "BadRequest"]);
    const limit = await app.inject({ url: `${ns}?limit=lots`, headers: auth });
    assert.deepEqual([limit.statusCode, limit.json().error.field, limit.json().error.details.in], [400, "limit", "query"]);
    const path = await app.inject({ url: "/api/v1/namespaces/Team_A/widgets", headers: auth });
    assert.deepEqual([path.statusCode, path.json().error.field, path.json().error.details.in], [400, "namespace", "path"]);
  });

  it("requires resourceVersion on update and refuses a renaming", async () => {
    const noVersion = await app.inject({ method: "PUT", url: `${ns}/w`, headers: auth, payload: { metadata: {}, spec: { size: 1 } } });
    assert.deepEqual([noVersion.statusCode, noVersion.json().error.field], [400, "metadata.resourceVersion"]);
    const rename = await app.inject({ method: "PUT", url: `${ns}/w`, headers: auth, payload: { metadata: { name: "v", resourceVersion: "1" }, spec: { size: 1 } } });
    assert.deepEqual([rename.statusCode, rename.json().error.field], [400, "metadata.name"]);
  });

  it("answers 503 in the error model when Kubernetes cannot be reached", async () => {
    const res = await app.inject({ url: ns, headers: auth });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().error.code, "UpstreamUnavailable");
  });

  it("answers unknown routes with 404 in the error model", async () => {
    const res = await app.inject({ url: "/api/v1/nothing" });
    assert.deepEqual([res.statusCode, res.json().error.code], [404, "NotFound"]);
  });

  it("serves a valid OpenAPI 3.1 document with each kind's schema once", async () => {
    const doc = (await app.inject({ url: "/openapi.json" })).json();
    const result = await new Validator().validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
    assert.equal(doc.openapi, "3.1.0");
    assert.deepEqual(doc.components.schemas.WidgetSpec, JSON.parse(JSON.stringify(widget.spec)));
    assert.deepEqual(doc.components.schemas.Widget.properties.spec, { $ref: "#/components/schemas/WidgetSpec" });
    const list = doc.paths["/api/v1/namespaces/{namespace}/widgets"];
    assert.deepEqual(Object.keys(list).sort(), ["get", "post"]);
    assert.equal(list.post.requestBody.content["application/json"].schema.$ref, "#/components/schemas/WidgetCreate");
    assert.equal(doc.components.schemas.WidgetCreate.properties.spec.$ref, "#/components/schemas/WidgetSpec");
    assert.equal(list.get.responses["200"].content["application/json"].schema.$ref, "#/components/schemas/WidgetList");
    assert.equal(list.get.responses["401"].content["application/json"].schema.$ref, "#/components/schemas/Error");
    assert.deepEqual(list.get.security, [{ kubernetesToken: [] }]);
    assert.deepEqual(doc.paths["/healthz"].get.security, []);
    assert.ok(doc.paths["/api/v1/gadgets/{name}"].delete, "cluster-scoped kinds have no namespace in the path");
    assert.ok(list.get.parameters.some((p: { name: string; in: string }) => p.name === "labelSelector" && p.in === "query"));
  });

  it("logs JSON lines without the caller's token or the server's own", async () => {
    await app.inject({ url: ns, headers: auth });
    const all = logLines.join("");
    assert.ok(logLines.length > 0);
    for (const line of logLines) {
      const entry = JSON.parse(line);
      assert.equal(typeof entry.level, "string");
      assert.equal(entry.component, "api");
    }
    assert.ok(logLines.some((l) => JSON.parse(l).message === "request completed"));
    assert.doesNotMatch(all, /caller-secret-token|the-servers-own-token/);
  });

  it("answers a garbage resourceVersion with 400 naming the field, before Kubernetes is asked (its answer would be a 500)", async () => {
    const put = await app.inject({ method: "PUT", url: `${ns}/w`, headers: auth, payload: { metadata: { resourceVersion: "not-a-version" }, spec: { size: 1 } } });
    assert.deepEqual([put.statusCode, put.json().error.field, put.json().error.details.in], [400, "metadata.resourceVersion", "body"]);
    const del = await app.inject({ method: "DELETE", url: `${ns}/w?resourceVersion=-1`, headers: auth });
    assert.deepEqual([del.statusCode, del.json().error.field, del.json().error.details.in], [400, "resourceVersion", "query"]);
  });

  it("answers a name too long for Kubernetes with 400, a path parameter beyond any name with 414, both in the error model and documented", async () => {
    const tooLong = await app.inject({ url: `${ns}/${"a".repeat(254)}`, headers: auth });
    assert.deepEqual([tooLong.statusCode, tooLong.json().error.field], [400, "name"]);
    const huge = await app.inject({ url: `${ns}/${"a".repeat(2000)}`, headers: auth });
    assert.deepEqual([huge.statusCode, huge.json().error.code, huge.json().error.status], [414, "URITooLong", 414]);
    const read = (await app.inject({ url: "/openapi.json" })).json().paths["/api/v1/namespaces/{namespace}/widgets/{name}"].get;
    for (const status of ["200", "400", "401", "403", "404", "414"]) assert.ok(read.responses[status], `GET documents ${status}`);
    assert.deepEqual(read.responses["414"].content["application/json"].schema, { $ref: "#/components/schemas/Error" });
  });

  it("answers a request line beyond Node's header limit with 414, other header overflows with 431, in the error model", async () => {
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    const longQuery = await fetch(`${url}${ns}?continue=${"x".repeat(20_000)}`, { headers: auth });
    assert.equal(longQuery.status, 414);
    assert.equal(((await longQuery.json()) as { error: { code: string } }).error.code, "URITooLong");
    const bigHeader = await fetch(`${url}${ns}`, { headers: { ...auth, "x-padding": "y".repeat(20_000) } });
    assert.equal(bigHeader.status, 431);
    assert.equal(((await bigHeader.json()) as { error: { code: string } }).error.code, "RequestHeaderFieldsTooLarge");
  });
});
