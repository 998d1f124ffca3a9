// The federation grants endpoint (receiving side) against a real apiserver: a validly signed
// request from an Accepted peer creates an AccessGrant only in a namespace the admin opened to
// peers (label archipel.io/peer-grants=true), and only within the maximum lifetime (the API's
// setting, lowered by the namespace's annotation). Refusals name the field and create nothing.
import assert from "node:assert/strict";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { FastifyInstance } from "fastify";
import { peerFinder } from "../../../operators/api/federationAuth.ts";
import { registerFederationGrantsRoutes } from "../../../operators/api/grantsRoutes.ts";
import { peerGrantMaxLifetimeAnnotation, peerGrantsLabel } from "../../../operators/api/peerGrantPolicy.ts";
import { buildServer } from "../../../operators/api/server.ts";
import { federationGrantsPath } from "../../../operators/discovery/contracts.ts";
import { signedFetch } from "../../../operators/federation/client.ts";
import { generateIdentityKey } from "../../../operators/federation/keys.ts";
import { MemoryNonceCache } from "../../../operators/federation/requestSigning.ts";
import type { Peer } from "../../../operators/schema/peer.ts";
import { loopbackEgress } from "../../support/egress.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";

const hour = 3_600_000;

describe("federation grants: open namespaces and a maximum lifetime (real apiserver)", function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let app: FastifyInstance;
  let url = "";
  const gamma = generateIdentityKey();
  const peerName = `gamma-${process.pid}`;
  const verified = { type: "DescriptorVerified", status: "True", reason: "Verified", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" };
  const peers = [
    {
      metadata: { name: peerName },
      spec: { approval: "Accepted" },
      status: { descriptor: { cid: "cid", clusterName: "gamma", apiEndpoint: "http://127.0.0.1:1", publicKey: gamma.publicKey, issuedAt: "2026-01-01T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z" }, conditions: [verified] },
    } as unknown as Peer,
  ];

  const ask = (body: Record<string, unknown>): ReturnType<typeof signedFetch> =>
    signedFetch({ clusterName: "gamma", privateKeyPem: gamma.privateKeyPem }, { endpoint: url, audience: "beta", method: "POST", target: federationGrantsPath, body, deadlineMs: 5_000, egress: loopbackEgress });
  const request = (name: string, lifetimeMs: number): Record<string, unknown> => ({ namespace: ns.name, name, resource: "t", mode: "read", expiresAt: new Date(Date.now() + lifetimeMs).toISOString() });
  const grantNames = async (): Promise<string[]> =>
    ((await cluster.kubeConfig().makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: "archipel.io", version: "v1alpha1", namespace: ns.name, plural: "accessgrants" })) as { items: { metadata: { name: string } }[] }).items.map((g) => g.metadata.name);
  const patchNamespace = (metadata: Record<string, unknown>): Promise<unknown> =>
    cluster.kubeConfig().makeApiClient(CoreV1Api).patchNamespace({ name: ns.name, body: { metadata } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  const error = (body: unknown): { code: string; field?: string; message: string } => (body as { error: { code: string; field?: string; message: string } }).error;

  before(async () => {
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "peer-grants");
    // Right after start, CRD storage may answer 429 "(re)initializing" for a moment.
    await eventually("AccessGrants can be listed", () => grantNames().catch(() => undefined));
    const kubeConfig = cluster.kubeConfig("admin");
    app = buildServer({
      kubeConfig,
      kinds: [],
      routes: [(a) => registerFederationGrantsRoutes(a, { kubeConfig, peers: () => peers, auth: { audience: () => "beta", peerByCluster: peerFinder(() => peers), nonces: new MemoryNonceCache() }, maxLifetimeMs: 48 * hour })],
    });
    url = await app.listen({ port: 0, host: "127.0.0.1" });
  });

  after(async () => {
    await app?.close();
    await ns?.cleanup();
  });

  it("a namespace not opened to peers (or missing) is a 403 naming body.namespace; nothing is created", async () => {
    const closed = await ask(request("x", hour));
    assert.equal(closed.status, 403, JSON.stringify(closed.body));
    assert.equal(error(closed.body).code, "NamespaceNotOpenToPeers");
    assert.equal(error(closed.body).field, "body.namespace");
    const missing = await ask({ ...request("x", hour), namespace: `${ns.name}-missing` });
    assert.equal(missing.status, 403);
    assert.equal(error(missing.body).code, "NamespaceNotOpenToPeers", "a missing namespace is answered like a closed one");
    assert.deepEqual(await grantNames(), []);
  });

  it("in an open namespace: within the maximum lifetime a grant is created; beyond it a 400 naming body.expiresAt", async () => {
    await patchNamespace({ labels: { [peerGrantsLabel]: "true" } });
    const tooLong = await ask(request("long", 72 * hour));
    assert.equal(tooLong.status, 400, JSON.stringify(tooLong.body));
    assert.equal(error(tooLong.body).field, "body.expiresAt");
    assert.match(error(tooLong.body).message, /48h/);
    const ok = await ask(request("ok", 24 * hour));
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.deepEqual((ok.body as { spec: { grantee: unknown } }).spec.grantee, { kind: "Peer", name: peerName });
    assert.deepEqual(await grantNames(), [`${peerName}-ok`]);
  });

  it("a namespace's annotation lowers the maximum lifetime", async () => {
    await patchNamespace({ annotations: { [peerGrantMaxLifetimeAnnotation]: "12h" } });
    const refused = await ask(request("day", 24 * hour));
    assert.equal(refused.status, 400);
    assert.equal(error(refused.body).field, "body.expiresAt");
    assert.match(error(refused.body).message, /12h/);
    assert.equal((await ask(request("short", 6 * hour))).status, 201);
  });
});
