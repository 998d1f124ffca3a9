import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs, readJob } from "./main.ts";

describe("archipel-cwl-runner command line", () => {
  let dir: string;
  let linked: string;
  beforeEach(() => {
    // The suite as a user may reach it: through a symbolic link, under a name with a space.
    dir = mkdtempSync(join(tmpdir(), "cwl-cli-test-"));
    mkdirSync(join(dir, "real", "tests"), { recursive: true });
    writeFileSync(join(dir, "real", "tests", "job.yml"), "f: {class: File, location: data.txt}\n");
    linked = join(dir, "suite link");
    symlinkSync(join(dir, "real"), linked);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a job given as a file:// URI, keeping the directory the URI names", () => {
    const uri = pathToFileURL(join(linked, "tests", "job.yml")).href;
    assert.match(uri, /^file:\/\/.*suite%20link/);
    const { job, jobDir } = readJob(uri, "/nonexistent-working-directory");
    assert.deepEqual(job, { f: { class: "File", location: "data.txt" } });
    assert.equal(jobDir, join(linked, "tests"), "relative locations resolve beside the job, through the link the user named");
  });

  it("reads a job given as a path relative to the working directory", () => {
    const { job, jobDir } = readJob("tests/job.yml", linked);
    assert.deepEqual(job, { f: { class: "File", location: "data.txt" } });
    assert.equal(jobDir, join(linked, "tests"));
  });

  it("takes the tool and the job in the order cwltest passes them", () => {
    const options = parseArgs(["--outdir=/tmp/out", "--quiet", "file:///s/tests/t.cwl", "file:///s/tests/j.json"]);
    assert.deepEqual([options.outdir, options.quiet, options.tool, options.job], ["/tmp/out", true, "file:///s/tests/t.cwl", "file:///s/tests/j.json"]);
  });
});
