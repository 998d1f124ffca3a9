// Plays Argo by hand: translates a workflow, then runs each task's container args with the
// entrypoint, moving each task's output directory through a stand-in for S3.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IDAGTask } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask";
import { executionOrder, translate, type TranslateConfig } from "../argo/translate.ts";
import type { Process } from "../cwl/model.ts";
import { entrypoint, remapUpstream } from "./main.ts";

const config: TranslateConfig = {
  name: "wf", defaultImage: "img", entrypoint: ["archipel-cwl-entrypoint"],
  artifacts: { endpoint: "s3:9000", bucket: "b", keyPrefix: "runs", accessKeySecret: { name: "s", key: "a" }, secretKeySecret: { name: "s", key: "k" } },
};

function tool(id: string, command: string[], extra: Partial<Process>): Process {
  return {
    class: "CommandLineTool", id, cwlVersion: "v1.2", baseDir: "/", inputs: [], outputs: [], requirements: [], hints: [],
    baseCommand: command, arguments: [], successCodes: [], temporaryFailCodes: [], permanentFailCodes: [], steps: [], ...extra,
  };
}

const workflow: Process = {
  ...tool("wf", [], {}),
  class: "Workflow",
  inputs: [{ id: "text", type: "string" }],
  outputs: [{ id: "shout", type: "File", outputSource: ["upper/out"] }],
  steps: [
    { id: "write", in: [{ id: "t", source: ["text"], sourceIsList: false }], out: ["out"], scatter: [], requirements: [], hints: [],
      run: tool("write", ["echo", "-n"], { inputs: [{ id: "t", type: "string", inputBinding: {} }], outputs: [{ id: "out", type: "stdout" }], stdout: "said.txt" }) },
    { id: "upper", in: [{ id: "f", source: ["write/out"], sourceIsList: false }], out: ["out"], scatter: [], requirements: [], hints: [],
      run: tool("upper", ["tr", "a-z", "A-Z"], { inputs: [{ id: "f", type: "File" }], stdin: "$(inputs.f.path)", outputs: [{ id: "out", type: "stdout" }], stdout: "loud.txt" }) },
  ],
};

function argsOf(_task: IDAGTask, templateArgs: string[], params: Record<string, string>): string[] {
  return templateArgs.map((a) => a.replace("{{inputs.parameters.spec}}", params.spec ?? "").replace("{{inputs.parameters.job}}", params.job ?? ""));
}

describe("archipel-cwl-entrypoint in the translated DAG", function () {
  this.timeout(30000);
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "entrypoint-test-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("runs each task from its container args, passing files through the artifact store", async () => {
    const argo = translate(workflow, { text: "hello" }, config);
    const templates = new Map((argo.spec.templates ?? []).map((t) => [t.name, t]));
    const tasks = templates.get("main")?.dag?.tasks ?? [];
    const s3 = join(root, "s3");
    const outputsOf = new Map<string, string>();
    for (const task of executionOrder(tasks)) {
      const template = templates.get(task.template ?? "");
      const pod = join(root, "pod");
      rmSync(pod, { recursive: true, force: true });
      for (const artifact of task.arguments?.artifacts ?? []) {
        const from = /tasks\.([a-z0-9-]+)\./.exec(String(artifact.from))?.[1] ?? "";
        const path = template?.inputs?.artifacts?.find((a) => a.name === artifact.name)?.path ?? "";
        cpSync(join(s3, from), join(pod, path), { recursive: true });
      }
      const params: Record<string, string> = {};
      for (const p of task.arguments?.parameters ?? []) params[p.name] = String(p.value);
      let job = params.job ?? "";
      job = job.replace("{{workflow.parameters.job}}", String(argo.spec.arguments?.parameters?.[0]?.value));
      for (const [name, text] of outputsOf) job = job.replace(`{{tasks.${name}.outputs.parameters.cwl-outputs}}`, text);
      const args = argsOf(task, template?.container?.args ?? [], { ...params, job }).map((a) => (a.startsWith("/cwl/") ? join(pod, a) : a));
      assert.equal(await entrypoint(args), 0, `task ${task.name} failed`);
      const outdir = join(pod, "cwl", "out");
      outputsOf.set(task.name, readFileSync(join(outdir, "cwl.output.json"), "utf8"));
      cpSync(outdir, join(s3, task.name), { recursive: true });
    }
    assert.equal(readFileSync(join(s3, "upper", "loud.txt"), "utf8"), "HELLO");
    const final = JSON.parse(outputsOf.get("workflow-outputs") ?? "{}") as { shout: { basename: string; checksum: string; location: string; path?: string } };
    assert.equal(final.shout.basename, "loud.txt");
    assert.equal(final.shout.checksum, "sha1$c65f99f8c5376adadddc46d5cbcf5762f9e55eb7");
    assert.equal(final.shout.location, "s3://b/runs/{{workflow.namespace}}/{{workflow.name}}/main/upper/loud.txt");
    assert.equal(final.shout.path, undefined);
  });

  it("maps a producer's output paths to the consumer's upstream directory", () => {
    const mapped = remapUpstream({ out: { class: "File", path: "/cwl/out/a/b.txt", location: "file:///cwl/out/a/b.txt" }, n: 1 }, "/cwl/out", "/cwl/upstream/s1");
    assert.deepEqual(mapped, { out: { class: "File", path: "/cwl/upstream/s1/a/b.txt", location: "file:///cwl/upstream/s1/a/b.txt" }, n: 1 });
  });
});
