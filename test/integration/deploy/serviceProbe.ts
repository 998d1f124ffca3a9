// Runs the manager's service probe once, as the Resource controller does, and prints what it
// decided: run by config.test.ts inside a sandbox that sees the filesystem as the manager's
// container would (read-only root, the Deployment's emptyDirs writable).
import type { Provider } from "../../../operators/schema/provider.ts";
import type { Resource } from "../../../operators/schema/resource.ts";
import { defaultProbeEnv, probeFor, runProbe } from "../../../operators/catalog/resourceProbes.ts";

const tool = "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: 'true'\ninputs: []\noutputs: []\n";
const meta = (name: string): { name: string; namespace: string } => ({ name, namespace: "deploy-check" });
const provider = { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: meta("tools"), spec: { type: "service", service: { defaultImage: "busybox" } } } as unknown as Provider;
const resource = {
  apiVersion: "archipel.io/v1alpha1",
  kind: "Resource",
  metadata: meta("tool"),
  spec: { providerRef: { name: "tools" }, type: "service", title: "tool", visibility: "public", service: { cwl: { configMapRef: { name: "tool", key: "tool.cwl" } } } },
} as unknown as Resource;

const probe = probeFor(provider);
if (!probe) throw new Error("no probe for service Providers");
try {
  const result = await runProbe(probe, resource, provider, { ...defaultProbeEnv, secret: async () => undefined, configMap: () => ({ "tool.cwl": tool }) });
  process.stdout.write(`${JSON.stringify({ reason: result.verdict.reason, message: result.verdict.message, scratchDir: defaultProbeEnv.scratchDir })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? err.message : String(err), scratchDir: defaultProbeEnv.scratchDir })}\n`);
  process.exitCode = 1;
}
