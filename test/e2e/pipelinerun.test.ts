// PipelineRuns on a cluster with a real node and Argo (hack/cluster up --argo), first slice: Local
// placement. Two service Resources (inline CWL tools in the CWL step image) wired into a run that
// succeeds, with its steps, cluster and output location in status and the output's bytes in S3; a
// run whose step fails says which; deleting a run deletes its Workflow (garbage collector) and its
// objects in the artifact repository (finalizer); runs that cannot start say why. The pipelinerun
// controller runs bound to nothing but config/rbac/orchestrator_role.yaml, so the role is proven to
// hold every verb it uses.
// ARCHIPEL_ARGO_TEST_CLUSTER=NAME reuses a cluster started with `hack/cluster up NAME --argo`.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { attachCluster, eventually, repoRoot, startCluster, type TestCluster } from "../support/cluster.ts";
import { cwlStepImage, failingTool, shouterTool, writerTool } from "../support/cwlTools.ts";
import { type ComponentProcess, freePort, startComponent, waitForHttp } from "../support/processes.ts";
import { boundOnlyTo, type SingleRoleIdentity } from "../support/rbac.ts";
import { argoArtifactsEnv } from "../support/s3.ts";
import type { PipelineRun } from "../../operators/schema/pipelineRun.ts";
import { clusterTargetLabel, electAnnotation } from "../../operators/pipeline/argo/translate.ts";

const archipel = { group: "archipel.io", version: "v1alpha1" } as const;
const workflows = { group: "argoproj.io", version: "v1alpha1", plural: "workflows" } as const;
const namespace = "default"; // readied for Workflows by hack/argo (executor Role, S3 Secret)
const image = cwlStepImage;


interface S3Info { endpoint: string; credentialsFile: string }

describe("PipelineRun on this cluster's Argo (hack/cluster up --argo)", function () {
  this.timeout(300_000);
  const suffix = randomBytes(3).toString("hex");
  const logDir = path.join(tmpdir(), `archipel-pipelinerun-e2e-${suffix}`);
  let cluster: TestCluster;
  let api: CustomObjectsApi;
  /** The repository on loopback, for the orchestrator (a deleted run's objects are deleted from here). */
  let artifactsEnv: Record<string, string> = {};
  let s3: S3Client;
  let s3Endpoint = "";
  let identity: SingleRoleIdentity | undefined;
  const managers: ComponentProcess[] = [];

  const create = (plural: string, kind: string, name: string, spec: unknown): Promise<unknown> =>
    api.createNamespacedCustomObject({ ...archipel, plural, namespace, body: { apiVersion: "archipel.io/v1alpha1", kind, metadata: { name }, spec } });
  const getRun = async (name: string): Promise<PipelineRun> => (await api.getNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name })) as PipelineRun;
  const condition = (run: PipelineRun, type: string): { status: string; reason: string; message: string } | undefined => run.status?.conditions?.find((c) => c.type === type);

  async function startManager(name: string, controllers: string, kubeconfig: string): Promise<void> {
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const manager = await startComponent(name, "operators/manager/main.ts", [`--controllers=${controllers}`, "--leader-elect=false", `--metrics-port=${metricsPort}`, `--health-port=${healthPort}`], {
      env: { KUBECONFIG: kubeconfig, POD_NAME: name, LOG_LEVEL: "debug", ...artifactsEnv },
      logDir,
    });
    managers.push(manager);
    await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}; see ${manager.logFile}`);
    });
  }

  /** The run once `done` holds for it (and its status describes its current generation). */
  async function runWhen(name: string, what: string, done: (run: PipelineRun) => boolean, timeoutMs = 180_000): Promise<PipelineRun> {
    return eventually(
      `PipelineRun ${name}: ${what}`,
      async () => {
        const run = await getRun(name);
        return run.status?.observedGeneration === run.metadata.generation && done(run) ? run : undefined;
      },
      timeoutMs,
      500,
    );
  }

  before(async function () {
    const reuse = process.env.ARCHIPEL_ARGO_TEST_CLUSTER;
    cluster = reuse ? await attachCluster(reuse) : await startCluster(`pr-${process.pid}`, ["--argo"]);
    api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    artifactsEnv = await argoArtifactsEnv(cluster.name);
    const info = JSON.parse(await readFile(path.join(repoRoot, ".s3", `argo-${cluster.name}`, "s3.json"), "utf8")) as S3Info;
    const creds = JSON.parse(await readFile(info.credentialsFile, "utf8")) as { accessKeyId: string; secretAccessKey: string };
    s3Endpoint = info.endpoint;
    s3 = new S3Client({ endpoint: info.endpoint, region: "us-east-1", forcePathStyle: true, credentials: creds });
    await api.createClusterCustomObject({ ...archipel, plural: "identities", body: { apiVersion: "archipel.io/v1alpha1", kind: "Identity", metadata: { name: "self" }, spec: { clusterName: "isle-1", displayName: "e2e", apiEndpoint: "https://isle-1.example" } } }).catch(() => undefined);
    identity = await boundOnlyTo(cluster, namespace, "config/rbac/orchestrator_role.yaml", `orchestrator-${suffix}`);
    await startManager(`catalog-${suffix}`, "provider,resource", cluster.kubeconfigPath);
    await startManager(`orchestrator-${suffix}`, "pipelinerun", identity.kubeconfigPath);
    await create("providers", "Provider", `tools-${suffix}`, { type: "service", service: { defaultImage: image } });
    const services: [string, unknown][] = [["writer", writerTool()], ["shouter", shouterTool], ["failing", failingTool]];
    await Promise.all(services.map(([name, document]) => create("resources", "Resource", `${name}-${suffix}`, { providerRef: { name: `tools-${suffix}` }, type: "service", title: name, visibility: "private", service: { image, cwl: { document } } })));
  });

  after(async function () {
    this.timeout(120_000);
    for (const m of managers) await m.stop();
    const orchestrator = managers.find((m) => m.name.startsWith("orchestrator-"));
    s3?.destroy();
    await identity?.cleanup();
    if (cluster) await cluster.stop();
    if (orchestrator) assert.doesNotMatch(await readFile(orchestrator.logFile, "utf8"), /forbidden/i, `the orchestrator role lacks a verb; see ${orchestrator.logFile}`);
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager logs: ${logDir}`);
  });

  const twoSteps = (second: string): Record<string, unknown> => ({
    steps: [
      { name: "write", serviceRef: { name: `writer-${suffix}` }, in: { message: "greeting" } },
      { name: "shout", serviceRef: { name: `${second}-${suffix}` }, in: { text: "write/out" } },
    ],
    outputs: [{ name: "result", source: "shout/shouted" }],
    job: { greeting: "hello pipeline" },
  });

  it("runs two services wired into one pipeline: Succeeded, each step with its cluster, the output in S3; a failing step is named", async function () {
    const ok = `greet-${suffix}`;
    const bad = `broken-${suffix}`;
    await Promise.all([create("pipelineruns", "PipelineRun", ok, twoSteps("shouter")), create("pipelineruns", "PipelineRun", bad, twoSteps("failing"))]);

    const run = await runWhen(ok, "phase Succeeded", (r) => r.status?.phase === "Succeeded" || r.status?.phase === "Failed");
    assert.equal(run.status?.phase, "Succeeded", JSON.stringify(run.status));
    assert.equal(condition(run, "Succeeded")?.status, "True");
    assert.equal(condition(run, "Ready")?.reason, "Succeeded");
    assert.deepEqual(run.status?.steps?.map((s) => [s.name, s.phase, s.cluster]), [["write", "Succeeded", "isle-1"], ["shout", "Succeeded", "isle-1"]]);
    assert.ok(run.status?.steps?.every((s) => s.startedAt && s.finishedAt), JSON.stringify(run.status?.steps));
    assert.equal(run.status?.progress, "2/2");
    assert.equal(run.status?.workflowRef?.name, ok);
    const location = run.status?.outputs?.find((o) => o.name === "result")?.location ?? "";
    const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(location) ?? [];
    assert.ok(bucket && key, `an s3:// location: ${location}`);
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(await object.Body?.transformToString(), "HELLO PIPELINE");

    const failed = await runWhen(bad, "finished", (r) => r.status?.phase === "Failed" || r.status?.phase === "Succeeded" || r.status?.phase === "Error");
    assert.equal(failed.status?.phase, "Failed");
    const succeeded = condition(failed, "Succeeded");
    assert.equal(succeeded?.status, "False");
    assert.equal(succeeded?.reason, "StepFailed");
    assert.match(succeeded?.message ?? "", /^step "shout" failed on cluster isle-1: .*the disk is full/);
    assert.equal(condition(failed, "Ready")?.status, "False");
    assert.deepEqual(failed.status?.steps?.map((s) => [s.name, s.phase]), [["write", "Succeeded"], ["shout", "Failed"]]);
  });

  it("gives a run's pods credentials of the run's own (its prefix only), never the repository's, and revokes them once the run has finished", async function () {
    const name = `greet-${suffix}`;
    const run = await runWhen(name, "its credentials revoked", (r) => r.status?.artifactAccess?.revoked === true, 60_000);
    assert.deepEqual(run.status?.artifactAccess, { secretName: `${name}-artifacts`, revoked: true });
    const workflow = (await api.getNamespacedCustomObject({ ...workflows, namespace, name })) as { spec: unknown };
    const spec = JSON.stringify(workflow.spec);
    assert.ok(spec.includes(`"name":"${name}-artifacts"`), "the Workflow's artifacts name the run's Secret");
    assert.ok(!spec.includes("argo-artifacts-s3"), "the Workflow never names the repository's own Secret");
    // What the pods were given: the run's Secret, and not the repository's.
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: `workflows.argoproj.io/workflow=${name}` })).items;
    assert.ok(pods.length >= 2, `the run's pods: ${pods.length}`);
    const secretsOf = (pod: (typeof pods)[number]): string[] => (pod.spec?.volumes ?? []).flatMap((v) => (v.secret?.secretName ? [v.secret.secretName] : []));
    assert.ok(pods.some((p) => secretsOf(p).includes(`${name}-artifacts`)), JSON.stringify(pods.map(secretsOf)));
    assert.ok(pods.every((p) => !secretsOf(p).includes("argo-artifacts-s3") && !JSON.stringify(p.spec).includes("argo-artifacts-s3")), JSON.stringify(pods.map(secretsOf)));
    // Its key no longer works: the run has finished.
    const secret = await core.readNamespacedSecret({ namespace, name: `${name}-artifacts` });
    const value = (k: string): string => Buffer.from(secret.data?.[k] ?? "", "base64").toString("utf8");
    const runKey = new S3Client({ endpoint: s3Endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: value("accessKey"), secretAccessKey: value("secretKey") } });
    try {
      const location = run.status?.outputs?.find((o) => o.name === "result")?.location ?? "";
      const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(location) ?? [];
      const refused = await runKey.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(
        () => 200,
        (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode ?? 0,
      );
      assert.equal(refused, 403, "the revoked key is refused");
    } finally {
      runKey.destroy();
    }
  });

  it("deletes a run's Workflow with the run (owner reference, garbage collector), and its objects in the artifact repository (finalizer)", async function () {
    const name = `greet-${suffix}`;
    const run = await getRun(name);
    assert.ok(run.metadata.finalizers?.includes("archipel.io/run-artifacts"), JSON.stringify(run.metadata.finalizers));
    const [, bucket] = /^s3:\/\/([^/]+)\//.exec(run.status?.outputs?.[0]?.location ?? "") ?? [];
    assert.ok(bucket, JSON.stringify(run.status?.outputs));
    const objects = async (prefix: string): Promise<string[]> => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key ?? "");
    assert.ok((await objects(`pipelineruns/${namespace}/${name}/`)).length >= 2, "the run's steps' outputs are in the repository");
    const others = await objects(`pipelineruns/${namespace}/broken-${suffix}/`);
    assert.ok(others.length >= 1, "the other run's objects are there too");
    // What a same-named run of another namespace would have written.
    const twin = `pipelineruns/elsewhere/${name}/main/write/out.txt`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: twin, Body: "not yours" }));
    const wf = (await api.getNamespacedCustomObject({ ...workflows, namespace, name })) as { metadata: { ownerReferences?: { kind: string; name: string; controller?: boolean }[] } };
    assert.deepEqual(wf.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.controller]), [["PipelineRun", name, true]]);
    await api.deleteNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name });
    await eventually(
      `Workflow ${name} to be deleted`,
      async () => api.getNamespacedCustomObject({ ...workflows, namespace, name }).then(() => false, (err: { code?: number }) => err.code === 404),
      60_000,
      500,
    );
    await eventually(`PipelineRun ${name} to be gone`, async () => getRun(name).then(() => false, (err: { code?: number }) => err.code === 404), 60_000, 500);
    assert.deepEqual(await objects(`pipelineruns/${namespace}/${name}/`), [], "the deleted run's objects are deleted");
    assert.deepEqual(await objects(`pipelineruns/${namespace}/broken-${suffix}/`), others, "another run's objects stay");
    assert.deepEqual(await objects(`pipelineruns/elsewhere/${name}/`), [twin], "a same-named run's of another namespace stay");
  });

  it("suspends a run through Argo's spec.suspend and resumes it", async function () {
    const name = `paused-${suffix}`;
    await create("pipelineruns", "PipelineRun", name, { ...twoSteps("shouter"), suspend: true });
    const paused = await runWhen(name, "Ready reason Suspended", (r) => condition(r, "Ready")?.reason === "Suspended", 60_000);
    assert.equal(condition(paused, "Succeeded")?.status, "Unknown");
    const wf = (await api.getNamespacedCustomObject({ ...workflows, namespace, name })) as { spec: { suspend?: boolean } };
    assert.equal(wf.spec.suspend, true);
    await api.patchNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name, body: { spec: { suspend: false } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    const resumed = await runWhen(name, "finished after resuming", (r) => ["Succeeded", "Failed", "Error"].includes(r.status?.phase ?? ""));
    assert.equal(resumed.status?.phase, "Succeeded", JSON.stringify(resumed.status?.conditions));
  });

  it("runs a failing step's pod again as spec.retry says, then fails naming the step", async function () {
    const name = `retried-${suffix}`;
    await create("pipelineruns", "PipelineRun", name, { ...twoSteps("failing"), retry: { limit: 2, policy: "OnFailure" } });
    const run = await runWhen(name, "finished", (r) => ["Failed", "Succeeded", "Error"].includes(r.status?.phase ?? ""));
    assert.equal(run.status?.phase, "Failed");
    assert.match(condition(run, "Succeeded")?.message ?? "", /^step "shout" failed on cluster isle-1: .*the disk is full/);
    const wf = (await api.getNamespacedCustomObject({ ...workflows, namespace, name })) as { status: { nodes: Record<string, { name: string; type: string; templateName?: string }> } };
    const attempts = Object.values(wf.status.nodes).filter((n) => n.type === "Pod" && n.templateName === "main-shout");
    assert.equal(attempts.length, 3, `the tool ran once and was retried twice: ${attempts.map((n) => n.name).join(", ")}`);
    assert.equal(Object.values(wf.status.nodes).filter((n) => n.type === "Pod" && n.templateName === "main-write").length, 1, "the step that succeeded ran once");
  });

  it("marks only an Admiralty step's pod for its cluster target; Argo passes the annotation and nodeSelector to the pod", async function () {
    // No Admiralty here (it cannot be installed from this project's registries): the pod stays
    // Pending, which is all this cluster can show — the marks Admiralty would act on are on it.
    const name = `admiralty-${suffix}`;
    const spec = twoSteps("shouter") as { steps: Record<string, unknown>[] };
    spec.steps[1]!.placement = { strategy: "Admiralty", clusterTarget: "lyon" };
    await create("pipelineruns", "PipelineRun", name, spec);
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    const pod = await eventually(
      `the pod of step shout of ${name}`,
      async () => (await core.listNamespacedPod({ namespace, labelSelector: `workflows.argoproj.io/workflow=${name}` })).items.find((p) => p.metadata?.annotations?.["workflows.argoproj.io/node-name"]?.endsWith(".shout")),
      120_000,
      500,
    );
    assert.equal(pod.metadata?.annotations?.[electAnnotation], "");
    assert.deepEqual(pod.spec?.nodeSelector, { [clusterTargetLabel]: "lyon" });
    const run = await getRun(name);
    assert.match(run.status?.steps?.find((s) => s.name === "shout")?.placement ?? "", /^Admiralty: .*cluster target lyon/);
    const wf = (await api.getNamespacedCustomObject({ ...workflows, namespace, name })) as { spec: { templates: { name: string; nodeSelector?: unknown }[] } };
    assert.deepEqual(wf.spec.templates.filter((t) => t.nodeSelector).map((t) => t.name), ["main-shout"], "the other step and the outputs task are not marked");
    await api.deleteNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name });
  });

  it("says why a run cannot start: a wiring naming no output, a service on a peer not known here, a Workflow name taken", async function () {
    const wiring = twoSteps("shouter") as { steps: { in: Record<string, string> }[] };
    wiring.steps[1]!.in = { text: "write/bam" };
    const peer = twoSteps("shouter") as { steps: { serviceRef: Record<string, string> }[] };
    peer.steps[0]!.serviceRef.peer = "lyon-1";
    const taken = `taken-${suffix}`;
    // A Workflow no run owns (Argo refuses its empty spec at once: nothing runs).
    await api.createNamespacedCustomObject({ ...workflows, namespace, body: { apiVersion: "argoproj.io/v1alpha1", kind: "Workflow", metadata: { name: taken }, spec: { entrypoint: "none", templates: [] } } });
    await Promise.all([
      create("pipelineruns", "PipelineRun", `wiring-${suffix}`, wiring),
      create("pipelineruns", "PipelineRun", `peer-${suffix}`, peer),
      create("pipelineruns", "PipelineRun", taken, twoSteps("shouter")),
    ]);
    const reasonOf = async (name: string, reason: string): Promise<string> =>
      (await runWhen(name, `Ready=False ${reason}`, (r) => condition(r, "Ready")?.reason === reason, 60_000)).status?.conditions?.find((c) => c.type === "Ready")?.message ?? "";
    assert.equal(await reasonOf(`wiring-${suffix}`, "InvalidSpec"), 'spec.steps[1].in.text: step "write" has no output "bam" (it has: out)');
    assert.equal(await reasonOf(`peer-${suffix}`, "PeerNotReady"), "the steps are placed on peer lyon-1: Peer lyon-1 does not exist here");
    assert.match(await reasonOf(taken, "NameTaken"), new RegExp(`^Workflow ${namespace}/${taken} exists and is not this run's`));
    const wf = (await api.getNamespacedCustomObject({ ...workflows, namespace, name: taken })) as { metadata: { ownerReferences?: unknown[] } };
    assert.equal(wf.metadata.ownerReferences, undefined, "the controller adopts nothing it does not own");
  });
  it("quotes a run before it starts, and never starts one whose quote exceeds its budget", async function () {
    // 6 EUR per core-hour on the services' Provider: 2 steps × 100m (no ResourceRequirement) × 10m = 0.20 EUR.
    await create("prices", "Price", `tools-${suffix}`, { targetRef: { kind: "Provider", name: `tools-${suffix}` }, currency: "EUR", rates: { cpuCoreHour: "6" }, validFrom: "2026-01-01T00:00:00Z" });
    const name = `thrifty-${suffix}`;
    await create("pipelineruns", "PipelineRun", name, { ...twoSteps("shouter"), budget: { amount: "0.05", currency: "EUR" } });
    const run = await runWhen(name, "Ready=False RunBudgetExceeded", (r) => condition(r, "Ready")?.reason === "RunBudgetExceeded", 60_000);
    assert.deepEqual(run.status?.quote, { amount: "0.20", currency: "EUR" });
    assert.match(condition(run, "Ready")?.message ?? "", /^the quote \(0\.20 EUR\) exceeds the PipelineRun's spec\.budget \(0\.05 EUR\) by 0\.15 EUR/);
    const workflow = await api.getNamespacedCustomObject({ ...workflows, namespace, name }).catch(() => undefined);
    assert.equal(workflow, undefined, "a run over budget creates no Workflow");
    // Raising the budget lets it start (spec.budget may change).
    await api.patchNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name, body: { spec: { budget: { amount: "0.20", currency: "EUR" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    await runWhen(name, "its Workflow created", (r) => r.status?.workflowRef?.name === name, 60_000);
  });
});
