// The pure part of hack/images: tar headers and entry order, OCI image config, manifest and
// index, all byte-for-byte reproducible (same entries → same bytes → same digests).
// No I/O here: images/layer.ts streams file contents through these headers.
import { createHash } from "node:crypto";

export type EntryType = "file" | "dir" | "symlink" | "hardlink";

/** One member of a layer, as it will appear in the tar (path relative, no leading "/"). */
export interface TarEntry {
  path: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  /** bytes of a file (0 for anything else) */
  size: number;
  /** symlink target, or for a hardlink the path of the entry it repeats */
  linkname?: string;
}

const BLOCK = 512;
const typeFlag: Record<EntryType, string> = { file: "0", hardlink: "1", symlink: "2", dir: "5" };

/** Bytewise order (what `LC_ALL=C sort` gives): a parent directory sorts before its members. */
export function compareTarPaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function sortEntries<T extends { path: string }>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => compareTarPaths(a.path, b.path));
}

/** The directories an entry list needs but does not name, as root-owned 0755 entries. */
export function missingParents(entries: readonly TarEntry[]): TarEntry[] {
  const named = new Set(entries.map((e) => e.path));
  const missing = new Set<string>();
  for (const e of entries) {
    const parts = e.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!named.has(dir)) missing.add(dir);
    }
  }
  return [...missing].map((path) => ({ path, type: "dir", mode: 0o755, uid: 0, gid: 0, size: 0 }));
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function putString(block: Buffer, offset: number, width: number, value: string): void {
  const bytes = Buffer.from(value);
  if (bytes.length > width) throw new Error(`tar: '${value}' does not fit ${width} bytes`);
  bytes.copy(block, offset);
}

function fitsUstar(value: string, width: number): boolean {
  return Buffer.byteLength(value) <= width && /^[\x20-\x7e]*$/.test(value);
}

/** A pax record "LEN key=value\n" where LEN counts the whole record including itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  while (String(length).length + Buffer.byteLength(body) !== length) length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

function headerBlock(fields: { name: string; mode: number; uid: number; gid: number; size: number; mtime: number; type: string; linkname: string }): Buffer {
  const block = Buffer.alloc(BLOCK);
  putString(block, 0, 100, fields.name);
  putString(block, 100, 8, octal(fields.mode & 0o7777, 8));
  putString(block, 108, 8, octal(fields.uid, 8));
  putString(block, 116, 8, octal(fields.gid, 8));
  putString(block, 124, 12, octal(fields.size, 12));
  putString(block, 136, 12, octal(fields.mtime, 12));
  block.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  putString(block, 156, 1, fields.type);
  putString(block, 157, 100, fields.linkname);
  putString(block, 257, 8, "ustar\x0000");
  let sum = 0;
  for (const byte of block) sum += byte;
  putString(block, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

/** Zero bytes that complete a member of `size` bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** Two zero blocks close an archive. */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

/**
 * The header block(s) of one entry: ustar, preceded by a pax extended header when the path or
 * link target is too long or not ASCII. Directories are named with a trailing "/".
 */
export function tarHeader(entry: TarEntry, mtime: number): Buffer {
  if (entry.path === "" || entry.path.startsWith("/")) throw new Error(`tar: entry path '${entry.path}' must be relative and non-empty`);
  const name = entry.type === "dir" ? `${entry.path}/` : entry.path;
  const linkname = entry.linkname ?? "";
  const pax = ustarOrPax("path", name) + ustarOrPax("linkpath", linkname);
  const main = headerBlock({
    name: fitsUstar(name, 100) ? name : name.slice(0, 99).replace(/[^\x20-\x7e]/g, "_"),
    mode: entry.mode, uid: entry.uid, gid: entry.gid,
    size: entry.type === "file" ? entry.size : 0,
    mtime, type: typeFlag[entry.type],
    linkname: fitsUstar(linkname, 100) ? linkname : "",
  });
  if (pax === "") return main;
  const data = Buffer.from(pax);
  const paxHeader = headerBlock({ name: "PaxHeader", mode: 0o644, uid: 0, gid: 0, size: data.length, mtime, type: "x", linkname: "" });
  return Buffer.concat([paxHeader, data, tarPadding(data.length), main]);
}

/** "" when the value fits its ustar field, else the pax record that carries it. */
function ustarOrPax(key: "path" | "linkpath", value: string): string {
  return fitsUstar(value, 100) ? "" : paxRecord(key, value);
}

/**
 * Files that share an inode are stored once: the first in tar order as a file, the others as
 * hard links to it (what `tar` does). `inode` is any key identical for one inode.
 */
export function linkHardlinks<T extends TarEntry & { inode?: string }>(sorted: readonly T[]): T[] {
  const first = new Map<string, string>();
  return sorted.map((e) => {
    if (e.type !== "file" || e.inode === undefined) return e;
    const target = first.get(e.inode);
    if (target === undefined) {
      first.set(e.inode, e.path);
      return e;
    }
    return { ...e, type: "hardlink", size: 0, linkname: target };
  });
}

// ---- OCI image objects -------------------------------------------------------------------

export const mediaTypes = {
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  config: "application/vnd.oci.image.config.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  index: "application/vnd.oci.image.index.v1+json",
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** What an image runs with (OCI image config `config`; Docker's USER/ENV/WORKDIR/ENTRYPOINT/CMD). */
export interface RunConfig {
  user?: string;
  env: string[];
  entrypoint: string[];
  cmd?: string[];
  workingDir?: string;
  labels?: Record<string, string>;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** A JSON blob and its descriptor: the digest is of exactly these bytes. */
export function jsonBlob(value: unknown, mediaType: string): { bytes: Buffer; descriptor: Descriptor } {
  const bytes = Buffer.from(JSON.stringify(value));
  return { bytes, descriptor: { mediaType, digest: sha256(bytes), size: bytes.length } };
}

/** The image config: no `created` and no `history`, so nothing in it depends on when it was built. */
export function imageConfig(run: RunConfig, diffIds: readonly string[]): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  if (run.user !== undefined) config.User = run.user;
  config.Env = run.env;
  config.Entrypoint = run.entrypoint;
  if (run.cmd !== undefined) config.Cmd = run.cmd;
  if (run.workingDir !== undefined) config.WorkingDir = run.workingDir;
  if (run.labels !== undefined) config.Labels = run.labels;
  return { architecture: "amd64", os: "linux", config, rootfs: { type: "layers", diff_ids: [...diffIds] } };
}

export function imageManifest(config: Descriptor, layers: readonly Descriptor[]): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: mediaTypes.manifest, config, layers: [...layers] };
}

/**
 * index.json of the layout: one entry per tag, each naming the same manifest, so
 * `ctr images import` creates `name:tag` for every tag.
 */
export function imageIndex(manifest: Descriptor, name: string, tags: readonly string[]): Record<string, unknown> {
  if (tags.length === 0) throw new Error(`image ${name}: at least one tag is required`);
  const manifests = tags.map((tag) => ({
    ...manifest,
    platform: { architecture: "amd64", os: "linux" },
    annotations: { "io.containerd.image.name": `${name}:${tag}`, "org.opencontainers.image.ref.name": tag },
  }));
  return { schemaVersion: 2, mediaType: mediaTypes.index, manifests };
}

/** The short content tag of an image: the first 12 hex digits of its manifest digest. */
export function contentTag(manifestDigest: string): string {
  const hex = manifestDigest.replace(/^sha256:/, "");
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`not a sha256 digest: ${manifestDigest}`);
  return hex.slice(0, 12);
}
