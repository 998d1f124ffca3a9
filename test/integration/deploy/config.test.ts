// config/default is what a user or Argo CD applies: it must be accepted by a real API server,
// each component's RBAC must allow what it needs and nothing more, and its Deployments must
// work as deployed (no kubelet here: the container's filesystem is reproduced in a sandbox).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { AuthorizationV1Api, type V1Deployment } from "@kubernetes/client-node";
import { shutdownTimeoutMs as apiShutdownTimeoutMs } from "../../../operators/api/server.ts";
import { defaultShutdownTimeoutMs } from "../../../operators/runtime/manager.ts";
import { repoRoot, sharedCluster, type TestCluster } from "../../support/cluster.ts";
import { emitTypeStripped, typeStripped } from "../../../images/typeStripped.ts";
import { runInContainerSandbox } from "./containerSandbox.ts";

/**
 * The probe script and the sources as the image runs them: JavaScript (images/typeStripped.ts),
 * since the Deployment's NODE_OPTIONS turn Node's type stripping off. Written beside the
 * checkout's node_modules, before the sandbox makes everything read-only.
 */
function probeAsInTheImage(): { script: string; dir: string } {
  mkdirSync(path.join(repoRoot, ".cache"), { recursive: true });
  const dir = mkdtempSync(path.join(repoRoot, ".cache", "deploy-probe-"));
  emitTypeStripped(path.join(repoRoot, "operators"), path.join(dir, "operators"));
  const script = path.join(dir, "test/integration/deploy/serviceProbe.js");
  mkdirSync(path.dirname(script), { recursive: true });
  writeFileSync(script, typeStripped(readFileSync(path.join(repoRoot, "test/integration/deploy/serviceProbe.ts"), "utf8")));
  return { script, dir };
}

const run = promisify(execFile);
const kubectl = path.join(repoRoot, "bin/kubectl");

async function kc(cluster: TestCluster, ...args: string[]): Promise<string> {
  const { stdout } = await run(kubectl, ["--kubeconfig", cluster.kubeconfigPath, ...args], { maxBuffer: 16 << 20 });
  return stdout;
}

async function canI(cluster: TestCluster, sa: string, verb: string, resource: string): Promise<boolean> {
  return canIn(cluster, "default", sa, `${verb} ${resource}`);
}

/**
 * `what` is "VERB RESOURCE [FLAGS]", as kubectl auth can-i takes them. A subresource needs
 * `--subresource=status`: kubectl reads "RESOURCE/status" as the object named "status".
 */
async function canIn(cluster: TestCluster, namespace: string, sa: string, what: string): Promise<boolean> {
  const [verb = "", resource = "", ...flags] = what.split(" ");
  const as = `system:serviceaccount:archipel-system:${sa}`;
  const out = await kc(cluster, "auth", "can-i", verb, resource, ...flags, "--as", as, "-n", namespace).catch(
    (err: { stdout?: string }) => err.stdout ?? "",
  );
  return out.trim() === "yes";
}

/**
 * A SubjectAccessReview for a kind this cluster does not serve (Argo's Workflows: no Argo here),
 * which `kubectl auth can-i` cannot resolve to its group.
 */
async function mayOnWorkflows(cluster: TestCluster, sa: string, verb: string): Promise<boolean> {
  const review = await cluster.kubeConfig().makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
    body: {
      spec: {
        user: `system:serviceaccount:archipel-system:${sa}`,
        groups: ["system:serviceaccounts", "system:serviceaccounts:archipel-system", "system:authenticated"],
        resourceAttributes: { group: "argoproj.io", resource: "workflows", verb, namespace: "default" },
      },
    },
  });
  return review.status?.allowed === true;
}

describe("config/default (kustomize overlay)", function () {
  let cluster: TestCluster;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    await kc(cluster, "apply", "--server-side", "--force-conflicts", "-k", path.join(repoRoot, "config/default"));
  });

  it("creates the manager and API Deployments with their ServiceAccounts", async () => {
    const deployments = await kc(cluster, "get", "deployments", "-n", "archipel-system", "-o", "name");
    assert.match(deployments, /deployment.apps\/archipel-manager/);
    assert.match(deployments, /deployment.apps\/archipel-api/);
    const sas = await kc(cluster, "get", "serviceaccounts", "-n", "archipel-system", "-o", "name");
    assert.match(sas, /archipel-manager/);
    assert.match(sas, /archipel-api/);
  });

  const deployment = async (name: string): Promise<V1Deployment> =>
    JSON.parse(await kc(cluster, "get", "deployment", name, "-n", "archipel-system", "-o", "json")) as V1Deployment;

  it("runs the manager's service probe with the Deployment's read-only root and volumes (scratch files land in an emptyDir)", async function () {
    this.timeout(60_000);
    const pod = (await deployment("archipel-manager")).spec?.template.spec;
    const container = pod?.containers.find((c) => c.name === "manager");
    assert.ok(pod && container, "the manager Deployment has a manager container");
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true, "the root filesystem stays read-only");
    const probe = probeAsInTheImage();
    const out = await runInContainerSandbox(pod, container, [process.execPath, probe.script], repoRoot)
      .catch((err: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`the service probe failed in the manager's container filesystem: ${err.stdout || err.stderr || err.message}`);
      })
      .finally(() => rmSync(probe.dir, { recursive: true, force: true }));
    const result = JSON.parse(out) as { reason?: string; scratchDir: string };
    assert.equal(result.reason, "Available", out);
    const scratchVolume = container.volumeMounts?.find((m) => result.scratchDir.startsWith(`${m.mountPath}/`));
    assert.ok(scratchVolume, `the scratch directory ${result.scratchDir} is under a mounted volume`);
    assert.ok(pod.volumes?.some((v) => v.name === scratchVolume.name && v.emptyDir), "that volume is an emptyDir");
  });

  it("gives each Deployment a termination grace period longer than its graceful stop", async () => {
    const grace = async (name: string): Promise<number> => (await deployment(name)).spec?.template.spec?.terminationGracePeriodSeconds ?? 30;
    const manager = await grace("archipel-manager");
    const api = await grace("archipel-api");
    assert.ok(manager * 1000 > defaultShutdownTimeoutMs, `manager: ${manager} s > ${defaultShutdownTimeoutMs} ms of graceful stop`);
    assert.ok(api * 1000 > apiShutdownTimeoutMs, `api: ${api} s > ${apiShutdownTimeoutMs} ms of graceful stop`);
  });

  it("lets the manager meter usage: create UsageRecords, never change or delete them", async () => {
    assert.ok(await canI(cluster, "archipel-manager", "create", "usagerecords.archipel.io"));
    assert.equal(await canI(cluster, "archipel-manager", "patch", "usagerecords.archipel.io"), false);
    assert.equal(await canI(cluster, "archipel-manager", "delete", "usagerecords.archipel.io"), false);
  });

  it("lets the orchestrator create and patch Workflows, write PipelineRun status and its finalizer; never delete Workflows nor runs", async () => {
    assert.match(await kc(cluster, "get", "clusterrolebindings", "-o", "name"), /archipel-manager-orchestrator\b/);
    assert.ok(await mayOnWorkflows(cluster, "archipel-manager", "create"));
    assert.ok(await mayOnWorkflows(cluster, "archipel-manager", "patch"));
    assert.ok(await canI(cluster, "archipel-manager", "patch", "pipelineruns.archipel.io --subresource=status"));
    assert.equal(await mayOnWorkflows(cluster, "archipel-manager", "delete"), false);
    // patch: the finalizer of a run with steps on a peer (cancel there, release the hold, then let go)
    assert.ok(await canI(cluster, "archipel-manager", "patch", "pipelineruns.archipel.io"));
    assert.equal(await canI(cluster, "archipel-manager", "delete", "pipelineruns.archipel.io"), false);
  });

  it("lets the manager's billing role write Price status, and not Prices themselves", async () => {
    assert.match(await kc(cluster, "get", "clusterrolebindings", "-o", "name"), /archipel-manager-billing\b/);
    assert.ok(await canI(cluster, "archipel-manager", "patch", "prices.archipel.io --subresource=status"));
    assert.ok(await canI(cluster, "archipel-manager", "watch", "prices.archipel.io"));
    assert.equal(await canI(cluster, "archipel-manager", "create", "prices.archipel.io"), false);
    assert.equal(await canI(cluster, "archipel-manager", "patch", "prices.archipel.io"), false);
  });

  it("lets the manager write status and finalizers of what it reconciles", async () => {
    assert.ok(await canI(cluster, "archipel-manager", "patch", "providers.archipel.io --subresource=status"));
    assert.ok(await canI(cluster, "archipel-manager", "update", "providers.archipel.io --subresource=finalizers"));
    assert.ok(await canI(cluster, "archipel-manager", "create", "events.events.k8s.io"));
    assert.ok(await canI(cluster, "archipel-manager", "watch", "peers.archipel.io"));
  });

  it("does not let the manager delete what users own, nor the API act beyond reading", async () => {
    assert.equal(await canI(cluster, "archipel-manager", "delete", "providers.archipel.io"), false);
    assert.equal(await canI(cluster, "archipel-manager", "create", "providers.archipel.io"), false);
    assert.equal(await canI(cluster, "archipel-api", "create", "providers.archipel.io"), false);
    assert.equal(await canI(cluster, "archipel-api", "get", "secrets"), false);
    assert.equal(await canIn(cluster, "archipel-system", "archipel-api", "get secrets"), false);
  });

  it("lets the API serve federation: create peers' AccessGrants and read only the identity key Secret", async () => {
    assert.ok(await canI(cluster, "archipel-api", "create", "accessgrants.archipel.io"));
    assert.ok(await canIn(cluster, "archipel-system", "archipel-api", "get secrets/archipel-identity"));
    assert.equal(await canIn(cluster, "archipel-system", "archipel-api", "get secrets/other"), false);
    assert.equal(await canI(cluster, "archipel-api", "delete", "accessgrants.archipel.io"), false);
  });

  it("ships user roles: peers/grants for grant requesters, Networks and Peers for discovery admins; neither reads Secrets nor creates AccessGrants", async () => {
    const suffix = String(process.pid);
    await kc(cluster, "create", "clusterrolebinding", `carol-peer-grants-${suffix}`, "--clusterrole=archipel-peer-grant-requester", "--user=carol");
    await kc(cluster, "create", "clusterrolebinding", `carol-discovery-${suffix}`, "--clusterrole=archipel-discovery-admin", "--user=carol");
    try {
      const carolCan = async (...args: string[]): Promise<boolean> =>
        (await kc(cluster, "auth", "can-i", ...args, "--as", "carol").catch((err: { stdout?: string }) => err.stdout ?? "")).trim() === "yes";
      assert.ok(await carolCan("create", "peers.archipel.io", "--subresource=grants"));
      assert.ok(await carolCan("create", "networks.archipel.io"));
      assert.ok(await carolCan("patch", "peers.archipel.io"));
      assert.equal(await carolCan("get", "secrets", "-n", "archipel-system"), false);
      assert.equal(await carolCan("create", "accessgrants.archipel.io", "-n", "default"), false);
    } finally {
      await kc(cluster, "delete", "clusterrolebinding", `carol-peer-grants-${suffix}`, `carol-discovery-${suffix}`);
    }
  });
});
