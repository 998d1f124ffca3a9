// A minimal manager process for the leader-election test: it campaigns for a Lease and, while it
// leads, reconciles ConfigMaps of one namespace. Prints "leading" / "following" on changes.
//   KUBECONFIG_PATH=… NAMESPACE=… LEASE=… IDENTITY=… node test/integration/runtime/electionMember.ts
import { KubeConfig } from "@kubernetes/client-node";
import { Manager } from "../../../operators/runtime/index.ts";
import { createLogger } from "../../../operators/runtime/logger.ts";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`electionMember: set ${name}`);
  return v;
};

const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(env("KUBECONFIG_PATH"));
const namespace = env("NAMESPACE");
const manager = new Manager({
  kubeConfig,
  logger: createLogger("election-member", { silent: true }),
  namespace,
  leaderElection: { leaseName: env("LEASE"), leaseNamespace: namespace, identity: env("IDENTITY"), leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 },
});
manager.add({
  name: "cm",
  for: { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
  reconcile: async () => {},
});
await manager.start();
let last = false;
setInterval(() => {
  if (manager.isLeader() === last) return;
  last = manager.isLeader();
  process.stdout.write(`${last ? "leading" : "following"}\n`);
}, 50);
process.on("SIGTERM", () => void manager.stop().then(() => process.exit(0)));
