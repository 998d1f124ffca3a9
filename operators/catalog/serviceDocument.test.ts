import assert from "node:assert/strict";
import { externalReference } from "./serviceDocument.ts";

describe("serviceDocument", () => {
  it("accepts a self-contained document (inline run, #fragment run)", () => {
    const doc = { class: "Workflow", steps: [{ id: "a", run: { class: "CommandLineTool" } }, { id: "b", run: "#tool" }] };
    assert.equal(externalReference(doc), undefined);
  });
  it("finds $import, $include and file run references, with their path", () => {
    assert.equal(externalReference({ requirements: [{ class: "X", $import: "/etc/passwd" }] }), "requirements[0].$import");
    assert.equal(externalReference({ inputs: { a: { doc: { $include: "x.txt" } } } }), "inputs.a.doc.$include");
    assert.equal(externalReference({ steps: { s: { run: "tool.cwl" } } }), "steps.s.run");
  });
});
