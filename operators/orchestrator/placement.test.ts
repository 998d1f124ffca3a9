import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { PipelineRunSpec } from "../schema/pipelineRun.ts";
import { placementPlan } from "./placement.ts";

const spec = (over: Partial<PipelineRunSpec> = {}): PipelineRunSpec => ({ steps: [{ name: "a", serviceRef: { name: "tool" } }], ...over });

describe("placementPlan", () => {
  it("places a step here by default, and says why", () => {
    const plan = placementPlan(spec());
    assert.deepEqual(plan, { ok: true, steps: [{ step: "a", site: { kind: "local" }, reason: "Local: this cluster" }] });
  });

  it("runs a peer's service on that peer, whatever the strategy", () => {
    const plan = placementPlan(spec({ steps: [{ name: "a", serviceRef: { name: "tool", peer: "lyon" } }] }));
    assert.ok(plan.ok);
    assert.deepEqual(plan.steps[0]?.site, { kind: "peer", peer: "lyon" });
    assert.equal(plan.steps[0]?.reason, "serviceRef.peer: the service tool is on peer lyon");
  });

  it("Explicit names the peer; a service of another peer is refused naming the field", () => {
    const ok = placementPlan(spec({ placement: { strategy: "Explicit", peer: "lyon" } }));
    assert.ok(ok.ok);
    assert.deepEqual(ok.steps[0]?.site, { kind: "peer", peer: "lyon" });
    const clash = placementPlan(spec({ steps: [{ name: "a", serviceRef: { name: "tool", peer: "nice" }, placement: { strategy: "Explicit", peer: "lyon" } }] }));
    assert.equal(clash.ok, false);
    assert.match(!clash.ok ? clash.message : "", /^spec\.steps\[0\]\.placement\.peer: lyon is not where the step's service is \(serviceRef\.peer nice\)/);
  });

  it("ComputeToData follows the data Resource the step reads; a step's own placement wins over the run's", () => {
    const inputs = [{ name: "scenes", resourceRef: { name: "s2", peer: "lyon" } }];
    const steps: PipelineRunSpec["steps"] = [
      { name: "read", serviceRef: { name: "ndvi", peer: "lyon" }, in: { images: "scenes" } },
      { name: "plot", serviceRef: { name: "plotter" }, in: { data: "read/out" }, placement: { strategy: "Local" } },
    ];
    const plan = placementPlan({ steps, inputs, placement: { strategy: "ComputeToData" } });
    assert.ok(plan.ok);
    assert.deepEqual(plan.steps.map((s) => s.site), [{ kind: "peer", peer: "lyon" }, { kind: "local" }]);
    assert.equal(plan.steps[0]?.reason, "ComputeToData: reads input scenes, data Resource s2 on peer lyon");
    // The data is on lyon but the service is here: refused, not silently run where the data is not.
    const here = placementPlan({ steps: [{ name: "read", serviceRef: { name: "ndvi" }, in: { images: "scenes" } }], inputs, placement: { strategy: "ComputeToData" } });
    assert.equal(here.ok, false);
    assert.match(!here.ok ? here.message : "", /^spec\.placement\.strategy: ComputeToData wants peer lyon/);
  });

  it("an Auto step not yet ranked is planned here, saying so", () => {
    const local = placementPlan(spec({ placement: { strategy: "Auto" } }));
    assert.ok(local.ok);
    assert.deepEqual(local.steps[0]?.site, { kind: "local" });
    assert.match(local.steps[0]?.reason ?? "", /not ranked/);
  });

  it("Auto follows its pin (status.autoPlacement), with the ranking's reason", () => {
    const plan = placementPlan(spec({ placement: { strategy: "Auto" } }), [{ step: "a", peer: "lyon", reason: "Auto: peer lyon: 0.10 EUR" }]);
    assert.ok(plan.ok);
    assert.deepEqual(plan.steps[0], { step: "a", site: { kind: "peer", peer: "lyon" }, reason: "Auto: peer lyon: 0.10 EUR" });
  });

  it("Admiralty keeps the step here with its cluster target; a peer's service is refused naming the field", () => {
    const plan = placementPlan(spec({ placement: { strategy: "Admiralty", clusterTarget: "lyon" } }));
    assert.ok(plan.ok);
    assert.deepEqual(plan.steps[0]?.site, { kind: "local" });
    assert.equal(plan.steps[0]?.clusterTarget, "lyon");
    assert.match(plan.steps[0]?.reason ?? "", /^Admiralty: .*cluster target lyon/);
    const peer = placementPlan(spec({ steps: [{ name: "a", serviceRef: { name: "tool", peer: "nice" }, placement: { strategy: "Admiralty", clusterTarget: "lyon" } }] }));
    assert.equal(peer.ok, false);
    assert.match(!peer.ok ? peer.message : "", /^spec\.steps\[0\]\.placement\.strategy: Admiralty .* service is on peer nice/);
  });
});
