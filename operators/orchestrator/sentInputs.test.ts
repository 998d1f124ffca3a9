import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { awaitedInputsAnnotation, sentInputsAnnotation } from "../federation/peerRuns.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import { awaitedInputsOf, awaitedInputsProblem, awaitingOf, completionProblem, inputsAwaited, sentFilePath, sentFileProblem, sentInputValue, sentJob, withSentInput } from "./sentInputs.ts";

const sha = "a".repeat(64);
const served = (sent: Record<string, unknown>, awaited?: string): PipelineRun => ({
  apiVersion: "archipel.io/v1alpha1",
  kind: "PipelineRun",
  metadata: { namespace: "science", name: "isle-a-run-1", annotations: { ...(awaited === undefined ? {} : { [awaitedInputsAnnotation]: awaited }), [sentInputsAnnotation]: JSON.stringify(sent) } },
  spec: { steps: [{ name: "tag", serviceRef: { name: "tagger" }, in: { message: "peer_write_out" } }], job: { greeting: "hi" } },
});

describe("sentInputs: inputs a requester sends to the run it asked for", () => {
  it("a served run waits until every awaited input has a value in its job, naming the ones missing and the requester", () => {
    const waiting = served({}, "peer_write_out,peer_read_out");
    assert.deepEqual(awaitedInputsOf(waiting), ["peer_write_out", "peer_read_out"]);
    assert.deepEqual(awaitingOf(waiting), ["peer_write_out", "peer_read_out"]);
    const blocked = inputsAwaited(waiting, "isle-a");
    assert.equal(blocked?.reason, "InputsAwaited");
    assert.match(blocked?.message ?? "", /^waiting for peer isle-a to send inputs peer_write_out, peer_read_out /);
    const half = served({ peer_write_out: { class: "File", name: "greeting.txt" } }, "peer_write_out,peer_read_out");
    assert.deepEqual(awaitingOf(half), ["peer_read_out"]);
    assert.deepEqual(sentJob(half), { peer_write_out: { class: "File", location: "file:///cwl/inputs/peer_write_out/greeting.txt" } }, "what was sent becomes the job's value");
    const all = { ...half, metadata: { ...half.metadata, annotations: { ...half.metadata.annotations, [sentInputsAnnotation]: withSentInput(half, "peer_read_out", { class: "Directory", name: "tiles" }) } } };
    assert.equal(inputsAwaited(all, "isle-a"), undefined);
    assert.deepEqual(awaitingOf(all), []);
    assert.deepEqual(Object.keys(sentJob(all)), ["peer_write_out", "peer_read_out"]);
    // A record that is not one (hand-edited) counts as not sent: the run keeps waiting.
    assert.deepEqual(awaitingOf(served({ peer_write_out: { class: "File", name: "../x" } }, "peer_write_out")), ["peer_write_out"]);
    assert.deepEqual(awaitingOf({ ...waiting, metadata: { ...waiting.metadata, annotations: { [awaitedInputsAnnotation]: "peer_write_out", [sentInputsAnnotation]: "not json" } } }), ["peer_write_out"]);
    assert.deepEqual(sentJob(served({ stray: { class: "File", name: "x" } }, "peer_write_out")), {}, "only awaited inputs become values");
    assert.equal(awaitingOf(served({})), undefined, "a run that awaits nothing says nothing");

    assert.equal(inputsAwaited(served({}), "isle-a"), undefined);
  });

  it("an input's value points where the pods find it; a Directory's files sit under its name", () => {
    assert.deepEqual(sentInputValue("peer_write_out", { class: "File", name: "greeting.txt" }), { class: "File", location: "file:///cwl/inputs/peer_write_out/greeting.txt" });
    assert.deepEqual(sentInputValue("peer_scan", { class: "Directory", name: "tiles" }), { class: "Directory", location: "file:///cwl/inputs/peer_scan/tiles" });
    assert.equal(sentFilePath({ class: "Directory", name: "tiles" }, { path: "a/b.tif" }), "tiles/a/b.tif");
    assert.equal(sentFilePath({ class: "File", name: "greeting.txt" }, { path: "greeting.txt" }), "greeting.txt");
  });

  it("refuses a file path that escapes the input's folder, and a size out of range, naming the query field", () => {
    assert.equal(sentFileProblem("tiles/a.tif", 10), undefined);
    assert.equal(sentFileProblem("../other/x", 1)?.field, "query.path");
    assert.equal(sentFileProblem("a//b", 1)?.field, "query.path");
    assert.equal(sentFileProblem("a", -1)?.field, "query.size");
    assert.equal(sentFileProblem("a", 6 * 1024 ** 3)?.field, "query.size");
  });

  it("a completion counts only when every file it names was stored with its size, and nothing else was", () => {
    const file = { class: "File" as const, name: "greeting.txt", files: [{ path: "greeting.txt", size: 5, sha256: sha }] };
    assert.equal(completionProblem(file, [{ path: "greeting.txt", size: 5 }]), undefined);
    assert.match(completionProblem(file, []) ?? "", /^body\.files\[0\]: greeting\.txt was not sent/);
    assert.match(completionProblem(file, [{ path: "greeting.txt", size: 4 }]) ?? "", /sent with 4 bytes, not 5/);
    assert.match(completionProblem(file, [{ path: "greeting.txt", size: 5 }, { path: "stray", size: 1 }]) ?? "", /stray was sent but is not named/);
    assert.match(completionProblem({ ...file, files: [{ path: "other.txt", size: 5, sha256: sha }] }, []) ?? "", /a File is one file, whose path is its name/);
    assert.match(completionProblem({ ...file, name: "../x" }, []) ?? "", /^body\.name:/);
    const dir = { class: "Directory" as const, name: "tiles", files: [{ path: "a/1.tif", size: 2, sha256: sha }, { path: "2.tif", size: 3, sha256: sha }] };
    assert.equal(completionProblem(dir, [{ path: "tiles/a/1.tif", size: 2 }, { path: "tiles/2.tif", size: 3 }]), undefined);
    assert.match(completionProblem({ ...dir, files: [...dir.files, { path: "2.tif", size: 3, sha256: sha }] }, []) ?? "", /named twice/);
    assert.match(completionProblem({ ...dir, files: [{ path: "../1.tif", size: 2, sha256: sha }] }, []) ?? "", /^body\.files\[0\]\.path:/);
  });

  it("a request's awaited inputs are read by its steps and have no other value", () => {
    const steps = [{ name: "tag", service: "tagger", in: { message: "peer_write_out" } }];
    assert.equal(awaitedInputsProblem({ steps, awaitedInputs: ["peer_write_out"] }), undefined);
    assert.deepEqual(awaitedInputsProblem({ steps, awaitedInputs: ["peer_write_out", "unread"] })?.field, "body.awaitedInputs[1]");
    assert.match(awaitedInputsProblem({ steps, awaitedInputs: ["peer_write_out"], job: { peer_write_out: "x" } })?.message ?? "", /has a value in body\.job already/);
    assert.match(awaitedInputsProblem({ steps, awaitedInputs: ["peer_write_out"], inputs: [{ name: "peer_write_out", resource: "d" }] })?.message ?? "", /is a data input/);
  });
});
