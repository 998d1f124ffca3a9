import assert from "node:assert/strict";
import { translate } from "../pipeline/argo/translate.ts";
import type { Process } from "../pipeline/cwl/model.ts";
import { normalizeProcess } from "../pipeline/cwl/normalize.ts";
import type { PipelineRunSpec } from "../schema/pipelineRun.ts";
import { clusterTargetLabel, electAnnotation } from "../pipeline/argo/translate.ts";
import { admiraltyTargets, placementPlan } from "./placement.ts";
import { pipelineWorkflow, type ServiceProcess, workflowDeadlineSeconds } from "./pipelineWorkflow.ts";

function tool(raw: Record<string, unknown>): Process {
  return normalizeProcess({ cwlVersion: "v1.2", class: "CommandLineTool", ...raw }, {
    baseDir: "/",
    cwlVersion: "v1.2",
    namespaces: {},
    types: new Map(),
    resolveRun: () => {
      throw new Error("no run references in these tests");
    },
  });
}

const writer = tool({
  baseCommand: ["bash", "-c", 'printf "%s" "$0" > greeting.txt'],
  inputs: { message: { type: "string", inputBinding: { position: 1 } }, times: { type: "int", default: 1 } },
  outputs: { out: { type: "File", outputBinding: { glob: "greeting.txt" } } },
  hints: { DockerRequirement: { dockerPull: "elsewhere/image:1" } },
});
const upper = tool({
  baseCommand: ["tr", "a-z", "A-Z"],
  stdin: "$(inputs.text.path)",
  stdout: "upper.txt",
  inputs: { text: "File", suffix: "string?" },
  outputs: { shouted: "stdout" },
});

const services = new Map<string, ServiceProcess>([
  ["write", { process: writer, image: "archipel.local/cwl-step:dev" }],
  ["shout", { process: upper, image: "registry.example/shout:2" }],
]);

function spec(overrides: Partial<PipelineRunSpec> = {}): PipelineRunSpec {
  return {
    steps: [
      { name: "write", serviceRef: { name: "writer" }, in: { message: "greeting" } },
      { name: "shout", serviceRef: { name: "upper" }, in: { text: "write/out" } },
    ],
    outputs: [{ name: "result", source: "shout/shouted" }],
    job: { greeting: "hello" },
    ...overrides,
  };
}

function errorsOf(s: PipelineRunSpec, svc: ReadonlyMap<string, ServiceProcess> = services): string[] {
  const result = pipelineWorkflow(s, svc);
  assert.equal(result.ok, false, "expected errors");
  return result.ok ? [] : result.errors;
}

describe("pipelineWorkflow", () => {
  it("builds one CWL Workflow: inputs from spec.job and the wiring, a step per service with its image, outputs from spec.outputs", () => {
    const result = pipelineWorkflow(spec(), services);
    assert.ok(result.ok, JSON.stringify(result));
    const wf = result.workflow;
    assert.equal(wf.class, "Workflow");
    assert.deepEqual(wf.inputs.map((i) => [i.id, i.type]), [["greeting", "string"]]);
    assert.deepEqual(wf.steps.map((s) => s.id), ["write", "shout"]);
    assert.deepEqual(wf.steps[1]!.in, [{ id: "text", source: ["write/out"], sourceIsList: false }]);
    assert.deepEqual(wf.steps[0]!.out, ["out"]);
    // the service's image replaces whatever the document hinted at
    assert.deepEqual(wf.steps[0]!.run.requirements.filter((r) => r.class === "DockerRequirement"), [{ class: "DockerRequirement", dockerPull: "archipel.local/cwl-step:dev" }]);
    assert.equal(wf.steps[0]!.run.hints.length, 0);
    assert.deepEqual(wf.outputs, [{ id: "result", type: "File", outputSource: ["shout/shouted"] }]);
    assert.deepEqual(result.job, { greeting: "hello" });
  });

  it("translates to an Argo Workflow whose step containers run the services' images", () => {
    const result = pipelineWorkflow(spec(), services);
    assert.ok(result.ok);
    const argo = translate(result.workflow, result.job, {
      name: "run-1",
      namespace: "team-a",
      defaultImage: "archipel.local/cwl-step:dev",
      entrypoint: ["archipel-cwl-entrypoint"],
      artifacts: { endpoint: "s3:9000", bucket: "b", keyPrefix: "pipelineruns", accessKeySecret: { name: "s", key: "a" }, secretKeySecret: { name: "s", key: "s" } },
    });
    const images = Object.fromEntries((argo.spec.templates ?? []).filter((t) => t.container).map((t) => [t.name, t.container?.image]));
    assert.equal(images["main-write"], "archipel.local/cwl-step:dev");
    assert.equal(images["main-shout"], "registry.example/shout:2");
    const tasks = argo.spec.templates?.find((t) => t.name === "main")?.dag?.tasks ?? [];
    assert.deepEqual(tasks.map((t) => [t.name, t.dependencies ?? []]), [["write", []], ["shout", ["write"]], ["workflow-outputs", ["write", "shout"]]]);
  });

  it("elects only the Admiralty step's pods for its cluster target, not the others nor the outputs task", () => {
    const s = spec();
    s.steps[1]!.placement = { strategy: "Admiralty", clusterTarget: "lyon" };
    const plan = placementPlan(s);
    assert.ok(plan.ok);
    const result = pipelineWorkflow(s, services);
    assert.ok(result.ok);
    const placement = admiraltyTargets(plan.steps);
    const argo = translate(result.workflow, result.job, {
      name: "run-1",
      defaultImage: "archipel.local/cwl-step:dev",
      entrypoint: ["archipel-cwl-entrypoint"],
      artifacts: { endpoint: "s3:9000", bucket: "b", keyPrefix: "pipelineruns", accessKeySecret: { name: "s", key: "a" }, secretKeySecret: { name: "s", key: "s" } },
      ...(placement ? { placement } : {}),
    });
    const elected = (argo.spec.templates ?? []).filter((t) => t.nodeSelector !== undefined).map((t) => [t.name, t.nodeSelector, t.metadata?.annotations]);
    assert.deepEqual(elected, [["main-shout", { [clusterTargetLabel]: "lyon" }, { [electAnnotation]: "" }]]);
    const plain = placementPlan(spec());
    assert.equal(plain.ok && admiraltyTargets(plain.steps), undefined, "no hook when no step asks for Admiralty");
  });

  it("names the step, the input and what exists when a wiring names an output that is not there", () => {
    const s = spec();
    s.steps[1]!.in = { text: "write/bam" };
    assert.deepEqual(errorsOf(s), ['spec.steps[1].in.text: step "write" has no output "bam" (it has: out)']);
  });

  it("refuses an input the service does not have, and a step that does not exist", () => {
    const s = spec();
    s.steps[1]!.in = { text: "align/out", reads: "greeting" };
    assert.deepEqual(errorsOf(s), ['spec.steps[1].in.text: no step is named "align"', 'spec.steps[1].in.reads: service "upper" has no input "reads" (it has: text, suffix)']);
  });

  it("refuses a required step input left unwired, and one wired to a pipeline input without a value", () => {
    const s = spec({ job: {} });
    s.steps[1]!.in = {};
    assert.deepEqual(errorsOf(s), [
      'spec.steps[0].in.message: pipeline input "greeting" has no value: give it in spec.job (type string)',
      'spec.steps[1].in.text: required input "text" (File) of service "upper" is not wired: name a pipeline input or <step>/<output>',
    ]);
  });

  it("lets optional inputs and inputs with defaults stay unwired; an optional one wired to an unset pipeline input is optional", () => {
    const s = spec();
    s.steps[1]!.in = { text: "write/out", suffix: "punctuation" };
    const result = pipelineWorkflow(s, services);
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.workflow.inputs.find((i) => i.id === "punctuation")?.type, ["null", "string"]);
  });

  it("refuses an output whose source step has no such output", () => {
    assert.deepEqual(errorsOf(spec({ outputs: [{ name: "result", source: "shout/loud" }] })), ['spec.outputs[0].source: step "shout" has no output "loud" (it has: shouted)']);
  });

  it("refuses steps that read each other in a cycle, and a step reading itself", () => {
    const s = spec();
    s.steps[0]!.in = { message: "shout/shouted" };
    const errors = errorsOf(s);
    assert.ok(errors.some((e) => e.startsWith("spec.steps: steps read each other's outputs in a cycle")), errors.join("\n"));
    const self = spec();
    self.steps[1]!.in = { text: "shout/shouted" };
    assert.ok(errorsOf(self).includes("spec.steps[1].in.text: a step cannot read its own output"));
  });

  it("refuses step names the translation uses for its own tasks", () => {
    const s = spec();
    s.steps[1]!.name = "write-inputs";
    s.outputs = [];
    services.set("write-inputs", services.get("shout")!);
    try {
      assert.ok(errorsOf(s).includes('spec.steps[1].name: "write-inputs" clashes with the tasks of step "write"; rename it'));
    } finally {
      services.delete("write-inputs");
    }
  });

  it("refuses Files in spec.job given by location (pods cannot fetch them yet), and accepts literal contents", () => {
    assert.deepEqual(errorsOf(spec({ job: { greeting: "x", extra: [{ class: "File", location: "s3://b/k" }] } })), [
      "spec.job.extra[0]: a File given by location cannot reach the pods yet; give its contents inline, or bind a data Resource in spec.inputs once they are supported",
    ]);
    assert.ok(pipelineWorkflow(spec({ job: { greeting: "x", extra: { class: "File", basename: "a.txt", contents: "a" } } }), services).ok);
  });

  it("reports a step whose service is not resolved", () => {
    const only = new Map([["write", services.get("write")!]]);
    assert.ok(errorsOf(spec(), only).includes('spec.steps[1].serviceRef: the service of step "shout" is not resolved'));
  });
  it("takes Files the orchestrator staged for the pods by location, but not the user's own", () => {
    const file = { class: "File", location: "file:///cwl/inputs/data.doc/greeting.txt" };
    const reads: PipelineRunSpec = { steps: [{ name: "shout", serviceRef: { name: "upper" }, in: { text: "doc" } }] };
    const staged = pipelineWorkflow(reads, services, { doc: file });
    const given = pipelineWorkflow({ ...reads, job: { doc: file } }, services);
    assert.equal(given.ok, false);
    assert.match(!given.ok ? given.errors.join() : "", /spec\.job\.doc: a File given by location cannot reach the pods yet/);
    assert.equal(staged.ok ? undefined : staged.errors.join(), undefined);
  });

  it("says which step input takes what when a staged Directory is wired to a File input (or a File to a string)", () => {
    const listing = tool({ baseCommand: ["ls", "-R"], inputs: { tree: { type: "Directory", inputBinding: { position: 1 } } }, outputs: { listed: "stdout" }, stdout: "ls.txt" });
    const both = new Map([...services, ["list", { process: listing, image: "archipel.local/cwl-step:dev" }]]);
    const directory = { class: "Directory", location: "file:///cwl/inputs/data.scenes/scenes" };
    const reads: PipelineRunSpec = { steps: [{ name: "list", serviceRef: { name: "lister" }, in: { tree: "scenes" } }, { name: "shout", serviceRef: { name: "upper" }, in: { text: "scenes" } }] };
    const result = pipelineWorkflow(reads, both, { scenes: directory });
    assert.deepEqual(result.ok ? [] : result.errors, ['spec.steps[1].in.text: pipeline input "scenes" is a Directory and input "text" takes File']);
    assert.equal(pipelineWorkflow({ steps: [reads.steps[0]!] }, both, { scenes: directory }).ok, true);
    const toString = pipelineWorkflow(spec(), services, { greeting: { class: "File", location: "file:///cwl/inputs/x" } });
    assert.match(toString.ok ? "" : toString.errors.join(), /spec\.steps\[0\]\.in\.message: pipeline input "greeting" is a File and input "message" takes string/);
  });

  it("turns spec.timeout into Argo's deadline in whole seconds, rounded up (never early)", () => {
    const steps: PipelineRunSpec["steps"] = [{ name: "a", serviceRef: { name: "s" } }];
    assert.equal(workflowDeadlineSeconds({ steps }), undefined);
    assert.equal(workflowDeadlineSeconds({ steps, timeout: "90s" }), 90);
    assert.equal(workflowDeadlineSeconds({ steps, timeout: "1h30m" }), 5400);
    assert.equal(workflowDeadlineSeconds({ steps, timeout: "1500ms" }), 2);
    assert.equal(workflowDeadlineSeconds({ steps, timeout: "1ns" }), 1);
  });
});
