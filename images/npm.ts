// Which npm packages an entry point needs at run time: the bare specifiers its sources import
// (type-only imports are erased by Node and need nothing), then their dependencies as
// package-lock.json lays them out in node_modules (Node's lookup: nearest node_modules first).

/** What a lockfile (v2/v3) says about one installed path. */
export interface LockEntry {
  version?: string;
  resolved?: string;
  link?: boolean;
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

export interface Lockfile { packages: Record<string, LockEntry> }

const importPattern = /(?:^|[;\s])(?:import|export)\s+(type\s+)?(?:[^"'`;]*?\sfrom\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** The module specifiers a source file loads at run time, split into relative files and packages. */
export function runtimeImports(source: string): { relative: string[]; packages: string[] } {
  const relative = new Set<string>();
  const packages = new Set<string>();
  for (const m of source.matchAll(importPattern)) {
    if (m[1] !== undefined) continue; // import type / export type
    const spec = m[2] ?? m[3] ?? "";
    if (spec.startsWith(".") || spec.startsWith("/")) relative.add(spec);
    else if (!spec.startsWith("node:") && spec !== "") packages.add(packageName(spec));
  }
  return { relative: [...relative].sort(), packages: [...packages].sort() };
}

/** "@scope/name/sub/path" → "@scope/name"; "name/sub" → "name". */
export function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

/** Where Node finds package `name` when `from` (a lock path, "" for the root) requires it. */
export function locate(lock: Lockfile, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir === "" ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    const entry = lock.packages[candidate];
    if (entry !== undefined && entry.dev !== true) return candidate;
    if (dir === "") return undefined;
    const cut = dir.lastIndexOf("/node_modules/");
    dir = cut >= 0 ? dir.slice(0, cut) : parentOf(dir);
  }
}

function parentOf(dir: string): string {
  const cut = dir.lastIndexOf("/");
  return cut >= 0 ? dir.slice(0, cut) : "";
}

function dependencyNames(entry: LockEntry): string[] {
  return [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...Object.keys(entry.peerDependencies ?? {})];
}

/**
 * Every lock path (`node_modules/…`, and the targets of `file:` links) that `roots` need,
 * sorted. A root the lockfile does not have is an error: the image would fail at run time.
 */
export function dependencyClosure(lock: Lockfile, roots: readonly string[]): string[] {
  const needed = new Set<string>();
  const visit = (from: string, name: string): void => {
    const path = locate(lock, from, name);
    if (path === undefined) {
      if (from === "") throw new Error(`package-lock.json has no production package '${name}'`);
      return; // an optional dependency not installed on this platform
    }
    if (needed.has(path)) return;
    needed.add(path);
    const entry = lock.packages[path] ?? {};
    const real = entry.link === true && entry.resolved !== undefined ? entry.resolved : path;
    if (real !== path) needed.add(real);
    for (const dep of dependencyNames(lock.packages[real] ?? {})) visit(real, dep);
  };
  for (const name of roots) visit("", name);
  return [...needed].sort();
}
