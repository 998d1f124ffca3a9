// Builders the billing unit tests share (no production code imports this module).
import type { Price, PriceSpec } from "../schema/price.ts";

/** A Price in namespace "team-a": default target Provider "cpus", EUR, 2026 onwards. */
export function price(name: string, spec: Partial<PriceSpec> = {}, namespace = "team-a"): Price {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "Price",
    metadata: { name, namespace, generation: 1 },
    spec: { targetRef: { kind: "Provider", name: "cpus" }, currency: "EUR", rates: { cpuCoreHour: "0.05" }, validFrom: "2026-01-01T00:00:00Z", ...spec },
  };
}

export const at = (iso: string): Date => new Date(iso);
