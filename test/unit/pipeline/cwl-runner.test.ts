// archipel-cwl-runner end to end on small documents: real processes in temporary directories.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const launcher = join(import.meta.dirname, "..", "..", "..", "operators", "pipeline", "cli", "archipel-cwl-runner.mjs");

function run(dir: string, files: Record<string, string>, args: string[]): { code: number; stdout: string; stderr: string } {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const result = spawnSync(process.execPath, [launcher, "--outdir", join(dir, "out"), ...args], { cwd: dir, encoding: "utf8" });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

describe("archipel-cwl-runner", function () {
  this.timeout(30000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "cwl-runner-test-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("runs a tool and prints its outputs, files with checksum, in --outdir", () => {
    const tool = `cwlVersion: v1.2
class: CommandLineTool
baseCommand: [echo, -n]
inputs:
  word: {type: string, inputBinding: {position: 1}}
stdout: said.txt
outputs:
  said: stdout
`;
    const { code, stdout } = run(dir, { "say.cwl": tool, "job.yml": "word: bonjour\n" }, ["say.cwl", "job.yml"]);
    assert.equal(code, 0);
    const outputs = JSON.parse(stdout) as { said: { location: string; size: number; checksum: string } };
    assert.equal(outputs.said.size, 7);
    assert.equal(outputs.said.checksum, "sha1$1f71e0f4ac9b47cd93bf269e4017abaab9d3bd63");
    assert.equal(readFileSync(join(dir, "out", "said.txt"), "utf8"), "bonjour");
  });

  it("runs a two-step workflow through the translated DAG", () => {
    const wf = `cwlVersion: v1.2
class: Workflow
inputs: {n: int}
outputs:
  result: {type: int, outputSource: add/out}
requirements: {InlineJavascriptRequirement: {}}
steps:
  double:
    run: {class: ExpressionTool, inputs: {x: int}, outputs: {out: int}, expression: "$({out: inputs.x * 2})"}
    in: {x: n}
    out: [out]
  add:
    run: {class: ExpressionTool, inputs: {x: int}, outputs: {out: int}, expression: "$({out: inputs.x + 1})"}
    in: {x: double/out}
    out: [out]
`;
    const { code, stdout } = run(dir, { "wf.cwl": wf, "job.yml": "n: 20\n" }, ["wf.cwl", "job.yml"]);
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), { result: 41 });
  });

  it("exits 1 with a message naming the problem for an invalid document", () => {
    const { code, stderr } = run(dir, { "bad.cwl": "cwlVersion: v1.2\nclass: CommandLineTool\ninputs: []\noutputs: []\nbaseCommand: 42\n" }, ["bad.cwl"]);
    assert.equal(code, 1);
    assert.match(stderr, /baseCommand/);
  });

  it("exits 1 when a required input is missing", () => {
    const tool = "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\ninputs: {x: string}\noutputs: []\n";
    const { code, stderr } = run(dir, { "t.cwl": tool }, ["t.cwl"]);
    assert.equal(code, 1);
    assert.match(stderr, /input x is required/);
  });

  it("exits 33 for a feature that needs a container (a file placed outside the working directory)", () => {
    const tool = "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\ninputs: []\noutputs: []\nrequirements:\n  DockerRequirement: {dockerPull: debian:12}\n  InitialWorkDirRequirement:\n    listing: [{entryname: /var/lib/elsewhere.txt, entry: x}]\n";
    const { code } = run(dir, { "t.cwl": tool }, ["t.cwl"]);
    assert.equal(code, 33);
  });

  it("exits 1 for an absolute entryname without DockerRequirement under requirements", () => {
    const tool = "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\ninputs: []\noutputs: []\nrequirements:\n  InitialWorkDirRequirement:\n    listing: [{entryname: /var/lib/elsewhere.txt, entry: x}]\n";
    const { code, stderr } = run(dir, { "t.cwl": tool }, ["t.cwl"]);
    assert.equal(code, 1);
    assert.match(stderr, /needs DockerRequirement under requirements/);
  });
});
