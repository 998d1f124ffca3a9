// Layers and layout archives on disk: walks directory trees into tar entries and streams them,
// in the order and with the headers images/oci.ts decides, through gzip into the blob store.
import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { linkHardlinks, mediaTypes, missingParents, sortEntries, tarEnd, tarHeader, tarPadding, type Descriptor, type TarEntry } from "./oci.ts";

/** A tar entry and where its bytes come from: a file on disk or bytes in memory. */
export interface LayerEntry extends TarEntry {
  source?: string;
  content?: Buffer;
  inode?: string;
}

export interface Owner { uid: number; gid: number }

const root: Owner = { uid: 0, gid: 0 };

/**
 * Every file, directory and symlink under `dir`, at `prefix` in the layer. Owners are not read
 * from disk (they depend on who extracted the files): everything is `owner`, root by default.
 */
export function treeEntries(dir: string, prefix: string, owner: Owner = root): LayerEntry[] {
  const out: LayerEntry[] = [];
  const walk = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs)) {
      const source = join(abs, name);
      const path = rel === "" ? name : `${rel}/${name}`;
      const st = lstatSync(source);
      const base = { path, mode: st.mode & 0o7777, uid: owner.uid, gid: owner.gid, size: 0 };
      if (st.isSymbolicLink()) out.push({ ...base, type: "symlink", linkname: readlinkSync(source) });
      else if (st.isDirectory()) {
        out.push({ ...base, type: "dir" });
        walk(source, path);
      } else if (st.isFile()) out.push({ ...base, type: "file", size: st.size, source, ...(st.nlink > 1 ? { inode: `${st.dev}:${st.ino}` } : {}) });
      // sockets, fifos and devices are never part of an image
    }
  };
  const top = prefix.replace(/^\/+|\/+$/g, "");
  walk(dir, top);
  if (top !== "") out.push(dirEntry(top, 0o755, owner));
  return out;
}

/** One file on disk at `path` in the layer. */
export function sourceFileEntry(path: string, source: string, mode: number, owner: Owner = root): LayerEntry {
  return { path, type: "file", mode, uid: owner.uid, gid: owner.gid, size: lstatSync(source).size, source };
}

export function fileEntry(path: string, content: Buffer | string, mode = 0o644, owner: Owner = root): LayerEntry {
  const bytes = Buffer.from(content);
  return { path, type: "file", mode, uid: owner.uid, gid: owner.gid, size: bytes.length, content: bytes };
}

export function dirEntry(path: string, mode = 0o755, owner: Owner = root): LayerEntry {
  return { path, type: "dir", mode, uid: owner.uid, gid: owner.gid, size: 0 };
}

export function symlinkEntry(path: string, target: string): LayerEntry {
  return { path, type: "symlink", mode: 0o777, uid: 0, gid: 0, size: 0, linkname: target };
}

/** Later entries replace earlier ones of the same path; parents are added; tar order. */
export function finalEntries(entries: readonly LayerEntry[]): LayerEntry[] {
  const byPath = new Map<string, LayerEntry>();
  for (const e of entries) byPath.set(e.path, e);
  const named = [...byPath.values()];
  return linkHardlinks(sortEntries([...named, ...missingParents(named)]));
}

async function* tarStream(entries: readonly LayerEntry[], mtime: number): AsyncGenerator<Buffer> {
  for (const e of entries) {
    yield tarHeader(e, mtime);
    if (e.type !== "file") continue;
    if (e.content !== undefined) yield e.content;
    else if (e.source !== undefined) {
      let read = 0;
      for await (const chunk of createReadStream(e.source)) {
        read += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (read !== e.size) throw new Error(`${e.source} changed while it was archived (${e.size} → ${read} bytes)`);
    }
    yield tarPadding(e.size);
  }
  yield tarEnd();
}

function hashing(hash: Hash, counter: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
      hash.update(chunk);
      counter.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

export interface Layer { descriptor: Descriptor; diffId: string; uncompressedSize: number }

/** Writes the gzip-compressed layer into `blobs/sha256/` of the store; returns its digests. */
export async function writeLayer(entries: readonly LayerEntry[], mtime: number, blobDir: string): Promise<Layer> {
  mkdirSync(blobDir, { recursive: true });
  const tmp = join(blobDir, `.partial-${process.pid}-${Date.now()}`);
  const diff = createHash("sha256");
  const compressed = createHash("sha256");
  const raw = { bytes: 0 };
  const gz = { bytes: 0 };
  // gzip's header holds no time or name when written by zlib's stream API: same bytes each run
  await pipeline(Readable.from(tarStream(finalEntries(entries), mtime)), hashing(diff, raw), createGzip({ level: 6 }), hashing(compressed, gz), createWriteStream(tmp));
  const digest = `sha256:${compressed.digest("hex")}`;
  renameSync(tmp, join(blobDir, digest.slice(7)));
  return { descriptor: { mediaType: mediaTypes.layerGzip, digest, size: gz.bytes }, diffId: `sha256:${diff.digest("hex")}`, uncompressedSize: raw.bytes };
}

/** An OCI image layout as one uncompressed tar (what `ctr images import` reads). */
export async function writeLayoutTar(file: string, members: { index: Buffer; blobs: { digest: string; source?: string; content?: Buffer; size: number }[] }, mtime: number): Promise<void> {
  const entries: LayerEntry[] = [
    dirEntry("blobs"),
    dirEntry("blobs/sha256"),
    fileEntry("oci-layout", JSON.stringify({ imageLayoutVersion: "1.0.0" })),
    fileEntry("index.json", members.index),
  ];
  const seen = new Set<string>();
  for (const blob of members.blobs) {
    if (seen.has(blob.digest)) continue;
    seen.add(blob.digest);
    entries.push({ path: `blobs/sha256/${blob.digest.slice(7)}`, type: "file", mode: 0o644, uid: 0, gid: 0, size: blob.size, ...(blob.source ? { source: blob.source } : {}), ...(blob.content ? { content: blob.content } : {}) });
  }
  const tmp = `${file}.partial-${process.pid}`;
  rmSync(tmp, { force: true });
  await pipeline(Readable.from(tarStream(finalEntries(entries), mtime)), createWriteStream(tmp));
  renameSync(tmp, file);
}
