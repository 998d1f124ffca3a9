// Later issues serve more kinds through the same generic routes: each kind's schema must compile
// in the API's validator and land in a valid OpenAPI document, cluster-scoped kinds included.
import assert from "node:assert/strict";
import { KubeConfig } from "@kubernetes/client-node";
import { Validator } from "@seriousme/openapi-schema-validator";
import { kinds } from "../schema/index.ts";
import { buildServer } from "./server.ts";

describe("api: every kind of operators/schema through registerKindRoutes", () => {
  it("compiles every kind's routes and documents them in valid OpenAPI 3.1", async () => {
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser({ name: "c", server: "https://127.0.0.1:9", skipTLSVerify: false }, { name: "nobody" });
    const app = buildServer({ kubeConfig: kc, kinds });
    await app.ready(); // compiles every route's validators
    const doc = (await app.inject({ url: "/openapi.json" })).json();
    const result = await new Validator().validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
    for (const kind of kinds) {
      assert.ok(doc.components.schemas[kind.kind], `${kind.kind} is in components.schemas`);
      const collection = kind.scope === "Namespaced" ? `/api/v1/namespaces/{namespace}/${kind.plural}` : `/api/v1/${kind.plural}`;
      assert.ok(doc.paths[collection]?.get, `${collection} is documented`);
    }
    await app.close();
  });
});
