import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  compareTarPaths,
  contentTag,
  imageConfig,
  imageIndex,
  imageManifest,
  jsonBlob,
  linkHardlinks,
  mediaTypes,
  missingParents,
  paxRecord,
  sortEntries,
  tarEnd,
  tarHeader,
  tarPadding,
  type TarEntry,
} from "../../../images/oci.ts";

const file = (path: string, size = 3): TarEntry => ({ path, type: "file", mode: 0o644, uid: 0, gid: 0, size });

/** Reads back the members of an archive made of these headers (what `tar -tv` would list). */
function readTar(archive: Buffer): { name: string; type: string; size: number; mtime: number; mode: number; linkname: string }[] {
  const out: { name: string; type: string; size: number; mtime: number; mode: number; linkname: string }[] = [];
  let offset = 0;
  let pax: Record<string, string> = {};
  while (offset + 512 <= archive.length) {
    const block = archive.subarray(offset, offset + 512);
    if (block.every((b) => b === 0)) break;
    const field = (start: number, width: number): string => block.subarray(start, start + width).toString().replace(/\0.*$/s, "");
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    assert.equal(parseInt(field(148, 8), 8), sum, `checksum of ${field(0, 100)}`);
    const size = parseInt(field(124, 12), 8);
    const type = field(156, 1);
    const data = archive.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") {
      pax = Object.fromEntries([...data.toString().matchAll(/\d+ ([^=]+)=(.*)\n/g)].map((m) => [m[1] ?? "", m[2] ?? ""]));
      continue;
    }
    out.push({ name: pax.path ?? field(0, 100), type, size, mtime: parseInt(field(136, 12), 8), mode: parseInt(field(100, 8), 8), linkname: pax.linkpath ?? field(157, 100) });
    pax = {};
  }
  return out;
}

function archive(entries: TarEntry[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e, mtime));
    if (e.type === "file") parts.push(Buffer.alloc(e.size, 0x61), tarPadding(e.size));
  }
  return Buffer.concat([...parts, tarEnd()]);
}

describe("images/oci: tar", () => {
  it("orders paths bytewise, a directory before what it holds", () => {
    const sorted = sortEntries([file("usr/bin/z"), file("usr/bin"), file("usr/bin-old"), file("Usr"), file("usr")]).map((e) => e.path);
    assert.deepEqual(sorted, ["Usr", "usr", "usr/bin", "usr/bin-old", "usr/bin/z"]);
    assert.ok(compareTarPaths("a", "a/b") < 0);
  });

  it("adds the parent directories an entry list does not name, root-owned 0755", () => {
    const parents = missingParents([file("etc/ssl/certs/x.crt"), { ...file("etc"), type: "dir", mode: 0o700 }]);
    assert.deepEqual(parents.map((p) => [p.path, p.type, p.mode, p.uid]), [["etc/ssl", "dir", 0o755, 0], ["etc/ssl/certs", "dir", 0o755, 0]]);
  });

  it("writes headers that read back with their name, mode, size and the fixed mtime", () => {
    const entries: TarEntry[] = [
      { path: "bin", type: "symlink", mode: 0o777, uid: 0, gid: 0, size: 0, linkname: "usr/bin" },
      { path: "tmp", type: "dir", mode: 0o1777, uid: 0, gid: 0, size: 0 },
      { ...file("usr/bin/sudo", 5), mode: 0o4755 },
    ];
    const members = readTar(archive(entries, 1700000000));
    assert.deepEqual(members.map((m) => [m.name, m.type, m.mode, m.size, m.mtime, m.linkname]), [
      ["bin", "2", 0o777, 0, 1700000000, "usr/bin"],
      ["tmp/", "5", 0o1777, 0, 1700000000, ""],
      ["usr/bin/sudo", "0", 0o4755, 5, 1700000000, ""],
    ]);
  });

  it("carries long and non-ASCII names and link targets in pax records", () => {
    const long = `app/node_modules/${"x".repeat(120)}/index.js`;
    const members = readTar(archive([file(long), { path: "a/link", type: "symlink", mode: 0o777, uid: 0, gid: 0, size: 0, linkname: "../" + "y".repeat(110) }, file("données.txt")], 0));
    assert.deepEqual(members.map((m) => [m.name, m.linkname]), [[long, ""], ["a/link", "../" + "y".repeat(110)], ["données.txt", ""]]);
  });

  it("counts a pax record's own length digits", () => {
    for (const value of ["a", "b".repeat(90), "c".repeat(95), "d".repeat(995)]) {
      const record = paxRecord("path", value);
      assert.equal(Buffer.byteLength(record), Number(record.split(" ")[0]));
    }
  });

  it("is byte-identical for the same entries, and differs when the mtime does", () => {
    const entries = [file("a"), file("b/c", 700)];
    assert.deepEqual(archive(entries, 5), archive(entries, 5));
    assert.notDeepEqual(archive(entries, 5), archive(entries, 6));
  });

  it("rejects absolute or empty paths", () => {
    assert.throws(() => tarHeader(file("/etc/passwd"), 0), /must be relative/);
    assert.throws(() => tarHeader(file(""), 0), /must be relative/);
  });

  it("stores files sharing an inode once, the later ones as hard links to the first in tar order", () => {
    const linked = linkHardlinks([{ ...file("usr/bin/a"), inode: "1:7" }, { ...file("usr/bin/b"), inode: "1:8" }, { ...file("usr/bin/c"), inode: "1:7" }]);
    assert.deepEqual(linked.map((e) => [e.path, e.type, e.size, e.linkname]), [["usr/bin/a", "file", 3, undefined], ["usr/bin/b", "file", 3, undefined], ["usr/bin/c", "hardlink", 0, "usr/bin/a"]]);
  });
});

describe("images/oci: config, manifest, index", () => {
  const layer = { mediaType: mediaTypes.layerGzip, digest: `sha256:${"1".repeat(64)}`, size: 10 };

  it("has no timestamp or history in the config, only what runs and the diff ids", () => {
    const config = imageConfig({ user: "1000:1000", env: ["A=1"], entrypoint: ["node"], cmd: ["main.ts"], workingDir: "/app" }, [`sha256:${"2".repeat(64)}`]);
    assert.deepEqual(config, {
      architecture: "amd64",
      os: "linux",
      config: { User: "1000:1000", Env: ["A=1"], Entrypoint: ["node"], Cmd: ["main.ts"], WorkingDir: "/app" },
      rootfs: { type: "layers", diff_ids: [`sha256:${"2".repeat(64)}`] },
    });
    assert.doesNotMatch(JSON.stringify(config), /created|history/);
  });

  it("gives a blob the digest of its exact bytes", () => {
    const blob = jsonBlob({ b: 1, a: 2 }, mediaTypes.config);
    assert.equal(blob.bytes.toString(), '{"b":1,"a":2}');
    assert.equal(blob.descriptor.digest, `sha256:${createHash("sha256").update('{"b":1,"a":2}').digest("hex")}`);
    assert.equal(blob.descriptor.size, 13);
    assert.match(blob.descriptor.digest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(jsonBlob({ b: 1, a: 2 }, mediaTypes.config), blob);
  });

  it("lists the config and layers in the manifest", () => {
    const config = jsonBlob({}, mediaTypes.config).descriptor;
    assert.deepEqual(imageManifest(config, [layer]), { schemaVersion: 2, mediaType: mediaTypes.manifest, config, layers: [layer] });
  });

  it("names the manifest once per tag for ctr import (io.containerd.image.name) and OCI tools (ref.name)", () => {
    const manifest = jsonBlob(imageManifest(layer, [layer]), mediaTypes.manifest).descriptor;
    const index = imageIndex(manifest, "archipel.local/cwl-step", ["0123456789ab", "dev"]) as { manifests: { digest: string; platform: unknown; annotations: Record<string, string> }[] };
    assert.deepEqual(index.manifests.map((m) => m.annotations), [
      { "io.containerd.image.name": "archipel.local/cwl-step:0123456789ab", "org.opencontainers.image.ref.name": "0123456789ab" },
      { "io.containerd.image.name": "archipel.local/cwl-step:dev", "org.opencontainers.image.ref.name": "dev" },
    ]);
    assert.ok(index.manifests.every((m) => m.digest === manifest.digest));
    assert.deepEqual(index.manifests[0]?.platform, { architecture: "amd64", os: "linux" });
    assert.throws(() => imageIndex(manifest, "archipel.local/x", []), /at least one tag/);
  });

  it("tags by the first 12 hex digits of the manifest digest", () => {
    assert.equal(contentTag(`sha256:abcdef0123456789${"0".repeat(48)}`), "abcdef012345");
    assert.throws(() => contentTag("sha256:xyz"), /not a sha256 digest/);
  });
});
