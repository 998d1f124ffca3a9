import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import { keepTrying, runArtifactsPrefix } from "./runArtifacts.ts";

describe("a deleted run's artifacts", () => {
  const deletedAt = "2026-12-03T10:00:00Z";
  const at = (iso: string): number => Date.parse(iso);

  const run = (namespace: string, name: string, ran = true): PipelineRun => ({ apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { namespace, name }, spec: { steps: [] }, ...(ran ? { status: { workflowRef: { name } } } : {}) }) as unknown as PipelineRun;

  it("are the objects under the run's Workflow, not another Workflow's whose name starts the same", () => {
    assert.equal(runArtifactsPrefix("pipelineruns", run("a", "greet"), { namespace: "a", name: "greet" }), "pipelineruns/a/greet/");
    assert.ok(!"pipelineruns/a/greeting/write/out".startsWith(runArtifactsPrefix("pipelineruns", run("a", "greet"), { namespace: "a", name: "greet" })));
  });

  it("are not a same-named run's of another namespace", () => {
    assert.notEqual(runArtifactsPrefix("pipelineruns", run("a", "greet"), { namespace: "a", name: "greet" }), runArtifactsPrefix("pipelineruns", run("b", "greet"), { namespace: "b", name: "greet" }));
    assert.ok(!"pipelineruns/b/greet/write/out".startsWith(runArtifactsPrefix("pipelineruns", run("a", "greet"), { namespace: "a", name: "greet" })));
  });

  it("are under the Workflow's namespace: a served run's workspace, not the run's own namespace", () => {
    assert.equal(runArtifactsPrefix("pipelineruns", run("a", "greet"), { namespace: "archipel-rsv-0123456789abcdef", name: "greet" }), "pipelineruns/archipel-rsv-0123456789abcdef/greet/");
  });

  it("are only the inputs it staged, for a run that never ran its own Workflow (the name was taken)", () => {
    assert.equal(runArtifactsPrefix("pipelineruns", run("a", "greet", false), { namespace: "a", name: "greet" }), "pipelineruns/a/greet/inputs/");
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
});
