import assert from "node:assert/strict";
import { newestFirst, toObjectEvent } from "./sessionRoutes.ts";

describe("api session routes: events view", () => {
  it("takes an events.k8s.io series' count and last time, and the reporting controller", () => {
    const e = toObjectEvent({
      metadata: { name: "p.1" },
      involvedObject: { kind: "Provider", name: "p" },
      type: "Warning",
      reason: "InvalidSpec",
      message: "spec.compute: required",
      reportingComponent: "provider",
      series: { count: 3, lastObservedTime: new Date("2026-01-02T03:04:05Z") },
    });
    assert.deepEqual(e, { type: "Warning", reason: "InvalidSpec", message: "spec.compute: required", count: 3, lastSeen: "2026-01-02T03:04:05.000Z", source: "provider" });
  });

  it("skips the null legacy timestamps of an events.k8s.io Event read through core/v1", () => {
    const e = toObjectEvent({ metadata: { name: "p.2" }, involvedObject: {}, lastTimestamp: null, firstTimestamp: null, eventTime: new Date("2026-03-04T05:06:07Z") } as never);
    assert.equal(e.lastSeen, "2026-03-04T05:06:07.000Z");
  });

  it("orders newest first", () => {
    const order = newestFirst([
      { type: "Normal", reason: "a", message: "", count: 1, lastSeen: "2026-01-01T00:00:00.000Z" },
      { type: "Normal", reason: "b", message: "", count: 1, lastSeen: "2026-02-01T00:00:00.000Z" },
    ]).map((e) => e.reason);
    assert.deepEqual(order, ["b", "a"]);
  });
});

describe("api session routes: OpenAPI", () => {
  it("documents whoami and events in a valid OpenAPI 3.1 document", async () => {
    const { KubeConfig } = await import("@kubernetes/client-node");
    const { Validator } = await import("@seriousme/openapi-schema-validator");
    const { buildServer } = await import("./server.ts");
    const { registerSessionRoutes } = await import("./sessionRoutes.ts");
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser({ name: "c", server: "https://127.0.0.1:9", skipTLSVerify: false }, { name: "nobody" });
    const app = buildServer({ kubeConfig: kc, kinds: [], routes: [(a) => registerSessionRoutes(a, { kubeConfig: kc })] });
    await app.ready();
    const doc = (await app.inject({ url: "/openapi.json" })).json();
    assert.equal((await new Validator().validate(doc)).valid, true);
    assert.ok(doc.paths["/api/v1/whoami"].get);
    assert.ok(doc.paths["/api/v1/namespaces/{namespace}/events"].get);
    assert.equal((await app.inject({ url: "/api/v1/whoami" })).statusCode, 401);
    await app.close();
  });
});
