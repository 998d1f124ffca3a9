import assert from "node:assert/strict";
import { dependencyClosure, locate, packageName, runtimeImports, type Lockfile } from "../../../images/npm.ts";

describe("images/npm: what an entry point needs at run time", () => {
  it("finds the packages and relative files a source imports, not type-only imports", () => {
    const source = [
      'import { readFileSync } from "node:fs";',
      'import type { Workflow } from "@kubernetes-models/argo-workflows";',
      'import {\n  parse,\n  type Document,\n} from "yaml";',
      'import { type A, b } from "./b.ts";',
      'export { c } from "../c.ts";',
      'export type { D } from "./d.ts";',
      'import "./side-effect.ts";',
      'const q = await import("quickjs-emscripten/variants");',
      'import * as aws from "@aws-sdk/client-s3/dist";',
    ].join("\n");
    assert.deepEqual(runtimeImports(source), { relative: ["../c.ts", "./b.ts", "./side-effect.ts"], packages: ["@aws-sdk/client-s3", "quickjs-emscripten", "yaml"] });
  });

  it("names the package of a deep specifier", () => {
    assert.equal(packageName("@scope/name/sub/x.js"), "@scope/name");
    assert.equal(packageName("name/sub"), "name");
    assert.equal(packageName("name"), "name");
  });

  const lock: Lockfile = {
    packages: {
      "": {},
      "node_modules/a": { dependencies: { b: "^1", c: "^2" } },
      "node_modules/b": { version: "1.0.0", dependencies: { c: "^1" } },
      "node_modules/b/node_modules/c": { version: "1.0.0" },
      "node_modules/c": { version: "2.0.0", optionalDependencies: { "fsevents-like": "*" } },
      "node_modules/d": { version: "1.0.0", peerDependencies: { e: "*" } },
      "node_modules/e": { version: "1.0.0" },
      "node_modules/dev-only": { version: "1.0.0", dev: true },
      "node_modules/cli": { resolved: "tools/cli", link: true },
      "tools/cli": { dependencies: { e: "*" } },
      "node_modules/unused": { version: "1.0.0" },
    },
  };

  it("resolves a dependency as Node does: the nearest node_modules first", () => {
    assert.equal(locate(lock, "node_modules/b", "c"), "node_modules/b/node_modules/c");
    assert.equal(locate(lock, "node_modules/a", "c"), "node_modules/c");
    assert.equal(locate(lock, "tools/cli", "e"), "node_modules/e");
    assert.equal(locate(lock, "", "dev-only"), undefined);
  });

  it("closes over dependencies, peers and file: links, leaving out what nothing needs", () => {
    assert.deepEqual(dependencyClosure(lock, ["a", "d", "cli"]), [
      "node_modules/a",
      "node_modules/b",
      "node_modules/b/node_modules/c",
      "node_modules/c",
      "node_modules/cli",
      "node_modules/d",
      "node_modules/e",
      "tools/cli",
    ]);
  });

  it("refuses a package the production install does not have (the image would fail when it loads it)", () => {
    assert.throws(() => dependencyClosure(lock, ["dev-only"]), /no production package 'dev-only'/);
  });
});
