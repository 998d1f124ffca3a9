import assert from "node:assert/strict";
import type { Process, Step } from "../cwl/model.ts";
import { clusterTargetLabel, electAnnotation, executionOrder, translate, workflowOutputsTask, type TranslateConfig } from "./translate.ts";

function tool(id: string, extra: Partial<Process> = {}): Process {
  return {
    class: "CommandLineTool", id, cwlVersion: "v1.2", baseDir: "/docs",
    inputs: [{ id: "in", type: "File" }], outputs: [{ id: "out", type: "File", outputBinding: { glob: "out.txt" } }],
    requirements: [], hints: [], baseCommand: ["cat"], arguments: [],
    successCodes: [], temporaryFailCodes: [], permanentFailCodes: [], steps: [], ...extra,
  };
}

function step(id: string, source: string, run: Process): Step {
  return { id, in: [{ id: "in", source: [source], sourceIsList: false }], out: ["out"], run, scatter: [], requirements: [], hints: [] };
}

const config: TranslateConfig = {
  name: "run-1",
  namespace: "team-a",
  defaultImage: "registry.example/archipel/cwl-entrypoint:1",
  entrypoint: ["archipel-cwl-entrypoint"],
  artifacts: {
    endpoint: "s3.example:9000", bucket: "pipelines", keyPrefix: "runs",
    accessKeySecret: { name: "s3", key: "access" }, secretKeySecret: { name: "s3", key: "secret" },
  },
  placement: (path) => (path === "main/second" ? "cluster-b" : undefined),
};

const workflow: Process = {
  ...tool("wf"),
  class: "Workflow",
  baseCommand: [],
  outputs: [{ id: "final", type: "File", outputSource: ["second/out"] }],
  steps: [
    step("first", "in", tool("cat1", { requirements: [{ class: "DockerRequirement", dockerPull: "debian:12" }, { class: "ResourceRequirement", coresMin: 2, ramMin: 512 }] })),
    step("second", "first/out", tool("cat2")),
  ],
};

describe("CWL → Argo translation", () => {
  it("bounds the pods running at once when asked (a wide scatter would start them all)", () => {
    assert.equal(translate(workflow, {}, { ...config, parallelism: 3 }).spec.parallelism, 3);
    assert.equal(translate(workflow, {}, config).spec.parallelism, undefined);
  });

  it("runs every pod of the workflow again as the retry policy says (Argo's retryStrategy), and none without one", () => {
    const retried = translate(workflow, {}, { ...config, retry: { limit: 2, policy: "OnError" } });
    const pods = (retried.spec.templates ?? []).filter((t) => t.container);
    assert.ok(pods.length >= 3, "both steps and the outputs task run pods");
    assert.deepEqual([...new Set(pods.map((t) => JSON.stringify(t.retryStrategy)))], [JSON.stringify({ limit: 2, retryPolicy: "OnError" })]);
    assert.doesNotThrow(() => retried.validate());
    assert.ok((translate(workflow, {}, config).spec.templates ?? []).every((t) => t.retryStrategy === undefined));
  });

  it("makes a DAG with one task per step, wired by dependencies, and a final outputs task", () => {
    const wf = translate(workflow, { in: { class: "File", location: "a.txt" } }, config);
    assert.equal(wf.kind, "Workflow");
    assert.equal(wf.metadata.namespace, "team-a");
    const main = wf.spec.templates?.find((t) => t.name === wf.spec.entrypoint);
    const tasks = main?.dag?.tasks ?? [];
    assert.deepEqual(tasks.map((t) => t.name), ["first", "second", workflowOutputsTask]);
    assert.equal(tasks[0]?.dependencies, undefined);
    assert.deepEqual(tasks[1]?.dependencies, ["first"]);
    assert.deepEqual(tasks[2]?.dependencies, ["first", "second"]);
    assert.deepEqual(executionOrder(tasks).map((t) => t.name), ["first", "second", workflowOutputsTask]);
  });

  it("passes the upstream output directory as an S3 artifact and its outputs as a parameter", () => {
    const wf = translate(workflow, {}, config);
    const second = wf.spec.templates?.find((t) => t.name === "main-second");
    const artifact = second?.outputs?.artifacts?.[0];
    assert.equal(artifact?.s3?.bucket, "pipelines");
    assert.equal(artifact?.s3?.endpoint, "s3.example:9000");
    assert.equal(artifact?.s3?.key, "runs/{{workflow.namespace}}/{{workflow.name}}/main/second", "same-named Workflows of two namespaces never share a key");
    assert.deepEqual(artifact?.s3?.accessKeySecret, { name: "s3", key: "access" });
    assert.deepEqual(artifact?.archive, { none: {} }, "files stay addressable one by one");
    const task = wf.spec.templates?.[0]?.dag?.tasks?.find((t) => t.name === "second");
    assert.deepEqual(task?.arguments?.artifacts, [{ name: "upstream-first", from: "{{tasks.first.outputs.artifacts.outdir}}" }]);
    assert.deepEqual(second?.inputs?.artifacts, [{ name: "upstream-first", path: "/cwl/upstream/first" }]);
    // Argo substitutes JSON into JSON: the job is valid once the placeholders are replaced.
    const jobText = String(task?.arguments?.parameters?.find((p) => p.name === "job")?.value);
    assert.equal(jobText, '{"inputs": {{workflow.parameters.job}}, "steps": {"first": {{tasks.first.outputs.parameters.cwl-outputs}}}}');
    const substituted = jobText.replace("{{workflow.parameters.job}}", '{"in": 1}').replace("{{tasks.first.outputs.parameters.cwl-outputs}}", '{"out": 2}');
    assert.deepEqual(JSON.parse(substituted), { inputs: { in: 1 }, steps: { first: { out: 2 } } });
    const spec = JSON.parse(String(task?.arguments?.parameters?.find((p) => p.name === "spec")?.value)) as { stepPath: string; step: { id: string }; workflow: { steps: unknown[] } };
    assert.equal(spec.stepPath, "main/second");
    assert.equal(spec.step.id, "second");
    // Only the steps it reads: a task's spec does not grow with the workflow (no n² Workflow).
    assert.deepEqual(spec.workflow.steps, [{ id: "first", out: ["out"] }]);
  });

  it("uses DockerRequirement's image and ResourceRequirement's resources, else the default image", () => {
    const wf = translate(workflow, {}, config);
    const first = wf.spec.templates?.find((t) => t.name === "main-first");
    assert.equal(first?.container?.image, "debian:12");
    assert.deepEqual(first?.container?.resources, { requests: { cpu: "2", memory: "512Mi" } });
    assert.deepEqual(first?.container?.command, ["archipel-cwl-entrypoint"]);
    assert.equal(wf.spec.templates?.find((t) => t.name === "main-second")?.container?.image, config.defaultImage);
  });

  it("ignores a DockerRequirement given as a hint: the step runs on the default image", () => {
    const hinted = translate(tool("cat1", { hints: [{ class: "DockerRequirement", dockerPull: "python:3-slim" }] }), {}, config);
    assert.equal(hinted.spec.templates?.[0]?.container?.image, config.defaultImage);
  });

  it("pins a step to a cluster with Admiralty's elect annotation and cluster-target nodeSelector", () => {
    const wf = translate(workflow, {}, config);
    const second = wf.spec.templates?.find((t) => t.name === "main-second");
    assert.deepEqual(second?.metadata?.annotations, { [electAnnotation]: "" });
    assert.deepEqual(second?.nodeSelector, { [clusterTargetLabel]: "cluster-b" });
    const first = wf.spec.templates?.find((t) => t.name === "main-first");
    assert.equal(first?.nodeSelector, undefined);
    assert.equal(first?.metadata, undefined);
  });

  it("translates a single tool to a one-template workflow that validates", () => {
    const wf = translate(tool("cat"), {}, config);
    assert.equal(wf.spec.templates?.length, 1);
    assert.equal(wf.spec.templates?.[0]?.container?.name, "main");
    assert.doesNotThrow(() => wf.validate());
  });

  it("rejects a cycle between steps", () => {
    assert.throws(() => executionOrder([{ name: "a", template: "t", dependencies: ["b"] }, { name: "b", template: "t", dependencies: ["a"] }]), /cycle/);
  });
});
