// Argo Workflows v3.7.15 installed by hack/argo into a real local control plane, with its
// workflow-controller (built from the Go module by hack/build-tools) running as a host process.
// No node runs in these clusters yet, so no Pod ever starts: this proves the control-plane half
// (install, RBAC, configuration, the controller turning a Workflow into Pods, owner references),
// not execution. Execution is proven once hack/cluster has nodes.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { CoreV1Api, CustomObjectsApi, type V1Container, type V1Pod } from "@kubernetes/client-node";
import { eventually, repoRoot, startCluster, type TestCluster } from "../../support/cluster.ts";
import { startS3, type TestS3 } from "../../support/s3.ts";
import { loadProcess } from "../../../operators/pipeline/cwl/load.ts";
import { runOnArgo } from "../../../operators/pipeline/runner/argo.ts";
import { allStarted } from "../../support/allStarted.ts";

const run = promisify(execFile);
const argoScript = path.join(repoRoot, "hack/argo");
const executorImage = "archipel.local/argoexec:v3.7.15";
const workflows = { group: "argoproj.io", version: "v1alpha1", plural: "workflows" } as const;

interface Workflow {
  metadata: { name: string; uid: string };
  status?: { phase?: string; nodes?: Record<string, { type: string; phase: string }> };
}

function container(pod: V1Pod, name: string, init = false): V1Container {
  const list = (init ? pod.spec?.initContainers : pod.spec?.containers) ?? [];
  const found = list.find((c) => c.name === name);
  assert.ok(found, `pod ${pod.metadata?.name} has no ${init ? "init " : ""}container '${name}' (has ${list.map((c) => c.name).join(", ")})`);
  return found;
}

describe("Argo Workflows in a local cluster (hack/argo; no node: Pods are created, never run)", function () {
  this.timeout(150_000);
  const name = `argo-${process.pid}`;
  const namespace = "wf";
  const bucket = "argo-it";
  let cluster: TestCluster;
  let s3: TestS3;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;

  before(async function () {
    this.timeout(240_000);
    await allStarted([startCluster(name).then((x) => (cluster = x)), startS3(name).then((x) => (s3 = x))]);
    const endpoint = new URL(s3.endpoint).host;
    try {
      await run(argoScript, ["up", name, "--s3-endpoint", endpoint, "--s3-credentials", path.join(process.env.S3_DIR ?? path.join(repoRoot, ".s3"), s3.name, "credentials"),
        "--s3-bucket", bucket, "--namespace", namespace], { maxBuffer: 1 << 20 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`hack/argo up failed: ${e.stderr ?? e.message}`, { cause: err });
    }
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    custom = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  });

  after(async function () {
    this.timeout(60_000);
    await run(argoScript, ["down", name]).catch(() => undefined);
    await cluster?.stop();
    await s3?.stop();
  });

  it("creates the artifact bucket and configures the controller with the executor image and that bucket", async () => {
    const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials: s3, forcePathStyle: true });
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
    const cm = await core.readNamespacedConfigMap({ name: "workflow-controller-configmap", namespace: "argo" });
    assert.match(cm.data?.executor ?? "", new RegExp(`image: ${executorImage}`));
    assert.match(cm.data?.artifactRepository ?? "", new RegExp(`endpoint: "${new URL(s3.endpoint).host}"`));
    const secret = await core.readNamespacedSecret({ name: "argo-artifacts-s3", namespace });
    assert.equal(Buffer.from(secret.data?.accessKey ?? "", "base64").toString(), s3.accessKeyId);
    const { stdout } = await run(argoScript, ["status", name]);
    assert.equal(stdout.trim(), "running");
  });

  it("turns a Workflow into a Pod with the emissary executor, the S3 repository, and owner references that delete it with the Workflow", async () => {
    const wfName = `hello-${process.pid}`;
    await custom.createNamespacedCustomObject({
      ...workflows,
      namespace,
      body: {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Workflow",
        metadata: { name: wfName },
        spec: {
          entrypoint: "main",
          templates: [{
            name: "main",
            container: { image: "archipel.local/cwl-step:dev", command: ["sh", "-c", "echo hi > /tmp/out.txt"] },
            outputs: { artifacts: [{ name: "out", path: "/tmp/out.txt" }] },
          }],
        },
      },
    });
    const wf = await eventually("the controller to set the Workflow's phase", async () => {
      const w = (await custom.getNamespacedCustomObject({ ...workflows, namespace, name: wfName })) as Workflow;
      return w.status?.phase ? w : undefined;
    }, 30_000, 250);
    assert.equal(wf.status?.phase, "Running");

    const pod = await eventually("the step's Pod", async () => {
      const pods = await core.listNamespacedPod({ namespace, labelSelector: `workflows.argoproj.io/workflow=${wfName}` });
      return pods.items[0];
    }, 30_000, 250);
    const owner = pod.metadata?.ownerReferences?.find((o) => o.kind === "Workflow");
    assert.equal(owner?.uid, wf.metadata.uid, "the Pod is owned by its Workflow");
    assert.equal(owner?.controller, true);

    const init = container(pod, "init", true);
    assert.equal(init.image, executorImage);
    assert.equal(init.imagePullPolicy, "Never");
    assert.equal(container(pod, "wait").image, executorImage);
    const main = container(pod, "main");
    assert.deepEqual(main.command?.slice(0, 2), ["/var/run/argo/argoexec", "emissary"], "the emissary wraps the step's command");
    assert.deepEqual(main.command?.slice(-4), ["--", "sh", "-c", "echo hi > /tmp/out.txt"]);
    assert.equal(pod.spec?.nodeName, undefined, "no node: the Pod stays unscheduled");
    // The wait container uploads outputs with the repository's credentials, mounted from the Secret.
    const volumes = pod.spec?.volumes ?? [];
    assert.ok(volumes.some((v) => v.secret?.secretName === "argo-artifacts-s3"), `no volume from Secret argo-artifacts-s3 in ${JSON.stringify(volumes.map((v) => v.name))}`);
    const template = container(pod, "init", true).env?.find((e) => e.name === "ARGO_TEMPLATE")?.value ?? "";
    assert.match(template, new RegExp(`"bucket":"${bucket}"`), `the step archives to the configured bucket: ${template}`);

    await custom.deleteNamespacedCustomObject({ ...workflows, namespace, name: wfName });
    await eventually("the Workflow's Pod to be garbage-collected", async () => {
      const pods = await core.listNamespacedPod({ namespace, labelSelector: `workflows.argoproj.io/workflow=${wfName}` });
      return pods.items.length === 0;
      // kube-controller-manager's garbage collector learns new CRDs (Argo's) on its discovery
      // resync, every 30 s: a cluster seconds old may need that long before it follows a Workflow.
    }, 90_000, 500);
  });

  it("archipel-cwl-runner's Argo backend uploads the job's files and submits the translated Workflow (it cannot finish without a node)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "argo-runner-"));
    try {
      await writeFile(path.join(dir, "tool.cwl"), [
        "cwlVersion: v1.2", "class: CommandLineTool", "baseCommand: [cat]",
        "inputs: {f: {type: File, inputBinding: {position: 1}}}", "outputs: {out: {type: stdout}}", "",
      ].join("\n"));
      await writeFile(path.join(dir, "in.txt"), "hello from the host\n");
      const env = {
        KUBECONFIG: cluster.kubeconfigPath, ARCHIPEL_CWL_NAMESPACE: namespace, ARCHIPEL_CWL_S3_ENDPOINT: s3.endpoint,
        ARCHIPEL_CWL_TIMEOUT_SECONDS: "3",
      };
      const tool = await loadProcess(path.join(dir, "tool.cwl"));
      await assert.rejects(
        runOnArgo(tool, { f: { class: "File", location: "in.txt" } }, { jobDir: dir, outdir: path.join(dir, "out"), scratch: path.join(dir, "scratch"), keep: true }, env),
        /did not finish in 3 s/,
      );
      const list = (await custom.listNamespacedCustomObject({ ...workflows, namespace, labelSelector: "app.kubernetes.io/managed-by=archipel" })) as { items: { metadata: { name: string } }[] };
      const wfName = list.items[0]?.metadata.name ?? "";
      assert.match(wfName, /^cwl-[0-9a-f]{10}$/);
      const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials: s3, forcePathStyle: true });
      try {
        const keys = (await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `cwl/${namespace}/${wfName}/inputs/` }))).Contents?.map((o) => o.Key);
        assert.deepEqual(keys, [`cwl/${namespace}/${wfName}/inputs/0/in.txt`]);
        const body = await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: `cwl/${namespace}/${wfName}/inputs/0/in.txt` }))).Body?.transformToString();
        assert.equal(body, "hello from the host\n");
      } finally {
        client.destroy();
      }
      const pod = await eventually("the tool's Pod", async () => {
        const pods = await core.listNamespacedPod({ namespace, labelSelector: `workflows.argoproj.io/workflow=${wfName}` });
        return pods.items[0];
      }, 30_000, 250);
      const main = container(pod, "main");
      assert.equal(main.image, "archipel.local/cwl-step:dev");
      assert.deepEqual(main.command?.slice(-2), ["--", "archipel-cwl-entrypoint"], "the emissary runs the CWL entrypoint");
    assert.equal(main.args?.[0], "tool");
      const job = main.args?.[main.args.indexOf("--job") + 1] ?? "";
      assert.match(job, /"location":"file:\/\/\/cwl\/inputs\/0\/in.txt"/, "the job names the staged file where the pod finds it");
      const template = container(pod, "init", true).env?.find((e) => e.name === "ARGO_TEMPLATE")?.value ?? "";
      assert.match(template, new RegExp(`"key":"cwl/${namespace}/${wfName}/inputs"`), "the pod downloads the staged inputs");
      await custom.deleteNamespacedCustomObject({ ...workflows, namespace, name: wfName });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
