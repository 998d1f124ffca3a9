import assert from "node:assert/strict";
import { evaluate, parameterReference, scanExpressions, type Evaluator } from "./expression.ts";
import { initSandbox, Sandbox } from "./sandbox.ts";

const context = { inputs: { a: { b: [1, 2, 3] }, "x y": "spaced", s: "str", n: null }, self: { basename: "f.txt" }, runtime: { outdir: "/out", cores: 2 } };

describe("CWL parameter references and expressions", function () {
  this.timeout(10000);
  const sandbox = new Sandbox();
  const noJs: Evaluator = { javascript: false, expressionLib: [], sandbox };
  const js: Evaluator = { javascript: true, expressionLib: ["function twice(x) { return 2 * x; }"], sandbox };
  before(async () => initSandbox());

  it("splits text, $(...) and ${...}, honouring CWL v1.1 escapes", () => {
    assert.deepEqual(scanExpressions("a $(inputs.s) b"), [
      { kind: "text", text: "a " }, { kind: "paren", text: "inputs.s" }, { kind: "text", text: " b" },
    ]);
    assert.deepEqual(scanExpressions("\\$(x) \\\\ \\q"), [{ kind: "text", text: "$(x) \\ \\q" }]);
    assert.deepEqual(scanExpressions("${ return ')'; }"), [{ kind: "brace", text: " return ')'; " }]);
  });

  it("resolves references with dots, quoted keys, indexes and length", () => {
    assert.equal(parameterReference("inputs.a.b[1]", context), 2);
    assert.equal(parameterReference("inputs.a.b.length", context), 3);
    assert.equal(parameterReference("inputs['x y']", context), "spaced");
    assert.equal(parameterReference("self.basename", context), "f.txt");
    assert.equal(parameterReference("runtime.cores", context), 2);
    assert.equal(parameterReference("null", context), null);
  });

  it("rejects what is not a reference, a step into null and an undeclared input", () => {
    assert.throws(() => parameterReference("inputs.s + 1", context), /not a parameter reference/);
    assert.throws(() => parameterReference("inputs.n.x", context), /cannot read/);
    assert.throws(() => parameterReference("inputs.missing", context), /no input "missing"/);
  });

  it("returns the raw value of a lone expression and interpolates otherwise", () => {
    assert.deepEqual(evaluate("$(inputs.a.b)", context, noJs), [1, 2, 3]);
    assert.equal(evaluate("n=$(inputs.a.b)", context, noJs), "n=[1, 2, 3]");
    assert.equal(evaluate("$(runtime.outdir)/x", context, noJs), "/out/x");
  });

  it("needs InlineJavascriptRequirement for ${...}", () => {
    assert.throws(() => evaluate("${ return 1; }", context, noJs), /InlineJavascriptRequirement/);
  });

  it("runs JavaScript with expressionLib in the sandbox", () => {
    assert.equal(evaluate("$(twice(inputs.a.b.length))", context, js), 6);
    assert.equal(evaluate("${ return self.basename.toUpperCase(); }", context, js), "F.TXT");
  });
});
