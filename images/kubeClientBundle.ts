// The Kubernetes client as the image holds it: @kubernetes/client-node's entry point replaced by
// one module with only what operators/ imports from it, bundled and tree-shaken at build time.
//
// Its own entry point loads every generated API of every group (225 API files, ObservableAPI,
// ObjectParamAPI): ~69 MiB of resident memory per process, 20 MiB of it for APIs no component
// calls. The bundle keeps the named exports operators/ uses and what they reach (the models'
// serializer stays whole: it names every model). docs/decisions/kube-client-bundle.md.
//
//   node images/kubeClientBundle.ts ROOT OUT   bundles ROOT/node_modules' client for ROOT/operators into OUT
//
// Needs rolldown, a development dependency: the Dockerfile runs it in its build stage.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export const kubeClientPackage = "@kubernetes/client-node";

/** Where the package's entry point is, relative to the application's root (its `main`). */
export const kubeClientEntry = `node_modules/${kubeClientPackage}/dist/index.js`;

/** `import { … } from "<specifier>"` and `export { … } from "<specifier>"`; `import type { … }` is matched to be skipped. */
const namedImport = /\b(import|export)(\s+type)?\s*\{([^}]*)\}\s*from\s*(["'])([^"']+)\4/g;
/** Imports that would need the whole module: `import * as x`, a default import, `export *`. */
const wholeImport = /\b(?:import\s+(?:\*\s*as\s+\w+|\w+\s*(?:,\s*[{*][^;]*)?)\s+from|export\s*\*(?:\s*as\s+\w+)?\s+from)\s*(["'])([^"']+)\1/g;

/**
 * The value names a module imports from `specifier` (types are erased, so they need no export).
 * Throws on a namespace, default or star import, which would keep every export of the bundle.
 */
export function valueImportsOf(source: string, specifier: string, file = "source"): string[] {
  for (const m of source.matchAll(wholeImport)) {
    if (m[2] === specifier) throw new Error(`${file}: \`${m[0]}\` needs all of ${specifier}; import the names it uses ({ A, B }) so the image's bundle can leave the rest out`);
  }
  return [...source.matchAll(namedImport)].filter((m) => m[5] === specifier && m[2] === undefined).flatMap((m) => valueNames(m[3] ?? ""));
}

/** `A, type B, C as D` → A, C: the exported names, types left out. */
function valueNames(list: string): string[] {
  return list.split(",").flatMap((item) => {
    const [name, ...rest] = item.trim().split(/\s+/);
    return !name || (name === "type" && rest.length > 0) ? [] : [name];
  });
}

/** Every value name the running modules of `operatorsDir` (not tests) import from the client. */
export function kubeClientNames(operatorsDir: string): string[] {
  const files = readdirSync(operatorsDir, { recursive: true, encoding: "utf8" }).filter((p) => p.endsWith(".ts") && !p.endsWith(".test.ts") && !p.endsWith(".d.ts") && !p.split("/").includes("testdata"));
  const names = new Set(files.flatMap((f) => valueImportsOf(readFileSync(path.join(operatorsDir, f), "utf8"), kubeClientPackage, f)));
  return [...names].sort();
}

const entryId = "\0archipel-kube-client";

/** The bundle's JavaScript: the client's entry point reduced to `names`, its own dependencies left as imports. */
export async function kubeClientBundle(root: string, names = kubeClientNames(path.join(root, "operators"))): Promise<string> {
  if (names.length === 0) throw new Error(`no module under ${path.join(root, "operators")} imports from ${kubeClientPackage}`);
  const { rolldown } = await import("rolldown");
  const real = path.join(root, kubeClientEntry);
  const bundle = await rolldown({
    input: entryId,
    platform: "node",
    logLevel: "warn",
    // The client's own files are bundled; the packages it depends on stay imports, resolved from
    // the image's node_modules as they were.
    external: (id) => id !== entryId && !id.startsWith(".") && !path.isAbsolute(id),
    plugins: [{ name: "entry", resolveId: (id) => (id === entryId ? id : null), load: (id) => (id === entryId ? `export { ${names.join(", ")} } from ${JSON.stringify(real)};` : null) }],
  });
  try {
    const { output } = await bundle.generate({ format: "esm" });
    const [chunk, ...more] = output;
    if (chunk?.type !== "chunk" || more.some((o) => o.type === "chunk")) throw new Error("the Kubernetes client did not bundle into one module");
    return `// ${kubeClientPackage}, reduced by images/kubeClientBundle.ts to: ${names.join(", ")}\n${chunk.code}`;
  } finally {
    await bundle.close();
  }
}

if (import.meta.main) {
  const [root, out] = process.argv.slice(2);
  if (!root || !out) {
    console.error("usage: node images/kubeClientBundle.ts ROOT OUT");
    process.exit(2);
  }
  const names = kubeClientNames(path.join(root, "operators"));
  writeFileSync(out, await kubeClientBundle(root, names));
  console.log(`kubeClientBundle: ${kubeClientPackage} reduced to ${names.length} exports in ${out}`);
}
