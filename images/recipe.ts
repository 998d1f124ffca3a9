// Builds images from recipes: each layer is cached in the blob store by a key of its inputs,
// so a warm build only hashes inputs; an image's layout tar is rewritten only when its
// manifest changes. Recipes are in images/definitions.ts.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeLayer, writeLayoutTar, type Layer, type LayerEntry } from "./layer.ts";
import { contentTag, imageConfig, imageIndex, imageManifest, jsonBlob, mediaTypes, type RunConfig } from "./oci.ts";

export interface BuildContext {
  /** the repository */
  root: string;
  /** ~/.cache/archipel-images: blobs, downloaded .debs, npm installs, resolved package lists */
  cache: string;
  /** .images/ */
  out: string;
  /** every mtime in every tar (SOURCE_DATE_EPOCH) */
  mtime: number;
  /** hash of the builder's own sources: a change to how layers are made rebuilds them */
  builder: string;
  log: (message: string) => void;
}

export interface LayerRecipe {
  /** for progress lines */
  name: string;
  /** a string that changes whenever the layer's content would (computed without building it) */
  key: (ctx: BuildContext) => Promise<string> | string;
  entries: (ctx: BuildContext) => Promise<LayerEntry[]> | LayerEntry[];
  /** removes what `entries` staged, once the layer is written */
  cleanup?: (ctx: BuildContext) => void;
}

export interface ImageRecipe {
  name: string;
  /** fixed tags (e.g. a version); `contentTagged` adds the manifest's short digest */
  tags: (ctx: BuildContext) => string[];
  contentTagged: boolean;
  layers: LayerRecipe[];
  run: RunConfig;
  /** why the image cannot be built here, if it cannot (then it is skipped, saying so) */
  unavailable?: (ctx: BuildContext) => string | undefined;
}

export interface BuiltImage { name: string; reference: string[]; manifestDigest: string; file: string; size: number; rebuilt: boolean }

export const registry = "archipel.local";

export function hashOf(...parts: (string | Buffer)[]): string {
  const hash = createHash("sha256");
  for (const p of parts) hash.update(typeof p === "string" ? `${p.length}:${p}` : p);
  return hash.digest("hex");
}

const fileHashes = new Map<string, string>();

/** sha256 of a file's bytes; remembered per path, size and mtime for this process. */
export async function fileHash(path: string): Promise<string> {
  const st = statSync(path);
  const id = `${path}\0${st.size}\0${st.mtimeMs}`;
  const known = fileHashes.get(id);
  if (known !== undefined) return known;
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const hex = hash.digest("hex");
  fileHashes.set(id, hex);
  return hex;
}

/** A key over entries as they will be archived: metadata and the contents of every file. */
export async function entriesKey(entries: readonly LayerEntry[]): Promise<string> {
  const hash = createHash("sha256");
  for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    hash.update(`${e.path}\0${e.type}\0${e.mode}\0${e.uid}\0${e.gid}\0${e.linkname ?? ""}\0`);
    if (e.content !== undefined) hash.update(e.content);
    else if (e.source !== undefined) hash.update(await fileHash(e.source));
  }
  return hash.digest("hex");
}

function elapsed(start: number): string {
  return `${((Date.now() - start) / 1000).toFixed(1)}s`;
}

async function buildLayer(recipe: LayerRecipe, ctx: BuildContext): Promise<Layer> {
  const key = hashOf(ctx.builder, String(ctx.mtime), recipe.name, await recipe.key(ctx));
  const record = join(ctx.cache, "layers", `${key}.json`);
  const blobs = join(ctx.cache, "blobs", "sha256");
  if (existsSync(record)) {
    const layer = JSON.parse(readFileSync(record, "utf8")) as Layer;
    if (existsSync(join(blobs, layer.descriptor.digest.slice(7)))) return layer;
  }
  const start = Date.now();
  ctx.log(`  layer ${recipe.name}: building`);
  const layer = await writeLayer(await recipe.entries(ctx), ctx.mtime, blobs);
  recipe.cleanup?.(ctx);
  mkdirSync(join(ctx.cache, "layers"), { recursive: true });
  writeFileSync(record, JSON.stringify(layer));
  ctx.log(`  layer ${recipe.name}: ${(layer.descriptor.size / 1e6).toFixed(1)} MB compressed, ${(layer.uncompressedSize / 1e6).toFixed(1)} MB unpacked, ${elapsed(start)}`);
  return layer;
}

interface Stamp { manifestDigest: string; references: string[] }

/** Builds one image into `.images/<name>.tar` unless the file already holds this manifest. */
export async function buildImage(recipe: ImageRecipe, ctx: BuildContext): Promise<BuiltImage | undefined> {
  const reason = recipe.unavailable?.(ctx);
  if (reason !== undefined) {
    ctx.log(`${recipe.name}: SKIPPED — ${reason}`);
    return undefined;
  }
  const start = Date.now();
  ctx.log(`${recipe.name}: ${recipe.layers.length} layer(s)`);
  const layers: Layer[] = [];
  for (const l of recipe.layers) layers.push(await buildLayer(l, ctx));
  const config = jsonBlob(imageConfig(recipe.run, layers.map((l) => l.diffId)), mediaTypes.config);
  const manifest = jsonBlob(imageManifest(config.descriptor, layers.map((l) => l.descriptor)), mediaTypes.manifest);
  const tags = [...(recipe.contentTagged ? [contentTag(manifest.descriptor.digest)] : []), ...recipe.tags(ctx)];
  const name = `${registry}/${recipe.name}`;
  const references = tags.map((t) => `${name}:${t}`);
  const file = join(ctx.out, `${recipe.name}.tar`);
  const stampFile = join(ctx.out, `${recipe.name}.json`);
  const stamp: Stamp = { manifestDigest: manifest.descriptor.digest, references };
  const unchanged = existsSync(file) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === JSON.stringify(stamp);
  if (!unchanged) {
    mkdirSync(ctx.out, { recursive: true });
    const index = Buffer.from(JSON.stringify(imageIndex(manifest.descriptor, name, tags)));
    const blobs = [
      { digest: manifest.descriptor.digest, content: manifest.bytes, size: manifest.bytes.length },
      { digest: config.descriptor.digest, content: config.bytes, size: config.bytes.length },
      ...layers.map((l) => ({ digest: l.descriptor.digest, source: join(ctx.cache, "blobs", "sha256", l.descriptor.digest.slice(7)), size: l.descriptor.size })),
    ];
    await writeLayoutTar(file, { index, blobs }, ctx.mtime);
    writeFileSync(stampFile, JSON.stringify(stamp));
  }
  const size = statSync(file).size;
  ctx.log(`${recipe.name}: ${references.join(", ")} ${manifest.descriptor.digest} ${(size / 1e6).toFixed(1)} MB ${unchanged ? "(unchanged)" : "written"} in ${elapsed(start)}`);
  return { name: recipe.name, reference: references, manifestDigest: manifest.descriptor.digest, file, size, rebuilt: !unchanged };
}
