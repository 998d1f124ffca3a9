// Prometheus counters of metered usage and cost, by project, peer and currency, registered on the
// Manager's registry beside controller-runtime's metrics (runtime/metrics.ts). A record is counted
// once, by the replica that created it; after a restart or a change of leader the counters start
// again from 0, which rate() and increase() read as a counter reset. Amounts are floats here: for
// dashboards, not invoices (statements and Project.status.spent are exact).
import { Counter, type Registry } from "prom-client";
import type { UsageRecordSpec } from "../schema/usageRecord.ts";

const labelNames = ["project", "peer", "role", "currency"] as const;
const usageLabels = ["project", "peer", "role"] as const;

/**
 * `peer` is the other cluster and `role` this cluster's part: local (no peer), provider (it ran
 * the step for the peer) or consumer (the peer ran it for this cluster).
 */
function roleOf(spec: UsageRecordSpec): { peer: string; role: "local" | "provider" | "consumer" } {
  if (spec.peer) return { peer: spec.peer, role: "consumer" };
  if (spec.requester) return { peer: spec.requester.peer, role: "provider" };
  return { peer: "", role: "local" };
}

export class UsageMetrics {
  readonly records: Counter<"project" | "peer" | "role" | "priced">;
  readonly cost: Counter<(typeof labelNames)[number]>;
  readonly cpu: Counter<(typeof usageLabels)[number]>;
  readonly memory: Counter<(typeof usageLabels)[number]>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.records = new Counter({ name: "archipel_usage_records_total", help: "UsageRecords created, by project, peer, role and whether a Price applied", labelNames: ["project", "peer", "role", "priced"] as const, registers });
    this.cost = new Counter({ name: "archipel_usage_cost_total", help: "Cost of the UsageRecords created, in units of the currency label", labelNames, registers });
    this.cpu = new Counter({ name: "archipel_usage_cpu_core_seconds_total", help: "CPU core-seconds of the UsageRecords created", labelNames: usageLabels, registers });
    this.memory = new Counter({ name: "archipel_usage_memory_byte_seconds_total", help: "Memory byte-seconds (requests held × time) of the UsageRecords created", labelNames: usageLabels, registers });
  }

  /** Counts one record just created. */
  created(spec: UsageRecordSpec): void {
    const who = { project: spec.projectRef?.name ?? "", ...roleOf(spec) };
    this.records.inc({ ...who, priced: spec.cost ? "true" : "false" });
    this.cpu.inc(who, Number(spec.usage.cpuCoreHours) * 3600);
    this.memory.inc(who, Number(spec.usage.memoryGiBHours) * 3600 * 2 ** 30);
    if (spec.cost) this.cost.inc({ ...who, currency: spec.cost.currency }, Number(spec.cost.amount));
  }
}

const perRegistry = new WeakMap<Registry, UsageMetrics>();

/**
 * The counters of one registry: the usage controller counts the records it meters, the
 * PipelineRun controller the copies of peers' records it receives (role consumer), both in the
 * same series (a registry refuses a metric name registered twice).
 */
export function usageMetricsOf(registry: Registry): UsageMetrics {
  let metrics = perRegistry.get(registry);
  if (!metrics) {
    metrics = new UsageMetrics(registry);
    perRegistry.set(registry, metrics);
  }
  return metrics;
}
