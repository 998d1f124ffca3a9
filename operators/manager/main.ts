// The composition root: reads flags and environment once, builds the controllers it was asked
// for from the one list below, and runs them in a Manager until SIGTERM/SIGINT.
//   node operators/manager/main.ts --controllers=provider
import { KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import { defaultApiServiceAccount, defaultSystemNamespace } from "../discovery/contracts.ts";
import type { EgressPolicy } from "../runtime/egress.ts";
import type { ControllerOptions } from "../runtime/index.ts";
import { Manager } from "../runtime/index.ts";
import { withCallDeadlines } from "../runtime/apiDeadline.ts";
import { pooledConnections } from "../runtime/kubeConnections.ts";
import { createLogger, type Logger } from "../runtime/logger.ts";
import { ConfigError, parseManagerConfig, usage } from "./config.ts";

export interface ControllerEnv {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Where the operator keeps its own objects (identity key, managed kubo): POD_NAMESPACE or archipel-system. */
  systemNamespace: string;
  /** The API's ServiceAccount there (API_SERVICE_ACCOUNT or archipel-api): it reads Peer grantees' credentials. */
  apiServiceAccount: string;
  /** Where controllers may connect on a user's or a peer's behalf (--egress-* flags). */
  egress: EgressPolicy;
  /** The process environment (the pipelinerun controller reads ARCHIPEL_ARGO_* and ARCHIPEL_ARTIFACTS_* there). */
  processEnv: NodeJS.ProcessEnv;
  /** The Manager's Prometheus registry, for controllers with metrics of their own (usage). */
  metrics: Registry;
  /** The controllers this process runs (the orchestrator holds Workflows for metering only where usage runs). */
  running: readonly string[];
  /** Whether its caches hold every namespace (no --namespace): only then do they see the workspaces. */
  allNamespaces: boolean;
}

/**
 * Every controller this binary can run, by the name `--controllers` uses. Each module is imported
 * only when its controller runs: a process running some controllers does not hold the code and
 * libraries of the others (docs/decisions/manager-memory.md).
 */
const controllers: Record<string, (env: ControllerEnv) => Promise<ControllerOptions>> = {
  provider: async (env) => (await import("../catalog/providerReconciler.ts")).providerController(env.kubeConfig, { logger: env.logger.child({ controller: "provider" }) }),
  resource: async (env) => (await import("../catalog/resourceReconciler.ts")).resourceController(env.kubeConfig, { logger: env.logger.child({ controller: "resource" }), egress: env.egress }),
  "access-grant": async (env) =>
    (await import("../catalog/accessGrantReconciler.ts")).accessGrantController(env.kubeConfig, {
      logger: env.logger.child({ controller: "access-grant" }),
      peerReader: { namespace: env.systemNamespace, name: env.apiServiceAccount },
      egress: env.egress,
    }),
  "peer-discovery": async (env) =>
    (await import("../discovery/peerDiscoveryReconciler.ts")).peerDiscoveryController(env.kubeConfig, { logger: env.logger.child({ controller: "peer-discovery" }), systemNamespace: env.systemNamespace }),
  peer: async (env) => (await import("../discovery/peerReconciler.ts")).peerController(env.kubeConfig, { logger: env.logger.child({ controller: "peer" }), systemNamespace: env.systemNamespace, egress: env.egress }),
  identity: async (env) => (await import("../discovery/identityReconciler.ts")).identityController(env.kubeConfig, { logger: env.logger.child({ controller: "identity" }), systemNamespace: env.systemNamespace }),
  network: async (env) => (await import("../discovery/networkReconciler.ts")).networkController(env.kubeConfig, { logger: env.logger.child({ controller: "network" }), systemNamespace: env.systemNamespace }),
  price: async (env) => (await import("../billing/priceReconciler.ts")).priceController(env.kubeConfig, { logger: env.logger.child({ controller: "price" }) }),
  pipelinerun: async (env) => {
    const { artifactStoreSettingsFrom, orchestratorSettingsFrom, pipelineRunController } = await import("../orchestrator/pipelineRunReconciler.ts");
    const settings = { ...orchestratorSettingsFrom(env.processEnv), holdForMetering: env.running.includes("usage") && env.allNamespaces };
    return pipelineRunController(env.kubeConfig, { logger: env.logger.child({ controller: "pipelinerun" }), settings, egress: env.egress, artifacts: artifactStoreSettingsFrom(env.processEnv), registry: env.metrics });
  },
  reservation: async (env) => (await import("../compute/reservationReconciler.ts")).reservationController(env.kubeConfig, { logger: env.logger.child({ controller: "reservation" }) }),
  usage: async (env) => (await import("../billing/usageReconciler.ts")).usageController(env.kubeConfig, { logger: env.logger.child({ controller: "usage" }), registry: env.metrics }),
  "project-spend": async (env) => (await import("../billing/projectSpendReconciler.ts")).projectSpendController(env.kubeConfig, { logger: env.logger.child({ controller: "project-spend" }) }),
};

const workflowsServed = async (kc: KubeConfig): Promise<boolean> => (await import("../orchestrator/workflowsServed.ts")).workflowsServed(kc);

/**
 * Controllers that need an API besides ours (a cache of a kind the cluster does not serve never
 * syncs, and the Manager starts no controller until every cache has): left out of the default
 * set, with a warning, where it is missing; refused when named.
 */
const prerequisites: Record<string, { what: string; present: (kc: KubeConfig) => Promise<boolean> }> = {
  pipelinerun: { what: "Argo Workflows (workflows.argoproj.io)", present: workflowsServed },
  usage: { what: "Argo Workflows (workflows.argoproj.io)", present: workflowsServed },
};

/** The controllers to run; undefined (the reason written) when a named one cannot. */
async function runnable(names: string[], named: boolean, kubeConfig: KubeConfig, logger: Logger): Promise<string[] | undefined> {
  const kept: string[] = [];
  for (const name of names) {
    const need = prerequisites[name];
    if (!need || (await need.present(kubeConfig))) {
      kept.push(name);
      continue;
    }
    if (named) {
      process.stderr.write(`--controllers: ${name} needs ${need.what}, which this cluster does not serve\n`);
      return undefined;
    }
    logger.warn("controller left out: the cluster lacks what it needs", { controller: name, needs: need.what });
  }
  return kept;
}

function controllerEnv(kubeConfig: KubeConfig, logger: Logger, env: NodeJS.ProcessEnv, { egress, metrics, running, allNamespaces }: Pick<ControllerEnv, "egress" | "metrics" | "running" | "allNamespaces">): ControllerEnv {
  return {
    metrics,
    running,
    allNamespaces,
    kubeConfig,
    logger,
    systemNamespace: env.POD_NAMESPACE ?? defaultSystemNamespace,
    apiServiceAccount: env.API_SERVICE_ACCOUNT ?? defaultApiServiceAccount,
    egress,
    processEnv: env,
  };
}

function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault(); // KUBECONFIG, ~/.kube/config, or the in-cluster service account
  // No reconcile call may hang a worker for ever; 30 s is far beyond a healthy server's answer
  // (informers list and watch through their own path, without this deadline).
  return withCallDeadlines(pooledConnections(kc), 30_000);
}

async function main(): Promise<number> {
  const logger = createLogger("manager");
  let config;
  try {
    config = parseManagerConfig(process.argv.slice(2), process.env, Object.keys(controllers));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  if (!config) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const kubeConfig = loadKubeConfig();
  const manager = new Manager({
    kubeConfig,
    logger,
    leaderElection: config.leaderElection,
    // 0 turns an endpoint off here (the Manager would read 0 as "any free port").
    ...(config.metricsPort > 0 ? { metricsPort: config.metricsPort } : {}),
    ...(config.healthPort > 0 ? { healthPort: config.healthPort } : {}),
    ...(config.namespace ? { namespace: config.namespace } : {}),
  });
  const names = await runnable(config.controllers, config.controllersNamed, kubeConfig, logger);
  if (!names) return 2;
  const env = controllerEnv(kubeConfig, logger, process.env, { egress: config.egress, metrics: manager.metrics.registry, running: names, allNamespaces: !config.namespace });
  for (const name of names) manager.add(await controllers[name]!(env));

  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn("second signal: exiting without waiting for in-flight reconciles", { signal });
        process.exit(1);
      }
      stopping = true;
      logger.info("stopping", { signal });
      manager.stop().then(resolve, (err: unknown) => {
        logger.error("stop failed", { error: err });
        resolve();
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });

  const egressAllowed = config.egress.allow.map((c) => c.text);
  logger.info("starting", { controllers: names, leaderElection: config.leaderElection, namespace: config.namespace ?? "(all)", egressAllowed });
  await manager.start();
  await stopped;
  logger.info("stopped");
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`manager failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
