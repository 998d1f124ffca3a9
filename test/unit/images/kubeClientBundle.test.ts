import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { emittedAsInTheImage } from "../../../images/deployedProcess.ts";
import { kubeClientEntry, kubeClientNames, valueImportsOf } from "../../../images/kubeClientBundle.ts";
import { repoRoot } from "../../support/cluster.ts";

const pkg = "@kubernetes/client-node";

describe("images: the Kubernetes client reduced to what operators/ imports", () => {
  it("takes the value names of named imports and re-exports, not types nor other modules'", () => {
    const source = [
      `import { CoreV1Api, type KubeConfig, Watch as W } from "${pkg}";`,
      `import type { V1Pod } from "${pkg}";`,
      `import {\n  PatchStrategy,\n  setHeaderOptions,\n} from '${pkg}';`,
      `export { ApiException } from "${pkg}";`,
      'import { Other } from "undici";',
    ].join("\n");
    assert.deepEqual(valueImportsOf(source, pkg).sort(), ["ApiException", "CoreV1Api", "PatchStrategy", "Watch", "setHeaderOptions"]);
  });

  it("refuses an import that needs the whole client, naming the file", () => {
    assert.throws(() => valueImportsOf(`import * as k8s from "${pkg}";`, pkg, "x/a.ts"), /x\/a\.ts: `import \* as k8s from "@kubernetes\/client-node"` needs all of/);
    assert.throws(() => valueImportsOf(`import k8s from "${pkg}";`, pkg), /needs all of/);
    assert.throws(() => valueImportsOf(`export * from "${pkg}";`, pkg), /needs all of/);
    assert.deepEqual(valueImportsOf('import * as fs from "node:fs";', pkg), []);
  });

  it("bundles a module that exports exactly the names operators/ imports, and leaves the checkout's client alone", async function () {
    this.timeout(60_000);
    const names = kubeClientNames(path.join(repoRoot, "operators"));
    assert.ok(names.includes("KubeConfig") && names.includes("CoreV1Api"), names.join(", "));
    mkdirSync(path.join(repoRoot, ".cache"), { recursive: true });
    const out = mkdtempSync(path.join(repoRoot, ".cache", "kubeClient-"));
    try {
      await emittedAsInTheImage(out);
      const bundled = path.join(out, kubeClientEntry);
      assert.match(readFileSync(bundled, "utf8"), /^\/\/ @kubernetes\/client-node, reduced by images\/kubeClientBundle\.ts/);
      const mod = (await import(bundled)) as Record<string, unknown>;
      assert.deepEqual(Object.keys(mod).sort(), names);
      // A client it can build: the bundle works, not only links.
      const kc = new (mod.KubeConfig as new () => { loadFromString(s: string): void; getCurrentCluster(): { server: string } | null })();
      kc.loadFromString(JSON.stringify({ clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443" } }], users: [{ name: "u", user: { token: "t" } }], contexts: [{ name: "x", context: { cluster: "c", user: "u" } }], "current-context": "x" }));
      assert.equal(kc.getCurrentCluster()?.server, "https://127.0.0.1:6443");
      assert.ok(existsSync(path.join(repoRoot, kubeClientEntry)));
      assert.doesNotMatch(readFileSync(path.join(repoRoot, kubeClientEntry), "utf8"), /reduced by images/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
