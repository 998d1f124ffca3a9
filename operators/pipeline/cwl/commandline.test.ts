import assert from "node:assert/strict";
import { buildCommandLine, compareKeys, shellQuote, type BuildContext } from "./commandline.ts";
import type { Process } from "./model.ts";
import { Sandbox } from "./sandbox.ts";

function tool(extra: Partial<Process>): Process {
  return {
    class: "CommandLineTool", id: "t", cwlVersion: "v1.2", baseDir: "/", inputs: [], outputs: [], requirements: [], hints: [],
    baseCommand: ["prog"], arguments: [], successCodes: [], temporaryFailCodes: [], permanentFailCodes: [], steps: [], ...extra,
  };
}

function line(process: Process, inputs: Record<string, unknown>): string[] {
  const ctx: BuildContext = { process, inputs, runtime: { outdir: "/out" }, evaluator: { javascript: false, expressionLib: [], sandbox: new Sandbox() } };
  return buildCommandLine(ctx).map((a) => a.value);
}

describe("CWL command line", () => {
  it("sorts by position, then by input name, numbers before names", () => {
    assert.ok(compareKeys([0, 1], [0, "a"]) < 0);
    const process = tool({
      inputs: [
        { id: "b", type: "string", inputBinding: { position: 2 } },
        { id: "a", type: "string", inputBinding: { position: 2 } },
        { id: "c", type: "string", inputBinding: { position: 1 } },
      ],
      arguments: ["first", { valueFrom: "last", position: 3 }],
    });
    assert.deepEqual(line(process, { a: "A", b: "B", c: "C" }), ["prog", "first", "C", "A", "B", "last"]);
  });

  it("renders prefixes, separate: false, booleans and missing values", () => {
    const process = tool({
      inputs: [
        { id: "flag", type: "boolean", inputBinding: { prefix: "-f" } },
        { id: "off", type: "boolean", inputBinding: { prefix: "-o" } },
        { id: "k", type: "int", inputBinding: { prefix: "-k=", separate: false } },
        { id: "opt", type: ["null", "string"], inputBinding: { prefix: "--opt" } },
      ],
    });
    assert.deepEqual(line(process, { flag: true, off: false, k: 3, opt: null }), ["prog", "-f", "-k=3"]);
  });

  it("binds arrays: itemSeparator, prefix once, and per-item bindings", () => {
    const process = tool({
      inputs: [
        { id: "joined", type: { type: "array", items: "string" }, inputBinding: { prefix: "-j", itemSeparator: "," } },
        { id: "plain", type: { type: "array", items: "string" }, inputBinding: { prefix: "-p", position: 1 } },
        { id: "each", type: { type: "array", items: "string", inputBinding: { prefix: "-e" } }, inputBinding: { position: 2 } },
      ],
    });
    assert.deepEqual(line(process, { joined: ["a", "b"], plain: ["x", "y"], each: ["1", "2"] }), ["prog", "-j", "a,b", "-p", "x", "y", "-e", "1", "-e", "2"]);
  });

  it("binds record fields inside the record's position, files by path, numbers as decimals", () => {
    const process = tool({
      inputs: [
        { id: "rec", type: { type: "record", fields: [{ id: "f", type: "File", inputBinding: { prefix: "--file" } }] }, inputBinding: { position: 1, prefix: "--rec" } },
        { id: "small", type: "float", inputBinding: { position: 2 } },
      ],
    });
    assert.deepEqual(line(process, { rec: { f: { class: "File", path: "/in/a.txt" } }, small: 0.0000123 }), ["prog", "--rec", "--file", "/in/a.txt", "0.0000123"]);
  });

  it("quotes for the shell only what needs it", () => {
    assert.equal(shellQuote("plain-word_1.txt"), "plain-word_1.txt");
    assert.equal(shellQuote("it's here"), "'it'\\''s here'");
  });
});
