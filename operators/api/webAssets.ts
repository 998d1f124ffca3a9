// The web UI's static files, served by the API from one folder (the Vite build in web/dist):
// same origin as the REST API, no extra process. The folder is read once at start (the build is
// small); `webAssetResponse` decides each answer purely, so its caching rules have unit tests.
// Vite names every file under assets/ by content hash, so those may be cached for a year;
// index.html must be revalidated on every load, or a browser would keep a stale build.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export interface WebAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** Relative path (`index.html`, `assets/index-3f2a.js`) → file. Empty when the UI is not built. */
export type WebAssets = ReadonlyMap<string, WebAsset>;

export interface WebAssetAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** Only this origin's scripts, styles and API: nothing fetched from elsewhere at run time. */
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const commonHeaders = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy": contentSecurityPolicy,
};

export const immutableCache = "public, max-age=31536000, immutable";
export const revalidateCache = "no-cache";

export function contentTypeOf(file: string): string {
  return contentTypes[path.extname(file).toLowerCase()] ?? "application/octet-stream";
}

/** Every file under `root` (recursively), or an empty map when `root` does not exist. */
export function loadWebAssets(root: string): WebAssets {
  const assets = new Map<string, WebAsset>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) assets.set(path.relative(root, full).split(path.sep).join("/"), webAsset(full));
    }
  };
  if (statSync(root, { throwIfNoEntry: false })?.isDirectory()) walk(root);
  return assets;
}

function webAsset(file: string): WebAsset {
  const body = readFileSync(file);
  return { body, contentType: contentTypeOf(file), etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

const notBuilt =
  "<!doctype html><meta charset=utf-8><title>Archipel</title><p>The web UI is not built into this API server: run <code>make web</code> (or point <code>--web-root</code> at a build). The REST API is at <a href=\"/openapi.json\">/openapi.json</a>.</p>";

/**
 * The answer to `GET <urlPath>` (`/` or `/assets/...`): 200 with cache headers, 304 when the
 * browser's ETag still matches, 404 for a file that is not in the build.
 */
export function webAssetResponse(assets: WebAssets, urlPath: string, ifNoneMatch: string | undefined): WebAssetAnswer {
  const file = urlPath === "/" ? "index.html" : urlPath.replace(/^\/+/, "");
  const asset = assets.get(file);
  if (!asset) {
    if (file === "index.html") return { status: 200, headers: { ...commonHeaders, "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }, body: notBuilt };
    return { status: 404, headers: { ...commonHeaders, "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }, body: `no file ${urlPath} in this build of the web UI\n` };
  }
  const cacheControl = file.startsWith("assets/") ? immutableCache : revalidateCache;
  const headers = { ...commonHeaders, "content-type": asset.contentType, "cache-control": cacheControl, etag: asset.etag };
  if (ifNoneMatch !== undefined && ifNoneMatch.split(",").some((tag) => tag.trim() === asset.etag)) return { status: 304, headers, body: "" };
  return { status: 200, headers, body: asset.body };
}

/** `GET /` and `GET /assets/*`: no schema, so they stay out of the OpenAPI document. */
export function registerWebAssetRoutes(app: FastifyInstance, assets: WebAssets): void {
  const send = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const answer = webAssetResponse(assets, request.url.split("?")[0] ?? "/", request.headers["if-none-match"]);
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  };
  app.get("/", send);
  app.get("/assets/*", send);
  app.get("/favicon.svg", send);
}
