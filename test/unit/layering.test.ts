// The layering table at the end of ARCHITECTURE.md, checked: a component imports only components
// above it (tests are free to reach anywhere). A new import against the table fails here with
// the file and the import, instead of being found by reading.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const root = path.join(import.meta.dirname, "..", "..", "operators");

/** Each component with what it may import; everything above it in the table. */
const mayImport: Record<string, readonly string[]> = {
  schema: [],
  runtime: ["schema"],
  pipeline: [],
  federation: ["schema", "runtime", "pipeline"],
  discovery: ["schema", "runtime", "pipeline", "federation"],
  catalog: ["schema", "runtime", "pipeline", "federation"],
  compute: ["schema", "runtime", "pipeline", "federation", "discovery", "catalog"],
  billing: ["schema", "runtime", "pipeline", "federation", "discovery", "catalog", "compute"],
  orchestrator: ["schema", "runtime", "pipeline", "federation", "discovery", "catalog", "compute", "billing"],
  api: ["schema", "runtime", "pipeline", "federation", "discovery", "catalog", "compute", "billing", "orchestrator"],
  // The manager process: wires every controller together, so it sits below them all.
  manager: ["schema", "runtime", "pipeline", "federation", "discovery", "catalog", "compute", "billing", "orchestrator", "api"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" || e.name === "testdata" ? [] : sourceFiles(full);
    return /\.(ts|mts)$/.test(e.name) && !/\.test\.ts$/.test(e.name) ? [full] : [];
  });
}

const importPattern = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/g;

/** The component (first folder under operators/) an import resolves into, if it is ours. */
function componentOf(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const rel = path.relative(root, path.resolve(path.dirname(file), specifier));
  return rel.startsWith("..") ? undefined : rel.split(path.sep)[0];
}

describe("layering (ARCHITECTURE.md, where new code goes)", () => {
  it("knows every component folder", () => {
    const folders = readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== "node_modules").map((e) => e.name);
    assert.deepEqual(folders.filter((f) => !(f in mayImport)), [], "a new folder under operators/ needs its row here and in ARCHITECTURE.md");
  });

  for (const component of Object.keys(mayImport)) {
    it(`${component} imports only the components above it`, () => {
      const breaks: string[] = [];
      for (const file of sourceFiles(path.join(root, component))) {
        for (const match of readFileSync(file, "utf8").matchAll(importPattern)) {
          const target = componentOf(file, match[1]!);
          if (target && target !== component && !mayImport[component]!.includes(target)) breaks.push(`${path.relative(root, file)} imports ${match[1]}`);
        }
      }
      assert.deepEqual(breaks, []);
    });
  }
});
