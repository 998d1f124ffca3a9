import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { PipelineRun, PipelineRunSpec } from "../schema/pipelineRun.ts";
import { placementPlan } from "./placement.ts";
import { keptPreludeShown, preludeName, preludeShown, preludeSplit, whilePrelude, withPreludeShown } from "./preludeRun.ts";
import { splitAcrossClusters } from "./crossCluster.ts";

const runOf = (spec: PipelineRunSpec, name = "mixed"): PipelineRun => ({ apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { name, namespace: "team", uid: "u-1" }, spec });
const planOf = (spec: PipelineRunSpec): Parameters<typeof preludeSplit>[1] => {
  const plan = placementPlan(spec);
  assert.ok(plan.ok);
  return plan.steps;
};

// Here: scribe → (oslo) check → here: stamp; `tidy` feeds scribe, `note` reads scribe after the peers.
const spec: PipelineRunSpec = {
  job: { greeting: "hi" },
  inputs: [{ name: "dem", resourceRef: { name: "elevation" } }, { name: "other", resourceRef: { name: "notes" } }],
  steps: [
    { name: "tidy", serviceRef: { name: "tidier" }, in: { text: "dem" }, placement: { strategy: "ComputeToData" } },
    { name: "scribe", serviceRef: { name: "writer" }, in: { message: "greeting", t: "tidy/out" } },
    { name: "check", serviceRef: { name: "checker", peer: "oslo" }, in: { text: "scribe/out" } },
    { name: "stamp", serviceRef: { name: "stamper" }, in: { text: "check/stamped", first: "scribe/out", o: "other" } },
  ],
  outputs: [{ name: "scribbled", source: "scribe/out", storageRef: { name: "results" } }, { name: "stamped", source: "stamp/stamped" }],
  budget: { amount: "5", currency: "EUR" },
};

describe("preludeRun: steps here that steps on peers read run first", () => {
  it("finds the steps here the peers' steps read (and those they read), as a run of their own; the rest reads their outputs as inputs", () => {
    const split = preludeSplit(runOf(spec), planOf(spec));
    assert.ok(split && !("message" in split), split && "message" in split ? split.message : "no prelude");
    assert.deepEqual(split.steps, ["tidy", "scribe"]);
    assert.deepEqual(split.spec.steps.map((s) => [s.name, s.in, s.placement]), [["tidy", { text: "dem" }, undefined], ["scribe", { message: "greeting", t: "tidy/out" }, undefined]]);
    assert.deepEqual(split.spec.placement, { strategy: "Local" });
    assert.deepEqual(split.spec.inputs, [{ name: "dem", resourceRef: { name: "elevation" } }], "the prelude gets the data its steps read");
    assert.deepEqual(split.spec.outputs, [{ name: "scribe_out", source: "scribe/out" }, { name: "scribbled", source: "scribe/out", storageRef: { name: "results" } }], "what the rest reads, and the run's own outputs it makes");
    assert.equal(split.spec.budget, undefined);
    assert.deepEqual(split.fromHere, [{ input: "here_scribe_out", output: "scribe_out", source: "scribe/out" }], "one input per output read, however many read it");
    assert.deepEqual(split.rest.steps.map((s) => [s.name, s.in]), [["check", { text: "here_scribe_out" }], ["stamp", { text: "check/stamped", first: "here_scribe_out", o: "other" }]]);
    assert.deepEqual(split.rest.inputs, [{ name: "other", resourceRef: { name: "notes" } }]);
    assert.deepEqual(split.rest.outputs, [{ name: "stamped", source: "stamp/stamped" }]);
    assert.deepEqual(split.rest.budget, spec.budget);
  });

  it("the rest splits as any run across clusters: the peer's part awaits the prelude's output, the steps here after it read it as an input", () => {
    const split = preludeSplit(runOf(spec), planOf(spec));
    assert.ok(split && !("message" in split));
    const restPlan = planOf(spec).filter((p) => !split.steps.includes(p.step));
    const across = splitAcrossClusters(split.rest, restPlan, new Map(split.fromHere.map((f) => [f.input, f.output])));
    assert.ok(!("message" in across), "message" in across ? across.message : "");
    assert.deepEqual(across.peers[0]?.part.awaits, [{ input: "here_scribe_out", output: "scribe_out" }]);
    assert.deepEqual(across.local.steps[0]?.in, { text: "peer_check_stamped", first: "here_scribe_out", o: "other" });
  });

  it("no prelude when no step on a peer reads a step here; refused when a step here would run between the peers' parts, naming the field", () => {
    const plain: PipelineRunSpec = { steps: [{ name: "w", serviceRef: { name: "writer", peer: "oslo" } }, { name: "s", serviceRef: { name: "stamper" }, in: { t: "w/out" } }] };
    assert.equal(preludeSplit(runOf(plain), planOf(plain)), undefined);
    const between: PipelineRunSpec = {
      steps: [
        { name: "w", serviceRef: { name: "writer", peer: "oslo" } },
        { name: "s", serviceRef: { name: "stamper" }, in: { t: "w/out" } },
        { name: "c", serviceRef: { name: "checker", peer: "lyon" }, in: { t: "s/stamped" } },
      ],
    };
    const refused = preludeSplit(runOf(between), planOf(between));
    assert.ok(refused && "message" in refused);
    assert.match(refused.message, /^spec\.steps\[1\]\.in\.t: step s runs here and reads w\/out of step w on peer oslo, and a step on a peer reads what s makes/);
  });

  it("names the prelude run after the run, within 63 characters, the same each time", () => {
    assert.equal(preludeName(runOf(spec)), "mixed-first");
    const long = preludeName(runOf(spec, "a".repeat(70)));
    assert.ok(long.length <= 63);
    assert.equal(long, preludeName(runOf(spec, "a".repeat(70))));
  });

  it("the run shows the prelude's steps beside its own and says what holds it: running, blocked, failed", () => {
    const first: PipelineRun = {
      ...runOf({ steps: [] }, "mixed-first"),
      status: { phase: "Running", progress: "1/2", steps: [{ name: "tidy", phase: "Succeeded", cluster: "isle-1" }], outputs: [{ name: "scribbled", location: "s3://b/k" }, { name: "scribe_out", location: "s3://b/o" }] },
    };
    const shown = preludeShown(first, { steps: ["tidy", "scribe"] }, ["scribbled"], "isle-1");
    assert.deepEqual(shown.steps.map((s) => [s.name, s.phase, s.cluster]), [["tidy", "Succeeded", "isle-1"], ["scribe", "Pending", "isle-1"]]);
    assert.deepEqual(shown.outputs, [{ name: "scribbled", location: "s3://b/k" }], "only the run's own outputs");
    const merged = withPreludeShown({ steps: [{ name: "check", phase: "Pending" as const }], progress: "0/1" }, shown);
    assert.deepEqual([merged.steps.map((s) => s.name), merged.progress], [["tidy", "scribe", "check"], "1/3"]);
    assert.deepEqual(withPreludeShown({ progress: "1/1" }, shown), { progress: "1/1" }, "a write without steps is left as it is");
    // Once the prelude run is gone, what the run's status showed of it stays.
    const ended: PipelineRun = { ...runOf(spec), status: { steps: [{ name: "tidy", phase: "Succeeded" }, { name: "check", phase: "Succeeded" }], outputs: [{ name: "scribbled", location: "s3://r/k" }, { name: "stamped", location: "s3://r/s" }] } };
    const kept = keptPreludeShown(ended, { steps: ["tidy", "scribe"] }, ["scribbled"]);
    assert.deepEqual([kept.steps.map((s) => s.name), kept.outputs.map((o) => o.name)], [["tidy"], ["scribbled"]]);
    assert.match(whilePrelude(first).ready.message, /^run mixed-first runs the steps here that steps on peers read first \(1\/2 steps succeeded\)/);
    const blocked = whilePrelude({ ...first, status: { conditions: [{ type: "Ready", status: "False", reason: "ServiceNotFound", message: "no writer", lastTransitionTime: "2026-12-05T00:00:00Z" }] } });
    assert.deepEqual([blocked.ready.status, blocked.ready.reason, blocked.succeeded.status], ["False", "ServiceNotFound", "Unknown"]);
    const failed = whilePrelude({ ...first, status: { finishedAt: "2026-12-05T00:01:00Z", conditions: [{ type: "Succeeded", status: "False", reason: "StepFailed", message: 'step "scribe" failed', lastTransitionTime: "2026-12-05T00:00:00Z" }] } });
    assert.deepEqual([failed.phase, failed.succeeded.status, failed.succeeded.reason, failed.finishedAt], ["Failed", "False", "StepFailed", "2026-12-05T00:01:00Z"]);
    assert.match(failed.succeeded.message, /failed: step "scribe" failed; nothing was asked of the peers$/);
  });
});
