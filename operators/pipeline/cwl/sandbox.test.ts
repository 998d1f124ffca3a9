import assert from "node:assert/strict";
import { ExpressionError, initSandbox, Sandbox } from "./sandbox.ts";

describe("CWL expression sandbox (QuickJS in WebAssembly)", function () {
  this.timeout(20000);
  let sandbox: Sandbox;
  before(async () => {
    await initSandbox();
  });
  beforeEach(() => {
    sandbox = new Sandbox({ timeoutMs: 500, processTimeoutMs: 500, memoryBytes: 16 * 1024 * 1024 });
  });
  afterEach(() => sandbox.dispose());

  it("evaluates expressions over the JSON values it is given", () => {
    assert.equal(sandbox.evaluate("return inputs.a + inputs.b.length;", { inputs: { a: 1, b: [1, 2] } }), 3);
    assert.deepEqual(sandbox.evaluate("return {x: self};", { self: "v" }), { x: "v" });
    assert.equal(sandbox.evaluate("return undefined;", {}), null);
  });

  it("runs the expressionLib prelude before the expression", () => {
    assert.equal(sandbox.evaluate("return twice(21);", {}, "function twice(x) { return 2 * x; }"), 42);
  });

  it("has no require, process, module or import of host modules", () => {
    assert.equal(sandbox.evaluate("return typeof require + typeof process + typeof module + typeof globalThis.Deno;", {}), "undefinedundefinedundefinedundefined");
    assert.throws(() => sandbox.evaluate("return require('fs').readFileSync('/etc/passwd', 'utf8');", {}), ExpressionError);
    assert.throws(() => sandbox.evaluate("return process.env;", {}), ExpressionError);
  });

  it("cannot reach the file system or the network", () => {
    assert.equal(sandbox.evaluate("return typeof fetch + typeof XMLHttpRequest + typeof WebSocket + typeof std + typeof os;", {}), "undefinedundefinedundefinedundefinedundefined");
    assert.throws(() => sandbox.evaluate("return fetch('http://127.0.0.1:1/');", {}), ExpressionError);
    // Dynamic import has no module loader behind it: it yields a promise that never holds fs.
    assert.deepEqual(sandbox.evaluate("var m = null; import('fs').then(function(x){ m = x; }); return m;", {}), null);
  });

  it("cannot climb to the host through constructors", () => {
    const escaped = sandbox.evaluate("return (function(){ return this; }).constructor('return typeof process')();", {});
    assert.equal(escaped, "undefined");
  });

  it("stops an infinite loop at the time limit", () => {
    const started = Date.now();
    assert.throws(() => sandbox.evaluate("while (true) {}", {}), /interrupted/i);
    assert.ok(Date.now() - started < 5000, "the loop was not stopped in time");
    assert.equal(sandbox.evaluate("return 1 + 1;", {}), 2, "the sandbox works again after an interrupt");
  });

  it("gives one evaluation the budget it is passed instead of the default", () => {
    const spin = "var start = Date.now(); while (Date.now() - start < 1000) {} return 'finished';";
    assert.throws(() => sandbox.evaluate(spin, {}), /interrupted/i);
    assert.equal(sandbox.evaluate(spin, {}, "", 60_000), "finished");
  });

  it("stops a memory bomb at the memory limit", () => {
    assert.throws(() => sandbox.evaluate("var s = 'x'; var a = []; while (true) { s = s + s; a.push(s); }", {}), ExpressionError);
    assert.equal(sandbox.evaluate("return 'still alive';", {}), "still alive");
  });

  it("stops unbounded recursion", () => {
    assert.throws(() => sandbox.evaluate("function f(){ return f() + 1; } return f();", {}), ExpressionError);
  });

  it("keeps no state between evaluations", () => {
    sandbox.evaluate("globalThis.leak = 42; return 0;", {});
    assert.equal(sandbox.evaluate("return typeof leak;", {}), "undefined");
  });
});
