import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import { keepTrying, ownPrefix, runArtifactsPrefix } from "./runArtifacts.ts";

describe("a deleted run's artifacts", () => {
  const deletedAt = "2026-12-03T10:00:00Z";
  const at = (iso: string): number => Date.parse(iso);

  it("are the objects under the run's Workflow, not another Workflow's whose name starts the same", () => {
    assert.equal(runArtifactsPrefix("pipelineruns", "greet"), "pipelineruns/greet/");
    assert.ok(!"pipelineruns/greeting/write/out".startsWith(runArtifactsPrefix("pipelineruns", "greet")));
  });

  it("are retried while the repository does not answer, until ten minutes after the deletion", () => {
    const unreachable = new Error("connect ECONNREFUSED 127.0.0.1:8333");
    assert.equal(keepTrying(unreachable, deletedAt, at("2026-12-03T10:09:59Z"), 600_000), true);
    assert.equal(keepTrying(unreachable, deletedAt, at("2026-12-03T10:10:00Z"), 600_000), false);
    assert.equal(keepTrying(unreachable, new Date(deletedAt), at("2026-12-03T10:00:30Z"), 600_000), true);
  });

  it("are given up at once when the repository's Secret or ConfigMap is gone (the namespace is being deleted)", () => {
    const gone = new ApiException(404, "secrets \"artifacts\" not found", {}, {});
    assert.equal(keepTrying(gone, deletedAt, at("2026-12-03T10:00:01Z"), 600_000), false);
  });

  describe("which of them are the run's alone", () => {
    const run = (namespace: string, name: string, ran = true): PipelineRun => ({ apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { namespace, name }, spec: { steps: [] }, ...(ran ? { status: { workflowRef: { name } } } : {}) }) as unknown as PipelineRun;

    it("the whole prefix of a run that ran its Workflow", () => {
      const greet = run("a", "greet");
      assert.deepEqual(ownPrefix(greet, [greet, run("a", "other"), run("b", "greeting")], "pipelineruns/greet/"), { prefix: "pipelineruns/greet/" });
    });

    it("only the inputs it staged, for a run that never ran its own Workflow", () => {
      const greet = run("a", "greet", false);
      assert.deepEqual(ownPrefix(greet, [greet], "pipelineruns/greet/"), { prefix: "pipelineruns/greet/inputs/" });
    });

    it("nothing, while a same-named run of another namespace writes under the same prefix", () => {
      const greet = run("a", "greet");
      assert.deepEqual(ownPrefix(greet, [greet, run("b", "greet")], "pipelineruns/greet/"), { sharedWith: "b/greet" });
    });
  });
});
