// Moves output Files and Directories from the runs' working directories into the
// user's output directory, completing checksum and size on the way.
import { existsSync, realpathSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { copyInto, isFsObject, listDirectory, sha1File, type FsObject } from "../entrypoint/files.ts";
import { isObj } from "../cwl/normalize.ts";

export class Relocator {
  private readonly outdir: string;
  private readonly workdirs: string[];
  private readonly placed = new Map<string, string>();
  private readonly taken = new Set<string>();
  private readonly stays: (path: string) => boolean;

  /** stays: files already where every reader finds them (a run's staged inputs) are not copied */
  constructor(outdir: string, workdirs: string[], stays: (path: string) => boolean = () => false) {
    this.outdir = outdir;
    this.workdirs = workdirs;
    this.stays = stays;
  }

  relocate(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.relocate(v));
    if (isFsObject(value)) return this.relocateObject(value);
    if (isObj(value)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.relocate(v);
      return out;
    }
    return value;
  }

  /** Keeps the place relative to the run's directory; two outputs never share a path. */
  private targetFor(path: string, name: string): string {
    let rel = name;
    for (const dir of this.workdirs) {
      const candidate = relative(dir, path);
      if (!candidate.startsWith("..") && candidate !== "" && !candidate.startsWith("/")) rel = candidate;
    }
    let target = join(this.outdir, rel);
    for (let n = 2; this.taken.has(target); n++) target = join(this.outdir, `_${n}`, rel);
    this.taken.add(target);
    return target;
  }

  private relocateObject(o: FsObject): FsObject {
    if (typeof o.path !== "string" || this.stays(o.path)) return o;
    const source = o.path;
    let target = this.placed.get(source);
    if (target === undefined) {
      target = this.targetFor(source, String(o.basename ?? basename(source)));
      if (realpathSafe(source) !== realpathSafe(target)) copyInto(source, target);
      this.placed.set(source, target);
    }
    return describe(o, target);
  }
}

function realpathSafe(path: string): string {
  return existsSync(path) ? realpathSync(path) : path;
}

function describe(o: FsObject, target: string): FsObject {
  const out: FsObject = { ...o, location: pathToFileURL(target).href, path: target, basename: basename(target) };
  delete out.dirname;
  if (o.class === "File") {
    out.checksum = sha1File(target);
    out.size = statSync(target).size;
    if (Array.isArray(o.secondaryFiles)) out.secondaryFiles = o.secondaryFiles.map((s) => (isFsObject(s) && typeof s.path === "string" ? describeSibling(s, target) : s));
    return out;
  }
  // Output directories always carry their (deep) listing.
  out.listing = describeListing(target);
  return out;
}

function describeSibling(s: FsObject, primaryTarget: string): FsObject {
  const target = join(primaryTarget, "..", String(s.basename));
  if (!existsSync(target)) copyInto(String(s.path), target);
  return describe(s, target);
}

function describeListing(dir: string): FsObject[] {
  return listDirectory(dir, true).map((entry) => describe(entry, String(entry.path)));
}
