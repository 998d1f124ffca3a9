// The routes the web UI added, against the real kube-apiserver, as the caller: who am I (a
// SelfSubjectReview), an object's Events (RBAC on events decides), and the kinds now served as
// thin views (Resources, Prices, Reservations, PipelineRuns, UsageRecords, Projects): a user with
// a Role may use them, one without is refused by Kubernetes with a 403 naming the resource, and a
// kind whose CRD is absent is a 404 that says so.
import assert from "node:assert/strict";
import { EventsV1Api, type KubeConfig, RbacAuthorizationV1Api, V1MicroTime } from "@kubernetes/client-node";
import { buildServer } from "../../../operators/api/server.ts";
import { registerSessionRoutes } from "../../../operators/api/sessionRoutes.ts";
import { kinds } from "../../../operators/schema/index.ts";
import type { ApiKind } from "../../../operators/api/view.ts";
import { freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { apiKubeConfig, as, type RunningApi } from "./api-server.ts";

const served = ["resources", "prices", "reservations", "pipelineruns", "usagerecords"];

async function startSessionApi(cluster: TestCluster, extraKinds: readonly ApiKind[]): Promise<RunningApi> {
  const kubeConfig: KubeConfig = await apiKubeConfig(cluster);
  const app = buildServer({ kubeConfig, kinds: extraKinds, routes: [(a) => registerSessionRoutes(a, { kubeConfig })] });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url, app, stop: () => app.close() };
}

describe("API: whoami, Events and the kinds the UI needs (real kube-apiserver)", function () {
  let cluster: TestCluster;
  let ns: TestNamespace;
  let api: RunningApi;

  before(async function () {
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "ui-api");
    const rbac = cluster.kubeConfig("admin").makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({ namespace: ns.name, body: { metadata: { name: "ui-user" }, rules: [{ apiGroups: ["archipel.io"], resources: served, verbs: ["get", "list", "create"] }, { apiGroups: [""], resources: ["events"], verbs: ["list"] }] } });
    await rbac.createNamespacedRoleBinding({ namespace: ns.name, body: { metadata: { name: "ui-user" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "ui-user" }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "alice" }] } });
    api = await startSessionApi(cluster, kinds.filter((k) => served.includes(k.plural) || k.plural === "projects"));
  });
  after(async () => {
    await api?.stop();
    await ns?.cleanup();
  });

  it("says who the caller is, and refuses a token Kubernetes does not accept", async () => {
    const me = await as(api, cluster.userTokens.alice).get("/api/v1/whoami");
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.user, "alice");
    assert.ok(me.body.groups.includes("system:authenticated"));
    assert.equal(me.headers.get("cache-control"), "no-store");
    assert.equal((await as(api, "not-a-token").get("/api/v1/whoami")).status, 401);
  });

  it("lists each new kind for alice, and refuses bob with a 403 naming the resource", async () => {
    for (const plural of served) {
      const path = `/api/v1/namespaces/${ns.name}/${plural}`;
      const mine = await as(api, cluster.userTokens.alice).get(path);
      assert.equal(mine.status, 200, `${plural}: ${JSON.stringify(mine.body)}`);
      assert.deepEqual(mine.body.items, []);
      const bobs = await as(api, cluster.userTokens.bob).get(path);
      assert.equal(bobs.status, 403, plural);
      assert.match(bobs.body.error.message, new RegExp(`cannot list resource "${plural}"`));
    }
  });

  it("creates a Reservation as alice, with a field error for a bad one", async () => {
    const path = `/api/v1/namespaces/${ns.name}/reservations`;
    const spec = { providerRef: { name: "lab" }, cpu: "2", memory: "4Gi", start: "2026-01-01T00:00:00Z", end: "2026-01-01T01:00:00Z" };
    const created = await as(api, cluster.userTokens.alice).post(path, { metadata: { name: "night" }, spec });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.kind, "Reservation");
    const bad = await as(api, cluster.userTokens.alice).post(path, { metadata: { name: "bad" }, spec: { ...spec, cpu: "lots" } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, "spec.cpu");
  });

  it("reads an object's Events as the caller (alice may, bob may not)", async () => {
    const events = cluster.kubeConfig("admin").makeApiClient(EventsV1Api);
    await events.createNamespacedEvent({
      namespace: ns.name,
      body: {
        metadata: { name: "night.1", namespace: ns.name },
        eventTime: new V1MicroTime(Date.now()),
        type: "Warning",
        reason: "Rejected",
        action: "Admit",
        note: "spec.cpu: 2 exceeds what lab has free",
        regarding: { apiVersion: "archipel.io/v1alpha1", kind: "Reservation", name: "night", namespace: ns.name },
        reportingController: "archipel.io/reservation-controller",
        reportingInstance: "test",
      },
    });
    const path = `/api/v1/namespaces/${ns.name}/events?kind=Reservation&name=night`;
    const seen = await as(api, cluster.userTokens.alice).get(path);
    assert.equal(seen.status, 200, JSON.stringify(seen.body));
    assert.equal(seen.body.items.length, 1);
    assert.equal(seen.body.items[0].reason, "Rejected");
    assert.equal(seen.body.items[0].message, "spec.cpu: 2 exceeds what lab has free");
    assert.ok(seen.body.items[0].lastSeen);
    const other = await as(api, cluster.userTokens.alice).get(`/api/v1/namespaces/${ns.name}/events?kind=Reservation&name=day`);
    assert.deepEqual(other.body.items, []);
    assert.equal((await as(api, cluster.userTokens.bob).get(path)).status, 403);
    assert.equal((await as(api, cluster.userTokens.alice).get(`/api/v1/namespaces/${ns.name}/events?kind=Reservation`)).status, 400);
  });

  it("answers 404 saying the CRD is not installed for a kind this cluster does not serve", async () => {
    // A kind the API routes but whose CRD does not exist on this cluster.
    const ghost: ApiKind = { ...(kinds.find((k) => k.plural === "projects") as ApiKind), plural: "ghostprojects", kind: "GhostProject", singular: "ghostproject" };
    const ghostApi = await startSessionApi(cluster, [ghost]);
    try {
      const res = await as(ghostApi, cluster.adminToken).get("/api/v1/ghostprojects");
      assert.equal(res.status, 404);
      assert.match(res.body.error.message, /CustomResourceDefinition is not installed/);
    } finally {
      await ghostApi.stop();
    }
  });
});
