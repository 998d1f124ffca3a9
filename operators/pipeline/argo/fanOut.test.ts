// Scatter and subworkflows as Argo fan-out, played without a cluster (test/support/playArgo.ts):
// one pod per scatter job and nested DAGs, results gathered in order, files carried through S3.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArgoPlayer } from "../../../test/support/playArgo.ts";
import type { Process, Step } from "../cwl/model.ts";
import { translate, type TranslateConfig } from "./translate.ts";

const config: TranslateConfig = {
  name: "fan", defaultImage: "img", entrypoint: ["archipel-cwl-entrypoint"],
  artifacts: { endpoint: "s3:9000", bucket: "b", keyPrefix: "runs", accessKeySecret: { name: "s", key: "a" }, secretKeySecret: { name: "s", key: "k" } },
};

function process(cls: Process["class"], id: string, extra: Partial<Process>): Process {
  return {
    class: cls, id, cwlVersion: "v1.2", baseDir: "/", inputs: [], outputs: [], requirements: [], hints: [],
    baseCommand: [], arguments: [], successCodes: [], temporaryFailCodes: [], permanentFailCodes: [], steps: [], ...extra,
  };
}

/** echo -n TEXT > said.txt */
const say = process("CommandLineTool", "say", {
  baseCommand: ["echo", "-n"], inputs: [{ id: "t", type: "string", inputBinding: {} }], outputs: [{ id: "out", type: "stdout" }], stdout: "said.txt",
});
/** tr a-z A-Z < FILE > loud.txt */
const shout = process("CommandLineTool", "shout", {
  baseCommand: ["tr", "a-z", "A-Z"], inputs: [{ id: "f", type: "File" }], stdin: "$(inputs.f.path)", outputs: [{ id: "out", type: "stdout" }], stdout: "loud.txt",
});

function step(id: string, run: Process, wiring: Record<string, string>, extra: Partial<Step> = {}): Step {
  const inputs = Object.entries(wiring).map(([input, source]) => ({ id: input, source: [source], sourceIsList: false }));
  return { id, in: inputs, out: ["out"], run, scatter: [], requirements: [], hints: [], ...extra };
}

const scatter = [{ class: "ScatterFeatureRequirement" }, { class: "InlineJavascriptRequirement" }, { class: "SubworkflowFeatureRequirement" }, { class: "StepInputExpressionRequirement" }];

function workflow(steps: Step[], outputSource: string, type: Process["outputs"][number]["type"]): Process {
  return process("Workflow", "wf", { requirements: scatter, inputs: [{ id: "texts", type: { type: "array", items: "string" } }], outputs: [{ id: "result", type, outputSource: [outputSource] }], steps });
}

const files = { type: "array", items: "File" } as const;

describe("scatter and subworkflows as Argo fan-out (played)", function () {
  this.timeout(60_000);
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), "fan-out-"))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  async function play(wf: Process, job: Record<string, unknown>): Promise<{ result: unknown; player: ArgoPlayer }> {
    const player = new ArgoPlayer(translate(wf, job, config), root);
    const outputs = await player.play("main");
    return { result: (JSON.parse(outputs.params["cwl-outputs"] ?? "{}") as { result: unknown }).result, player };
  }

  function contents(player: ArgoPlayer, value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => contents(player, v));
    if (value === null) return null;
    const location = String((value as { location: string }).location);
    return readFileSync(player.s3(location.replace(/^s3:\/\/b\//, "").replace("{{workflow.namespace}}/{{workflow.name}}", "default/fan")), "utf8");
  }

  it("runs one pod per scatter job and a downstream scatter over the gathered files, in order", async () => {
    const wf = workflow([step("say", say, { t: "texts" }, { scatter: ["t"] }), step("shout", shout, { f: "say/out" }, { scatter: ["f"] })], "shout/out", files);
    const { result, player } = await play(wf, { texts: ["a", "bb", "ccc"] });
    assert.deepEqual(contents(player, result), ["A", "BB", "CCC"]);
    assert.equal(player.ran.filter((t) => t === "main-say-item").length, 3, player.ran.join(" "));
    assert.equal(player.ran.filter((t) => t === "main-shout-item").length, 3, player.ran.join(" "));
  });

  it("evaluates a scattered ExpressionTool's jobs in the step's one pod", async () => {
    const double = process("ExpressionTool", "double", { inputs: [{ id: "t", type: "string" }], outputs: [{ id: "out", type: "string" }], expression: "${ return {out: inputs.t + inputs.t}; }" } as Partial<Process>);
    const wf = workflow([step("double", double, { t: "texts" }, { scatter: ["t"] })], "double/out", { type: "array", items: "string" });
    const { result, player } = await play(wf, { texts: ["a", "b", "c"] });
    assert.deepEqual(result, ["aa", "bb", "cc"]);
    assert.deepEqual(player.ran.filter((t) => t.startsWith("main-double")), ["main-double"]);
  });

  it("leaves null where `when` is false, and gathers an empty scatter into an empty list", async () => {
    const when = step("say", say, { t: "texts" }, { scatter: ["t"], when: "$(inputs.t != 'skip')" });
    const { result, player } = await play(workflow([when], "say/out", { type: "array", items: ["null", "File"] }), { texts: ["x", "skip", "z"] });
    assert.deepEqual(contents(player, result), ["x", null, "z"]);
    assert.equal(player.ran.filter((t) => t === "main-say-item").length, 2);
    const empty = await play(workflow([step("say", say, { t: "texts" }, { scatter: ["t"] })], "say/out", files), { texts: [] });
    assert.deepEqual(empty.result, []);
  });

  it("gives a workflow input the job leaves out its default, at the top and in a nested DAG", async () => {
    const inner = process("Workflow", "inner", {
      inputs: [{ id: "t", type: "string", default: "inner default" }], outputs: [{ id: "out", type: "File", outputSource: ["say/out"] }],
      steps: [step("say", say, { t: "t" })],
    });
    const wf = process("Workflow", "wf", {
      requirements: scatter, inputs: [{ id: "text", type: "string", default: "top default" }],
      outputs: [{ id: "result", type: { type: "array", items: "File" }, outputSource: ["top/out", "sub/out"] }],
      steps: [step("top", say, { t: "text" }), { ...step("sub", inner, {}), in: [] }],
    });
    const { result, player } = await play({ ...wf, requirements: [...scatter, { class: "MultipleInputFeatureRequirement" }] }, {});
    assert.deepEqual(contents(player, result), ["top default", "inner default"]);
  });

  it("runs a subworkflow as a nested DAG, scattered, its files coming back through the gather", async () => {
    const inner = process("Workflow", "inner", {
      inputs: [{ id: "t", type: "string" }], outputs: [{ id: "out", type: "File", outputSource: ["shout/out"] }],
      steps: [step("say", say, { t: "t" }), step("shout", shout, { f: "say/out" })],
    });
    const wf = workflow([step("sub", inner, { t: "texts" }, { scatter: ["t"] }), step("again", shout, { f: "sub/out" }, { scatter: ["f"] })], "again/out", files);
    const { result, player } = await play(wf, { texts: ["hi", "yo"] });
    assert.deepEqual(contents(player, result), ["HI", "YO"]);
    // two nested DAGs of two pods each, then their outputs tasks
    assert.equal(player.ran.filter((t) => t === "main-sub-say").length, 2, player.ran.join(" "));
    assert.equal(player.ran.filter((t) => t === "main-sub-outputs").length, 2, player.ran.join(" "));
    // one workflow-outputs task per Workflow: the runner and the orchestrator read it by name
    const tasks = translate(wf, { texts: [] }, config).spec.templates?.flatMap((t) => t.dag?.tasks ?? []) ?? [];
    assert.equal(tasks.filter((t) => t.name === "workflow-outputs").length, 1);
  });
});
