// Provider specs for the API tests: two valid ones and invalid ones with the field each must name.
import type { ProviderSpec } from "../../../operators/schema/provider.ts";

export const validProviderSpec: ProviderSpec = { type: "compute", compute: { capacity: { cpu: "4", memory: "8Gi" } } };

export const otherValidProviderSpec: ProviderSpec = {
  type: "compute",
  displayName: "Lab cluster",
  compute: { capacity: { cpu: "8", memory: "16Gi" }, overcommit: { cpu: "1.5" } },
};

/** `by`: who catches it — the API's schema validation (400) or Kubernetes (422, CEL rules). */
export const invalidProviderSpec: { spec: unknown; field: string; by: "schema" | "kubernetes" }[] = [
  { spec: { type: "gpu" }, field: "spec.type", by: "schema" },
  { spec: { type: "compute", compute: { capacity: { cpu: "4" } } }, field: "spec.compute.capacity.memory", by: "schema" },
  { spec: { type: "compute", compute: { capacity: { cpu: "four", memory: "8Gi" } } }, field: "spec.compute.capacity.cpu", by: "schema" },
  { spec: { type: "compute", compute: {}, colour: "blue" }, field: "spec.colour", by: "schema" },
  // The type-specific block must match the type: a cross-field CEL rule only Kubernetes checks.
  { spec: { type: "compute" }, field: "spec.compute", by: "kubernetes" },
];
