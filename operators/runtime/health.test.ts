import assert from "node:assert/strict";
import { readiness, serveEndpoints } from "./health.ts";

describe("runtime/health", () => {
  it("is ready only when every check passes and names the failing ones", () => {
    assert.deepEqual(readiness({ "cache/configmaps": true }), { status: 200, body: "ok\n" });
    const r = readiness({ "cache/configmaps": true, "cache/providers.archipel.io": false });
    assert.equal(r.status, 503);
    assert.match(r.body, /\[-\]cache\/providers.archipel.io failed/);
  });

  it("serves GET routes on a free loopback port, 404 elsewhere", async () => {
    const server = await serveEndpoints(0, { "/healthz": () => ({ status: 200, body: "ok\n" }) }, "127.0.0.1");
    try {
      const ok = await fetch(`${server.url}/healthz`);
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), "ok\n");
      assert.equal((await fetch(`${server.url}/nope`)).status, 404);
      assert.equal((await fetch(`${server.url}/healthz`, { method: "POST" })).status, 405);
    } finally {
      await server.close();
    }
  });
});
