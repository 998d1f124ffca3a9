// The manager's settings, read once from flags and environment (flags win). Pure: argv and env
// are passed in, so the parsing is unit-tested without starting anything.
import os from "node:os";
import { parseArgs } from "node:util";
import { CidrError, type EgressPolicy, egressFlagsUsage, egressPolicyFrom } from "../runtime/egress.ts";

export interface LeaderElectionConfig {
  leaseName: string;
  leaseNamespace: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface ManagerConfig {
  controllers: string[];
  /** true when --controllers (or ARCHIPEL_CONTROLLERS) named them; false for the default "all" */
  controllersNamed: boolean;
  leaderElection: LeaderElectionConfig | false;
  metricsPort: number;
  healthPort: number;
  /** Watch one namespace only; undefined = all namespaces. */
  namespace: string | undefined;
  /** Where probes and grants may connect on a user's or peer's behalf. */
  egress: EgressPolicy;
}

/** Thrown for a bad flag or variable; main prints it and exits 2 (usage error). */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const options = {
  controllers: { type: "string" },
  "leader-elect": { type: "string" },
  "lease-name": { type: "string" },
  "lease-namespace": { type: "string" },
  "lease-duration": { type: "string" },
  "renew-deadline": { type: "string" },
  "retry-period": { type: "string" },
  identity: { type: "string" },
  "metrics-port": { type: "string" },
  "health-port": { type: "string" },
  namespace: { type: "string" },
  "egress-allow-cidrs": { type: "string" },
  "egress-cluster-cidrs": { type: "string" },
  "egress-allow-http-peers": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export const usage = `Usage: node operators/manager/main.ts [flags]
  --controllers=a,b        controllers to run (env ARCHIPEL_CONTROLLERS; default: all, but pipelinerun and
                           usage only where Argo Workflows is installed)
  --leader-elect=bool      elect a leader on a Lease before reconciling (env ARCHIPEL_LEADER_ELECT; default true)
  --lease-name=NAME        Lease name (env ARCHIPEL_LEASE_NAME; default archipel-manager, or archipel-<controllers> for a subset)
  --lease-namespace=NS     Lease namespace (env ARCHIPEL_LEASE_NAMESPACE, else POD_NAMESPACE, else default)
  --lease-duration=15s     how long a Lease is valid without renewal (env ARCHIPEL_LEASE_DURATION)
  --renew-deadline=10s     how long the leader keeps trying to renew before giving up (env ARCHIPEL_RENEW_DEADLINE)
  --retry-period=2s        how often candidates try to acquire or renew (env ARCHIPEL_RETRY_PERIOD)
  --identity=ID            this candidate's identity (env POD_NAME; default hostname-pid)
  --metrics-port=8080      Prometheus /metrics (env ARCHIPEL_METRICS_PORT; 0 disables)
  --health-port=8081       /healthz and /readyz (env ARCHIPEL_HEALTH_PORT; 0 disables)
  --namespace=NS           watch one namespace only (env ARCHIPEL_WATCH_NAMESPACE; default all)
${egressFlagsUsage}
pipelinerun: ARCHIPEL_ARGO_NAMESPACE (argo) and ARCHIPEL_ARGO_CONFIGMAP (workflow-controller-configmap)
  locate Argo's artifact repository; ARCHIPEL_CWL_IMAGE (archipel.local/cwl-step:dev) runs the output task.
Kubernetes access: KUBECONFIG, else ~/.kube/config, else the in-cluster service account.
Log level: LOG_LEVEL (error, warn, info, debug).`;

/** "15s", "500ms", "1m", "1m30s" → milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
    throw new ConfigError(`--${flag}="${text}" is not a duration; write it like 15s, 500ms or 1m`);
  }
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return parts.reduce((sum, p) => sum + Number(p[1]) * (unit[p[2] ?? "ms"] ?? 1), 0);
}

function parsePort(flag: string, text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new ConfigError(`--${flag}="${text}" is not a port number (0-65535)`);
  return port;
}

function parseBool(flag: string, text: string): boolean {
  if (/^(true|1|yes)$/i.test(text)) return true;
  if (/^(false|0|no)$/i.test(text)) return false;
  throw new ConfigError(`--${flag}="${text}" is not true or false`);
}

function parseControllers(text: string | undefined, known: readonly string[]): string[] {
  if (text === undefined || text.trim() === "" || text.trim() === "all") return [...known];
  const wanted = [...new Set(text.split(",").map((s) => s.trim()).filter(Boolean))];
  const unknown = wanted.filter((c) => !known.includes(c));
  if (unknown.length > 0) throw new ConfigError(`--controllers: unknown controller(s) ${unknown.join(", ")}; known: ${known.join(", ")}`);
  return wanted;
}

type Values = Partial<Record<keyof typeof options, string | boolean>>;

function pick(values: Values, flag: keyof typeof options, env: Record<string, string | undefined>, ...vars: string[]): string | undefined {
  const v = values[flag];
  if (typeof v === "string") return v;
  for (const name of vars) if (env[name] !== undefined && env[name] !== "") return env[name];
  return undefined;
}

function leaseTimings(values: Values, env: Record<string, string | undefined>): Pick<LeaderElectionConfig, "leaseDurationMs" | "renewDeadlineMs" | "retryPeriodMs"> {
  const t = {
    leaseDurationMs: parseDuration("lease-duration", pick(values, "lease-duration", env, "ARCHIPEL_LEASE_DURATION") ?? "15s"),
    renewDeadlineMs: parseDuration("renew-deadline", pick(values, "renew-deadline", env, "ARCHIPEL_RENEW_DEADLINE") ?? "10s"),
    retryPeriodMs: parseDuration("retry-period", pick(values, "retry-period", env, "ARCHIPEL_RETRY_PERIOD") ?? "2s"),
  };
  // client-go's rules: the leader must give up before another may take over.
  if (!(t.leaseDurationMs > t.renewDeadlineMs && t.renewDeadlineMs > t.retryPeriodMs && t.retryPeriodMs > 0)) {
    throw new ConfigError("leader election needs lease-duration > renew-deadline > retry-period > 0");
  }
  return t;
}

function leaderElection(values: Values, env: Record<string, string | undefined>, controllers: string[], known: readonly string[]): LeaderElectionConfig | false {
  const enabled = parseBool("leader-elect", pick(values, "leader-elect", env, "ARCHIPEL_LEADER_ELECT") ?? "true");
  if (!enabled) return false;
  const subset = controllers.length === known.length ? "manager" : [...controllers].sort().join("-");
  return {
    leaseName: pick(values, "lease-name", env, "ARCHIPEL_LEASE_NAME") ?? `archipel-${subset}`,
    leaseNamespace: pick(values, "lease-namespace", env, "ARCHIPEL_LEASE_NAMESPACE", "POD_NAMESPACE") ?? "default",
    identity: pick(values, "identity", env, "POD_NAME") ?? `${os.hostname()}-${process.pid}`,
    ...leaseTimings(values, env),
  };
}

function egress(values: Values, env: Record<string, string | undefined>): EgressPolicy {
  try {
    return egressPolicyFrom({
      allowCidrs: pick(values, "egress-allow-cidrs", env, "ARCHIPEL_EGRESS_ALLOW_CIDRS"),
      clusterCidrs: pick(values, "egress-cluster-cidrs", env, "ARCHIPEL_EGRESS_CLUSTER_CIDRS"),
      allowHttpPeers: pick(values, "egress-allow-http-peers", env, "ARCHIPEL_EGRESS_ALLOW_HTTP_PEERS"),
    });
  } catch (err) {
    if (err instanceof CidrError) throw new ConfigError(err.message);
    throw err;
  }
}

/** Returns the config, or undefined when --help was asked for. */
export function parseManagerConfig(argv: string[], env: Record<string, string | undefined>, known: readonly string[]): ManagerConfig | undefined {
  let values: Values;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n${usage}`);
  }
  if (values.help) return undefined;
  const named = pick(values, "controllers", env, "ARCHIPEL_CONTROLLERS");
  const controllers = parseControllers(named, known);
  return {
    controllers,
    controllersNamed: named !== undefined && named.trim() !== "" && named.trim() !== "all",
    leaderElection: leaderElection(values, env, controllers, known),
    metricsPort: parsePort("metrics-port", pick(values, "metrics-port", env, "ARCHIPEL_METRICS_PORT") ?? "8080"),
    healthPort: parsePort("health-port", pick(values, "health-port", env, "ARCHIPEL_HEALTH_PORT") ?? "8081"),
    namespace: pick(values, "namespace", env, "ARCHIPEL_WATCH_NAMESPACE"),
    egress: egress(values, env),
  };
}
