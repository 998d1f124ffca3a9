// What a step uses, in the units Prices charge (core-seconds, GiB-seconds, runs), from what a
// plan declares (requests × expected duration) or from what Argo measured (resourcesDuration).
// Pure and exact: quantities become bigint rationals, never floats.
import { parseQuantity, QuantityError } from "../catalog/quantity.ts";
import { add, type Exact, exact, MoneyError, mul, zero } from "./money.ts";

/** One step's consumption. */
export interface Usage {
  cpuCoreSeconds: Exact;
  memoryGiBSeconds: Exact;
  /** Step runs charged at spec.rates.perRun (1 per step). */
  runs: bigint;
}

/** Kubernetes requests of a step's container, as quantities ("500m", "2Gi"). */
export interface Requests {
  cpu?: string;
  memory?: string;
}

const nano = 1_000_000_000n;
const gibibyte = 1n << 30n;

/**
 * Argo v3's resourcesDuration denominators (ResourceQuantityDenominator in
 * pkg/apis/workflow/v1alpha1): cpu is counted in 1-core seconds, memory in 100Mi seconds, so
 * one memory unit is 100/1024 GiB. Other resources (storage, GPUs) have no rate here.
 */
export const argoMemoryUnitGiB: Exact = exact(100n, 1024n);

function quantity(text: string | undefined, field: string): bigint {
  if (text === undefined) return 0n;
  let value: bigint;
  try {
    value = parseQuantity(text, field);
  } catch (err) {
    if (err instanceof QuantityError) throw new MoneyError(err.message);
    throw err;
  }
  if (value < 0n) throw new MoneyError(`${field} ${JSON.stringify(text)} is negative`);
  return value;
}

const durationUnitsNs: Record<string, bigint> = { ns: 1n, us: 1_000n, ms: 1_000_000n, s: nano, m: 60n * nano, h: 3600n * nano };
const durationPart = /([0-9]+)(?:\.([0-9]+))?(ns|us|ms|s|m|h)/g;

/** A Go duration as the schema's Duration writes it ("1h30m", "1.5h", "90s") → exact seconds. */
export function parseDurationSeconds(text: string, field: string): Exact {
  const parts = [...text.matchAll(durationPart)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
    throw new MoneyError(`${field} ${JSON.stringify(text)} is not a duration; write it like 30s, 5m or 1h30m`);
  }
  return parts.reduce((sum, [, whole = "0", fraction = "", unit = "s"]) => {
    const ns = BigInt(`${whole}${fraction}`) * (durationUnitsNs[unit] ?? nano);
    return add(sum, exact(ns, 10n ** BigInt(fraction.length) * nano));
  }, zero);
}

/** finishedAt − startedAt in exact seconds (millisecond precision, what Date.parse keeps). */
export function secondsBetween(startedAt: string, finishedAt: string, field: string): Exact {
  const start = Date.parse(startedAt);
  const finish = Date.parse(finishedAt);
  if (Number.isNaN(start)) throw new MoneyError(`${field}.startedAt ${JSON.stringify(startedAt)} is not an RFC 3339 time`);
  if (Number.isNaN(finish)) throw new MoneyError(`${field}.finishedAt ${JSON.stringify(finishedAt)} is not an RFC 3339 time`);
  if (finish < start) throw new MoneyError(`${field}.finishedAt ${finishedAt} is before ${field}.startedAt ${startedAt}`);
  return exact(BigInt(finish - start), 1000n);
}

/** requests held for `seconds`, one run. `field` prefixes errors (e.g. "steps[0]"). */
export function usageFromRequests(requests: Requests, seconds: Exact, field: string): Usage {
  const cores = exact(quantity(requests.cpu, `${field}.requests.cpu`), nano);
  const gib = exact(quantity(requests.memory, `${field}.requests.memory`), nano * gibibyte);
  return { cpuCoreSeconds: mul(cores, seconds), memoryGiBSeconds: mul(gib, seconds), runs: 1n };
}

/** Argo's per-node resourcesDuration ({cpu: core-seconds, memory: 100Mi-seconds}), one run. */
export function usageFromResourcesDuration(resourcesDuration: Readonly<Record<string, number>>, field: string): Usage {
  const units = (name: string): bigint => {
    const v = resourcesDuration[name] ?? 0;
    if (!Number.isSafeInteger(v) || v < 0) throw new MoneyError(`${field}.resourcesDuration.${name} ${String(v)} is not a non-negative whole number of seconds`);
    return BigInt(v);
  };
  return { cpuCoreSeconds: exact(units("cpu")), memoryGiBSeconds: mul(exact(units("memory")), argoMemoryUnitGiB), runs: 1n };
}
