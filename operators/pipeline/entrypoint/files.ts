// File and Directory objects on a real file system: completing their fields, discovering
// secondary files, listing directories, staging inputs, relocating outputs.
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isObj } from "../cwl/normalize.ts";

export type FsObject = Record<string, unknown> & { class: "File" | "Directory" };

export class InputError extends Error {}

export function isFsObject(value: unknown): value is FsObject {
  return isObj(value) && (value.class === "File" || value.class === "Directory");
}

/** Applies `fn` to every File/Directory inside `value` (records and arrays), outermost first. */
export function mapFsObjects(value: unknown, fn: (o: FsObject) => FsObject, descend = true): unknown {
  if (Array.isArray(value)) return value.map((v) => mapFsObjects(v, fn, descend));
  if (isFsObject(value)) {
    const mapped = fn(value);
    if (!descend) return mapped;
    const out: Record<string, unknown> = { ...mapped };
    if (Array.isArray(mapped.secondaryFiles)) out.secondaryFiles = mapped.secondaryFiles.map((v) => mapFsObjects(v, fn));
    if (Array.isArray(mapped.listing)) out.listing = mapped.listing.map((v) => mapFsObjects(v, fn));
    return out;
  }
  if (isObj(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapFsObjects(v, fn, descend);
    return out;
  }
  return value;
}

export function localPath(o: Record<string, unknown>, baseDir: string): string | undefined {
  if (typeof o.path === "string") return resolve(baseDir, o.path);
  const loc = typeof o.location === "string" ? o.location : undefined;
  if (loc === undefined) return undefined;
  if (loc.startsWith("file://")) return fileURLToPath(loc);
  if (/^[a-z][a-z0-9+.-]*:/i.test(loc)) throw new InputError(`${loc}: only local files are supported by this runner`);
  // A location is a URI reference: percent-escapes stand for their characters.
  return resolve(baseDir, decodeURIComponent(loc));
}

export function nameParts(name: string): { nameroot: string; nameext: string } {
  const ext = extname(name);
  return { nameroot: ext === "" ? name : name.slice(0, -ext.length), nameext: ext };
}

/** Sets path/location/basename/nameroot/nameext/dirname (and size for files) from the disk. */
export function completeFsObject(o: FsObject, baseDir: string, scratch: string): FsObject {
  const path = localPath(o, baseDir) ?? materializeLiteral(o, baseDir, scratch);
  const name = typeof o.basename === "string" && o.path === undefined && o.location === undefined ? o.basename : basename(path);
  const out: FsObject = { ...o, location: pathToFileURL(path).href, path, basename: typeof o.basename === "string" ? o.basename : name };
  if (o.class === "File") {
    Object.assign(out, nameParts(String(out.basename)), { dirname: dirname(path) });
    if (!existsSync(path)) throw new InputError(`input file ${path} does not exist`);
    out.size = statSync(path).size;
  } else if (!existsSync(path)) {
    throw new InputError(`input directory ${path} does not exist`);
  }
  return out;
}

let literalCounter = 0;

function nameOf(o: FsObject, source: string): string {
  return typeof o.basename === "string" ? o.basename : basename(source);
}

/** A File literal (`contents`) or Directory literal (`listing`) without a location. */
function materializeLiteral(o: FsObject, baseDir: string, scratch: string): string {
  const dir = join(scratch, `literal${++literalCounter}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, nameOf(o, o.class === "File" ? "file.txt" : "dir"));
  if (o.class === "File") {
    writeFileSync(path, typeof o.contents === "string" ? o.contents : "");
    return path;
  }
  mkdirSync(path, { recursive: true });
  const entries = (Array.isArray(o.listing) ? o.listing : []).filter(isFsObject);
  for (const entry of entries) {
    const source = localPath(entry, baseDir) ?? materializeLiteral(entry, baseDir, scratch);
    cpSync(source, join(path, nameOf(entry, source)), { recursive: true, dereference: true });
    copySecondaryFiles(entry, path, baseDir);
  }
  return path;
}

/** A File's secondary files travel with it. */
function copySecondaryFiles(entry: FsObject, dir: string, baseDir: string): void {
  const secondaries = (Array.isArray(entry.secondaryFiles) ? entry.secondaryFiles : []).filter(isFsObject);
  for (const secondary of secondaries) {
    const from = localPath(secondary, baseDir);
    if (from !== undefined) cpSync(from, join(dir, nameOf(secondary, from)), { recursive: true, dereference: true });
  }
}

/** The listing of a directory: `deep` recurses, otherwise one level. */
export function listDirectory(path: string, deep: boolean): FsObject[] {
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((entry) => {
      const child = join(path, entry.name);
      const isDir = statSync(child).isDirectory();
      const base: FsObject = { class: isDir ? "Directory" : "File", location: pathToFileURL(child).href, path: child, basename: entry.name };
      if (!isDir) return { ...base, ...nameParts(entry.name), size: statSync(child).size, dirname: path };
      return deep ? { ...base, listing: listDirectory(child, true) } : base;
    });
}

export function sha1File(path: string): string {
  return `sha1$${createHash("sha1").update(readFileSync(path)).digest("hex")}`;
}

/** Places `source` at `target` by symbolic link, creating the parent. */
export function stageLink(source: string, target: string): void {
  mkdirSync(dirname(target), { recursive: true });
  if (!existsSync(target)) symlinkSync(source, target);
}

export function copyInto(source: string, target: string): void {
  mkdirSync(dirname(target), { recursive: true });
  const real = realpathSync(source);
  if (statSync(real).isDirectory()) cpSync(real, target, { recursive: true, dereference: true });
  else copyFileSync(real, target);
}

/** Where an output file goes in the final directory: same relative place, else its name. */
export function relocationTarget(path: string, from: string, to: string): string {
  const rel = relative(from, path);
  return rel.startsWith("..") || rel === "" ? join(to, basename(path)) : join(to, rel);
}
