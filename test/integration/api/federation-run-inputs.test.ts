// The inputs a requester sends to the run it asked for (serving side), against a real apiserver
// and a real S3 server: each file streams into the run's inputs in its reservation's workspace;
// only the signed completion, checked against what was stored (sizes, SHA-256), records the input
// sent on the run, which is what lets it start. Only the requester, only awaited inputs, only
// once, only before the run has started; every refusal names its field and gives nothing.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { FastifyInstance } from "fastify";
import { peerFinder } from "../../../operators/api/federationAuth.ts";
import { registerFederationRunsRoutes, requesterPeerLabel } from "../../../operators/api/federationRunsRoutes.ts";
import { buildServer } from "../../../operators/api/server.ts";
import { s3ClientFor } from "../../../operators/catalog/backends/s3Client.ts";
import { signedFetch, signedUpload, type SigningIdentity } from "../../../operators/federation/client.ts";
import { generateIdentityKey } from "../../../operators/federation/keys.ts";
import { awaitedInputsAnnotation, federationRunsPath, type PeerRunAnswer, peerRunInputPath } from "../../../operators/federation/peerRuns.ts";
import { MemoryNonceCache } from "../../../operators/federation/requestSigning.ts";
import type { Cache } from "../../../operators/runtime/index.ts";
import type { Peer } from "../../../operators/schema/peer.ts";
import type { PipelineRun } from "../../../operators/schema/pipelineRun.ts";
import { sentJob } from "../../../operators/orchestrator/sentInputs.ts";
import { loopbackEgress } from "../../support/egress.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { type TestS3, startS3 } from "../../support/s3.ts";

const bucket = "argo-artifacts";
const archipel = { group: "archipel.io", version: "v1alpha1" };
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");
const streamOf = (text: string): ReadableStream<Uint8Array> => new Response(text).body as ReadableStream<Uint8Array>;
const error = (body: unknown): { code: string; field?: string; message: string } => (body as { error: { code: string; field?: string; message: string } }).error;

describe("federation: inputs a requester sends to its run (real apiserver, real S3)", function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let s3: TestS3;
  let admin: S3Client;
  let app: FastifyInstance;
  let url = "";
  let objects: CustomObjectsApi;
  const keys = { gamma: generateIdentityKey(), delta: generateIdentityKey() };
  const verified = { type: "DescriptorVerified", status: "True", reason: "Verified", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" };
  const peerObject = (cluster: "gamma" | "delta"): Peer =>
    ({
      metadata: { name: `${cluster}-peer` },
      spec: { approval: "Accepted" },
      status: { descriptor: { cid: "cid", clusterName: cluster, apiEndpoint: "http://127.0.0.1:1", publicKey: keys[cluster].publicKey, issuedAt: "2026-01-01T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z" }, conditions: [verified] },
    }) as unknown as Peer;
  const peers = [peerObject("gamma"), peerObject("delta")];
  const as = (cluster: "gamma" | "delta"): SigningIdentity => ({ clusterName: cluster, privateKeyPem: keys[cluster].privateKeyPem });
  const none = { get: () => undefined, list: () => [] } as unknown as Cache<never>;

  const send = (run: string, input: string, file: { path: string; size: number; text: string }, who: "gamma" | "delta" = "gamma"): ReturnType<typeof signedUpload> =>
    signedUpload(as(who), { endpoint: url, audience: "beta", method: "PUT", target: peerRunInputPath(ns.name, run, input, file), deadlineMs: 10_000, egress: loopbackEgress }, streamOf(file.text));
  const complete = (run: string, input: string, body: unknown): ReturnType<typeof signedFetch> =>
    signedFetch(as("gamma"), { endpoint: url, audience: "beta", method: "POST", target: peerRunInputPath(ns.name, run, input), body, deadlineMs: 10_000, egress: loopbackEgress });
  const answerOf = async (run: string): Promise<PeerRunAnswer> =>
    (await signedFetch(as("gamma"), { endpoint: url, audience: "beta", method: "GET", target: `${federationRunsPath}/${ns.name}/${run}`, deadlineMs: 10_000, egress: loopbackEgress })).body as PeerRunAnswer;
  const readRun = async (name: string): Promise<PipelineRun> => (await objects.getNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace: ns.name, name })) as PipelineRun;
  const stored = async (prefix: string): Promise<string[]> => ((await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key ?? "");
  const folder = (run: string, input: string): string => `pipelineruns/ws-gamma/${run}/inputs/${input}`;

  /** A run served for gamma under reservation `hold`, awaiting `peer_write_out`. */
  async function servedRun(name: string, hold = "gamma-hold"): Promise<void> {
    const owner = (await objects.getNamespacedCustomObject({ ...archipel, plural: "reservations", namespace: ns.name, name: hold })) as { metadata: { uid: string } };
    const body = {
      apiVersion: "archipel.io/v1alpha1",
      kind: "PipelineRun",
      metadata: {
        name,
        labels: { [requesterPeerLabel]: "gamma-peer" },
        annotations: { [awaitedInputsAnnotation]: "peer_write_out" },
        // As the federation API makes it: owned by the reservation it runs in.
        ownerReferences: [{ apiVersion: "archipel.io/v1alpha1", kind: "Reservation", name: hold, uid: owner.metadata.uid }],
      },
      spec: { steps: [{ name: "tag", serviceRef: { name: "tagger" }, in: { message: "peer_write_out" } }], job: { greeting: "hi" }, placement: { strategy: "Local", reservationRef: { name: hold } } },
    };
    await objects.createNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace: ns.name, body });
  }

  async function reservation(name: string, workspace?: string): Promise<void> {
    const now = Date.now();
    const at = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
    const body = { apiVersion: "archipel.io/v1alpha1", kind: "Reservation", metadata: { name }, spec: { providerRef: { name: "nodes" }, cpu: "1", memory: "1Gi", start: at(now), end: at(now + 3_600_000), requester: { peer: "gamma-peer" } } };
    await objects.createNamespacedCustomObject({ ...archipel, plural: "reservations", namespace: ns.name, body });
    if (workspace) {
      await objects.patchNamespacedCustomObjectStatus({ ...archipel, plural: "reservations", namespace: ns.name, name, body: { status: { state: "Active", workspace } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    }
  }

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    ns = await freshNamespace(cluster, "run-inputs");
    objects = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    s3 = await startS3("run-inputs-it");
    admin = s3ClientFor(s3.endpoint, s3.region, { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    await admin.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: { name?: string }) => {
      if (err.name !== "BucketAlreadyOwnedByYou") throw err;
    });
    // What hack/argo writes: Argo's ConfigMap naming the repository, and its key in the run's namespace.
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    const artifactRepository = `s3:\n  endpoint: "${new URL(s3.endpoint).host}"\n  bucket: "${bucket}"\n  insecure: true\n  accessKeySecret: {name: argo-artifacts-s3, key: accessKey}\n  secretKeySecret: {name: argo-artifacts-s3, key: secretKey}\n`;
    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: "workflow-controller-configmap" }, data: { artifactRepository } } });
    await core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: "argo-artifacts-s3" }, stringData: { accessKey: s3.accessKeyId, secretKey: s3.secretAccessKey } } });
    await eventually("PipelineRuns can be listed", () => objects.listNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace: ns.name }).catch(() => undefined));
    await reservation("gamma-hold", "ws-gamma");
    await reservation("gamma-unready");
    const kubeConfig = cluster.kubeConfig("admin");
    const artifacts = { argoNamespace: ns.name, argoConfigMap: "workflow-controller-configmap", keyPrefix: "pipelineruns", requestTimeoutMs: 10_000 };
    app = buildServer({
      kubeConfig,
      kinds: [],
      routes: [(a) => registerFederationRunsRoutes(a, { kubeConfig, peers: () => peers, auth: { audience: () => "beta", peerByCluster: peerFinder(() => peers), nonces: new MemoryNonceCache() }, resources: none, projects: none, artifacts })],
    });
    url = await app.listen({ port: 0, host: "127.0.0.1" });
  });

  after(async function () {
    this.timeout(60_000);
    await app?.close();
    admin?.destroy();
    await ns?.cleanup();
    await s3?.stop();
  });

  it("a file sent, then completed with its size and digest, becomes the run's input where its pods read it; it is sent once", async () => {
    await servedRun("sent");
    assert.deepEqual((await answerOf("sent")).awaiting, ["peer_write_out"], "the requester sees what the run awaits");
    const text = "hello from b\n";
    const put = await send("sent", "peer_write_out", { path: "greeting.txt", size: text.length, text });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const key = `${folder("sent", "peer_write_out")}/greeting.txt`;
    const object = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(await object.Body?.transformToString(), text, "stored under the run's inputs in its workspace's area");
    assert.deepEqual(sentJob(await readRun("sent")), {}, "a file sent is not yet an input");

    const done = await complete("sent", "peer_write_out", { class: "File", name: "greeting.txt", files: [{ path: "greeting.txt", size: text.length, sha256: sha256(text) }] });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.deepEqual((done.body as PeerRunAnswer).awaiting, []);
    assert.deepEqual(sentJob(await readRun("sent")), { peer_write_out: { class: "File", location: "file:///cwl/inputs/peer_write_out/greeting.txt" } });

    const again = await send("sent", "peer_write_out", { path: "greeting.txt", size: 3, text: "bad" });
    assert.deepEqual([again.status, error(again.body).code], [409, "InputComplete"]);
    assert.equal(await (await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString(), text, "the input is not overwritten");
  });

  it("a Directory: its files sent under its name, completed with their paths below it; the run reads the Directory", async () => {
    await servedRun("tree");
    const files = { "a/1.txt": "one", "2.txt": "two!" };
    for (const [path, text] of Object.entries(files)) assert.equal((await send("tree", "peer_write_out", { path: `tiles/${path}`, size: text.length, text })).status, 201);
    assert.deepEqual((await stored(`${folder("tree", "peer_write_out")}/`)).sort(), [`${folder("tree", "peer_write_out")}/tiles/2.txt`, `${folder("tree", "peer_write_out")}/tiles/a/1.txt`]);
    const body = { class: "Directory", name: "tiles", files: Object.entries(files).map(([path, text]) => ({ path, size: text.length, sha256: sha256(text) })) };
    const done = await complete("tree", "peer_write_out", body);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.deepEqual(sentJob(await readRun("tree")), { peer_write_out: { class: "Directory", location: "file:///cwl/inputs/peer_write_out/tiles" } });
  });

  it("a 40 MB file, made as it is sent, streams through and its digest checks out (read back)", async function () {
    this.timeout(120_000);
    await servedRun("large");
    const size = 40 * 1024 * 1024;
    const chunk = 1024 * 1024;
    const hash = createHash("sha256");
    let made = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (made >= size) return controller.close();
        const bytes = new Uint8Array(chunk).fill(made / chunk);
        hash.update(bytes);
        made += chunk;
        controller.enqueue(bytes);
      },
    });
    const put = await signedUpload(as("gamma"), { endpoint: url, audience: "beta", method: "PUT", target: peerRunInputPath(ns.name, "large", "peer_write_out", { path: "big.bin", size }), deadlineMs: 10_000, egress: loopbackEgress }, body);
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const done = await complete("large", "peer_write_out", { class: "File", name: "big.bin", files: [{ path: "big.bin", size, sha256: hash.digest("hex") }] });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const stored = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: `${folder("large", "peer_write_out")}/big.bin` }));
    assert.equal(stored.ContentLength, size);
    await stored.Body?.transformToByteArray();
  });

  it("a completion whose digest or files do not match what was stored gives the run nothing, naming the field", async () => {
    await servedRun("tampered");
    const text = "what B made";
    assert.equal((await send("tampered", "peer_write_out", { path: "out.txt", size: text.length, text })).status, 201);
    const wrongDigest = await complete("tampered", "peer_write_out", { class: "File", name: "out.txt", files: [{ path: "out.txt", size: text.length, sha256: sha256("what B did not make") }] });
    assert.deepEqual([wrongDigest.status, error(wrongDigest.body).field], [409, "body.files[0].sha256"], JSON.stringify(wrongDigest.body));
    const notSent = await complete("tampered", "peer_write_out", { class: "File", name: "other.txt", files: [{ path: "other.txt", size: 1, sha256: sha256("x") }] });
    assert.equal(notSent.status, 409);
    assert.match(error(notSent.body).message, /other\.txt was not sent/);
    const dir = await complete("tampered", "peer_write_out", { class: "Directory", name: "d", files: [{ path: "a", size: 1, sha256: sha256("x") }] });
    assert.match(error(dir.body).message, /d\/a was not sent/);
    assert.deepEqual(sentJob(await readRun("tampered")), {}, "the run still awaits its input");
  });

  it("refuses a file for another peer's run, an input the run does not await, a path out of its folder, a body not of its size, a run not started in its workspace yet or started already", async () => {
    await servedRun("guarded");
    const other = await send("guarded", "peer_write_out", { path: "x", size: 1, text: "x" }, "delta");
    assert.equal(other.status, 404, "another peer's run is answered as absent");
    const unawaited = await send("guarded", "peer_other", { path: "x", size: 1, text: "x" });
    assert.deepEqual([unawaited.status, error(unawaited.body).field], [404, "params.input"]);
    const escaping = await send("guarded", "peer_write_out", { path: "../peer_other/x", size: 1, text: "x" });
    assert.deepEqual([escaping.status, error(escaping.body).field], [400, "query.path"]);
    const short = await send("guarded", "peer_write_out", { path: "short.txt", size: 10, text: "four" });
    assert.deepEqual([short.status, error(short.body).field], [400, "query.size"], "a body shorter than its size is not stored");
    const long = await send("guarded", "peer_write_out", { path: "long.txt", size: 2, text: "longer than two" });
    assert.deepEqual([long.status, error(long.body).field], [400, "query.size"]);
    assert.deepEqual(await stored(`${folder("guarded", "peer_write_out")}/`), [], "nothing of them was stored");

    await servedRun("unready", "gamma-unready");
    const unready = await send("unready", "peer_write_out", { path: "x", size: 1, text: "x" });
    assert.deepEqual([unready.status, error(unready.body).code], [409, "WorkspaceNotReady"]);

    await objects.patchNamespacedCustomObjectStatus({ ...archipel, plural: "pipelineruns", namespace: ns.name, name: "guarded", body: { status: { workflowRef: { name: "guarded", namespace: "ws-gamma" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    const started = await send("guarded", "peer_write_out", { path: "x", size: 1, text: "x" });
    assert.deepEqual([started.status, error(started.body).code], [409, "RunStarted"]);
  });
});
