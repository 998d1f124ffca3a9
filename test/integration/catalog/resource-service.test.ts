// The Resource controller on service Resources: CWL inline or from a ConfigMap, loaded and
// validated with the project's CWL library (operators/pipeline/cwl).
import assert from "node:assert/strict";
import { sharedCluster } from "../../support/cluster.ts";
import { type CatalogWorld, catalogWorld, readyOf } from "./resourceFixtures.ts";

const ndvi = {
  cwlVersion: "v1.2",
  class: "CommandLineTool",
  baseCommand: ["ndvi"],
  inputs: { red: { type: "File", inputBinding: { position: 1 } }, nir: { type: "File", inputBinding: { position: 2 } } },
  outputs: { index: { type: "File", outputBinding: { glob: "ndvi.tif" } } },
};

const workflowYaml = `cwlVersion: v1.2
class: Workflow
inputs:
  message: string
outputs:
  out:
    type: File
    outputSource: echo/out
steps:
  echo:
    run:
      class: CommandLineTool
      baseCommand: echo
      stdout: out.txt
      inputs:
        message:
          type: string
          inputBinding: {position: 1}
      outputs:
        out: stdout
    in:
      message: message
    out: [out]
`;

describe("Resource controller: service Resources (manager process)", function () {
  this.timeout(120_000);
  let w: CatalogWorld;

  before(async function () {
    this.timeout(120_000);
    w = await catalogWorld(await sharedCluster(), "resource-service");
    await w.createProvider("tools", { type: "service", service: { defaultImage: "registry.example/tools:1.0" } });
  });

  after(async function () {
    this.timeout(90_000);
    await w?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${w.manager.logFile}`);
  });

  it("validates many Resources sharing one document at once (concurrent probes do not share a scratch file)", async () => {
    const names = Array.from({ length: 12 }, (_, i) => `same-${i}`);
    await Promise.all(names.map((name) => w.createResource(name, { providerRef: { name: "tools" }, type: "service", service: { cwl: { document: ndvi } } })));
    for (const name of names) await w.readyWith(name, { status: "True", reason: "Available" });
  });

  it("validates an inline CommandLineTool and shows what it declares; the image defaults to the provider's", async () => {
    await w.createResource("ndvi", { providerRef: { name: "tools" }, type: "service", service: { cwl: { document: ndvi } } });
    const r = await w.readyWith("ndvi", { status: "True", reason: "Available" });
    // The API server stores the inline document with sorted keys: inputs come back by name.
    assert.deepEqual(r.status?.service, { cwlVersion: "v1.2", class: "CommandLineTool", image: "registry.example/tools:1.0", inputs: ["nir", "red"], outputs: ["index"] });
    await w.createResource("ndvi-own-image", { providerRef: { name: "tools" }, type: "service", service: { image: "ghcr.io/lab/ndvi:2", cwl: { document: ndvi } } });
    assert.equal((await w.readyWith("ndvi-own-image", { status: "True", reason: "Available" })).status?.service?.image, "ghcr.io/lab/ndvi:2");
  });

  it("reads a Workflow from a ConfigMap key, and follows the ConfigMap (missing, valid, then broken)", async () => {
    await w.createResource("echo", { providerRef: { name: "tools" }, type: "service", service: { cwl: { configMapRef: { name: "echo-cwl", key: "workflow.cwl" } } } });
    const missing = await w.readyWith("echo", { status: "False", reason: "CWLNotFound" });
    assert.match(readyOf(missing)?.message ?? "", /spec\.service\.cwl\.configMapRef: ConfigMap "echo-cwl" does not exist/);
    await w.createConfigMap("echo-cwl", { "workflow.cwl": workflowYaml });
    const r = await w.readyWith("echo", { status: "True", reason: "Available" });
    assert.deepEqual(r.status?.service, { cwlVersion: "v1.2", class: "Workflow", image: "registry.example/tools:1.0", inputs: ["message"], outputs: ["out"] });
    await w.patchConfigMap("echo-cwl", { "workflow.cwl": workflowYaml.replace("outputSource: echo/out", "outputSource: echo/nothing") });
    const broken = await w.readyWith("echo", { status: "False", reason: "InvalidCWL" });
    assert.match(readyOf(broken)?.message ?? "", /nothing/);
    assert.equal(broken.status?.service, undefined, "no stale summary of the old document");
  });

  it("InvalidCWL carries the parser's message, trimmed", async () => {
    await w.createResource("bad-class", { providerRef: { name: "tools" }, type: "service", service: { cwl: { document: { ...ndvi, class: "CommandLinTool" } } } });
    const c = await w.readyWith("bad-class", { status: "False", reason: "InvalidCWL" });
    assert.match(readyOf(c)?.message ?? "", /^spec\.service\.cwl: .*CommandLinTool/);
    await w.createResource("bad-type", { providerRef: { name: "tools" }, type: "service", service: { cwl: { document: { ...ndvi, inputs: { red: { type: "Fiel" } } } } } });
    const t = await w.readyWith("bad-type", { status: "False", reason: "InvalidCWL" });
    assert.match(readyOf(t)?.message ?? "", /Fiel/);
    assert.ok((readyOf(t)?.message.length ?? 0) <= 1024);
    assert.doesNotMatch(readyOf(t)?.message ?? "", /archipel-cwl|\/tmp\//, "no operator paths in the message");
  });

  it("refuses documents that reach for other files ($import, run: path)", async () => {
    await w.createResource("importer", { providerRef: { name: "tools" }, type: "service", service: { cwl: { document: { ...ndvi, requirements: [{ $import: "/etc/passwd" }] } } } });
    const r = await w.readyWith("importer", { status: "False", reason: "InvalidCWL" });
    assert.match(readyOf(r)?.message ?? "", /must be self-contained: requirements\[0\]\.\$import refers to another file/);
  });
});
