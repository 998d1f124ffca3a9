// Metering real runs (hack/cluster up --argo): two PipelineRuns billed to a Project run on Argo
// with real Pods; the usage controller turns each finished step (the failed one too) into a
// UsageRecord from Argo's own resourcesDuration, priced at the project's custom rates in force
// when the step started; Project.status.spent, the monthly statement (JSON, CSV, as the caller)
// and the Prometheus counters agree with the records. A restart creates no duplicate; a record
// deleted by hand is metered again, the same. The billing controllers run bound to nothing but
// config/rbac/billing_role.yaml, so the role is proven to hold every verb they use.
// ARCHIPEL_ARGO_TEST_CLUSTER=NAME reuses a cluster started with `hack/cluster up NAME --argo`.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CustomObjectsApi, RbacAuthorizationV1Api, type V1ClusterRole } from "@kubernetes/client-node";
import { loadAll } from "js-yaml";
import { buildServer } from "../../operators/api/server.ts";
import { registerStatementRoutes } from "../../operators/api/statementRoutes.ts";
import type { PipelineRun } from "../../operators/schema/pipelineRun.ts";
import type { Project } from "../../operators/schema/project.ts";
import type { UsageRecord } from "../../operators/schema/usageRecord.ts";
import { attachCluster, eventually, repoRoot, startCluster, type TestCluster } from "../support/cluster.ts";
import { cwlStepImage, failingTool, shouterTool, writerTool } from "../support/cwlTools.ts";
import { type ComponentProcess, freePort, startComponent, waitForHttp } from "../support/processes.ts";
import { boundOnlyTo, type SingleRoleIdentity } from "../support/rbac.ts";
import { argoArtifactsEnv } from "../support/s3.ts";

const archipel = { group: "archipel.io", version: "v1alpha1" } as const;
const workflows = { group: "argoproj.io", version: "v1alpha1", plural: "workflows" } as const;
const namespace = "default"; // readied for Workflows by hack/argo (executor Role, S3 Secret)
const image = cwlStepImage;


interface WorkflowNode { name?: string; type?: string; resourcesDuration?: Record<string, number> }
interface Workflow { status?: { nodes?: Record<string, WorkflowNode> } }

/** x/y rounded half to even to cents, as a decimal string (the test's own arithmetic). */
function cents(num: bigint, den: bigint): string {
  const scaled = num * 100n;
  let q = scaled / den;
  const twice = 2n * (scaled % den);
  if (twice > den || (twice === den && q % 2n === 1n)) q += 1n;
  return `${q / 100n}.${String(q % 100n).padStart(2, "0")}`;
}
const toCents = (amount: string): bigint => BigInt(amount.replace(".", ""));
const fromCents = (c: bigint): string => `${c / 100n}.${String(c % 100n).padStart(2, "0")}`;

describe("Metering PipelineRuns into UsageRecords (hack/cluster up --argo)", function () {
  this.timeout(300_000);
  const suffix = randomBytes(3).toString("hex");
  const project = `bill-${suffix}`;
  const logDir = path.join(tmpdir(), `archipel-metering-e2e-${suffix}`);
  let cluster: TestCluster;
  let api: CustomObjectsApi;
  /** The repository on loopback, for the orchestrator (a deleted run's objects are deleted from here). */
  let artifactsEnv: Record<string, string> = {};
  const identities: SingleRoleIdentity[] = [];
  const managers: ComponentProcess[] = [];
  let billingMetrics = "";
  let billingIdentity: SingleRoleIdentity;

  const create = (plural: string, kind: string, name: string, spec: unknown): Promise<unknown> =>
    api.createNamespacedCustomObject({ ...archipel, plural, namespace, body: { apiVersion: "archipel.io/v1alpha1", kind, metadata: { name }, spec } });
  const getRun = async (name: string): Promise<PipelineRun> => (await api.getNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name })) as PipelineRun;
  const records = async (): Promise<UsageRecord[]> =>
    ((await api.listNamespacedCustomObject({ ...archipel, plural: "usagerecords", namespace, labelSelector: `archipel.io/project=${project}` })) as { items: UsageRecord[] }).items.sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));

  async function startManager(name: string, controllers: string, kubeconfig: string): Promise<string> {
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const manager = await startComponent(name, "operators/manager/main.ts", [`--controllers=${controllers}`, "--leader-elect=false", `--metrics-port=${metricsPort}`, `--health-port=${healthPort}`], {
      env: { KUBECONFIG: kubeconfig, POD_NAME: name, LOG_LEVEL: "debug", ...artifactsEnv },
      logDir,
    });
    managers.push(manager);
    await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}; see ${manager.logFile}`);
    });
    return `http://127.0.0.1:${metricsPort}/metrics`;
  }

  const startBilling = async (): Promise<void> => {
    billingMetrics = await startManager(`billing-${suffix}-${managers.length}`, "price,usage,project-spend", billingIdentity.kubeconfigPath);
  };

  async function finished(name: string): Promise<PipelineRun> {
    return eventually(`PipelineRun ${name} to finish`, async () => {
      const run = await getRun(name);
      return ["Succeeded", "Failed", "Error"].includes(run.status?.phase ?? "") ? run : undefined;
    }, 180_000, 500);
  }

  before(async function () {
    this.timeout(240_000);
    const reuse = process.env.ARCHIPEL_ARGO_TEST_CLUSTER;
    cluster = reuse ? await attachCluster(reuse) : await startCluster(`bill-${process.pid}`, ["--argo"]);
    api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    artifactsEnv = await argoArtifactsEnv(cluster.name);
    await api.createClusterCustomObject({ ...archipel, plural: "identities", body: { apiVersion: "archipel.io/v1alpha1", kind: "Identity", metadata: { name: "self" }, spec: { clusterName: "isle-1", displayName: "e2e", apiEndpoint: "https://isle-1.example" } } }).catch(() => undefined);
    const orchestrator = await boundOnlyTo(cluster, namespace, "config/rbac/orchestrator_role.yaml", `orchestrator-${suffix}`);
    billingIdentity = await boundOnlyTo(cluster, namespace, "config/rbac/billing_role.yaml", `billing-${suffix}`);
    identities.push(orchestrator, billingIdentity);
    await startManager(`catalog-${suffix}`, "provider,resource", cluster.kubeconfigPath);
    await startManager(`orchestrator-${suffix}`, "pipelinerun", orchestrator.kubeconfigPath);
    await startBilling();
    await api.createClusterCustomObject({ ...archipel, plural: "projects", body: { apiVersion: "archipel.io/v1alpha1", kind: "Project", metadata: { name: project }, spec: { displayName: "metering e2e", members: { users: ["alice"] }, budget: { amount: "100000", currency: "EUR" } } } });
    await create("providers", "Provider", `tools-${suffix}`, { type: "service", service: { defaultImage: image } });
    // Argo counts cpu as run time × 100m (no requests set) truncated to whole core-seconds: a step
    // needs 10 s to count one.
    const services: [string, unknown][] = [["writer", writerTool({ sleepSeconds: 11 })], ["shouter", shouterTool], ["failing", failingTool], ["sleeper", writerTool({ sleepSeconds: 300 })]];
    await Promise.all(services.map(([name, document]) => create("resources", "Resource", `${name}-${suffix}`, { providerRef: { name: `tools-${suffix}` }, type: "service", title: name, visibility: "private", service: { image, cwl: { document } } })));
    // Default rates, and the project's own (which must win): 2 EUR per core-second, so that
    // seconds of real work cost whole euros.
    const provider = { kind: "Provider", name: `tools-${suffix}` };
    await create("prices", "Price", `default-${suffix}`, { targetRef: provider, currency: "EUR", rates: { cpuCoreHour: "360", perRun: "1" }, validFrom: "2026-01-01T00:00:00Z" });
    await create("prices", "Price", `project-${suffix}`, { targetRef: provider, currency: "EUR", rates: { cpuCoreHour: "7200", memoryGiBHour: "36", perRun: "0.10" }, audience: { projects: [project] }, validFrom: "2026-01-01T00:00:00Z" });
  });

  after(async function () {
    this.timeout(120_000);
    for (const m of managers) await m.stop();
    for (const i of identities) await i.cleanup();
    await api?.deleteClusterCustomObject({ ...archipel, plural: "projects", name: project }).catch(() => undefined);
    if (cluster) await cluster.stop();
    for (const m of managers.filter((x) => x.name.startsWith("billing-"))) {
      assert.doesNotMatch(await readFile(m.logFile, "utf8"), /forbidden/i, `the billing role lacks a verb; see ${m.logFile}`);
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager logs: ${logDir}`);
  });

  const twoSteps = (second: string): Record<string, unknown> => ({
    projectRef: { name: project },
    steps: [
      { name: "write", serviceRef: { name: `writer-${suffix}` }, in: { message: "greeting" } },
      { name: "shout", serviceRef: { name: `${second}-${suffix}` }, in: { text: "write/out" } },
    ],
    outputs: [{ name: "result", source: "shout/shouted" }],
    job: { greeting: "hello pipeline" },
  });
  const ok = `greet-${suffix}`;
  const bad = `broken-${suffix}`;

  it("meters every finished step, the failed one too, from Argo's resourcesDuration at the project's rates", async function () {
    await Promise.all([create("pipelineruns", "PipelineRun", ok, twoSteps("shouter")), create("pipelineruns", "PipelineRun", bad, twoSteps("failing"))]);
    const [okRun, badRun] = await Promise.all([finished(ok), finished(bad)]);
    assert.equal(okRun.status?.phase, "Succeeded");
    assert.equal(badRun.status?.phase, "Failed");
    const found = await eventually("four UsageRecords, Ready", async () => {
      const all = await records();
      return all.length === 4 && all.every((r) => r.status?.conditions?.some((c) => c.type === "Ready")) ? all : undefined;
    }, 60_000, 500);
    const uid8 = (r: PipelineRun): string => (r.metadata.uid ?? "").replace(/-/g, "").slice(0, 8);
    assert.deepEqual(found.map((r) => r.metadata.name), [`${bad}-shout-${uid8(badRun)}`, `${bad}-write-${uid8(badRun)}`, `${ok}-shout-${uid8(okRun)}`, `${ok}-write-${uid8(okRun)}`]);

    for (const record of found) {
      const run = record.spec.pipelineRunRef.name === ok ? okRun : badRun;
      const label = `${record.metadata.name}`;
      // A record outlives its run (no owner reference): it is the run's by the uid it names.
      assert.equal(record.metadata.ownerReferences, undefined, label);
      assert.deepEqual(record.spec.pipelineRunRef, { name: run.metadata.name, uid: run.metadata.uid }, label);
      const stepStatus = run.status?.steps?.find((s) => s.name === record.spec.step);
      assert.equal(record.spec.cluster, "isle-1", label);
      assert.equal(record.spec.startedAt, stepStatus?.startedAt, label);
      assert.equal(record.spec.finishedAt, stepStatus?.finishedAt, label);
      assert.equal(record.spec.source, "resourcesDuration", label);
      // What Argo measured for the step's pods, read here from the Workflow itself.
      const wf = (await api.getNamespacedCustomObject({ ...workflows, namespace, name: run.metadata.name ?? "" })) as Workflow;
      const pods = Object.values(wf.status?.nodes ?? {}).filter((n) => n.type === "Pod" && n.name === `${run.metadata.name}.${record.spec.step}`);
      assert.equal(pods.length, 1, label);
      const argo = pods[0]!.resourcesDuration ?? {};
      if (record.spec.step === "write") assert.ok((argo.cpu ?? 0) > 0, `${label}: Argo measured cpu ${JSON.stringify(argo)}`);
      assert.deepEqual(record.spec.resourcesDuration, argo, label);
      // The project's rates: cpu 7200/h = 2 per core-second; memory 36/GiB-h on 100Mi units; 0.10 a run.
      const cpu = BigInt(argo.cpu ?? 0);
      const memory = BigInt(argo.memory ?? 0);
      const lines = [cents(cpu * 2n, 1n), cents(memory * 100n * 36n, 1024n * 3600n), "0.10"];
      assert.deepEqual(record.spec.priceRef, { name: `project-${suffix}` }, label);
      assert.deepEqual(record.spec.lines?.map((l) => l.amount), lines, label);
      assert.deepEqual(record.spec.cost, { amount: fromCents(lines.map(toCents).reduce((a, b) => a + b, 0n)), currency: "EUR" }, label);
      const ready = record.status?.conditions?.find((c) => c.type === "Ready");
      assert.equal(ready?.status, "True", label);
      assert.equal(ready?.reason, "Metered", label);
      const created = Date.parse(record.metadata.creationTimestamp ?? "") - Date.parse(record.spec.finishedAt);
      console.log(`      ${label}: cpu ${argo.cpu} core-s, memory ${argo.memory} ×100Mi-s → ${record.spec.cost?.amount} EUR; recorded ${created} ms after the step finished`);
    }
  });

  it("keeps Project.status.spent, the statement (JSON and CSV, as the caller) and the counters equal to the records", async function () {
    const all = await records();
    const total = fromCents(all.map((r) => toCents(r.spec.cost?.amount ?? "0")).reduce((a, b) => a + b, 0n));
    const spent = await eventually("Project.status.spent", async () => {
      const p = (await api.getClusterCustomObject({ ...archipel, plural: "projects", name: project })) as Project;
      return p.status?.spent?.[0]?.amount === total ? p.status.spent : undefined;
    }, 30_000, 500);
    assert.deepEqual(spent, [{ amount: total, currency: "EUR" }]);
    // Each run's status.cost is the sum of its own records.
    for (const name of new Set(all.map((r) => r.spec.pipelineRunRef.name))) {
      const own = fromCents(all.filter((r) => r.spec.pipelineRunRef.name === name).map((r) => toCents(r.spec.cost?.amount ?? "0")).reduce((a, b) => a + b, 0n));
      const cost = await eventually(`status.cost of ${name}`, async () => ((await getRun(name)).status?.cost?.amount === own ? (await getRun(name)).status?.cost : undefined), 30_000, 500);
      assert.deepEqual(cost, { amount: own, currency: "EUR" });
    }

    const server = buildServer({ kubeConfig: cluster.kubeConfig(), kinds: [], routes: [(app) => registerStatementRoutes(app, { kubeConfig: cluster.kubeConfig() })] });
    const url = await server.listen({ port: 0, host: "127.0.0.1" });
    const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const binding = `billing-reader-${suffix}`;
    // A copy of the shipped role (config/rbac is not applied to this cluster).
    const shipped = (loadAll(await readFile(path.join(repoRoot, "config/rbac/user_roles.yaml"), "utf8")) as V1ClusterRole[]).find((r) => r.metadata?.name === "archipel-billing-reader");
    assert.ok(shipped, "config/rbac/user_roles.yaml has archipel-billing-reader");
    await rbac.createClusterRole({ body: { ...shipped, metadata: { name: binding } } });
    try {
      const month = (all[0]?.spec.startedAt ?? "").slice(0, 7);
      const statement = (format = "json"): Promise<Response> =>
        fetch(`${url}/api/v1/namespaces/${namespace}/projects/${project}/statement?month=${month}&format=${format}`, { headers: { authorization: `Bearer ${cluster.userTokens.alice}` } });
      assert.equal((await statement()).status, 403, "alice may not list UsageRecords before she is bound");
      await rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name: binding }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: binding }, subjects: [{ kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" }] } });
      const json = (await eventually("the statement as alice", async () => {
        const res = await statement();
        return res.status === 200 ? ((await res.json()) as { entries: { record: string }[]; totals: unknown; unpriced: number }) : undefined;
      }, 20_000, 500));
      assert.deepEqual(json.entries.map((e) => e.record).sort(), all.map((r) => r.metadata.name).sort());
      assert.deepEqual(json.totals, [{ amount: total, currency: "EUR" }]);
      assert.equal(json.unpriced, 0);
      const csv = await (await statement("csv")).text();
      const rows = csv.trimEnd().split("\r\n");
      assert.equal(rows[0], "record,run,step,cluster,peer,requester,project,started_at,finished_at,source,price,charge,quantity,unit,rate,amount,currency");
      assert.equal(rows.length, 1 + all.reduce((n, r) => n + (r.spec.lines?.length ?? 0), 0));
      const csvTotal = rows.slice(1).map((r) => toCents(r.split(",")[15] ?? "0")).reduce((a, b) => a + b, 0n);
      assert.equal(fromCents(csvTotal), total, "the CSV's line items add up to the total");
    } finally {
      await rbac.deleteNamespacedRoleBinding({ namespace, name: binding }).catch(() => undefined);
      await rbac.deleteClusterRole({ name: binding }).catch(() => undefined);
      await server.close();
    }

    const metrics = await (await fetch(billingMetrics)).text();
    const cost = new RegExp(`^archipel_usage_cost_total\\{project="${project}",peer="",role="local",currency="EUR"\\} (\\S+)$`, "m").exec(metrics)?.[1];
    assert.equal(Number(cost).toFixed(2), total, metrics.split("\n").filter((l) => l.startsWith("archipel_usage")).join("\n"));
    const cpuSeconds = /^process_cpu_seconds_total (\S+)$/m.exec(metrics)?.[1];
    const reconciles = [...metrics.matchAll(/^controller_runtime_reconcile_total\{controller="usage",result="(\w+)"\} (\S+)$/gm)].map((m) => `${m[1]}=${m[2]}`).join(" ");
    console.log(`      billing manager: ${cpuSeconds} s of CPU since start; usage reconciles ${reconciles}`);
  });

  it("creates no duplicate after a restart, and meters a record deleted by hand again, the same", async function () {
    const before = await records();
    const billing = managers.filter((m) => m.name.startsWith("billing-")).at(-1)!;
    await billing.stop();
    await startBilling();
    // The restarted controller reconciles every run (its initial list) before the counters move.
    await eventually("the restarted usage controller to reconcile", async () => {
      const text = await (await fetch(billingMetrics)).text();
      const done = Number(/^controller_runtime_reconcile_total\{controller="usage",result="success"\} (\S+)$/m.exec(text)?.[1] ?? 0);
      return done >= 2 ? true : undefined;
    }, 60_000, 500);
    const afterRestart = await records();
    assert.deepEqual(afterRestart.map((r) => [r.metadata.name, r.metadata.uid, r.metadata.resourceVersion]), before.map((r) => [r.metadata.name, r.metadata.uid, r.metadata.resourceVersion]));

    const victim = before.find((r) => r.spec.pipelineRunRef.name === ok && r.spec.step === "write")!;
    await api.deleteNamespacedCustomObject({ ...archipel, plural: "usagerecords", namespace, name: victim.metadata.name ?? "" });
    const again = await eventually("the deleted record metered again", async () => {
      const r = (await records()).find((x) => x.metadata.name === victim.metadata.name);
      return r && r.metadata.uid !== victim.metadata.uid ? r : undefined;
    }, 60_000, 500);
    assert.deepEqual(again.spec, victim.spec);
  });

  it("stops a run whose cost so far reaches its budget while it runs (BudgetExhausted), and its UsageRecord says the step was stopped", async function () {
    // Default rates (no project): 0.1 EUR per core-second × 100m = 0.01 EUR/s, plus 1 EUR per run.
    // Quoted for 2 s: 1.02 EUR, within 1.20; the step sleeps 300 s, so it reaches 1.20 after ~20 s.
    const name = `overrun-${suffix}`;
    await create("pipelineruns", "PipelineRun", name, {
      budget: { amount: "1.20", currency: "EUR" },
      expectedDuration: "2s",
      steps: [{ name: "sleep", serviceRef: { name: `sleeper-${suffix}` }, in: { message: "greeting" } }],
      job: { greeting: "hello" },
    });
    const run = await finished(name);
    const succeeded = run.status?.conditions?.find((c) => c.type === "Succeeded");
    assert.equal(succeeded?.status, "False", JSON.stringify(run.status));
    assert.equal(succeeded?.reason, "BudgetExhausted");
    assert.match(succeeded?.message ?? "", /^stopped: the cost so far \(\d+\.\d{2} EUR, .*\) has reached spec\.budget \(1\.20 EUR\)/);
    // It was stopped, not run to its end: far less than the step's 300 s.
    const ran = (Date.parse(run.status?.finishedAt ?? "") - Date.parse(run.status?.startedAt ?? "")) / 1000;
    assert.ok(ran < 200, `the run lasted ${ran} s`);
    const workflow = (await api.getNamespacedCustomObject({ ...workflows, namespace, name })) as { spec?: { shutdown?: string } };
    assert.equal(workflow.spec?.shutdown, "Stop");
    const record = await eventually("the stopped step's UsageRecord", async () => {
      const list = (await api.listNamespacedCustomObject({ ...archipel, plural: "usagerecords", namespace, labelSelector: `archipel.io/pipelinerun=${name}` })) as { items: UsageRecord[] };
      return list.items[0];
    }, 120_000, 1000);
    assert.equal(record.spec.stopped?.reason, "BudgetExhausted", JSON.stringify(record.spec));
    assert.equal(record.spec.step, "sleep");
  });

  it("stops a run whose cost so far reaches what its Project has left (the run has no budget of its own)", async function () {
    // The same default rates: quoted 1.02 EUR for 2 s, within the Project's 1.20; reached after ~20 s.
    const tight = `tight-${suffix}`;
    await api.createClusterCustomObject({ ...archipel, plural: "projects", body: { apiVersion: "archipel.io/v1alpha1", kind: "Project", metadata: { name: tight }, spec: { displayName: "a small budget", members: { users: ["alice"] }, budget: { amount: "1.20", currency: "EUR" } } } });
    try {
      const name = `project-overrun-${suffix}`;
      await create("pipelineruns", "PipelineRun", name, { projectRef: { name: tight }, expectedDuration: "2s", steps: [{ name: "sleep", serviceRef: { name: `sleeper-${suffix}` }, in: { message: "greeting" } }], job: { greeting: "hello" } });
      const run = await finished(name);
      const succeeded = run.status?.conditions?.find((c) => c.type === "Succeeded");
      assert.equal(succeeded?.reason, "BudgetExhausted", JSON.stringify(run.status));
      assert.match(succeeded?.message ?? "", /^stopped: the cost so far \(\d+\.\d{2} EUR, .*\) has reached the remaining budget of Project tight-/);
      const ran = (Date.parse(run.status?.finishedAt ?? "") - Date.parse(run.status?.startedAt ?? "")) / 1000;
      assert.ok(ran < 200, `the run lasted ${ran} s`);
    } finally {
      await api.deleteClusterCustomObject({ ...archipel, plural: "projects", name: tight }).catch(() => undefined);
    }
  });

  it("keeps a run's UsageRecords when the run is deleted: the Project's spending does not go down", async function () {
    const spentBefore = ((await api.getClusterCustomObject({ ...archipel, plural: "projects", name: project })) as Project).status?.spent;
    const mine = (await records()).filter((r) => r.spec.pipelineRunRef.name === ok);
    assert.equal(mine.length, 2);
    await api.deleteNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name: ok });
    await eventually(`PipelineRun ${ok} to be gone`, async () => (await getRun(ok).then(() => false, () => true)) || undefined, 60_000, 500);
    // The garbage collector has had the time to act on anything the run owned (its Workflow goes).
    await eventually(`the Workflow of ${ok} to be collected`, async () => (await api.getNamespacedCustomObject({ ...workflows, namespace, name: ok }).then(() => false, () => true)) || undefined, 60_000, 500);
    const kept = (await records()).filter((r) => r.spec.pipelineRunRef.name === ok);
    assert.deepEqual(kept.map((r) => r.metadata.uid), mine.map((r) => r.metadata.uid));
    const spentAfter = ((await api.getClusterCustomObject({ ...archipel, plural: "projects", name: project })) as Project).status?.spent;
    assert.deepEqual(spentAfter, spentBefore);
  });
});
