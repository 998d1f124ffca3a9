import assert from "node:assert/strict";
import type { Resource } from "../schema/resource.ts";
import { admitComputeResources, computeStatusOf, type NodeLike, providerCapacity, reservedNow } from "./computeCapacity.ts";
import { parseQuantity } from "./quantity.ts";

const node = (name: string, cpu: string, memory: string, extra: { labels?: Record<string, string>; unschedulable?: boolean } = {}): NodeLike => ({
  metadata: { name, labels: extra.labels ?? {} },
  spec: { unschedulable: extra.unschedulable ?? false },
  status: { allocatable: { cpu, memory, pods: "110" } },
});

const compute = (name: string, cpu: string, memory: string, created: string): Resource => ({
  apiVersion: "archipel.io/v1alpha1",
  kind: "Resource",
  metadata: { name, namespace: "ns", creationTimestamp: created },
  spec: { providerRef: { name: "p" }, type: "compute", title: name, visibility: "public", compute: { cpu, memory } },
});

describe("computeCapacity", () => {
  const nodes = [
    node("a", "4", "8Gi", { labels: { pool: "lab" } }),
    node("b", "3500m", "4Gi", { labels: { pool: "lab" } }),
    node("c", "64", "256Gi", { labels: { pool: "other" } }),
    node("d", "8", "8Gi", { labels: { pool: "lab" }, unschedulable: true }),
    node("admiralty", "100", "1Ti", { labels: { pool: "lab", type: "virtual-kubelet" } }),
  ];

  it("sums the allocatable of schedulable, non-virtual nodes matching the selector", () => {
    const c = providerCapacity({ nodeSelector: { pool: "lab" } }, nodes);
    assert.equal(c.source, "Nodes");
    assert.equal(c.nodeCount, 2);
    assert.equal(c.capacity.cpu, parseQuantity("7500m"));
    assert.equal(c.capacity.memory, parseQuantity("12Gi"));
    assert.deepEqual(c.allocatable, c.capacity);
  });

  it("uses the declared capacity when given, times the overcommit ratios", () => {
    const c = providerCapacity({ capacity: { cpu: "10", memory: "16Gi" }, overcommit: { cpu: "1.5", memory: "1.25" } }, nodes);
    assert.equal(c.source, "Declared");
    assert.equal(c.allocatable.cpu, parseQuantity("15"));
    assert.equal(c.allocatable.memory, parseQuantity("20Gi"));
  });

  it("admits first come, first served; one that does not fit takes nothing and names the field", () => {
    const c = providerCapacity({ capacity: { cpu: "4", memory: "8Gi" } }, []);
    const admission = admitComputeResources(c, [
      compute("late-small", "500m", "1Gi", "2026-01-01T00:00:03Z"),
      compute("big", "3", "4Gi", "2026-01-01T00:00:01Z"),
      compute("too-big", "2", "1Gi", "2026-01-01T00:00:02Z"),
    ]);
    assert.equal(admission.verdicts.get("big")?.admitted, true);
    const refused = admission.verdicts.get("too-big");
    assert.equal(refused?.admitted, false);
    assert.ok(refused && !refused.admitted && refused.reason === "InsufficientCapacity");
    assert.match(refused.message, /spec\.compute\.cpu 2 exceeds the provider's free CPU 1/);
    assert.doesNotMatch(refused.message, /spec\.compute\.memory/);
    assert.equal(admission.verdicts.get("late-small")?.admitted, true);
    assert.deepEqual(computeStatusOf(c, admission), {
      source: "Declared",
      capacity: { cpu: "4", memory: "8Gi" },
      allocatable: { cpu: "4", memory: "8Gi" },
      offered: { cpu: "3500m", memory: "5Gi" },
      reserved: { cpu: "0", memory: "0" },
      free: { cpu: "500m", memory: "3Gi" },
    });
  });

  it("subtracts Active Reservations from free (never below zero), and only Active ones", () => {
    const c = providerCapacity({ capacity: { cpu: "4", memory: "8Gi" } }, []);
    const admission = admitComputeResources(c, [compute("vm", "1", "2Gi", "2026-01-01T00:00:01Z")]);
    const reservations = [
      { spec: { cpu: "2", memory: "4Gi" }, status: { state: "Active" } },
      { spec: { cpu: "1", memory: "1Gi" }, status: { state: "Confirmed" } },
      { spec: { cpu: "500m", memory: "1Gi" }, status: { state: "Active" } },
    ];
    const status = computeStatusOf(c, admission, reservedNow(reservations));
    assert.deepEqual([status.reserved, status.free], [{ cpu: "2500m", memory: "5Gi" }, { cpu: "500m", memory: "1Gi" }]);
    const over = computeStatusOf(c, admission, reservedNow([{ spec: { cpu: "9", memory: "9Gi" }, status: { state: "Active" } }]));
    assert.deepEqual(over.free, { cpu: "0", memory: "0" });
  });

  it("orders same-second creations by name, so every reconcile agrees", () => {
    const c = providerCapacity({ capacity: { cpu: "1", memory: "1Gi" } }, []);
    const t = "2026-01-01T00:00:00Z";
    const a = admitComputeResources(c, [compute("b", "1", "1Gi", t), compute("a", "1", "1Gi", t)]);
    const b = admitComputeResources(c, [compute("a", "1", "1Gi", t), compute("b", "1", "1Gi", t)]);
    assert.equal(a.verdicts.get("a")?.admitted, true);
    assert.equal(a.verdicts.get("b")?.admitted, false);
    assert.deepEqual([...a.verdicts.entries()].sort(), [...b.verdicts.entries()].sort());
  });

  it("refuses an unparsable request as InvalidSpec without counting it", () => {
    const c = providerCapacity({ capacity: { cpu: "1", memory: "1Gi" } }, []);
    const a = admitComputeResources(c, [compute("bad", "lots", "1Gi", "2026-01-01T00:00:00Z")]);
    const v = a.verdicts.get("bad");
    assert.ok(v && !v.admitted && v.reason === "InvalidSpec");
    assert.match(v.message, /spec\.compute\.cpu "lots" is not a Kubernetes quantity/);
    assert.equal(a.free.cpu, parseQuantity("1"));
  });
});
