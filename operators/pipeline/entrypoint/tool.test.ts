import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Process, Requirement } from "../cwl/model.ts";
import { ExpressionError, initSandbox, Sandbox } from "../cwl/sandbox.ts";
import { runProcess } from "./tool.ts";

// Spins until `ms` milliseconds have passed on the interpreter's own clock.
const busy = (ms: number): string => `var start = Date.now(); while (Date.now() - start < ${ms}) {}`;

function expressionTool(expression: string, requirements: Requirement[] = []): Process {
  return {
    class: "ExpressionTool", id: "slow", cwlVersion: "v1.2", baseDir: "/", hints: [], expression,
    requirements: [{ class: "InlineJavascriptRequirement" }, { class: "ToolTimeLimit", timelimit: 1 }, ...requirements],
    inputs: [], outputs: [{ id: "status", type: "string" }],
    baseCommand: [], arguments: [], successCodes: [], temporaryFailCodes: [], permanentFailCodes: [], steps: [],
  };
}

describe("ExpressionTool time budget", function () {
  this.timeout(20000);
  let scratch: string;
  // A per-expression cap far below the loop's duration, a process budget far above it.
  const sandbox = new Sandbox({ timeoutMs: 100, processTimeoutMs: 60_000, memoryBytes: 16 * 1024 * 1024 });
  before(async () => initSandbox());
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), "cwl-tool-test-"));
  });
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));
  after(() => sandbox.dispose());

  it("runs an expression longer than the per-expression cap: the expression is the process (ToolTimeLimit does not apply)", () => {
    const tool = expressionTool(`\${ ${busy(400)} return {status: "Done"}; }`);
    const { outputs } = runProcess(tool, {}, { scratch, sandbox, jobDir: scratch });
    assert.deepEqual(outputs, { status: "Done" });
  });

  it("keeps the per-expression cap for the expressions that fill in a field of the same tool", () => {
    const slowCores = { class: "ResourceRequirement", coresMin: `\${ ${busy(400)} return 1; }` };
    const tool = expressionTool('${ return {status: "Done"}; }', [slowCores]);
    assert.throws(() => runProcess(tool, {}, { scratch, sandbox, jobDir: scratch }), (e: unknown) => e instanceof ExpressionError && /interrupted/i.test(e.message));
  });
});
