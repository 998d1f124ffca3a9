// The Provider view of the API server against the real kube-apiserver: the API acts as the
// caller, so what alice may do is exactly what her RoleBinding says, bob (no binding) is refused
// by Kubernetes, and the server's own (admin) credentials never leak into a user request.
import assert from "node:assert/strict";
import { ApiextensionsV1Api, CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions } from "@kubernetes/client-node";
import { Validator } from "@seriousme/openapi-schema-validator";
import { providerKind } from "../../../operators/schema/provider.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { as, startApi, type RunningApi } from "./api-server.ts";
import { invalidProviderSpec, validProviderSpec, otherValidProviderSpec } from "./provider-specs.ts";

/** The admin creates a Role on providers with `verbs` and binds it to `user` in `namespace`. */
async function grantOnProviders(cluster: TestCluster, namespace: string, user: string, verbs: string[]): Promise<void> {
  const rbac = cluster.kubeConfig("admin").makeApiClient(RbacAuthorizationV1Api);
  const name = `providers-${user}`;
  await rbac.createNamespacedRole({
    namespace,
    body: { metadata: { name }, rules: [{ apiGroups: ["archipel.io"], resources: ["providers"], verbs }] },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    },
  });
}

describe("API: Providers as the caller (real kube-apiserver)", function () {
  let cluster: TestCluster;
  let ns: TestNamespace;
  let api: RunningApi;
  let providers: string;

  before(async function () {
    cluster = await sharedCluster();
    const crds = cluster.kubeConfig("admin").makeApiClient(ApiextensionsV1Api);
    await crds.readCustomResourceDefinition({ name: "providers.archipel.io" }).catch((err: unknown) => {
      throw new Error("the providers.archipel.io CRD is not installed: hack/cluster installs crds/ (make manifests)", { cause: err });
    });
    ns = await freshNamespace(cluster, "api");
    await grantOnProviders(cluster, ns.name, "alice", ["get", "list", "watch", "create", "update", "delete"]);
    await grantOnProviders(cluster, ns.name, "carol", ["get", "list"]);
    api = await startApi(cluster, [providerKind]);
    providers = `/api/v1/namespaces/${ns.name}/providers`;
  });
  after(async () => {
    await api?.stop();
    await ns?.cleanup();
  });

  const alice = (): ReturnType<typeof as> => as(api, cluster.userTokens.alice);

  it("lets alice create, read, list, update and delete a Provider", async () => {
    const created = await alice().post(providers, { metadata: { name: "files", labels: { tier: "gold" } }, spec: validProviderSpec });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.apiVersion, "archipel.io/v1alpha1");
    assert.equal(created.body.kind, "Provider");
    assert.equal(created.body.metadata.name, "files");
    assert.equal(created.body.metadata.namespace, ns.name);
    assert.equal(created.body.metadata.generation, 1);
    assert.match(created.body.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.ok(created.body.metadata.resourceVersion);
    assert.ok(created.body.metadata.creationTimestamp);
    assert.deepEqual(created.body.spec, validProviderSpec);

    const read = await alice().get(`${providers}/files`);
    assert.equal(read.status, 200);
    assert.equal(read.body.metadata.uid, created.body.metadata.uid);

    const listed = await alice().get(`${providers}?labelSelector=tier%3Dgold`);
    assert.equal(listed.status, 200);
    assert.equal(listed.body.kind, "ProviderList");
    assert.deepEqual(listed.body.items.map((p: { metadata: { name: string } }) => p.metadata.name), ["files"]);
    const none = await alice().get(`${providers}?labelSelector=tier%3Dsilver`);
    assert.deepEqual(none.body.items, []);

    const updated = await alice().put(`${providers}/files`, {
      metadata: { resourceVersion: read.body.metadata.resourceVersion },
      spec: otherValidProviderSpec,
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.deepEqual(updated.body.spec, otherValidProviderSpec);
    assert.equal(updated.body.metadata.generation, 2);
    assert.deepEqual(updated.body.metadata.labels, { tier: "gold" }, "labels are kept when the body does not give them");

    const deleted = await alice().delete(`${providers}/files`);
    assert.ok(deleted.status === 204 || deleted.status === 202, `DELETE answered ${deleted.status}`);
    if (deleted.status === 202) assert.ok(deleted.body.metadata.deletionTimestamp);
  });

  it("pages a list with limit and continue", async () => {
    for (const name of ["page-a", "page-b", "page-c"]) {
      const res = await alice().post(providers, { metadata: { name, labels: { set: "paging" } }, spec: validProviderSpec });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const first = await alice().get(`${providers}?labelSelector=set%3Dpaging&limit=2`);
    assert.equal(first.body.items.length, 2);
    assert.ok(first.body.metadata.continue, "a continue token for the next page");
    const second = await alice().get(`${providers}?labelSelector=set%3Dpaging&limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`);
    assert.equal(second.body.items.length, 1);
    assert.equal(second.body.metadata.continue, undefined);
  });

  it("refuses bob, who has no RoleBinding, with 403 from Kubernetes RBAC", async () => {
    const bob = as(api, cluster.userTokens.bob);
    const list = await bob.get(providers);
    assert.equal(list.status, 403);
    assert.equal(list.body.error.code, "Forbidden");
    assert.match(list.body.error.message, /User "bob" cannot list/);
    const create = await bob.post(providers, { metadata: { name: "bobs" }, spec: validProviderSpec });
    assert.equal(create.status, 403);
    // The server's own credentials are admin: had it used them, bob's create would have worked.
    assert.equal((await alice().get(`${providers}/bobs`)).status, 404);
  });

  it("lets carol, bound to get/list only, read but not write", async () => {
    const made = await alice().post(providers, { metadata: { name: "shared" }, spec: validProviderSpec });
    assert.equal(made.status, 201);
    const carol = as(api, cluster.userTokens.carol);
    assert.equal((await carol.get(`${providers}/shared`)).status, 200);
    assert.equal((await carol.get(providers)).status, 200);
    const write = await carol.put(`${providers}/shared`, { metadata: { resourceVersion: made.body.metadata.resourceVersion }, spec: otherValidProviderSpec });
    assert.equal(write.status, 403);
    assert.match(write.body.error.message, /User "carol" cannot update/);
    assert.equal((await carol.delete(`${providers}/shared`)).status, 403);
    assert.equal((await carol.get(`/api/v1/namespaces/default/providers`)).status, 403, "the binding holds in its namespace only");
  });

  it("answers 401 without a token and with a token Kubernetes rejects, never echoing it", async () => {
    const missing = await as(api, undefined).get(providers);
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error.code, "Unauthorized");
    const garbage = await as(api, "not-a-real-token-0123456789").get(providers);
    assert.equal(garbage.status, 401);
    assert.doesNotMatch(JSON.stringify(garbage.body), /not-a-real-token/);
  });

  it("rejects an invalid spec with 400 (schema) or 422 (Kubernetes) naming the field", async () => {
    for (const { spec, field } of invalidProviderSpec) {
      const res = await alice().post(providers, { metadata: { name: "bad" }, spec });
      assert.ok(res.status === 400 || res.status === 422, `${field}: answered ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
    }
    assert.equal((await alice().get(`${providers}/bad`)).status, 404, "nothing was created");
  });

  it("maps a Kubernetes 422 (CEL rule) to 422 with Kubernetes' field", async () => {
    const { spec, field } = invalidProviderSpec.find((c) => c.by === "kubernetes") ?? assert.fail("no CEL case");
    const res = await alice().post(providers, { metadata: { name: "bad-cel" }, spec });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "Invalid");
    assert.equal(res.body.error.field, field);
  });

  it("answers 409 on a stale resourceVersion and on a name that exists", async () => {
    const created = await alice().post(providers, { metadata: { name: "contended" }, spec: validProviderSpec });
    assert.equal(created.status, 201);
    const first = await alice().put(`${providers}/contended`, {
      metadata: { resourceVersion: created.body.metadata.resourceVersion },
      spec: otherValidProviderSpec,
    });
    assert.equal(first.status, 200);
    const stale = await alice().put(`${providers}/contended`, {
      metadata: { resourceVersion: created.body.metadata.resourceVersion },
      spec: validProviderSpec,
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.code, "Conflict");
    const again = await alice().post(providers, { metadata: { name: "contended" }, spec: validProviderSpec });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "AlreadyExists");
    const staleDelete = await alice().delete(`${providers}/contended?resourceVersion=${created.body.metadata.resourceVersion}`);
    assert.equal(staleDelete.status, 409);
  });

  it("keeps finalizers through an update, and answers 202 to a DELETE they hold back", async () => {
    const made = await alice().post(providers, { metadata: { name: "held" }, spec: validProviderSpec });
    assert.equal(made.status, 201);
    const objects = cluster.kubeConfig("admin").makeApiClient(CustomObjectsApi);
    const at = { group: "archipel.io", version: "v1alpha1", namespace: ns.name, plural: "providers", name: "held" };
    const finalizer = { metadata: { finalizers: ["test.archipel.io/hold"] } };
    await objects.patchNamespacedCustomObject({ ...at, body: finalizer }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    const current = await alice().get(`${providers}/held`);
    const updated = await alice().put(`${providers}/held`, { metadata: { resourceVersion: current.body.metadata.resourceVersion }, spec: otherValidProviderSpec });
    assert.equal(updated.status, 200);
    assert.deepEqual(updated.body.metadata.finalizers, ["test.archipel.io/hold"]);
    const deleting = await alice().delete(`${providers}/held`);
    assert.equal(deleting.status, 202);
    assert.ok(deleting.body.metadata.deletionTimestamp);
    await objects.patchNamespacedCustomObject({ ...at, body: { metadata: { finalizers: null } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    await eventually("the Provider to be gone", async () => (await alice().get(`${providers}/held`)).status === 404);
  });

  it("answers 404 for a missing Provider on read, update and delete", async () => {
    assert.equal((await alice().get(`${providers}/missing`)).status, 404);
    const put = await alice().put(`${providers}/missing`, { metadata: { resourceVersion: "1" }, spec: validProviderSpec });
    assert.equal(put.status, 404);
    assert.equal(put.body.error.code, "NotFound");
    assert.equal((await alice().delete(`${providers}/missing`)).status, 404);
  });

  it("serves a valid OpenAPI 3.1 document that carries the Provider schema", async () => {
    const res = await fetch(`${api.url}/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any -- read deep
    const result = await new Validator().validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
    assert.deepEqual(doc.components.schemas.ProviderSpec, JSON.parse(JSON.stringify(providerKind.spec)));
    const item = doc.paths["/api/v1/namespaces/{namespace}/providers/{name}"];
    assert.deepEqual(Object.keys(item).sort(), ["delete", "get", "put"]);
    assert.equal(item.get.responses["200"].content["application/json"].schema.$ref, "#/components/schemas/Provider");
  });
});
