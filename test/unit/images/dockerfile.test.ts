import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dockerfileEquivalent, pauseVersion } from "../../../images/definitions.ts";

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(text: string): [string, string][] {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
    .map((l) => {
      const [word = "", ...rest] = l.trim().split(/\s+/);
      return [word.toUpperCase(), rest.join(" ")];
    });
}

describe("images: archipel.local/archipel holds what ./Dockerfile builds", () => {
  const dockerfile = instructions(readFileSync(new URL("../../../Dockerfile", import.meta.url), "utf8"));
  const all = (word: string): string[] => dockerfile.filter(([w]) => w === word).map(([, v]) => v);

  it("runs the same program, as the same user, from the same directory and environment", () => {
    assert.deepEqual(all("FROM"), [dockerfileEquivalent.from]);
    assert.deepEqual(all("WORKDIR"), [dockerfileEquivalent.workdir]);
    assert.deepEqual(all("ENV"), Object.entries(dockerfileEquivalent.env).map(([k, v]) => `${k}=${v}`));
    assert.deepEqual(all("USER"), [dockerfileEquivalent.user]);
    assert.deepEqual(all("ENTRYPOINT").map((v) => JSON.parse(v) as unknown), [dockerfileEquivalent.entrypoint]);
    assert.deepEqual(all("CMD").map((v) => JSON.parse(v) as unknown), [dockerfileEquivalent.cmd]);
  });

  it("installs the production dependencies from the same files, copies the same sources, then writes their JavaScript", () => {
    const steps = dockerfile.filter(([w]) => w === "COPY" || w === "RUN").map(([w, v]) => `${w} ${v}`);
    const sources = (v: string): string[] => v.split(" ").slice(0, -1);
    const [install, build] = steps.flatMap((s, i) => (s.startsWith("RUN ") ? [i] : []));
    assert.ok(install !== undefined && build !== undefined, "two RUN steps: npm ci, then the type stripping");
    assert.deepEqual(steps.slice(0, install).flatMap((s) => sources(s.slice(5))), dockerfileEquivalent.copyBeforeInstall);
    assert.equal(steps[install], `RUN ${dockerfileEquivalent.install}`);
    assert.deepEqual(steps.slice(install + 1, build).flatMap((s) => sources(s.slice(5))), [...dockerfileEquivalent.copyAfterInstall, dockerfileEquivalent.build.copy]);
    assert.equal(steps[build], `RUN ${dockerfileEquivalent.build.run}`);
    assert.equal(steps.length, build + 1);
  });

  it("uses Node's major version that hack/ensure-node pins", () => {
    const pinned = /^NODE_VERSION=(\d+)\./m.exec(readFileSync(new URL("../../../hack/ensure-node", import.meta.url), "utf8"))?.[1];
    assert.equal(`node:${pinned}-slim`, dockerfileEquivalent.from);
  });

  it("reads the pause version from Kubernetes' build/pause/Makefile", () => {
    assert.equal(pauseVersion("IMAGE = x\nTAG ?= 3.10.2\nREV = y\n"), "3.10.2");
    assert.throws(() => pauseVersion("TAG = 1"), /no `TAG \?=` line/);
  });
});
