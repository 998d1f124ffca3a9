// The identities test fixtures run the manager and the API with (test/support/rbac.ts) are the
// shipped ServiceAccounts under config/rbac, not the admin: Kubernetes names them so, and refuses
// them what their roles do not grant.
import assert from "node:assert/strict";
import { AuthenticationV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { retryTooManyRequests } from "../../../operators/runtime/tooManyRequests.ts";
import { sharedCluster, type TestCluster } from "../../support/cluster.ts";
import { actingAs, type ShippedServiceAccount } from "../../support/rbac.ts";

/** The call's HTTP status; a 429 from a fresh cluster's watch cache ("storage is (re)initializing") is asked again, as clients do. */
const status = async (call: () => Promise<unknown>): Promise<number> =>
  retryTooManyRequests(call).then(
    () => 200,
    (err: { code?: number }) => err.code ?? 0,
  );

describe("test fixtures act as the shipped ServiceAccounts (config/rbac)", function () {
  this.timeout(120_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await sharedCluster();
  });

  const who = async (sa: ShippedServiceAccount): Promise<string | undefined> => {
    const kc = (await actingAs(cluster, sa)).kubeConfig();
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
    return review.status?.userInfo?.username;
  };

  it("the manager's kubeconfig is its ServiceAccount: it reads Providers but may not create them", async () => {
    assert.equal(await who("archipel-manager"), "system:serviceaccount:archipel-system:archipel-manager");
    const objects = (await actingAs(cluster, "archipel-manager")).kubeConfig().makeApiClient(CustomObjectsApi);
    const at = { group: "archipel.io", version: "v1alpha1", namespace: "default", plural: "providers" };
    assert.equal(await status(() => objects.listNamespacedCustomObject(at)), 200);
    assert.equal(await status(() => objects.createNamespacedCustomObject({ ...at, body: { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name: "x" }, spec: { type: "compute" } } })), 403);
  });

  it("the API's kubeconfig is its ServiceAccount: it reads Resources but no Secret", async () => {
    assert.equal(await who("archipel-api"), "system:serviceaccount:archipel-system:archipel-api");
    const kc = (await actingAs(cluster, "archipel-api")).kubeConfig();
    assert.equal(await status(() => kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: "archipel.io", version: "v1alpha1", plural: "resources" })), 200);
    assert.equal(await status(() => kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: "default" })), 403);
  });
});
