import assert from "node:assert/strict";
import { KubeConfig } from "@kubernetes/client-node";
import { ApiError } from "./errors.ts";
import { bearerToken, callerKubeConfig, serverCluster } from "./caller.ts";

function status401(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 401);
    return err;
  }
  assert.fail("expected a 401");
}

describe("api caller", () => {
  it("takes the token of a bearer Authorization header", () => {
    assert.equal(bearerToken("Bearer abc.def-ghi"), "abc.def-ghi");
    assert.equal(bearerToken("bearer  xyz "), "xyz");
  });

  it("refuses a missing, empty, non-bearer or doubled header with 401, never echoing it", () => {
    status401(() => bearerToken(undefined));
    status401(() => bearerToken(""));
    status401(() => bearerToken("Bearer "));
    const basic = status401(() => bearerToken("Basic c2VjcmV0LXBhc3N3b3Jk"));
    assert.doesNotMatch(basic.message, /c2VjcmV0/);
    status401(() => bearerToken(["Bearer a", "Bearer b"]));
  });

  it("builds a KubeConfig with the server's cluster and only the caller's token", () => {
    const own = new KubeConfig();
    own.loadFromOptions({
      clusters: [{ name: "c", server: "https://127.0.0.1:6443", caData: "Q0E=", skipTLSVerify: false }],
      users: [{ name: "admin", token: "server-own-token", certData: "Y2VydA==", keyData: "a2V5" }],
      contexts: [{ name: "ctx", cluster: "c", user: "admin" }],
      currentContext: "ctx",
    });
    const kc = callerKubeConfig(serverCluster(own), "caller-token");
    assert.equal(kc.getCurrentCluster()?.server, "https://127.0.0.1:6443");
    assert.equal(kc.getCurrentCluster()?.caData, "Q0E=");
    const user = kc.getCurrentUser();
    assert.equal(user?.token, "caller-token");
    assert.equal(user?.certData, undefined);
    assert.equal(user?.keyData, undefined);
    assert.doesNotMatch(JSON.stringify(kc.users), /server-own-token/);
  });

  it("fails at start-up when the server's kubeconfig has no cluster", () => {
    assert.throws(() => serverCluster(new KubeConfig()), /no current cluster/);
  });
});
