import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { contentTypeOf, immutableCache, loadWebAssets, revalidateCache, webAssetResponse } from "./webAssets.ts";

describe("api web assets", () => {
  let root: string;
  before(() => {
    root = mkdtempSync(path.join(tmpdir(), "web-assets-"));
    mkdirSync(path.join(root, "assets"));
    writeFileSync(path.join(root, "index.html"), "<!doctype html><div id=root></div>");
    writeFileSync(path.join(root, "assets", "index-abc123.js"), "console.log(1)");
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("serves index.html at / to be revalidated, hashed assets for a year", () => {
    const assets = loadWebAssets(root);
    const index = webAssetResponse(assets, "/", undefined);
    assert.equal(index.status, 200);
    assert.equal(index.headers["cache-control"], revalidateCache);
    assert.equal(index.headers["content-type"], "text/html; charset=utf-8");
    const script = webAssetResponse(assets, "/assets/index-abc123.js", undefined);
    assert.equal(script.status, 200);
    assert.equal(script.headers["cache-control"], immutableCache);
    assert.equal(script.body.toString(), "console.log(1)");
    assert.match(script.headers["content-security-policy"] ?? "", /default-src 'self'/);
  });

  it("answers 304 when the ETag matches, 404 for a file not in the build", () => {
    const assets = loadWebAssets(root);
    const first = webAssetResponse(assets, "/", undefined);
    assert.equal(webAssetResponse(assets, "/", `W/"x", ${first.headers.etag}`).status, 304);
    assert.equal(webAssetResponse(assets, "/", '"other"').status, 200);
    assert.equal(webAssetResponse(assets, "/assets/missing.js", undefined).status, 404);
    assert.equal(webAssetResponse(assets, "/assets/../index.html", undefined).status, 404);
  });

  it("says how to build the UI when the folder is missing, never a blank page", () => {
    const answer = webAssetResponse(loadWebAssets(path.join(root, "absent")), "/", undefined);
    assert.equal(answer.status, 200);
    assert.match(String(answer.body), /make web/);
  });

  it("knows the content types of a Vite build", () => {
    assert.equal(contentTypeOf("a/b.css"), "text/css; charset=utf-8");
    assert.equal(contentTypeOf("x.svg"), "image/svg+xml");
    assert.equal(contentTypeOf("x.bin"), "application/octet-stream");
  });
});
