import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { emittedAsInTheImage } from "../../../images/deployedProcess.ts";
import { leftoverTsPaths, typeStripped, typeStrippedModules } from "../../../images/typeStripped.ts";
import { repoRoot } from "../../support/cluster.ts";

const operators = path.join(repoRoot, "operators");

describe("images: the sources' JavaScript, types stripped at build time", () => {
  const source = [
    'import type { Peer } from "./peer.ts";',
    'import { a, type B } from "../x/a.ts";',
    'export { c } from "./c.ts";',
    'import "./sideEffect.ts";',
    'import { readFileSync } from "node:fs";',
    'import { Type } from "typebox";',
    'const lazy = () => import("./lazy.ts");',
    "const n: number = 1;",
    'const s = "a.ts";',
    "",
  ].join("\n");

  it("strips types and renames local .ts imports to .js, keeping every line and column", () => {
    const js = typeStripped(source);
    const lines = js.split("\n");
    assert.deepEqual(lines.map((l) => l.length), source.split("\n").map((l) => l.length));
    assert.equal(lines[0]?.trim(), "");
    assert.match(lines[1] ?? "", /import \{ a,\s+\} from "\.\.\/x\/a\.js";/);
    assert.equal(lines[2], 'export { c } from "./c.js";');
    assert.equal(lines[3], 'import "./sideEffect.js";');
    assert.equal(lines[4], 'import { readFileSync } from "node:fs";');
    assert.equal(lines[5], 'import { Type } from "typebox";');
    assert.equal(lines[6], 'const lazy = () => import("./lazy.js");');
    assert.match(lines[7] ?? "", /^const n\s+= 1;$/);
    assert.equal(lines[8], 'const s = "a.ts";', "a string that is not a relative path is left alone");
  });

  it("reports a relative .ts path a rewrite would have missed", () => {
    assert.deepEqual(leftoverTsPaths('const m = await load("./later.ts");'), ['"./later.ts"']);
    assert.deepEqual(leftoverTsPaths(typeStripped(source)), []);
  });

  it("writes every module of operators/ and each relative import names a file it wrote", () => {
    const modules = typeStrippedModules(operators);
    const written = new Set(modules.map((m) => m.path));
    assert.ok(written.has("manager/main.js") && written.has("api/main.js"), "the components' entry points");
    for (const { path: file, js } of modules) {
      for (const m of js.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.\.?\/[^"'\n]+)["']/g)) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1] ?? ""));
        assert.ok(written.has(target) || existsSync(path.join(operators, target)), `${file} imports ${m[1]}, which is neither emitted nor a file`);
      }
    }
  });

  it("loads the manager and every library module without Node's type stripping, with the image's reduced Kubernetes client", async function () {
    this.timeout(60_000);
    mkdirSync(path.join(repoRoot, ".cache"), { recursive: true });
    const out = mkdtempSync(path.join(repoRoot, ".cache", "typeStripped-"));
    try {
      // As /app/operators is beside /app/node_modules; a name the bundle lacks fails the import.
      await emittedAsInTheImage(out);
      const node = (args: string[]): string => execFileSync(process.execPath, ["--no-experimental-strip-types", ...args], { cwd: out, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      assert.match(node(["operators/manager/main.js", "--help"]), /Usage: node operators\/manager\/main/);
      // Every module but the entry points, which start servers when run.
      const libraries = typeStrippedModules(operators).map((m) => m.path).filter((p) => !p.endsWith("/main.js"));
      const script = `for (const m of ${JSON.stringify(libraries)}) await import("./operators/" + m); console.log("loaded", ${libraries.length});`;
      assert.equal(node(["--input-type=module", "-e", script]).trim(), `loaded ${libraries.length}`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
