// CWL parameter references `$(...)` and, under InlineJavascriptRequirement, JavaScript
// expressions `$(...)` / `${...}` (CWL v1.2 "Expressions" and "Parameter references").
import { ExpressionError, Sandbox } from "./sandbox.ts";
import { formatNumber, toSpacedJson } from "./json.ts";

export interface ExpressionContext {
  inputs: Record<string, unknown>;
  self: unknown;
  runtime: Record<string, unknown>;
}

export interface Evaluator {
  /** true when InlineJavascriptRequirement is in force */
  javascript: boolean;
  expressionLib: string[];
  sandbox: Sandbox;
  /** budget of each evaluation in ms; the sandbox's own (timeoutMs) when absent */
  timeoutMs?: number;
}

interface Segment { kind: "text" | "paren" | "brace"; text: string }

/**
 * The escape at `i`, if any (CWL v1.1+): `\\` is one backslash, `\$(` and `\${` are the
 * literal `$(` and `${`; any other backslash is itself.
 */
function escapeAt(source: string, i: number): { text: string; length: number } | undefined {
  if (source[i] !== "\\") return undefined;
  if (source[i + 1] === "\\") return { text: "\\", length: 2 };
  const opensExpression = source[i + 2] === "(" || source[i + 2] === "{";
  return source[i + 1] === "$" && opensExpression ? { text: source.slice(i + 1, i + 3), length: 3 } : undefined;
}

function expressionAt(source: string, i: number): Segment & { end: number } | undefined {
  const opener = source[i + 1];
  if (source[i] !== "$" || (opener !== "(" && opener !== "{")) return undefined;
  const end = findClose(source, i + 1);
  return { kind: opener === "(" ? "paren" : "brace", text: source.slice(i + 2, end), end };
}

/** Splits a string into literal text and `$(...)` / `${...}` expressions (with escapes). */
export function scanExpressions(source: string): Segment[] {
  const segments: Segment[] = [];
  let text = "";
  let i = 0;
  while (i < source.length) {
    const escape = escapeAt(source, i);
    const expression = escape === undefined ? expressionAt(source, i) : undefined;
    if (escape !== undefined) {
      text += escape.text;
      i += escape.length;
    } else if (expression !== undefined) {
      if (text !== "") segments.push({ kind: "text", text });
      text = "";
      segments.push({ kind: expression.kind, text: expression.text });
      i = expression.end + 1;
    } else {
      text += source[i];
      i++;
    }
  }
  if (text !== "" || segments.length === 0) segments.push({ kind: "text", text });
  return segments;
}

const closers: Record<string, string> = { "(": ")", "{": "}", "[": "]" };
const quotes = new Set(["'", '"', "`"]);

/** The index of the bracket closing the one at `open`, skipping quoted strings. */
function findClose(source: string, open: number): number {
  const stack: string[] = [];
  for (let i = open; i < source.length; i++) {
    const c = source[i] ?? "";
    if (quotes.has(c)) i = skipQuoted(source, i);
    else if (c in closers) stack.push(closers[c] ?? "");
    else if (c === stack[stack.length - 1]) stack.pop();
    if (stack.length === 0) return i;
  }
  throw new ExpressionError(`unterminated expression in ${JSON.stringify(source)}`);
}

function skipQuoted(source: string, start: number): number {
  const quote = source[start];
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === "\\") i++;
    else if (source[i] === quote) return i;
  }
  throw new ExpressionError(`unterminated string in ${JSON.stringify(source)}`);
}

/** True when the string contains an (unescaped) expression. */
export function hasExpression(value: unknown): value is string {
  return typeof value === "string" && scanExpressions(value).some((s) => s.kind !== "text");
}

/**
 * Evaluates every expression in `source`. A string that is exactly one expression yields
 * that expression's value; otherwise the pieces are concatenated as strings.
 */
export function evaluate(source: unknown, context: ExpressionContext, evaluator: Evaluator, strip = true): unknown {
  if (typeof source !== "string") return source;
  const trimmed = strip ? source.trim() : source;
  const segments = scanExpressions(trimmed);
  if (segments.length === 1 && segments[0]?.kind !== "text") return evalSegment(segments[0] as Segment, context, evaluator);
  if (segments.every((s) => s.kind === "text")) return scanExpressions(source).map((s) => s.text).join("");
  return scanExpressions(source)
    .map((s) => (s.kind === "text" ? s.text : interpolationString(evalSegment(s, context, evaluator))))
    .join("");
}

function interpolationString(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return formatNumber(value);
  return toSpacedJson(value ?? null);
}

function evalSegment(segment: Segment, context: ExpressionContext, evaluator: Evaluator): unknown {
  if (!evaluator.javascript) {
    if (segment.kind === "brace") throw new ExpressionError("a ${...} expression needs InlineJavascriptRequirement");
    return parameterReference(segment.text, context);
  }
  const body = segment.kind === "paren" ? `return (${segment.text});` : segment.text;
  const variables = { inputs: context.inputs, self: context.self ?? null, runtime: context.runtime };
  return evaluator.sandbox.evaluate(body, variables, evaluator.expressionLib.join("\n"), evaluator.timeoutMs);
}

const referencePattern = /^\s*(inputs|self|runtime|null)((?:\.[A-Za-z_][A-Za-z0-9_]*|\['(?:[^'\\]|\\.)*'\]|\["(?:[^"\\]|\\.)*"\]|\[\d+\])*)\s*$/;
const segmentPattern = /\.([A-Za-z_][A-Za-z0-9_]*)|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]/g;

/** Evaluates a parameter reference without JavaScript (`inputs.x.y`, `self[0]`, `.length`). */
export function parameterReference(reference: string, context: ExpressionContext): unknown {
  const match = referencePattern.exec(reference);
  if (match === null) {
    throw new ExpressionError(`${JSON.stringify(reference)} is not a parameter reference; use InlineJavascriptRequirement for JavaScript`);
  }
  const root = match[1] ?? "null";
  let value: unknown = root === "null" ? null : context[root as keyof ExpressionContext];
  const parts = [...(match[2] ?? "").matchAll(segmentPattern)].map(segmentKey);
  // `inputs` holds every declared input (null when absent): any other name is an error.
  const first = parts[0];
  if (root === "inputs" && first !== undefined && !(first in context.inputs)) {
    throw new ExpressionError(`${reference}: the process has no input ${JSON.stringify(first)}`);
  }
  for (const key of parts) value = step(value, key, reference);
  return value ?? null;
}

function segmentKey(part: RegExpMatchArray): string {
  const raw = part[1] ?? part[2] ?? part[3] ?? part[4] ?? "";
  return raw.replace(/\\(.)/g, "$1");
}

function step(value: unknown, key: string, reference: string): unknown {
  if (Array.isArray(value)) {
    if (key === "length") return value.length;
    return value[Number(key)];
  }
  if (typeof value === "string" && key === "length") return value.length;
  if (value !== null && typeof value === "object") return (value as Record<string, unknown>)[key];
  throw new ExpressionError(`${reference}: cannot read ${JSON.stringify(key)} of ${JSON.stringify(value ?? null)}`);
}
