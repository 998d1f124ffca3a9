// The Argo backend of archipel-cwl-runner (ARCHIPEL_CWL_BACKEND=argo): translates the process
// (argo/translate.ts), uploads the job's local files to the cluster's S3 artifact repository,
// submits the Workflow to the cluster of KUBECONFIG, waits for it through a watch, and downloads
// the output object's files into the output directory. Decisions live in argoStaging.ts.
//
// Environment: KUBECONFIG (the cluster, e.g. .clusters/NAME/kubeconfig), ARCHIPEL_CWL_NAMESPACE
// (default "default", readied by `hack/argo up --namespace`), ARCHIPEL_CWL_IMAGE (default
// archipel.local/cwl-step:dev, hack/images), ARCHIPEL_CWL_S3_ENDPOINT (how this machine reaches the
// S3 server; default the repository's endpoint), ARCHIPEL_CWL_TIMEOUT_SECONDS (default 3600),
// ARCHIPEL_CWL_PARALLELISM (pods of one run at once, default 4).
import { randomBytes } from "node:crypto";
import { createReadStream, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CoreV1Api, CustomObjectsApi, KubeConfig, Watch } from "@kubernetes/client-node";
import { outputsParameter, translate, workflowKeyBase, workflowOutputsTask, type S3Repository } from "../argo/translate.ts";
import type { Process } from "../cwl/model.ts";
import { initSandbox, Sandbox } from "../cwl/sandbox.ts";
import { checkRequirements, evaluatorFor, prepareInputs, ToolFailed } from "../entrypoint/tool.ts";
import {
  failureMessage,
  finished,
  InputStager,
  outputObjectOf,
  planOutputDownloads,
  repositoryFromConfig,
  type Download,
  type Upload,
  withInputsArtifact,
  type WorkflowStatus,
} from "./argoStaging.ts";
import { Relocator } from "./relocate.ts";
import { timed as timedFor } from "../timed.ts";

/** sandbox: where input expressions are evaluated (a new one when not given) */
export interface ArgoRunOptions { jobDir: string; outdir: string; scratch: string; sandbox?: Sandbox; keep?: boolean }

const workflows = { group: "argoproj.io", version: "v1alpha1", plural: "workflows" } as const;
const keyPrefix = "cwl";
const requestTimeoutMs = 30_000;

interface Settings { namespace: string; image: string; s3Endpoint?: string; timeoutMs: number; parallelism: number }

function settingsFromEnv(env: NodeJS.ProcessEnv): Settings {
  const seconds = Number(env.ARCHIPEL_CWL_TIMEOUT_SECONDS ?? "3600");
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`ARCHIPEL_CWL_TIMEOUT_SECONDS: expected a positive number of seconds, got ${JSON.stringify(env.ARCHIPEL_CWL_TIMEOUT_SECONDS)}`);
  // A wide scatter would otherwise start every job's pod at once.
  const parallelism = Number(env.ARCHIPEL_CWL_PARALLELISM ?? "4");
  if (!Number.isInteger(parallelism) || parallelism < 1) throw new Error(`ARCHIPEL_CWL_PARALLELISM: expected a whole number of pods ≥ 1, got ${JSON.stringify(env.ARCHIPEL_CWL_PARALLELISM)}`);
  return {
    namespace: env.ARCHIPEL_CWL_NAMESPACE ?? "default",
    image: env.ARCHIPEL_CWL_IMAGE ?? "archipel.local/cwl-step:dev",
    ...(env.ARCHIPEL_CWL_S3_ENDPOINT ? { s3Endpoint: env.ARCHIPEL_CWL_S3_ENDPOINT } : {}),
    timeoutMs: seconds * 1000,
    parallelism,
  };
}

function timed<T>(what: string, promise: Promise<T>, ms = requestTimeoutMs): Promise<T> {
  return timedFor(what, promise, ms);
}

interface Cluster { kc: KubeConfig; core: CoreV1Api; custom: CustomObjectsApi }

/** The artifact repository the cluster's Argo is configured with, and host-side S3 access to it. */
async function artifactStore(cluster: Cluster, settings: Settings): Promise<{ repository: S3Repository; s3: S3Client }> {
  const cm = await timed("reading argo/workflow-controller-configmap", cluster.core.readNamespacedConfigMap({ name: "workflow-controller-configmap", namespace: "argo" }));
  const repository = repositoryFromConfig(cm.data?.artifactRepository, keyPrefix);
  const secretOf = async (name: string): Promise<Record<string, string>> =>
    (await timed(`reading Secret ${settings.namespace}/${name}`, cluster.core.readNamespacedSecret({ name, namespace: settings.namespace }))).data ?? {};
  const decode = (data: Record<string, string>, key: string, what: string): string => {
    const value = data[key];
    if (value === undefined) throw new Error(`Secret ${settings.namespace}: no key ${key} for the artifact repository's ${what}`);
    return Buffer.from(value, "base64").toString();
  };
  const accessKeyId = decode(await secretOf(repository.accessKeySecret.name), repository.accessKeySecret.key, "access key");
  const secretAccessKey = decode(await secretOf(repository.secretKeySecret.name), repository.secretKeySecret.key, "secret key");
  const endpoint = settings.s3Endpoint ?? `${repository.insecure ? "http" : "https"}://${repository.endpoint}`;
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 3 });
  return { repository, s3 };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

async function upload(s3: S3Client, bucket: string, item: Upload): Promise<void> {
  const files = item.kind === "Directory" ? filesUnder(item.localPath).map((f) => ({ file: f, key: `${item.key}/${relative(item.localPath, f)}` })) : [{ file: item.localPath, key: item.key }];
  for (const { file, key } of files) {
    const body = createReadStream(file);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: statSync(file).size }), { abortSignal: AbortSignal.timeout(requestTimeoutMs * 4) });
  }
}

async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }), { abortSignal: AbortSignal.timeout(requestTimeoutMs) });
    keys.push(...(page.Contents ?? []).map((o) => o.Key ?? "").filter((k) => k !== ""));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function getObject(s3: S3Client, bucket: string, key: string, path: string): Promise<void> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: AbortSignal.timeout(requestTimeoutMs * 4) });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await (res.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
}

async function download(s3: S3Client, bucket: string, item: Download): Promise<void> {
  if (item.kind === "File") return getObject(s3, bucket, item.key, item.localPath);
  mkdirSync(item.localPath, { recursive: true });
  for (const key of await listKeys(s3, bucket, `${item.key}/`)) await getObject(s3, bucket, key, join(item.localPath, key.slice(item.key.length + 1)));
}

async function removePrefix(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  const keys = await listKeys(s3, bucket, prefix);
  for (let i = 0; i < keys.length; i += 1000) {
    const Objects = keys.slice(i, i + 1000).map((Key) => ({ Key }));
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects, Quiet: true } }), { abortSignal: AbortSignal.timeout(requestTimeoutMs) });
  }
}

/** Resolves with the Workflow's status once it has finished (a watch, re-opened when it closes). */
async function awaitFinished(cluster: Cluster, namespace: string, name: string, timeoutMs: number): Promise<WorkflowStatus> {
  const deadline = Date.now() + timeoutMs;
  const path = `/apis/${workflows.group}/${workflows.version}/namespaces/${namespace}/${workflows.plural}`;
  for (;;) {
    const current = (await timed(`reading Workflow ${namespace}/${name}`, cluster.custom.getNamespacedCustomObject({ ...workflows, namespace, name }))) as { status?: WorkflowStatus };
    if (finished(current.status?.phase)) return current.status ?? {};
    const left = deadline - Date.now();
    if (left <= 0) throw new ToolFailed(`Workflow ${namespace}/${name} did not finish in ${timeoutMs / 1000} s (phase ${current.status?.phase ?? "none"})`);
    await new Promise<void>((resolve) => {
      let controller: AbortController | undefined;
      const stop = (): void => {
        clearTimeout(timer);
        controller?.abort();
        resolve();
      };
      const timer = setTimeout(stop, Math.min(left, 60_000));
      new Watch(cluster.kc)
        .watch(path, { fieldSelector: `metadata.name=${name}` }, (_type, obj: { status?: WorkflowStatus }) => {
          if (finished(obj.status?.phase)) stop();
        }, () => stop())
        .then((c) => {
          controller = c;
        }, () => stop());
    });
  }
}

function connect(env: NodeJS.ProcessEnv): Cluster {
  const kc = new KubeConfig();
  if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG);
  else kc.loadFromDefault();
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
}

async function withSandbox<T>(given: Sandbox | undefined, use: (sandbox: Sandbox) => T): Promise<T> {
  if (given !== undefined) return use(given);
  await initSandbox();
  const sandbox = new Sandbox();
  try {
    return use(sandbox);
  } finally {
    sandbox.dispose();
  }
}

/** Runs the process on the Argo Workflows of the cluster in KUBECONFIG; returns the output object. */
export async function runOnArgo(process: Process, job: Record<string, unknown>, options: ArgoRunOptions, env: NodeJS.ProcessEnv = globalThis.process.env): Promise<Record<string, unknown>> {
  checkRequirements(process);
  const settings = settingsFromEnv(env);
  const cluster = connect(env);
  const { repository, s3 } = await artifactStore(cluster, settings);
  const name = `cwl-${randomBytes(5).toString("hex")}`;
  const runPrefix = workflowKeyBase(keyPrefix, settings.namespace, name);
  const stager = new InputStager(`${runPrefix}/inputs`);
  // The job as the local runner would see it: secondary files found beside their primaries and
  // defaults filled, so every file a pod reads is uploaded (the pods cannot look on this machine).
  const prepared = await withSandbox(options.sandbox, (sandbox) => prepareInputs(process, job, { ...options, sandbox, discoverSecondaryFiles: true }, evaluatorFor(process, sandbox)));
  const stagedJob = stager.stage(prepared, options.jobDir) as Record<string, unknown>;
  const stagedProcess = stager.stage(process, options.jobDir) as Process;
  try {
    for (const item of stager.uploads) await upload(s3, repository.bucket, item);
    const workflow = translate(stagedProcess, stagedJob, { name, namespace: settings.namespace, defaultImage: settings.image, entrypoint: ["archipel-cwl-entrypoint"], artifacts: repository, parallelism: settings.parallelism });
    withInputsArtifact(workflow, repository, `${runPrefix}/inputs`);
    await timed("creating the Workflow", cluster.custom.createNamespacedCustomObject({ ...workflows, namespace: settings.namespace, body: workflow.toJSON() }));
    const status = await awaitFinished(cluster, settings.namespace, name, settings.timeoutMs);
    if (status.phase !== "Succeeded") throw new ToolFailed(failureMessage(status));
    const downloadDir = join(options.scratch, "argo-downloads");
    const plan = planOutputDownloads(outputObjectOf(status, workflowOutputsTask, outputsParameter), { bucket: repository.bucket, outdirKey: `${runPrefix}/main`, downloadDir });
    for (const item of plan.downloads) await download(s3, repository.bucket, item);
    const mainDir = join(downloadDir, runPrefix, "main");
    const stepDirs = (process.steps ?? []).map((s) => join(mainDir, s.id));
    return new Relocator(options.outdir, [mainDir, ...stepDirs]).relocate(plan.outputs) as Record<string, unknown>;
  } finally {
    if (options.keep !== true) {
      await timed("deleting the Workflow", cluster.custom.deleteNamespacedCustomObject({ ...workflows, namespace: settings.namespace, name })).catch(() => undefined);
      await removePrefix(s3, repository.bucket, `${runPrefix}/`).catch(() => undefined);
    }
    s3.destroy();
  }
}
