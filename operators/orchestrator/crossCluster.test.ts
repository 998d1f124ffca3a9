import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { PipelineRunSpec } from "../schema/pipelineRun.ts";
import { peerPhaseOfMixedRun, splitAcrossClusters, withKept } from "./crossCluster.ts";
import { placementPlan } from "./placement.ts";
import type { RunObservation } from "./runStatus.ts";

const spec: PipelineRunSpec = {
  job: { greeting: "hi" },
  steps: [
    { name: "write", serviceRef: { name: "writer", peer: "lyon" }, in: { message: "greeting" } },
    { name: "shout", serviceRef: { name: "shouter" }, in: { text: "write/out" } },
  ],
  outputs: [
    { name: "raw", source: "write/out" },
    { name: "result", source: "shout/shouted" },
  ],
};
const planOf = (s: PipelineRunSpec): ReturnType<typeof placementPlan> & { ok: true } => {
  const plan = placementPlan(s);
  assert.ok(plan.ok);
  return plan;
};

describe("crossCluster", () => {
  it("splits a run into the peer's part and this cluster's, rewiring what crosses to a pipeline input", () => {
    const split = splitAcrossClusters(spec, planOf(spec).steps);
    assert.ok(!("message" in split));
    assert.deepEqual(split.peers.map((p) => p.peer), ["lyon"]);
    assert.deepEqual(split.peers[0]?.part.steps.map((s) => s.name), ["write"]);
    assert.deepEqual(split.peers[0]?.part.outputs, [{ name: "write_out", source: "write/out" }, { name: "raw", source: "write/out" }]);
    assert.deepEqual(split.local.steps, [{ name: "shout", serviceRef: { name: "shouter" }, in: { text: "peer_write_out" } }]);
    assert.deepEqual(split.local.outputs, [{ name: "result", source: "shout/shouted" }]);
    assert.deepEqual(split.transfers, [{ peer: "lyon", output: "write_out", source: "write/out", input: "peer_write_out" }]);
    assert.deepEqual(split.peerOutputs, [{ name: "raw", peer: "lyon" }]);
  });

  it("lets an output of a peer step go to storage here: the peer runs it, and it is kept as the peer's until copied", () => {
    const stored: PipelineRunSpec = { ...spec, outputs: [{ name: "raw", source: "write/out", storageRef: { name: "results" } }, { name: "result", source: "shout/shouted" }] };
    const split = splitAcrossClusters(stored, planOf(stored).steps);
    assert.ok(!("message" in split), "message" in split ? split.message : "");
    assert.deepEqual(split.peerOutputs, [{ name: "raw", peer: "lyon" }]);
    assert.ok(split.peers[0]?.part.outputs.some((o) => o.name === "raw"));
    assert.deepEqual(split.local.outputs, [{ name: "result", source: "shout/shouted" }]);
  });

  it("refuses a peer step that reads a step of this cluster, naming the field", () => {
    const back: PipelineRunSpec = { steps: [{ name: "first", serviceRef: { name: "a" } }, { name: "second", serviceRef: { name: "b", peer: "lyon" }, in: { x: "first/out" } }] };
    const split = splitAcrossClusters(back, planOf(back).steps);
    assert.match("message" in split ? split.message : "", /^spec\.steps\[1\]\.in\.x: step second runs on peer lyon and reads first\/out of step first, which runs here/);
  });

  const observation = (succeeded: "True" | "False" | "Unknown"): RunObservation => ({
    phase: succeeded === "True" ? "Succeeded" : "Running",
    progress: "1/1",
    finishedAt: "2026-12-02T10:00:00Z",
    steps: [{ name: "write", phase: "Succeeded", cluster: "isle-2", peer: "lyon" }],
    outputs: [{ name: "write_out", location: "s3://b/k" }, { name: "raw", location: "s3://b/r" }],
    ready: { type: "Ready", status: "True", reason: "Succeeded", message: "" },
    succeeded: { type: "Succeeded", status: succeeded, reason: "Succeeded", message: "" },
  });

  it("while the peer's part runs, its success is not the run's: the run goes on here", () => {
    const o = peerPhaseOfMixedRun(observation("True"), [{ name: "shout", phase: "Pending", cluster: "isle-1" }], ["raw"]);
    assert.deepEqual([o.phase, o.progress, o.succeeded.status, o.succeeded.reason, o.finishedAt], ["Running", "1/2", "Unknown", "PeerStepsSucceeded", undefined]);
    assert.deepEqual(o.outputs, [{ name: "raw", location: "s3://b/r" }], "only the run's own outputs, not what crosses");
    const failed = peerPhaseOfMixedRun({ ...observation("False"), phase: "Failed" }, [{ name: "shout", phase: "Pending" }], []);
    assert.equal(failed.succeeded.status, "False");
  });

  it("keeps the peer's steps and outputs beside this cluster's observation", () => {
    const local: RunObservation = { ...observation("True"), steps: [{ name: "shout", phase: "Succeeded", cluster: "isle-1" }], outputs: [{ name: "result", location: "s3://a/x" }] };
    const o = withKept(local, { steps: [{ name: "write", phase: "Succeeded", cluster: "isle-2", peer: "lyon" }], outputs: [{ name: "raw", location: "s3://b/r" }] });
    assert.deepEqual(o.steps.map((s) => [s.name, s.cluster]), [["write", "isle-2"], ["shout", "isle-1"]]);
    assert.equal(o.progress, "2/2");
    assert.deepEqual(o.outputs?.map((x) => x.name), ["raw", "result"]);
    assert.equal(o.succeeded.message, "all 2 steps succeeded: 1 on peers, 1 here");
  });

  it("sends inputs bound to the peer's data with the peer's part, keeps this cluster's here, and refuses a step here reading the peer's data", () => {
    const withData: PipelineRunSpec = {
      inputs: [
        { name: "scenes", resourceRef: { name: "s2", peer: "lyon" } },
        { name: "dem", resourceRef: { name: "elevation" } },
      ],
      steps: [
        { name: "read", serviceRef: { name: "reader", peer: "lyon" }, in: { text: "scenes" }, placement: { strategy: "ComputeToData" } },
        { name: "merge", serviceRef: { name: "merger" }, in: { a: "read/out", b: "dem" } },
      ],
    };
    const split = splitAcrossClusters(withData, planOf(withData).steps);
    assert.ok(!("message" in split));
    assert.deepEqual(split.peers[0]?.part.inputs, [{ name: "scenes", resource: "s2" }]);
    assert.deepEqual(split.local.inputs, [{ name: "dem", resourceRef: { name: "elevation" } }]);
    const wrong: PipelineRunSpec = { ...withData, steps: [withData.steps[0] as PipelineRunSpec["steps"][0], { name: "merge", serviceRef: { name: "merger" }, in: { a: "read/out", b: "scenes" } }] };
    const refused = splitAcrossClusters(wrong, planOf(wrong).steps);
    assert.ok("message" in refused);
    assert.match(refused.message, /^spec\.steps\[1\]\.in\.b: step merge runs here and reads input scenes, bound to a data Resource of peer lyon; .*ComputeToData/);
  });

  it("splits a run over two peers and this cluster: one part per peer, each peer's outputs brought here from it", () => {
    const fanIn: PipelineRunSpec = {
      inputs: [{ name: "scenes", resourceRef: { name: "s2", peer: "lyon" } }],
      steps: [
        { name: "read", serviceRef: { name: "reader", peer: "lyon" }, in: { text: "scenes" }, placement: { strategy: "ComputeToData" } },
        { name: "tag", serviceRef: { name: "tagger", peer: "oslo" } },
        { name: "tidy", serviceRef: { name: "tidier", peer: "oslo" }, in: { text: "tag/out" } },
        { name: "merge", serviceRef: { name: "merger" }, in: { a: "read/out", b: "tidy/out" } },
      ],
      outputs: [{ name: "tagged", source: "tag/out" }, { name: "merged", source: "merge/out" }],
    };
    const split = splitAcrossClusters(fanIn, planOf(fanIn).steps);
    assert.ok(!("message" in split), "message" in split ? split.message : "");
    assert.deepEqual(split.peers.map((p) => [p.peer, p.part.steps.map((s) => s.name)]), [["lyon", ["read"]], ["oslo", ["tag", "tidy"]]]);
    assert.deepEqual(split.peers[0]?.part.inputs, [{ name: "scenes", resource: "s2" }]);
    assert.equal(split.peers[1]?.part.inputs, undefined, "a peer is sent only its own data");
    assert.deepEqual(split.peers[1]?.part.outputs, [{ name: "tidy_out", source: "tidy/out" }, { name: "tagged", source: "tag/out" }]);
    assert.deepEqual(split.transfers.map((t) => [t.peer, t.source, t.input]), [["lyon", "read/out", "peer_read_out"], ["oslo", "tidy/out", "peer_tidy_out"]]);
    assert.deepEqual(split.local.steps, [{ name: "merge", serviceRef: { name: "merger" }, in: { a: "peer_read_out", b: "peer_tidy_out" } }]);
    assert.deepEqual(split.peerOutputs, [{ name: "tagged", peer: "oslo" }]);
  });

  it("relays an output of one peer's part to the step on another peer that reads it: that part awaits it as an input, the other sends it out", () => {
    const chain: PipelineRunSpec = {
      job: { greeting: "hi" },
      steps: [
        { name: "first", serviceRef: { name: "a", peer: "lyon" }, in: { m: "greeting" } },
        { name: "second", serviceRef: { name: "b", peer: "oslo" }, in: { x: "first/out", m: "greeting" } },
        { name: "third", serviceRef: { name: "c", peer: "oslo" }, in: { y: "second/out", z: "first/out" } },
        { name: "last", serviceRef: { name: "d" }, in: { w: "third/out", v: "first/out" } },
      ],
    };
    const split = splitAcrossClusters(chain, planOf(chain).steps);
    assert.ok(!("message" in split), "message" in split ? split.message : "");
    assert.deepEqual(split.relays, [{ from: "lyon", output: "first_out", source: "first/out", to: "oslo", input: "peer_first_out" }], "one relay per source and reading peer");
    const [lyon, oslo] = split.peers.map((p) => p.part);
    assert.deepEqual(lyon?.outputs, [{ name: "first_out", source: "first/out" }], "sent here and on under one name");
    assert.equal(lyon?.awaits, undefined);
    assert.deepEqual(oslo?.awaits, [{ input: "peer_first_out", from: "lyon", output: "first_out" }]);
    assert.deepEqual(oslo?.steps.map((s) => s.in), [{ x: "peer_first_out", m: "greeting" }, { y: "second/out", z: "peer_first_out" }], "a step reads what is relayed as an input, its own peer's steps as they are");
    assert.deepEqual(split.local.steps[0]?.in, { w: "peer_third_out", v: "peer_first_out" });
  });

  it("refuses peers whose parts would wait for each other's outputs, naming the field", () => {
    const loop: PipelineRunSpec = {
      steps: [
        { name: "first", serviceRef: { name: "a", peer: "lyon" } },
        { name: "second", serviceRef: { name: "b", peer: "oslo" }, in: { x: "first/out" } },
        { name: "third", serviceRef: { name: "c", peer: "lyon" }, in: { y: "second/out" } },
      ],
    };
    const refused = splitAcrossClusters(loop, planOf(loop).steps);
    assert.match("message" in refused ? refused.message : "", /^spec\.steps\[1\]\.in\.x: step second runs on peer oslo and reads first\/out of step first on peer lyon, whose part also waits for outputs of peer oslo's part/);
  });

  it("refuses a step on one peer that reads the data of another peer, naming the field", () => {
    const data: PipelineRunSpec = {
      inputs: [{ name: "scenes", resourceRef: { name: "s2", peer: "lyon" } }],
      steps: [{ name: "tag", serviceRef: { name: "tagger", peer: "oslo" }, in: { text: "scenes" } }, { name: "other", serviceRef: { name: "x", peer: "lyon" } }],
    };
    const wrongData = splitAcrossClusters(data, planOf(data).steps);
    assert.match("message" in wrongData ? wrongData.message : "", /^spec\.steps\[0\]\.in\.text: step tag runs on peer oslo and reads input scenes, bound to a data Resource of peer lyon/);
    const local: PipelineRunSpec = { inputs: [{ name: "dem", resourceRef: { name: "elevation" } }], steps: [{ name: "tag", serviceRef: { name: "tagger", peer: "oslo" }, in: { text: "dem" } }, { name: "other", serviceRef: { name: "x" } }] };
    const localData = splitAcrossClusters(local, planOf(local).steps);
    assert.match("message" in localData ? localData.message : "", /^spec\.steps\[0\]\.in\.text: step tag runs on peer oslo and reads input dem, bound to a data Resource of this cluster/);
  });
});
