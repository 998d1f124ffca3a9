// CWL through Argo Workflows on a cluster with a real node (hack/cluster up --argo): steps run as
// Pods from the CWL step image, the second step reads the first step's file from the S3 artifact
// repository, a failing tool fails the Workflow with its own message, and deleting a Workflow
// deletes its Pods.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { eventually, repoRoot, startCluster, type TestCluster } from "../support/cluster.ts";
import { loadProcess } from "../../operators/pipeline/cwl/load.ts";
import { runOnArgo } from "../../operators/pipeline/runner/argo.ts";

const workflows = { group: "argoproj.io", version: "v1alpha1", plural: "workflows" } as const;

const twoSteps = `cwlVersion: v1.2
class: Workflow
inputs:
  message: string
outputs:
  counted: {type: File, outputSource: count/out}
steps:
  write:
    run:
      class: CommandLineTool
      baseCommand: [bash, -c, 'printf "%s" "$0" > greeting.txt; echo "pod $HOSTNAME"']
      stdout: who.txt
      inputs: {m: {type: string, inputBinding: {position: 1}}}
      outputs:
        out: {type: File, outputBinding: {glob: greeting.txt}}
        who: {type: stdout}
    in: {m: message}
    out: [out, who]
  count:
    run:
      class: CommandLineTool
      baseCommand: [bash, -c, 'printf "%s bytes from pod %s" "$(wc -c < "$0")" "$HOSTNAME"']
      stdout: count.txt
      inputs: {f: {type: File, inputBinding: {position: 1}}}
      outputs: {out: {type: stdout}}
    in: {f: write/out}
    out: [out]
`;

const failing = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [bash, -c, 'echo "the disk is full" >&2; exit 7']
inputs: []
outputs: []
`;

interface S3Info { endpoint: string; accessKeyId: string; credentialsFile: string }

describe("CWL through Argo Workflows on a real node (hack/cluster up --argo)", function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let s3: S3Client;
  let previousKubeconfig: string | undefined;

  before(async function () {
    cluster = await startCluster(`argo-${process.pid}`, ["--argo"]);
    const info = JSON.parse(await readFile(path.join(repoRoot, ".s3", `argo-${cluster.name}`, "s3.json"), "utf8")) as S3Info;
    const creds = JSON.parse(await readFile(info.credentialsFile, "utf8")) as { accessKeyId: string; secretAccessKey: string };
    s3 = new S3Client({ endpoint: info.endpoint, region: "us-east-1", forcePathStyle: true, credentials: creds });
    env = { ...process.env, KUBECONFIG: cluster.kubeconfigPath, ARCHIPEL_CWL_S3_ENDPOINT: info.endpoint };
    // the runner finds its cluster as the CLI does: KUBECONFIG of the process
    previousKubeconfig = process.env.KUBECONFIG;
    process.env.KUBECONFIG = cluster.kubeconfigPath;
    work = await mkdtemp(path.join(tmpdir(), "archipel-argo-e2e-"));
  });

  after(async function () {
    if (previousKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = previousKubeconfig;
    s3?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
    if (cluster) await cluster.stop();
  });

  async function processOf(name: string, text: string): Promise<Awaited<ReturnType<typeof loadProcess>>> {
    const file = path.join(work, name);
    await writeFile(file, text);
    return loadProcess(file);
  }

  it("runs a 2-step workflow: each step in its own Pod, the second reading the first's file from S3", async function () {
    const wf = await processOf("two-steps.cwl", twoSteps);
    const outdir = path.join(work, "out");
    const outputs = await runOnArgo(wf, { message: "hello argo" }, { jobDir: work, outdir, scratch: await mkdtemp(path.join(work, "scratch-")), keep: true }, env);
    const counted = outputs.counted as { path: string; size: number };
    const text = await readFile(counted.path, "utf8");
    const [, bytes, pod] = /^(\d+) bytes from pod (\S+)$/.exec(text) ?? [];
    assert.equal(bytes, "10", text);
    // The Workflow kept (keep: true): its step Pods, and the first step's output directory in S3.
    const list = (await cluster.kubeConfig().makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ ...workflows, namespace: "default" })) as { items: { metadata: { name: string }; status?: { phase?: string; nodes?: Record<string, { type: string; displayName?: string; phase?: string }> } }[] };
    const run = list.items.at(-1)!;
    assert.equal(run.status?.phase, "Succeeded");
    const podNodes = Object.values(run.status?.nodes ?? {}).filter((n) => n.type === "Pod").map((n) => n.displayName).sort();
    assert.deepEqual(podNodes, ["count", "workflow-outputs", "write"]);
    const pods = await cluster.kubeConfig().makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "default", labelSelector: `workflows.argoproj.io/workflow=${run.metadata.name}` });
    assert.ok(pods.items.some((p) => p.metadata?.name === pod), `the count step ran in one of the Workflow's Pods (${pod})`);
    const keys = await s3.send(new ListObjectsV2Command({ Bucket: "argo-artifacts", Prefix: `cwl/default/${run.metadata.name}/main/write/` }));
    assert.ok(keys.Contents?.some((o) => o.Key?.endsWith("/greeting.txt")), JSON.stringify(keys.Contents?.map((o) => o.Key)));
  });

  it("fails the Workflow with the tool's own message when a step fails", async function () {
    const tool = await processOf("failing.cwl", failing);
    await assert.rejects(
      runOnArgo(tool, {}, { jobDir: work, outdir: path.join(work, "out-failed"), scratch: await mkdtemp(path.join(work, "scratch-")) }, env),
      (err: Error) => /the disk is full/.test(err.message) || assert.fail(`message without the tool's words: ${err.message}`),
    );
  });

  it("deletes a Workflow's Pods with the Workflow", async function () {
    const custom = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    const list = (await custom.listNamespacedCustomObject({ ...workflows, namespace: "default" })) as { items: { metadata: { name: string } }[] };
    const name = list.items[0]!.metadata.name;
    const selector = `workflows.argoproj.io/workflow=${name}`;
    assert.ok((await core.listNamespacedPod({ namespace: "default", labelSelector: selector })).items.length > 0);
    await custom.deleteNamespacedCustomObject({ ...workflows, namespace: "default", name });
    await eventually("the Workflow's Pods to be gone", async () => (await core.listNamespacedPod({ namespace: "default", labelSelector: selector })).items.length === 0, 60_000, 500);
  });
});
