// A run's own credentials to the artifact repository, against a real API server and a real S3
// server (hack/s3, SeaweedFS with its IAM API): issued into a Secret the run controls, they read,
// write and list the run's prefix and nothing else; issued once (a second pass changes nothing); a
// same-named Secret of someone else is never used; revoked, they stop working. A run served for a
// peer gets them next to its Workflow, in its reservation's workspace.
import assert from "node:assert/strict";
import { CoreV1Api, CustomObjectsApi, type KubernetesObject, type V1Secret } from "@kubernetes/client-node";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { s3ClientFor } from "../../../operators/catalog/backends/s3Client.ts";
import { createLogger } from "../../../operators/runtime/logger.ts";
import type { EventRecorder } from "../../../operators/runtime/events.ts";
import type { ReconcileContext } from "../../../operators/runtime/index.ts";
import type { S3Repository } from "../../../operators/pipeline/argo/translate.ts";
import type { PipelineRun } from "../../../operators/schema/pipelineRun.ts";
import { createRunArtifacts, CredentialsNameTaken } from "../../../operators/orchestrator/runArtifacts.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { type TestS3, startS3 } from "../../support/s3.ts";

const bucket = "argo-artifacts";
const ctx = { logger: createLogger("run-credentials-test", { silent: true }) } as unknown as ReconcileContext;
const events: EventRecorder = { record: () => Promise.resolve() } as unknown as EventRecorder;

/** The HTTP status of an S3 call (200 when it succeeds). */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
  }
}

describe("a run's own artifact credentials (real API server, real S3 with IAM)", function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let s3: TestS3;
  let core: CoreV1Api;
  let admin: S3Client;
  let repository: S3Repository;
  const clients: S3Client[] = [];

  const runArtifacts = (): ReturnType<typeof createRunArtifacts> =>
    createRunArtifacts({ core, artifacts: { argoNamespace: ns.name, argoConfigMap: "workflow-controller-configmap", keyPrefix: "pipelineruns", requestTimeoutMs: 10_000 }, events, now: Date.now, giveUpAfterMs: 60_000, retryAfterMs: 1_000, requestTimeoutMs: 10_000 });

  async function pipelineRun(name: string): Promise<PipelineRun> {
    const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    const body = { apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { name }, spec: { steps: [{ name: "one", serviceRef: { name: "svc" } }] } };
    return (await api.createNamespacedCustomObject({ group: "archipel.io", version: "v1alpha1", namespace: ns.name, plural: "pipelineruns", body })) as PipelineRun;
  }

  async function keyOf(secret: string): Promise<S3Client> {
    const found = await core.readNamespacedSecret({ namespace: ns.name, name: secret });
    const value = (k: string): string => Buffer.from(found.data?.[k] ?? "", "base64").toString("utf8");
    const client = s3ClientFor(s3.endpoint, s3.region, { accessKeyId: value("accessKey"), secretAccessKey: value("secretKey") });
    clients.push(client);
    return client;
  }

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    ns = await freshNamespace(cluster, "runcreds");
    s3 = await startS3("run-credentials-it");
    admin = s3ClientFor(s3.endpoint, s3.region, { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    await admin.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: { name?: string }) => {
      if (err.name !== "BucketAlreadyOwnedByYou") throw err;
    });
    // What hack/argo writes: Argo's ConfigMap naming the repository, and its admin key in the run's namespace.
    const host = new URL(s3.endpoint).host;
    const artifactRepository = `s3:\n  endpoint: "${host}"\n  bucket: "${bucket}"\n  insecure: true\n  accessKeySecret: {name: argo-artifacts-s3, key: accessKey}\n  secretKeySecret: {name: argo-artifacts-s3, key: secretKey}\n`;
    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: "workflow-controller-configmap" }, data: { artifactRepository } } });
    await core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: "argo-artifacts-s3" }, stringData: { accessKey: s3.accessKeyId, secretKey: s3.secretAccessKey } } });
    repository = { endpoint: host, bucket, keyPrefix: "pipelineruns", insecure: true, accessKeySecret: { name: "argo-artifacts-s3", key: "accessKey" }, secretKeySecret: { name: "argo-artifacts-s3", key: "secretKey" } };
  });

  after(async function () {
    this.timeout(60_000);
    for (const c of clients) c.destroy();
    admin?.destroy();
    await ns?.cleanup();
    await s3?.stop();
  });

  it("are issued into a Secret the run controls, once, and reach the run's prefix only; revoked, they stop working", async () => {
    const run = await pipelineRun("assemble");
    const artifacts = runArtifacts();
    const scoped = await artifacts.issueCredentials(ctx, run, { namespace: ns.name, name: "assemble" }, repository);
    assert.deepEqual(scoped.accessKeySecret, { name: "assemble-artifacts", key: "accessKey" });
    assert.deepEqual(scoped.secretKeySecret, { name: "assemble-artifacts", key: "secretKey" });
    assert.equal(scoped.bucket, bucket);

    const secret = await core.readNamespacedSecret({ namespace: ns.name, name: "assemble-artifacts" });
    const owner = secret.metadata?.ownerReferences?.[0];
    assert.equal(owner?.uid, run.metadata.uid, "the Secret is the run's (garbage-collected with it)");
    assert.equal(owner?.controller, true);
    assert.notEqual(Buffer.from(secret.data?.accessKey ?? "", "base64").toString(), s3.accessKeyId, "not the repository's own key");

    const key = await keyOf("assemble-artifacts");
    const own = `pipelineruns/${ns.name}/assemble/`;
    await eventually("the run's key works in its prefix", async () => ((await statusOf(key.send(new PutObjectCommand({ Bucket: bucket, Key: `${own}write/out.txt`, Body: "mine" })))) === 200 ? true : undefined), 20_000, 250);
    assert.equal(await statusOf(key.send(new GetObjectCommand({ Bucket: bucket, Key: `${own}write/out.txt` }))), 200);
    assert.equal(await statusOf(key.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${own}write/` }))), 200);

    // Another run's objects, and the bucket as a whole, are out of its reach.
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `pipelineruns/${ns.name}/other/out.txt`, Body: "theirs" }));
    assert.equal(await statusOf(key.send(new GetObjectCommand({ Bucket: bucket, Key: `pipelineruns/${ns.name}/other/out.txt` }))), 403);
    assert.equal(await statusOf(key.send(new PutObjectCommand({ Bucket: bucket, Key: `pipelineruns/${ns.name}/other/out.txt`, Body: "overwritten" }))), 403);
    assert.equal(await statusOf(key.send(new PutObjectCommand({ Bucket: bucket, Key: `pipelineruns/${ns.name}/assemble2/x`, Body: "x" }))), 403, "a prefix that only starts like the run's");
    assert.equal(await statusOf(key.send(new ListObjectsV2Command({ Bucket: bucket }))), 403);
    assert.equal(await statusOf(key.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `pipelineruns/${ns.name}/` }))), 403);

    // A second pass (a restart) issues nothing: same Secret, same key.
    const again = await artifacts.issueCredentials(ctx, run, { namespace: ns.name, name: "assemble" }, repository);
    assert.deepEqual(again, scoped);
    const unchanged = await core.readNamespacedSecret({ namespace: ns.name, name: "assemble-artifacts" });
    assert.equal(unchanged.metadata?.resourceVersion, secret.metadata?.resourceVersion);
    assert.equal(await statusOf(key.send(new GetObjectCommand({ Bucket: bucket, Key: `${own}write/out.txt` }))), 200, "the first key still works");

    await artifacts.revokeCredentials(run, { namespace: ns.name, name: "assemble" });
    await eventually("the revoked key refused", async () => ((await statusOf(key.send(new GetObjectCommand({ Bucket: bucket, Key: `${own}write/out.txt` })))) === 403 ? true : undefined), 20_000, 250);
    await artifacts.revokeCredentials(run, { namespace: ns.name, name: "assemble" }); // revoking again is a no-op
  });

  it("never uses a same-named Secret that is not the run's", async () => {
    const run = await pipelineRun("taken");
    const foreign: V1Secret = { metadata: { name: "taken-artifacts", labels: { mine: "yes" } }, stringData: { accessKey: "someone", secretKey: "else" } };
    await core.createNamespacedSecret({ namespace: ns.name, body: foreign });
    await assert.rejects(runArtifacts().issueCredentials(ctx, run, { namespace: ns.name, name: "taken" }, repository), (err: Error) => {
      assert.ok(err instanceof CredentialsNameTaken, String(err));
      assert.match(err.message, new RegExp(`Secret ${ns.name}/taken-artifacts exists and is not this run's`));
      return true;
    });
    const after = await core.readNamespacedSecret({ namespace: ns.name, name: "taken-artifacts" });
    assert.equal(Buffer.from(after.data?.accessKey ?? "", "base64").toString(), "someone", "left as it was");
    assert.equal((after as KubernetesObject).metadata?.ownerReferences, undefined);
  });

  it("of a run served for a peer are issued next to its Workflow in the reservation's workspace: marked with the run (no owner reference crosses namespaces), reaching the workspace's area only; a same-named Secret there without the marks is never used", async () => {
    const workspace = await freshNamespace(cluster, "runcreds-ws");
    try {
      const run = await pipelineRun("served");
      const artifacts = runArtifacts();
      const place = { namespace: workspace.name, name: "served" };
      await artifacts.issueCredentials(ctx, run, place, repository);
      const secret = await core.readNamespacedSecret({ namespace: workspace.name, name: "served-artifacts" });
      assert.equal(secret.metadata?.ownerReferences, undefined, "the garbage collector would delete it: it looks for the owner in the Secret's namespace");
      assert.deepEqual([secret.metadata?.labels?.["archipel.io/owner-uid"], secret.metadata?.labels?.["archipel.io/owner-namespace"]], [run.metadata.uid, ns.name]);
      assert.equal(await core.readNamespacedSecret({ namespace: ns.name, name: "served-artifacts" }).catch(() => undefined), undefined, "nothing in the run's own namespace");

      const key = await (async (): Promise<S3Client> => {
        const value = (k: string): string => Buffer.from(secret.data?.[k] ?? "", "base64").toString("utf8");
        const client = s3ClientFor(s3.endpoint, s3.region, { accessKeyId: value("accessKey"), secretAccessKey: value("secretKey") });
        clients.push(client);
        return client;
      })();
      const area = `pipelineruns/${workspace.name}/served/`;
      await eventually("the key works in the workspace's area", async () => ((await statusOf(key.send(new PutObjectCommand({ Bucket: bucket, Key: `${area}write/out.txt`, Body: "mine" })))) === 200 ? true : undefined), 20_000, 250);
      assert.equal(await statusOf(key.send(new PutObjectCommand({ Bucket: bucket, Key: `pipelineruns/${ns.name}/served/write/out.txt`, Body: "x" }))), 403, "not the run's namespace's area");
      await artifacts.revokeCredentials(run, place);

      const other = await pipelineRun("served-other");
      await core.createNamespacedSecret({ namespace: workspace.name, body: { metadata: { name: "served-other-artifacts", labels: { "archipel.io/owner-uid": "not-the-run" } }, stringData: { accessKey: "a", secretKey: "b" } } });
      await assert.rejects(artifacts.issueCredentials(ctx, other, { namespace: workspace.name, name: "served-other" }, repository), (err: Error) => err instanceof CredentialsNameTaken);
    } finally {
      await workspace.cleanup();
    }
  });
});
