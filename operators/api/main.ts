// Composition root of the API server: reads flags/env once, lists the kinds it serves, runs.
//   node operators/api/main.ts [--port 8080] [--host 127.0.0.1] [--kubeconfig PATH] [--log-level info]
//                              [--peer-grant-max-lifetime 168h] [--web-root web/dist]
//   [--egress-allow-cidrs LIST] [--egress-cluster-cidrs LIST] [--egress-allow-http-peers bool]
// Env fallbacks: API_PORT, API_HOST, KUBECONFIG, LOG_LEVEL, PEER_GRANT_MAX_LIFETIME, ARCHIPEL_EGRESS_ALLOW_CIDRS,
// ARCHIPEL_EGRESS_CLUSTER_CIDRS, ARCHIPEL_EGRESS_ALLOW_HTTP_PEERS, ARCHIPEL_WEB_ROOT. Without a kubeconfig inside a pod,
// the in-cluster configuration is used (only for the cluster's address and CA, and readiness).
import path from "node:path";
import { parseArgs } from "node:util";
import { KubeConfig, VersionApi } from "@kubernetes/client-node";
import { defaultSystemNamespace } from "../discovery/contracts.ts";
import { durationMs } from "../discovery/discoveryTiming.ts";
import { type EgressPolicy, egressPolicyFrom } from "../runtime/egress.ts";
import { withCallDeadlines } from "../runtime/apiDeadline.ts";
import { pooledConnections } from "../runtime/kubeConnections.ts";
import { identityKind } from "../schema/identity.ts";
import { networkKind } from "../schema/network.ts";
import { type Peer, peerKind } from "../schema/peer.ts";
import { pipelineRunKind } from "../schema/pipelineRun.ts";
import { priceKind } from "../schema/price.ts";
import { projectKind } from "../schema/project.ts";
import { providerKind } from "../schema/provider.ts";
import { reservationKind } from "../schema/reservation.ts";
import { resourceKind } from "../schema/resource.ts";
import { usageRecordKind } from "../schema/usageRecord.ts";
import { catalogRuntime, registerCatalogRoutes } from "./catalogRoutes.ts";
import { registerDiscoveryRoutes } from "./discoveryRoutes.ts";
import { peerFinder } from "./federationAuth.ts";
import { registerFederationGrantsRoutes, registerGrantsRoutes } from "./grantsRoutes.ts";
import { registerFederationRunsRoutes } from "./federationRunsRoutes.ts";
import { artifactStoreSettingsFrom } from "../orchestrator/settings.ts";
import { registerPeerGrantsRoutes } from "./peerGrantsRoutes.ts";
import { registerStatementRoutes } from "./statementRoutes.ts";
import { buildServer, closeWithin, loggerOptions, shutdownTimeoutMs } from "./server.ts";
import { registerSessionRoutes } from "./sessionRoutes.ts";
import { loadWebAssets, registerWebAssetRoutes } from "./webAssets.ts";
import type { ApiKind } from "./view.ts";

/** Every kind the API serves; a new one is one line here. */
const servedKinds: readonly ApiKind[] = [
  providerKind,
  resourceKind,
  priceKind,
  reservationKind,
  pipelineRunKind,
  usageRecordKind,
  projectKind,
  identityKind,
  networkKind,
  peerKind,
];

/** The web UI's build (make web), relative to the repository: the API serves it at `/`. */
const defaultWebRoot = path.resolve(import.meta.dirname, "../../web/dist");

interface ApiFlags {
  port: number;
  host: string;
  kubeconfig: string | undefined;
  logLevel: string;
  peerGrantMaxLifetimeMs: number;
  egress: EgressPolicy;
  webRoot: string;
}

function parseLifetime(text: string): number {
  const ms = durationMs(text);
  if (ms === undefined || ms <= 0) throw new Error(`--peer-grant-max-lifetime (or PEER_GRANT_MAX_LIFETIME) must be a positive Go duration such as 168h, got "${text}"`);
  return ms;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port (or API_PORT) must be an integer between 0 and 65535, got "${text}"`);
  }
  return port;
}

function readFlags(argv: string[], env: NodeJS.ProcessEnv): ApiFlags {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string", default: env.API_PORT ?? "8080" },
      host: { type: "string", default: env.API_HOST ?? "127.0.0.1" },
      kubeconfig: { type: "string" },
      "log-level": { type: "string", default: env.LOG_LEVEL ?? "info" },
      "peer-grant-max-lifetime": { type: "string", default: env.PEER_GRANT_MAX_LIFETIME ?? "168h" },
      "egress-allow-cidrs": { type: "string" },
      "egress-cluster-cidrs": { type: "string" },
      "egress-allow-http-peers": { type: "string" },
      "web-root": { type: "string", default: env.ARCHIPEL_WEB_ROOT ?? defaultWebRoot },
    },
    strict: true,
  });
  return {
    port: parsePort(values.port),
    host: values.host,
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
    logLevel: values["log-level"],
    peerGrantMaxLifetimeMs: parseLifetime(values["peer-grant-max-lifetime"]),
    // Where federation calls may connect; see egressFlagsUsage (runtime/egress.ts).
    egress: egressPolicyFrom({
      allowCidrs: values["egress-allow-cidrs"] ?? env.ARCHIPEL_EGRESS_ALLOW_CIDRS,
      clusterCidrs: values["egress-cluster-cidrs"] ?? env.ARCHIPEL_EGRESS_CLUSTER_CIDRS,
      allowHttpPeers: values["egress-allow-http-peers"] ?? env.ARCHIPEL_EGRESS_ALLOW_HTTP_PEERS,
    }),
    webRoot: values["web-root"],
  };
}

function loadKubeConfig(path: string | undefined, env: NodeJS.ProcessEnv): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  // Every call the API makes with its own identity gives up after 10 s (a 504 to the caller).
  return withCallDeadlines(pooledConnections(kc));
}

async function main(): Promise<void> {
  const flags = readFlags(process.argv.slice(2), process.env);
  const kubeConfig = loadKubeConfig(flags.kubeconfig, process.env);
  // Readiness is the one call made with the server's own identity: /version is public info.
  const version = kubeConfig.makeApiClient(VersionApi);
  const catalog = await catalogRuntime(kubeConfig, flags.egress);
  // Federation routes share the catalog's warm caches and its nonce cache: one replay window.
  const peers = (): Peer[] => catalog.deps.caches.peers.list();
  const audience = (): string | undefined => catalog.deps.caches.identities.list()[0]?.spec.clusterName;
  const app = buildServer({
    kubeConfig,
    kinds: servedKinds,
    routes: [
      (app) => registerDiscoveryRoutes(app, { kubeConfig, systemNamespace: process.env.POD_NAMESPACE ?? defaultSystemNamespace }),
      (app) => registerSessionRoutes(app, { kubeConfig }),
      (app) => registerGrantsRoutes(app, { kubeConfig }),
      (app) => registerCatalogRoutes(app, catalog.deps),
      (app) => registerFederationGrantsRoutes(app, { kubeConfig, peers, auth: { audience, peerByCluster: peerFinder(peers), nonces: catalog.deps.nonces }, maxLifetimeMs: flags.peerGrantMaxLifetimeMs }),
      (app) => registerFederationRunsRoutes(app, { kubeConfig, peers, auth: { audience, peerByCluster: peerFinder(peers), nonces: catalog.deps.nonces }, resources: catalog.deps.caches.resources, projects: catalog.deps.caches.projects, artifacts: artifactStoreSettingsFrom(process.env) }),
      (app) => registerPeerGrantsRoutes(app, { kubeConfig, peers, signingIdentity: catalog.deps.signingIdentity, egress: flags.egress, projects: () => catalog.deps.caches.projects.list() }),
      (app) => registerStatementRoutes(app, { kubeConfig }),
      (app) => registerWebAssetRoutes(app, loadWebAssets(flags.webRoot)),
    ],
    logger: loggerOptions(flags.logLevel),
    readiness: async () => (await version.getCode()).gitVersion !== "",
  });
  const shutdown = (signal: string): void => {
    app.log.info({ signal }, "shutting down");
    closeWithin(() => Promise.all([app.close(), catalog.stop()]), shutdownTimeoutMs).then(
      (finished) => {
        if (!finished) app.log.warn({ shutdownTimeoutMs }, "requests still running after the shutdown timeout: exiting");
        process.exit(finished ? 0 : 1);
      },
      (err: unknown) => {
        app.log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  await app.listen({ port: flags.port, host: flags.host });
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: "fatal", msg: "archipel api failed to start", error: err instanceof Error ? err.message : String(err) }));
  process.exit(1);
});
