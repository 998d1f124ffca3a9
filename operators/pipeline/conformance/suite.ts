// Helpers of hack/conformance, decided by feature, never by test id:
//   suite.ts container-tests TESTS.json   ids of the tests that need a container runtime, one a line
//   suite.ts summary TESTS.json JUNIT.xml [--baseline FILE] [--update-baseline] [--apart IDS]
// The test list itself is never rewritten here: JavaScript numbers would round the expected
// outputs (4200000000000000000000000000000000000000000 → 4.2e+42) that cwltest compares
// exactly, and so hide what users see.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";

interface TestEntry { id: string; tool?: string; tags: string[]; should_fail?: boolean; baseDir: string }

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Reads the test list that hack/conformance exported to JSON (its YAML needs a lenient parser). */
export function readTests(path: string): TestEntry[] {
  const data = JSON.parse(readFileSync(path, "utf8")) as unknown;
  return (Array.isArray(data) ? data : []).filter(isObj).map((item) => ({
    id: String(item.id ?? ""),
    ...(typeof item.tool === "string" ? { tool: item.tool } : {}),
    tags: Array.isArray(item.tags) ? item.tags.map(String) : [],
    ...(item.should_fail === true ? { should_fail: true } : {}),
    baseDir: String(item.baseDir ?? "."),
  }));
}

/** True when a document (or any process it runs) has DockerRequirement under requirements. */
export function requiresContainer(file: string, seen = new Set<string>()): boolean {
  if (seen.has(file) || !existsSync(file)) return false;
  seen.add(file);
  let data: unknown;
  try {
    data = parseYaml(readFileSync(file, "utf8"));
  } catch {
    return false;
  }
  return containerIn(data, dirname(file), seen);
}

function containerIn(value: unknown, baseDir: string, seen: Set<string>): boolean {
  if (Array.isArray(value)) return value.some((v) => containerIn(v, baseDir, seen));
  if (!isObj(value)) return false;
  if (hasDockerRequirement(value.requirements) || "dockerOutputDirectory" in value) return true;
  if (typeof value.run === "string" && !value.run.startsWith("#")) {
    if (requiresContainer(resolve(baseDir, value.run.split("#")[0] ?? ""), seen)) return true;
  }
  return Object.entries(value).some(([key, v]) => key !== "hints" && containerIn(v, baseDir, seen));
}

function hasDockerRequirement(requirements: unknown): boolean {
  if (Array.isArray(requirements)) return requirements.some((r) => isObj(r) && r.class === "DockerRequirement");
  return isObj(requirements) && "DockerRequirement" in requirements;
}

export function needsContainer(test: TestEntry): boolean {
  if (test.tags.includes("docker") || test.tags.includes("container")) return true;
  return test.tool !== undefined && requiresContainer(resolve(test.baseDir, test.tool.split("#")[0] ?? ""));
}

interface Outcome { id: string; result: "passed" | "failed" | "unsupported"; message: string }

function outcomeOf(attrs: string, body: string): Outcome {
  const id = /file="([^"]*)"/.exec(attrs)?.[1] ?? /name="([^"]*)"/.exec(attrs)?.[1] ?? "";
  const result = /<failure|<error/.test(body) ? "failed" : /<skipped/.test(body) ? "unsupported" : "passed";
  return { id, result, message: /message="([^"]*)"/.exec(body)?.[1] ?? "" };
}

/** Reads cwltest's JUnit report. */
export function readJunit(path: string): Outcome[] {
  const xml = readFileSync(path, "utf8");
  const outcomes: Outcome[] = [];
  for (const match of xml.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    outcomes.push(outcomeOf(match[1] ?? "", match[2] ?? ""));
  }
  return outcomes;
}

/**
 * Test ids that cwltest's log reports failed. Its JUnit report misses some (a should_fail
 * test whose run succeeded), so the log is read as well.
 */
export function failedInLog(log: string): Set<string> {
  const idByNumber = new Map<string, string>();
  for (const m of log.matchAll(/^Test \[(\d+)\/\d+\] ([^:\s]+):/gm)) idByNumber.set(m[1] ?? "", m[2] ?? "");
  const failed = new Set<string>();
  for (const m of log.matchAll(/^Test (\d+) failed/gm)) failed.add(idByNumber.get(m[1] ?? "") ?? "");
  return failed;
}

/** The class of the process a test runs, and whether its document uses JavaScript. */
export function describeTool(test: TestEntry): { cls: string; javascript: boolean } {
  if (test.tool === undefined) return { cls: "", javascript: false };
  const [file = "", fragment] = test.tool.split("#");
  const text = readFileSync(resolve(test.baseDir, file), "utf8");
  const fallback = /^class:\s*(\w+)/m.exec(text)?.[1] ?? "";
  return { cls: classInDocument(text, fragment) ?? fallback, javascript: text.includes("InlineJavascriptRequirement") };
}

/** The class of the process a document (or its `$graph` entry) holds, if it parses. */
function classInDocument(text: string, fragment: string | undefined): string | undefined {
  try {
    const data = parseYaml(text) as Obj;
    const graph = Array.isArray(data.$graph) ? (data.$graph as Obj[]) : undefined;
    const chosen = graph === undefined ? data : graph.find((p) => String(p.id ?? "").replace(/^#/, "") === (fragment ?? "main"));
    return typeof chosen?.class === "string" ? chosen.class : undefined;
  } catch {
    return undefined;
  }
}

interface Measure { label: string; select: (t: TestEntry, d: { cls: string; javascript: boolean }) => boolean }

const measures: Measure[] = [
  { label: "CommandLineTool, expected output, no JavaScript", select: (t, d) => d.cls === "CommandLineTool" && !t.should_fail && !d.javascript },
  { label: "CommandLineTool, expected output (all)", select: (t, d) => d.cls === "CommandLineTool" && !t.should_fail },
  { label: "Workflow, expected output", select: (t, d) => d.cls === "Workflow" && !t.should_fail },
  { label: "Workflow (all, with should_fail)", select: (_t, d) => d.cls === "Workflow" },
  { label: "should_fail (runner exits non-zero)", select: (t) => t.should_fail === true },
];

function printMeasures(tests: Map<string, TestEntry>, outcomes: Outcome[]): void {
  const described = new Map([...tests].map(([id, t]) => [id, describeTool(t)]));
  process.stdout.write("\nissue measures (container-free tests that ran):\n");
  for (const measure of measures) {
    const selected = outcomes.filter((o) => {
      const t = tests.get(o.id);
      const d = described.get(o.id);
      return t !== undefined && d !== undefined && measure.select(t, d);
    });
    const passed = selected.filter((o) => o.result === "passed").length;
    const rate = selected.length === 0 ? 0 : (100 * passed) / selected.length;
    process.stdout.write(`  ${measure.label.padEnd(50)} ${passed}/${selected.length} (${rate.toFixed(1)}%)\n`);
  }
}

interface SummaryOptions { baseline?: string; update: boolean; apart: Set<string> }

/** Outcomes of the tests in `apart` are reported on their own line and left out of the baseline. */
function splitApart(outcomes: Outcome[], apart: Set<string>): { counted: Outcome[]; aside: Outcome[] } {
  return { counted: outcomes.filter((o) => !apart.has(o.id)), aside: outcomes.filter((o) => apart.has(o.id)) };
}

function summary(testsPath: string, junitPath: string, options: SummaryOptions): number {
  const tests = new Map(readTests(testsPath).map((t) => [t.id, t]));
  const logPath = junitPath.replace(/junit\.xml$/, "cwltest.log");
  const failedByLog = existsSync(logPath) ? failedInLog(readFileSync(logPath, "utf8")) : new Set<string>();
  const all = readJunit(junitPath).map((o) => (failedByLog.has(o.id) && o.result === "passed" ? { ...o, result: "failed" as const } : o));
  const { counted: outcomes, aside } = splitApart(all, options.apart);
  const perTag = new Map<string, { passed: number; failed: number; unsupported: number }>();
  for (const outcome of outcomes) {
    for (const tag of ["all", ...(tests.get(outcome.id)?.tags ?? [])]) {
      const counts = perTag.get(tag) ?? { passed: 0, failed: 0, unsupported: 0 };
      counts[outcome.result]++;
      perTag.set(tag, counts);
    }
  }
  process.stdout.write(`${"tag".padEnd(28)} passed failed unsupported\n`);
  for (const [tag, c] of [...perTag].sort(([a], [b]) => (a === "all" ? -1 : b === "all" ? 1 : a.localeCompare(b)))) {
    process.stdout.write(`${tag.padEnd(28)} ${String(c.passed).padStart(6)} ${String(c.failed).padStart(6)} ${String(c.unsupported).padStart(11)}\n`);
  }
  printMeasures(tests, outcomes);
  const failing = outcomes.filter((o) => o.result !== "passed").map((o) => `${o.id} (${o.result})`);
  if (failing.length > 0) process.stdout.write(`not passed: ${failing.join(", ")}\n`);
  if (aside.length > 0) printAside(aside);
  return checkBaseline(outcomes, options.baseline, options.update);
}

function printAside(aside: Outcome[]): void {
  const count = (r: Outcome["result"]): number => aside.filter((o) => o.result === r).length;
  process.stdout.write(`\ntests that need a container runtime (not in the table nor the baseline): ${count("passed")} passed, ${count("failed")} failed, ${count("unsupported")} unsupported\n`);
  const notPassed = aside.filter((o) => o.result !== "passed").map((o) => `${o.id} (${o.result})`);
  if (notPassed.length > 0) process.stdout.write(`  not passed: ${notPassed.join(", ")}\n`);
}

/**
 * The baseline holds counts, not test ids (no test is named in the project): the run fails
 * when fewer tests pass, or more fail, than the baseline recorded.
 */
function checkBaseline(outcomes: Outcome[], baselinePath: string | undefined, update: boolean): number {
  if (baselinePath === undefined) return 0;
  const now = { passed: outcomes.filter((o) => o.result === "passed").length, failed: outcomes.filter((o) => o.result === "failed").length };
  if (update) {
    writeFileSync(baselinePath, `${JSON.stringify(now)}\n`);
    process.stdout.write(`baseline ${baselinePath} updated: ${now.passed} passed, ${now.failed} failed\n`);
    return 0;
  }
  if (!existsSync(baselinePath)) return 0;
  const before = JSON.parse(readFileSync(baselinePath, "utf8")) as { passed: number; failed: number };
  if (now.passed >= before.passed && now.failed <= before.failed) return 0;
  process.stdout.write(`REGRESSION against ${baselinePath}: ${now.passed} passed (baseline ${before.passed}), ${now.failed} failed (baseline ${before.failed})\n`);
  return 1;
}

function idsIn(path: string | undefined): Set<string> {
  if (path === undefined) return new Set();
  return new Set(readFileSync(path, "utf8").split("\n").filter((id) => id !== ""));
}

function main(argv: string[]): number {
  const [command, testsPath, ...rest] = argv;
  if (command === "container-tests" && testsPath !== undefined) {
    const skipped = readTests(testsPath).filter(needsContainer).map((t) => t.id);
    process.stderr.write(`${skipped.length} tests need a container runtime: ${skipped.join(" ")}\n`);
    process.stdout.write(skipped.map((id) => `${id}\n`).join(""));
    return 0;
  }
  if (command === "summary" && testsPath !== undefined && rest[0] !== undefined) {
    const valueOf = (flag: string): string | undefined => (rest.includes(flag) ? rest[rest.indexOf(flag) + 1] : undefined);
    const baseline = valueOf("--baseline");
    return summary(testsPath, rest[0], { ...(baseline === undefined ? {} : { baseline }), update: rest.includes("--update-baseline"), apart: idsIn(valueOf("--apart")) });
  }
  process.stderr.write("usage: suite.ts container-tests TESTS.json | summary TESTS.json JUNIT.xml [--baseline FILE] [--update-baseline] [--apart IDS]\n");
  return 2;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
