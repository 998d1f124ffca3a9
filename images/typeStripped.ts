// The image's JavaScript: every TypeScript source of a tree, its types stripped once at build time.
//
// Node strips types as it loads a .ts file through amaro (swc compiled to WebAssembly), which
// costs every process ~18 MiB of resident memory for as long as it runs (manager, API): the image
// ships a .js beside each .ts and runs those (docs/decisions/typescript-without-build-step.md).
// Stripping replaces each type with spaces, so every line and column stays where the .ts has it:
// stack traces point at the reviewed source without source maps. Local imports name `.ts` files;
// they are renamed `.js` in place (same length, positions kept).
//
//   node images/typeStripped.ts DIR [OUT]   writes OUT/<path>.js for each DIR/<path>.ts (OUT = DIR)
//
// Self-contained (node: modules only): the Dockerfile copies this one file and runs it.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { dirname, join } from "node:path";

/** Relative module specifiers naming a .ts file: `from "./x.ts"`, `import "./x.ts"`, `import("./x.ts")`. */
const localTsSpecifier = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.\.?\/[^"'\n]*)\.ts\2/g;

/** Any string literal that is a relative path to a .ts file (what a missed specifier would look like). */
const relativeTsLiteral = /(["'])\.\.?\/[^"'\n]*\.ts\1/g;

/** The module's JavaScript: types stripped (positions kept), its local imports renamed .js. */
export function typeStripped(source: string): string {
  const js = stripTypeScriptTypes(source, { mode: "strip" });
  return js.replace(localTsSpecifier, (_all, lead: string, quote: string, path: string) => `${lead}${quote}${path}.js${quote}`);
}

/** The relative .ts paths still quoted in emitted JavaScript (none, unless a specifier was missed). */
export function leftoverTsPaths(js: string): string[] {
  return [...js.matchAll(relativeTsLiteral)].map((m) => m[0]);
}

/** The TypeScript modules of a tree that run: not tests, not declarations. */
function modulesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((p) => p.endsWith(".ts") && !p.endsWith(".test.ts") && !p.endsWith(".d.ts") && !p.split("/").includes("testdata"))
    .sort();
}

/** The JavaScript of every module under `dir`: `<path>.js` (relative to `dir`) and its text. */
export function typeStrippedModules(dir: string): { path: string; js: string }[] {
  return modulesUnder(dir).map((path) => {
    const js = typeStripped(readFileSync(join(dir, path), "utf8"));
    const missed = leftoverTsPaths(js);
    if (missed.length > 0) throw new Error(`${join(dir, path)}: ${missed.join(", ")} is still a .ts path after stripping; import it with a plain specifier`);
    return { path: path.replace(/\.ts$/, ".js"), js };
  });
}

/** Writes `out/<path>.js` for every module under `dir`; answers how many. */
export function emitTypeStripped(dir: string, out = dir): number {
  const modules = typeStrippedModules(dir);
  for (const { path, js } of modules) {
    mkdirSync(dirname(join(out, path)), { recursive: true });
    writeFileSync(join(out, path), js);
  }
  return modules.length;
}

if (import.meta.main) {
  const [dir, out] = process.argv.slice(2);
  if (!dir) {
    console.error("usage: node images/typeStripped.ts DIR [OUT]");
    process.exit(2);
  }
  const written = emitTypeStripped(dir, out ?? dir);
  console.log(`typeStripped: ${written} modules of ${dir} as JavaScript in ${out ?? dir}`);
}
