import assert from "node:assert/strict";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { Resource } from "../schema/resource.ts";
import { serviceVerdict, unsupported } from "./serviceResolution.ts";

function run(spec: Partial<PipelineRun["spec"]> = {}): PipelineRun {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "PipelineRun",
    metadata: { name: "r", namespace: "team-a" },
    spec: { steps: [{ name: "a", serviceRef: { name: "tool" } }], ...spec },
  };
}

function service(overrides: { ready?: "True" | "False"; generation?: number; observed?: number; type?: Resource["spec"]["type"]; image?: string } = {}): Resource {
  const type = overrides.type ?? "service";
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "Resource",
    metadata: { name: "tool", namespace: "team-a", generation: overrides.generation ?? 2 },
    spec: { providerRef: { name: "p" }, type, title: "t", visibility: "private", ...(type === "service" ? { service: { cwl: { document: {} } } } : { data: { url: "https://x" } as never }) },
    status: {
      observedGeneration: overrides.observed ?? 2,
      conditions: [{ type: "Ready", status: overrides.ready ?? "True", reason: overrides.ready === "False" ? "InvalidCWL" : "Available", message: "m", lastTransitionTime: "2026-01-01T00:00:00Z" }],
      service: { cwlVersion: "v1.2", class: "CommandLineTool", inputs: [], outputs: [], ...(overrides.image === "" ? {} : { image: overrides.image ?? "img:1" }) },
    },
  };
}

describe("serviceResolution", () => {
  const here = { kind: "local" } as const;
  const peer = { kind: "peer", peer: "lyon-1" } as const;

  it("lets a Local run of this namespace's services through, and a run in a local Reservation", () => {
    assert.equal(unsupported(run(), here), undefined);
    assert.equal(unsupported(run({ placement: { strategy: "Local" } }), here), undefined);
    assert.equal(unsupported(run({ placement: { strategy: "Local", reservationRef: { name: "r" } } }), here), undefined);
  });

  it("names what this slice cannot do yet, with its reason", () => {
    assert.equal(unsupported(run({ steps: [{ name: "a", serviceRef: { name: "t", namespace: "other" } }] }), here)?.reason, "CrossNamespaceNotSupported");
    assert.equal(unsupported(run({ steps: [{ name: "a", serviceRef: { name: "t", namespace: "team-a" } }] }), here), undefined);
    // On a peer, the namespace is the peer's, not ours.
    assert.equal(unsupported(run({ steps: [{ name: "a", serviceRef: { name: "t", namespace: "other", peer: "lyon-1" } }] }), peer), undefined);
    // Data is read on its own cluster: here for data here, on the peer for the peer's data.
    assert.equal(unsupported(run({ inputs: [{ name: "scenes", resourceRef: { name: "s2" } }] }), here), undefined);
    assert.equal(unsupported(run({ inputs: [{ name: "scenes", resourceRef: { name: "s2", peer: "lyon-1" } }] }), peer), undefined);
    assert.match(unsupported(run({ inputs: [{ name: "scenes", resourceRef: { name: "s2", peer: "lyon-1" } }] }), here)?.message ?? "", /^spec\.inputs\[0\]\.resourceRef: the data is on peer lyon-1 and the steps run here; .*ComputeToData/);
    assert.equal(unsupported(run({ inputs: [{ name: "scenes", resourceRef: { name: "s2" } }] }), peer)?.reason, "DataInputsNotSupported");
    // Outputs of steps on a peer are copied to storage here once the peer's run has succeeded.
    assert.equal(unsupported(run({ outputs: [{ name: "o", source: "a/x", storageRef: { name: "bucket" } }] }), peer), undefined);
    assert.match(unsupported(run({ steps: [{ name: "a", serviceRef: { name: "t" }, placement: { reservationRef: { name: "r" } } }] }), here)?.message ?? "", /^spec\.steps\[0\]\.placement\.reservationRef: /);
    assert.equal(unsupported(run({ placement: { reservationRef: { name: "r", peer: "lyon-1" } } }), here)?.reason, "PlacementNotSupported");
    assert.equal(unsupported(run({ placement: { strategy: "Explicit", peer: "lyon-1", reservationRef: { name: "r" } } }), peer)?.reason, "PlacementNotSupported");
  });

  it("needs the service Resource to exist, be a service, be Ready for its generation and name its image", () => {
    const at = "spec.steps[0].serviceRef";
    assert.equal(serviceVerdict(service(), "tool", at), undefined);
    assert.deepEqual(serviceVerdict(undefined, "tool", at), { reason: "ServiceNotFound", message: 'spec.steps[0].serviceRef: Resource "tool" does not exist in this namespace' });
    assert.deepEqual(serviceVerdict(service({ type: "data" }), "tool", at), { reason: "NotAService", message: "spec.steps[0].serviceRef: Resource tool is not a service (its type is data)" });
    assert.deepEqual(serviceVerdict(service({ ready: "False" }), "tool", at), { reason: "ServiceNotReady", message: "spec.steps[0].serviceRef: service Resource tool is not Ready (InvalidCWL: m)" });
    assert.deepEqual(serviceVerdict(service({ generation: 3 }), "tool", at), { reason: "ServiceNotReady", message: "spec.steps[0].serviceRef: service Resource tool is not Ready (not checked yet)" });
    assert.equal(serviceVerdict(service({ image: "" }), "tool", at)?.reason, "ServiceNotReady");
  });
});
