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

/** Instructions split into stages, each starting at its FROM. */
function stages(all: [string, string][]): [string, string][][] {
  const out: [string, string][][] = [];
  for (const instruction of all) {
    if (instruction[0] === "FROM") out.push([]);
    out.at(-1)?.push(instruction);
  }
  return out;
}

/** COPY and RUN steps as `COPY a b dest` / `RUN command`. */
const steps = (stage: [string, string][]): string[] => stage.filter(([w]) => w === "COPY" || w === "RUN").map(([w, v]) => `${w} ${v}`);
/** The sources of a COPY step (all but its destination). */
const sources = (step: string): string[] => step.slice("COPY ".length).split(" ").slice(0, -1);

/** A stage shaped COPY… RUN (install) COPY… RUN (build) …: the sources copied around its two RUN steps. */
function installThenBuild(stage: [string, string][]): { copiedBefore: string[]; install?: string; copiedBetween: string[]; build?: string; after: string[] } {
  const s = steps(stage);
  const [install, build] = s.flatMap((step, i) => (step.startsWith("RUN ") ? [i] : []));
  assert.ok(install !== undefined && build !== undefined, `two RUN steps, an install then a build: ${s.join(" | ")}`);
  return { copiedBefore: s.slice(0, install).flatMap(sources), install: s[install], copiedBetween: s.slice(install + 1, build).flatMap(sources), build: s[build], after: s.slice(build + 1) };
}

describe("images: archipel.local/archipel holds what ./Dockerfile builds", () => {
  const dockerfile = instructions(readFileSync(new URL("../../../Dockerfile", import.meta.url), "utf8"));
  const [devStage = [], finalStage = [], ...extra] = stages(dockerfile);
  const all = (word: string): string[] => finalStage.filter(([w]) => w === word).map(([, v]) => v);
  const dev = dockerfileEquivalent.dev;

  it("has two stages: the build of what needs the development dependencies, then the image", () => {
    assert.equal(extra.length, 0);
    assert.equal(devStage[0]?.[1], `${dockerfileEquivalent.from} AS ${dev.stage}`);
    assert.equal(finalStage[0]?.[1], dockerfileEquivalent.from);
  });

  it("runs the same program, as the same user, from the same directory and environment", () => {
    assert.deepEqual(all("WORKDIR"), [dockerfileEquivalent.workdir]);
    assert.deepEqual(all("ENV"), Object.entries(dockerfileEquivalent.env).map(([k, v]) => `${k}=${v}`));
    assert.deepEqual(all("USER"), [dockerfileEquivalent.user]);
    assert.deepEqual(all("ENTRYPOINT").map((v) => JSON.parse(v) as unknown), [dockerfileEquivalent.entrypoint]);
    assert.deepEqual(all("CMD").map((v) => JSON.parse(v) as unknown), [dockerfileEquivalent.cmd]);
  });

  it("builds the web UI and the reduced Kubernetes client from the same lockfile with the development dependencies", () => {
    const s = installThenBuild(devStage);
    assert.deepEqual(s.copiedBefore, dockerfileEquivalent.copyBeforeInstall);
    assert.equal(s.install, `RUN ${dev.install}`);
    assert.deepEqual(s.copiedBetween, dev.copy);
    assert.equal(s.build, `RUN ${dev.build}`);
    assert.deepEqual(s.after, []);
  });

  it("installs the production dependencies from the same files, copies the same sources, writes their JavaScript, then takes the build stage's outputs", () => {
    const s = installThenBuild(finalStage);
    assert.deepEqual(s.copiedBefore, dockerfileEquivalent.copyBeforeInstall);
    assert.equal(s.install, `RUN ${dockerfileEquivalent.install}`);
    assert.deepEqual(s.copiedBetween, [...dockerfileEquivalent.copyAfterInstall, dockerfileEquivalent.build.copy]);
    assert.equal(s.build, `RUN ${dockerfileEquivalent.build.run}`);
    assert.deepEqual(s.after, dev.outputs.map((o) => `COPY --from=${dev.stage} ${dockerfileEquivalent.workdir}/${o.from} ${o.to}`));
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
