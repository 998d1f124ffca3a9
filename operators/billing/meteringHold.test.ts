import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { controllerMarks } from "../runtime/ownerReferences.ts";
import { holdLiftable, meteringHold, orphanedHolds } from "./meteringHold.ts";

const run = (uid: string): KubernetesObject => ({ apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { namespace: "opened", name: "greet", uid } });

function workflow(owner: KubernetesObject, change: (m: NonNullable<KubernetesObject["metadata"]>) => void = () => {}): KubernetesObject {
  const metadata = { namespace: "archipel-rsv-0123456789abcdef", name: "greet", finalizers: [meteringHold], ...controllerMarks(owner, "archipel-rsv-0123456789abcdef") };
  change(metadata);
  return { apiVersion: "argoproj.io/v1alpha1", kind: "Workflow", metadata };
}

describe("the metering hold on a served run's Workflow", () => {
  const deleting = (m: NonNullable<KubernetesObject["metadata"]>): void => {
    m.deletionTimestamp = new Date("2026-12-04T23:00:00Z");
  };

  it("is lifted once the Workflow is being deleted and no finished step waits for Argo's measure", () => {
    assert.equal(holdLiftable(workflow(run("u1"), deleting), { pending: [] }), true);
    assert.equal(holdLiftable(workflow(run("u1")), { pending: [] }), false, "not while the Workflow stays: its steps may still finish");
    assert.equal(holdLiftable(workflow(run("u1"), deleting), { pending: ["say"] }), false);
    assert.equal(holdLiftable(workflow(run("u1"), (m) => { deleting(m); m.finalizers = ["other"]; }), { pending: [] }), false, "no hold of ours: nothing to lift");
  });

  it("is lifted from Workflows no live run meters: the run gone or made again under its name", () => {
    const old = workflow(run("u-old"));
    const current = workflow(run("u-new"));
    const key = { namespace: "opened", name: "greet" };
    assert.deepEqual(orphanedHolds([old, current], key, "u-new"), [old]);
    assert.deepEqual(orphanedHolds([old, current], key, undefined), [old, current], "the run is gone: nothing more of it can be metered");
  });

  it("is never lifted for another run's Workflow, or one without the hold", () => {
    const other = workflow({ ...run("u2"), metadata: { namespace: "opened", name: "other", uid: "u2" } });
    const elsewhere = workflow({ ...run("u3"), metadata: { namespace: "another", name: "greet", uid: "u3" } });
    const unheld = workflow(run("u4"), (m) => { m.finalizers = []; });
    assert.deepEqual(orphanedHolds([other, elsewhere, unheld], { namespace: "opened", name: "greet" }, undefined), []);
  });
});
