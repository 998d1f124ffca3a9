import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AuthorizationV1Api } from "@kubernetes/client-node";
import { callerKubeConfig } from "./caller.ts";
import { toApiError } from "./errors.ts";
import { kindClient } from "./kind-client.ts";
import type { ApiKind } from "./view.ts";

const providers = { group: "archipel.io", version: "v1alpha1", plural: "providers", scope: "Namespaced" } as unknown as ApiKind;

describe("calls made as the caller", () => {
  let server: Server;
  let url: string;

  before(async () => {
    // An API server that accepts the connection and never answers.
    server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it("give up on an API server that does not answer, as a 504 that says so", async () => {
    const kc = callerKubeConfig({ name: "hung", server: url, skipTLSVerify: true }, "token", 300);
    const client = kindClient(kc, providers);
    const review = kc.makeApiClient(AuthorizationV1Api);
    const calls = [
      () => client.list("team-a", {}),
      () => client.get("team-a", "x"),
      () => client.create("team-a", { metadata: { name: "x" } }),
      () => review.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { verb: "list", resource: "secrets" } } } }),
    ];
    // Without the deadline each call would hang until mocha's own timeout fails the test.
    for (const call of calls) {
      const err = await call().then(
        () => assert.fail("a hung server cannot answer"),
        (e: unknown) => e,
      );
      const api = toApiError(err);
      assert.equal(api.status, 504, `${String(err)} → ${api.status} ${api.message}`);
      assert.equal(api.code, "UpstreamTimeout");
      assert.match(api.message, /did not answer in time/);
    }
  });
});
