// JavaScript sandbox for CWL expressions: a QuickJS interpreter compiled to WebAssembly.
// The expression runs in a separate heap with no host bindings at all (no require,
// process, fs, fetch): only the JSON values we copy in. See
// docs/decisions/cwl-expression-sandbox.md for why not node:vm.
import { newQuickJSWASMModule, shouldInterruptAfterDeadline } from "quickjs-emscripten";
import type { QuickJSRuntime, QuickJSWASMModule } from "quickjs-emscripten";

export interface SandboxLimits {
  /** wall-clock budget of one evaluation, in milliseconds */
  timeoutMs: number;
  /**
   * wall-clock budget of an ExpressionTool's `expression`, in milliseconds: that expression
   * is the whole process, as a CommandLineTool's command is, and CWL exempts it from
   * ToolTimeLimit, so it gets far more than the expressions that merely fill in a field
   */
  processTimeoutMs: number;
  /** heap limit of the interpreter, in bytes */
  memoryBytes: number;
}

export const defaultSandboxLimits: SandboxLimits = { timeoutMs: 5000, processTimeoutMs: 60 * 60 * 1000, memoryBytes: 64 * 1024 * 1024 };

export class ExpressionError extends Error {}

let quickjs: QuickJSWASMModule | undefined;
// A second, ready instance replaces one whose WebAssembly aborted, so that evaluation can
// stay synchronous; a new spare is then loaded in the background.
let spare: QuickJSWASMModule | undefined;

async function loadSpare(): Promise<void> {
  spare ??= await newQuickJSWASMModule();
}

/** Loads the WebAssembly modules once; evaluations after that are synchronous. */
export async function initSandbox(): Promise<void> {
  quickjs ??= await newQuickJSWASMModule();
  await loadSpare();
}

function replaceAbortedModule(): void {
  quickjs = spare;
  spare = undefined;
  loadSpare().catch(() => undefined);
}

export class Sandbox {
  readonly limits: SandboxLimits;
  private runtime: QuickJSRuntime | undefined;

  constructor(limits: SandboxLimits = defaultSandboxLimits) {
    this.limits = limits;
  }

  /**
   * Evaluates `code` (a JS expression or statement list ending in a value) with the given
   * JSON-serialisable variables bound as globals (after `prelude`, e.g. CWL's expressionLib),
   * and returns its JSON value. `code` is a function body: it must `return` its value.
   * `timeoutMs` overrides the budget of this one evaluation.
   */
  evaluate(code: string, variables: Record<string, unknown>, prelude = "", timeoutMs = this.limits.timeoutMs): unknown {
    if (quickjs === undefined) throw new ExpressionError("sandbox not initialised: call initSandbox() first");
    const runtime = (this.runtime ??= this.newRuntime(quickjs));
    runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + timeoutMs));
    const context = runtime.newContext();
    try {
      const bindings = Object.entries(variables)
        .map(([name, value]) => `var ${name} = JSON.parse(${JSON.stringify(JSON.stringify(value ?? null))});`)
        .join("\n");
      const wrapped = `${bindings}\n${prelude}\n(function(){ var __r = (function(){ ${code} })(); return __r === undefined ? "null" : JSON.stringify(__r); })()`;
      const result = context.evalCode(wrapped, "expression.js");
      if (result.error) {
        const failure: unknown = context.dump(result.error);
        result.error.dispose();
        throw new ExpressionError(describeFailure(failure));
      }
      const text: unknown = context.dump(result.value);
      result.value.dispose();
      return typeof text === "string" ? (JSON.parse(text) as unknown) : null;
    } catch (error) {
      // An out-of-memory or interrupted interpreter may hold broken state: drop it (without
      // freeing: QuickJS aborts when freeing a runtime that still holds objects) and start
      // afresh on the next evaluation, in a new WebAssembly instance if this one aborted.
      this.runtime = undefined;
      if (!(error instanceof ExpressionError)) replaceAbortedModule();
      throw error instanceof ExpressionError ? error : new ExpressionError(String(error));
    }
    context.dispose();
  }

  /**
   * Drops the interpreter. It is not freed explicitly: QuickJS aborts the whole WebAssembly
   * instance when a runtime is freed while the interrupt handler still holds objects; the
   * garbage collector reclaims the instance's memory instead.
   */
  dispose(): void {
    this.runtime = undefined;
  }

  private newRuntime(module: QuickJSWASMModule): QuickJSRuntime {
    const runtime = module.newRuntime();
    runtime.setMemoryLimit(this.limits.memoryBytes);
    runtime.setMaxStackSize(1024 * 1024);
    return runtime;
  }
}

function describeFailure(failure: unknown): string {
  if (failure !== null && typeof failure === "object") {
    const { name, message } = failure as { name?: unknown; message?: unknown };
    if (typeof message === "string") return `${typeof name === "string" ? name : "Error"}: ${message}`;
  }
  return `expression failed: ${JSON.stringify(failure)}`;
}
