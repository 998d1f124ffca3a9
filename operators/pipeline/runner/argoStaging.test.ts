import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Workflow } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Workflow";
import type { S3Repository } from "../argo/translate.ts";
import { failureMessage, InputStager, outputObjectOf, planOutputDownloads, podInputsDir, repositoryFromConfig, withInputsArtifact } from "./argoStaging.ts";

const repository: S3Repository = {
  endpoint: "10.0.0.1:8333",
  bucket: "art",
  keyPrefix: "cwl",
  insecure: true,
  accessKeySecret: { name: "s3", key: "accessKey" },
  secretKeySecret: { name: "s3", key: "secretKey" },
};

describe("Argo runner: the cluster's artifact repository", () => {
  it("reads the S3 repository hack/argo writes into the controller's ConfigMap", () => {
    const text = "archiveLogs: false\ns3:\n  endpoint: \"10.0.0.1:8333\"\n  bucket: \"art\"\n  region: \"us-east-1\"\n  insecure: true\n" +
      "  accessKeySecret:\n    name: s3\n    key: accessKey\n  secretKeySecret:\n    name: s3\n    key: secretKey\n";
    assert.deepEqual(repositoryFromConfig(text, "cwl"), repository);
  });

  it("names what is missing", () => {
    assert.throws(() => repositoryFromConfig(undefined, "cwl"), /artifactRepository: not set/);
    assert.throws(() => repositoryFromConfig("gcs: {}", "cwl"), /no s3 repository/);
    assert.throws(() => repositoryFromConfig("s3: {endpoint: a:1}", "cwl"), /s3\.bucket is missing/);
    assert.throws(() => repositoryFromConfig("s3: {endpoint: a:1, bucket: b, accessKeySecret: {name: x}}", "cwl"), /s3\.accessKeySecret needs name and key/);
  });
});

describe("Argo runner staging: inputs", () => {
  it("writes pod locations as URIs: a # or % in a file name survives (filename_with_hash_mark)", () => {
    const staged = new InputStager("cwl/wf-1/inputs").stage({ f: { class: "File", location: "octothorpe/item %231.txt" } }, "/job") as Record<string, { location: string }>;
    assert.equal(staged.f?.location, `file://${podInputsDir}/0/item%20%231.txt`);
    assert.equal(fileURLToPath(staged.f?.location ?? ""), `${podInputsDir}/0/item #1.txt`);
  });

  it("puts files of one local directory in one pod directory and uploads each once", () => {
    const stager = new InputStager("cwl/wf-1/inputs");
    const job = {
      a: { class: "File", location: "data/x.txt" },
      b: { class: "File", path: "/abs/y.txt", dirname: "/abs" },
      c: [{ class: "File", location: "file:///job/data/z.txt", secondaryFiles: [{ class: "File", location: "file:///job/data/z.txt.idx" }] }],
      again: { class: "File", location: "file:///job/data/x.txt" },
      n: 3,
    };
    const staged = stager.stage(job, "/job") as Record<string, Record<string, unknown>>;
    assert.deepEqual(staged.a, { class: "File", location: `file://${podInputsDir}/0/x.txt` });
    assert.deepEqual(staged.b, { class: "File", location: `file://${podInputsDir}/1/y.txt` });
    assert.deepEqual(staged.again, staged.a);
    const c = (staged.c as unknown as Record<string, unknown>[])[0];
    assert.equal(c?.location, `file://${podInputsDir}/0/z.txt`);
    assert.deepEqual(c?.secondaryFiles, [{ class: "File", location: `file://${podInputsDir}/0/z.txt.idx` }]);
    assert.equal(staged.n, 3);
    assert.deepEqual(stager.uploads.map((u) => [u.localPath, u.key]).sort(), [
      ["/abs/y.txt", "cwl/wf-1/inputs/1/y.txt"],
      ["/job/data/x.txt", "cwl/wf-1/inputs/0/x.txt"],
      ["/job/data/z.txt", "cwl/wf-1/inputs/0/z.txt"],
      ["/job/data/z.txt.idx", "cwl/wf-1/inputs/0/z.txt.idx"],
    ]);
  });

  it("ships a directory whole, its listing pointing inside it; literals stay literals", () => {
    const stager = new InputStager("p");
    const staged = stager.stage({
      d: { class: "Directory", location: "file:///in/dir", listing: [{ class: "File", location: "file:///in/dir/sub/f" }] },
      lit: { class: "File", basename: "l.txt", contents: "hi" },
    }, "/") as Record<string, Record<string, unknown>>;
    assert.equal(staged.d?.location, `file://${podInputsDir}/0/dir`);
    assert.deepEqual(staged.d?.listing, [{ class: "File", location: `file://${podInputsDir}/0/dir/sub/f` }]);
    assert.deepEqual(staged.lit, { class: "File", basename: "l.txt", contents: "hi" });
    assert.deepEqual(stager.uploads, [{ localPath: "/in/dir", key: "p/0/dir", kind: "Directory" }]);
  });

  it("refuses a location this runner cannot read", () => {
    assert.throws(() => new InputStager("p").stage({ class: "File", location: "https://example.org/x" }, "/"), /only local files/);
  });

  it("adds the inputs artifact to every container template, not to DAGs", () => {
    const wf = new Workflow({
      metadata: { name: "w" },
      spec: { entrypoint: "main", templates: [{ name: "main", dag: { tasks: [] } }, { name: "t", container: { name: "main", image: "i" }, inputs: { parameters: [{ name: "spec" }] } }] },
    });
    withInputsArtifact(wf, repository, "cwl/w/inputs");
    const [dag, container] = wf.spec.templates ?? [];
    assert.equal(dag?.inputs, undefined);
    assert.deepEqual(container?.inputs?.parameters, [{ name: "spec" }]);
    assert.deepEqual(container?.inputs?.artifacts, [{
      name: "cwl-inputs", path: podInputsDir, optional: true,
      s3: { endpoint: "10.0.0.1:8333", bucket: "art", key: "cwl/w/inputs", insecure: true, accessKeySecret: repository.accessKeySecret, secretKeySecret: repository.secretKeySecret },
    }]);
  });
});

describe("Argo runner staging: outputs", () => {
  it("maps a lone tool's /cwl/out files and a workflow's s3:// locations to local downloads", () => {
    const plan = planOutputDownloads({
      out: { class: "File", location: "file:///cwl/out/a/b.txt", path: "/cwl/out/a/b.txt", dirname: "/cwl/out/a", checksum: "sha1$x" },
      kept: { class: "File", location: "s3://art/cwl/w/main/step1/r.txt" },
      dir: { class: "Directory", location: "s3://art/cwl/w/main/step2/d", listing: [{ class: "File", location: "s3://art/cwl/w/main/step2/d/f" }] },
      other: { class: "File", location: "s3://elsewhere/k" },
      s: "text",
    }, { bucket: "art", outdirKey: "cwl/w/main", downloadDir: "/tmp/dl" });
    assert.deepEqual(plan.downloads, [
      { key: "cwl/w/main/a/b.txt", localPath: "/tmp/dl/cwl/w/main/a/b.txt", kind: "File" },
      { key: "cwl/w/main/step1/r.txt", localPath: "/tmp/dl/cwl/w/main/step1/r.txt", kind: "File" },
      { key: "cwl/w/main/step2/d", localPath: "/tmp/dl/cwl/w/main/step2/d", kind: "Directory" },
    ]);
    assert.deepEqual(plan.outputs.out, { class: "File", location: "file:///tmp/dl/cwl/w/main/a/b.txt", path: "/tmp/dl/cwl/w/main/a/b.txt", checksum: "sha1$x" });
    const dir = plan.outputs.dir as { listing: { path: string }[] };
    assert.equal(dir.listing[0]?.path, "/tmp/dl/cwl/w/main/step2/d/f", "listed files come with their directory");
    assert.deepEqual(plan.outputs.other, { class: "File", location: "s3://elsewhere/k" });
    assert.equal(plan.outputs.s, "text");
  });

  const status = {
    phase: "Succeeded",
    nodes: {
      w: { type: "DAG", displayName: "w", templateName: "main" },
      "w-1": { type: "Pod", displayName: "step1", templateName: "main-step1", outputs: { parameters: [{ name: "cwl-outputs", value: "{\"x\": 1}" }] } },
      "w-2": { type: "Pod", displayName: "workflow-outputs", templateName: "main-outputs", outputs: { parameters: [{ name: "cwl-outputs", value: "{\"y\": 2}" }] } },
    },
  };

  it("reads the output object of a workflow's output task, or of a lone tool's pod", () => {
    assert.deepEqual(outputObjectOf(status, "workflow-outputs", "cwl-outputs"), { y: 2 });
    const tool = { phase: "Succeeded", nodes: { t: { type: "Pod", displayName: "t", templateName: "main", outputs: { parameters: [{ name: "cwl-outputs", value: "{\"z\": 3}" }] } } } };
    assert.deepEqual(outputObjectOf(tool, "workflow-outputs", "cwl-outputs"), { z: 3 });
    assert.throws(() => outputObjectOf({ phase: "Succeeded", nodes: {} }, "workflow-outputs", "cwl-outputs"), /no cwl-outputs output/);
  });

  it("explains a failure by the workflow's and its failed steps' messages", () => {
    const failed = { phase: "Failed", message: "child failed", nodes: { a: { type: "Pod", phase: "Failed", displayName: "step1", message: "Error (exit code 1)" }, b: { type: "Pod", phase: "Succeeded" } } };
    assert.equal(failureMessage(failed), "child failed; step1: Error (exit code 1)");
    assert.equal(failureMessage({ phase: "Error" }), "workflow Error");
  });
});
