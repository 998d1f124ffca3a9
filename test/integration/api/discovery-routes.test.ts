// The Discovery API against the real kube-apiserver: every route acts as the caller (RBAC
// decides: alice without rights gets 403), joining stores the uploaded swarm key in a Secret
// owned by the Network and never returns or logs it, a failed join leaves nothing behind, and
// the unauthenticated ping names the cluster from its Identity.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { Validator } from "@seriousme/openapi-schema-validator";
import type { FastifyServerOptions } from "fastify";
import { federationPingPath } from "../../../operators/discovery/contracts.ts";
import { generateSwarmKey } from "../../../operators/discovery/swarmKey.ts";
import { registerDiscoveryRoutes } from "../../../operators/api/discoveryRoutes.ts";
import { buildServer, loggerOptions } from "../../../operators/api/server.ts";
import { identityKind } from "../../../operators/schema/identity.ts";
import { networkKind } from "../../../operators/schema/network.ts";
import { peerKind } from "../../../operators/schema/peer.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { as, type RunningApi } from "./api-server.ts";

const group = { group: "archipel.io", version: "v1alpha1" };
const base = "/api/v1/discovery";
const peerIdA = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";
const peerIdB = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEq";
const multiaddr = `/ip4/127.0.0.1/tcp/4001/p2p/${peerIdA}`;

/** The server's log lines, to prove the swarm key is never written there. */
class LogCollector extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function startDiscoveryApi(cluster: TestCluster, systemNamespace: string, log: LogCollector): Promise<RunningApi> {
  const logger = { ...(loggerOptions("debug") as object), stream: log } as FastifyServerOptions["logger"];
  const kubeConfig = cluster.kubeConfig("admin");
  const app = buildServer({
    kubeConfig,
    kinds: [identityKind, networkKind, peerKind],
    logger,
    routes: [(a) => registerDiscoveryRoutes(a, { kubeConfig, systemNamespace, identityCacheMs: 0 })],
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url, app, stop: () => app.close() };
}

/** A ClusterRole on discovery kinds with `verbs`, bound to `user`. */
async function grantDiscovery(cluster: TestCluster, user: string, suffix: string, rules: { resources: string[]; verbs: string[] }[]): Promise<() => Promise<void>> {
  const rbac = cluster.kubeConfig("admin").makeApiClient(RbacAuthorizationV1Api);
  const name = `discovery-${user}-${suffix}`;
  await rbac.createClusterRole({ body: { metadata: { name }, rules: rules.map((r) => ({ apiGroups: ["archipel.io"], ...r })) } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    },
  });
  return async () => {
    await rbac.deleteClusterRoleBinding({ name }).catch(() => undefined);
    await rbac.deleteClusterRole({ name }).catch(() => undefined);
  };
}

async function grantSecrets(cluster: TestCluster, namespace: string, user: string, verbs: string[]): Promise<void> {
  const rbac = cluster.kubeConfig("admin").makeApiClient(RbacAuthorizationV1Api);
  const name = `secrets-${user}`;
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules: [{ apiGroups: [""], resources: ["secrets"], verbs }] } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    },
  });
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === 404;
}

describe("API: Discovery routes as the caller (real kube-apiserver)", function () {
  let cluster: TestCluster;
  let system: TestNamespace;
  let api: RunningApi;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  const log = new LogCollector();
  const suffix = randomBytes(3).toString("hex");
  const net = (n: string): string => `${n}-${suffix}`;
  const cleanups: (() => Promise<void>)[] = [];
  let createdIdentity = false;
  let clusterName = "";

  before(async function () {
    cluster = await sharedCluster();
    custom = cluster.kubeConfig("admin").makeApiClient(CustomObjectsApi);
    core = cluster.kubeConfig("admin").makeApiClient(CoreV1Api);
    system = await freshNamespace(cluster, "disc-system");
    // One Identity per cluster: reuse the shared cluster's if another test made one.
    const existing = await custom.getClusterCustomObject({ ...group, plural: "identities", name: "self" }).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!existing) {
      await custom.createClusterCustomObject({
        ...group,
        plural: "identities",
        body: { apiVersion: "archipel.io/v1alpha1", kind: "Identity", metadata: { name: "self" }, spec: { clusterName: `it-${suffix}`, displayName: "test", apiEndpoint: "http://127.0.0.1:1" } },
      });
      createdIdentity = true;
    }
    const self = (await custom.getClusterCustomObject({ ...group, plural: "identities", name: "self" })) as { spec: { clusterName: string } };
    clusterName = self.spec.clusterName;
    api = await startDiscoveryApi(cluster, system.name, log);
  });

  after(async () => {
    await api?.stop();
    for (const c of cleanups.reverse()) await c();
    for (const n of ["made", "joined", "taken", "badcel", "nonet"]) {
      await custom.deleteClusterCustomObject({ ...group, plural: "networks", name: net(n) }).catch(() => undefined);
    }
    for (const p of ["pa", "pb"]) await custom.deleteClusterCustomObject({ ...group, plural: "peers", name: net(p) }).catch(() => undefined);
    if (createdIdentity) await custom.deleteClusterCustomObject({ ...group, plural: "identities", name: "self" }).catch(() => undefined);
    await system?.cleanup();
  });

  const alice = (): ReturnType<typeof as> => as(api, cluster.userTokens.alice);
  const carol = (): ReturnType<typeof as> => as(api, cluster.userTokens.carol);
  const joinBody = (name: string, swarmKey: string, spec: object = { ipfs: { mode: "managed" }, bootstrap: [multiaddr], approvalPolicy: "auto" }): object => ({
    metadata: { name },
    spec,
    swarmKey,
  });

  it("answers 401 without a token and 403 when RBAC gives alice nothing", async () => {
    assert.equal((await as(api, undefined).get(`${base}/identity`)).status, 401);
    const key = generateSwarmKey();
    const checks = [
      await alice().get(`${base}/identity`),
      await alice().get(`${base}/networks`),
      await alice().get(`${base}/peers`),
      await alice().post(`${base}/networks`, { metadata: { name: net("nope") }, spec: { ipfs: { mode: "managed" } } }),
      await alice().post(`${base}/networks/join`, joinBody(net("nope"), key)),
      await alice().post(`${base}/peers/anything/accept`, undefined),
      await alice().delete(`${base}/networks/anything`),
    ];
    for (const r of checks) assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.match(checks[0]!.body.error.message, /alice/);
  });

  describe("with rights", () => {
    before(async () => {
      cleanups.push(
        await grantDiscovery(cluster, "alice", suffix, [
          { resources: ["identities", "networks", "peers"], verbs: ["get", "list", "create", "patch", "delete"] },
        ]),
      );
      await grantSecrets(cluster, system.name, "alice", ["create", "patch", "delete"]);
      // carol may read everything and write Secrets, but not create Networks or patch Peers.
      cleanups.push(await grantDiscovery(cluster, "carol", suffix, [{ resources: ["identities", "networks", "peers"], verbs: ["get", "list"] }]));
      await grantSecrets(cluster, system.name, "carol", ["create", "patch", "delete"]);
      await eventually("alice's binding applies", async () => (await alice().get(`${base}/networks`)).status === 200);
    });

    it("reads this cluster's Identity, and the ping names the cluster without a token", async () => {
      const r = await alice().get(`${base}/identity`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.kind, "Identity");
      assert.equal(r.body.spec.clusterName, clusterName);
      const ping = await as(api, undefined).get(federationPingPath);
      assert.equal(ping.status, 200, JSON.stringify(ping.body));
      assert.equal(ping.body.clusterName, clusterName);
      assert.ok(Math.abs(Date.parse(ping.body.time) - Date.now()) < 5_000);
    });

    it("creates a network whose key the reconciler generates (no swarmKeySecretRef)", async () => {
      const r = await alice().post(`${base}/networks`, { metadata: { name: net("made") }, spec: { ipfs: { mode: "managed" }, approvalPolicy: "auto" } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.kind, "Network");
      assert.equal(r.body.spec.swarmKeySecretRef, undefined);
      assert.equal(r.body.spec.approvalPolicy, "auto");
      const listed = await alice().get(`${base}/networks`);
      assert.ok(listed.body.items.some((n: { metadata: { name: string } }) => n.metadata.name === net("made")));
      const read = await alice().get(`${base}/networks/${net("made")}`);
      assert.equal(read.body.metadata.uid, r.body.metadata.uid);
    });

    it("refuses bad input naming the field: a swarmKey that does not parse (422), a missing bootstrap (400)", async () => {
      const badKey = `/key/swarm/psk/1.0.0/\n${"ab".repeat(32)}\n/base16/`; // lines swapped: the key on line 2
      const r = await alice().post(`${base}/networks/join`, joinBody(net("joined"), badKey));
      assert.equal(r.status, 422, JSON.stringify(r.body));
      assert.equal(r.body.error.field, "swarmKey");
      assert.doesNotMatch(JSON.stringify(r.body), /abab/, "the key is never echoed");
      const noBootstrap = await alice().post(`${base}/networks/join`, joinBody(net("joined"), generateSwarmKey(), { ipfs: { mode: "managed" } }));
      assert.equal(noBootstrap.status, 400);
      assert.equal(noBootstrap.body.error.field, "spec.bootstrap");
      const unknown = await alice().post(`${base}/networks`, { metadata: { name: net("made2") }, spec: { ipfs: { mode: "managed" }, swarmKeySecretRef: { namespace: "x", name: "y" } } });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.error.field, "spec.swarmKeySecretRef");
      // Nothing was written for the refused join.
      await assert.rejects(core.readNamespacedSecret({ namespace: system.name, name: `${net("joined")}-swarm-key` }), (e: unknown) => isNotFound(e));
    });

    it("joins a network: the key goes into a Secret owned by the Network, and never into a response or log", async () => {
      const key = generateSwarmKey();
      const hex = key.split("\n")[2]!;
      const r = await alice().post(`${base}/networks/join`, joinBody(net("joined"), key));
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(r.body.spec.swarmKeySecretRef, { namespace: system.name, name: `${net("joined")}-swarm-key` });
      assert.deepEqual(r.body.spec.bootstrap, [multiaddr]);
      const secret = await core.readNamespacedSecret({ namespace: system.name, name: `${net("joined")}-swarm-key` });
      assert.equal(Buffer.from(secret.data?.["swarm.key"] ?? "", "base64").toString(), key);
      assert.deepEqual(secret.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid]), [["Network", net("joined"), r.body.metadata.uid]]);
      for (const path of [`${base}/networks/${net("joined")}`, `${base}/networks`, `/api/v1/networks/${net("joined")}`]) {
        const read = await alice().get(path);
        assert.equal(read.status, 200);
        assert.ok(!JSON.stringify(read.body).includes(hex), `${path} returns the key`);
      }
      assert.ok(!JSON.stringify(r.body).includes(hex));
      assert.ok(log.text.length > 0, "the server logged requests");
      assert.ok(!log.text.includes(hex), "the swarm key is in the server log");
    });

    it("undoes a join whose Network cannot be created: the Secret is deleted (name taken, CEL rule, RBAC)", async () => {
      await custom.createClusterCustomObject({
        ...group,
        plural: "networks",
        body: { apiVersion: "archipel.io/v1alpha1", kind: "Network", metadata: { name: net("taken") }, spec: { ipfs: { mode: "managed" }, approvalPolicy: "manual" } },
      });
      const taken = await alice().post(`${base}/networks/join`, joinBody(net("taken"), generateSwarmKey()));
      assert.equal(taken.status, 409, JSON.stringify(taken.body));
      assert.equal(taken.body.error.code, "AlreadyExists");
      // CEL: external mode needs apiURL; Kubernetes names the field.
      const cel = await alice().post(`${base}/networks/join`, joinBody(net("badcel"), generateSwarmKey(), { ipfs: { mode: "external" }, bootstrap: [multiaddr] }));
      assert.equal(cel.status, 422, JSON.stringify(cel.body));
      assert.match(cel.body.error.field ?? "", /spec\.ipfs/);
      // carol may write Secrets but not Networks.
      const forbidden = await carol().post(`${base}/networks/join`, joinBody(net("nonet"), generateSwarmKey()));
      assert.equal(forbidden.status, 403, JSON.stringify(forbidden.body));
      for (const n of ["taken", "badcel", "nonet"]) {
        await assert.rejects(core.readNamespacedSecret({ namespace: system.name, name: `${net(n)}-swarm-key` }), (e: unknown) => isNotFound(e), `${n}: Secret left behind`);
      }
      for (const n of ["badcel", "nonet"]) {
        await assert.rejects(custom.getClusterCustomObject({ ...group, plural: "networks", name: net(n) }), (e: unknown) => isNotFound(e), `${n}: Network left behind`);
      }
    });

    it("lists a network's peers and accepts or rejects them (spec.approval); carol may read but not decide", async () => {
      for (const [name, peerId, network] of [["pa", peerIdA, net("joined")], ["pb", peerIdB, net("made")]] as const) {
        await custom.createClusterCustomObject({
          ...group,
          plural: "peers",
          body: { apiVersion: "archipel.io/v1alpha1", kind: "Peer", metadata: { name: net(name) }, spec: { peerId, networkRef: { name: network }, approval: "Pending", origin: "Declared" } },
        });
      }
      const ofJoined = await alice().get(`${base}/peers?network=${net("joined")}`);
      assert.equal(ofJoined.status, 200);
      assert.deepEqual(ofJoined.body.items.map((p: { metadata: { name: string } }) => p.metadata.name), [net("pa")]);
      const all = await alice().get(`${base}/peers`);
      assert.ok(all.body.items.length >= 2);

      assert.equal((await carol().get(`${base}/peers/${net("pa")}`)).status, 200);
      const denied = await carol().post(`${base}/peers/${net("pa")}/accept`, undefined);
      assert.equal(denied.status, 403);

      const accepted = await alice().post(`${base}/peers/${net("pa")}/accept`, undefined);
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
      assert.equal(accepted.body.spec.approval, "Accepted");
      const rejected = await alice().post(`${base}/peers/${net("pb")}/reject`, undefined);
      assert.equal(rejected.body.spec.approval, "Rejected");
      const stored = (await custom.getClusterCustomObject({ ...group, plural: "peers", name: net("pb") })) as { spec: { approval: string } };
      assert.equal(stored.spec.approval, "Rejected");
      assert.equal((await alice().post(`${base}/peers/${net("nobody")}/accept`, undefined)).status, 404);
    });

    it("leaves a network: the Network is deleted and its joined key Secret is garbage-collected", async function () {
      this.timeout(120_000);
      const r = await alice().delete(`${base}/networks/${net("joined")}`);
      assert.ok(r.status === 204 || r.status === 202, JSON.stringify(r.body));
      await eventually("Network gone", async () => (await alice().get(`${base}/networks/${net("joined")}`)).status === 404);
      await eventually(
        "joined key Secret garbage-collected",
        async () => core.readNamespacedSecret({ namespace: system.name, name: `${net("joined")}-swarm-key` }).then(() => false, (e: unknown) => isNotFound(e)),
        // The garbage collector watches a CRD's objects only from its first resync (30 s) after
        // the CRD appeared; on a cluster just started that adds up to 30 s.
        90_000,
      );
    });

    it("describes the routes in OpenAPI, with the swarm key write-only", async () => {
      const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      const result = await new Validator().validate(doc as Parameters<Validator["validate"]>[0]);
      assert.equal(result.valid, true, JSON.stringify(result.errors));
      const join = doc.paths[`${base}/networks/join`].post;
      const schema = join.requestBody.content["application/json"].schema;
      assert.equal(schema.properties.swarmKey.writeOnly, true);
      assert.deepEqual(doc.paths[federationPingPath].get.security, []);
      for (const p of ["/identity", "/networks", "/networks/{name}", "/peers", "/peers/{name}/accept", "/peers/{name}/reject"]) assert.ok(doc.paths[`${base}${p}`], p);
    });
  });
});
