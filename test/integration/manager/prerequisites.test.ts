// Controllers that need Argo Workflows (pipelinerun, usage) on a cluster without it: the default
// set leaves them out with a warning and runs the rest; naming one of them is a usage error.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { sharedCluster, type TestCluster } from "../../support/cluster.ts";
import { type ComponentProcess, freePort, startComponent, waitForHttp } from "../../support/processes.ts";

describe("manager on a cluster without Argo Workflows", function () {
  this.timeout(120_000);
  const logDir = path.join(tmpdir(), `archipel-prerequisites-${process.pid}`);
  let cluster: TestCluster;
  const started: ComponentProcess[] = [];

  before(async () => {
    cluster = await sharedCluster();
  });
  after(async () => {
    await Promise.all(started.map((m) => m.stop()));
  });

  const start = async (name: string, args: string[]): Promise<ComponentProcess> => {
    const m = await startComponent(name, "operators/manager/main.ts", ["--leader-elect=false", ...args], { env: { KUBECONFIG: cluster.kubeconfigPath }, logDir });
    started.push(m);
    return m;
  };

  it("leaves pipelinerun and usage out of the default set, with a warning each, and runs the others", async () => {
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const m = await start("default-set", [`--metrics-port=${metricsPort}`, `--health-port=${healthPort}`]);
    await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, 90_000);
    const log = await readFile(m.logFile, "utf8");
    const leftOut = log.split("\n").filter((l) => l.includes("controller left out")).map((l) => (JSON.parse(l) as { controller: string }).controller);
    assert.deepEqual(leftOut.sort(), ["pipelinerun", "usage"]);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /controller_runtime_max_concurrent_reconciles\{controller="project-spend"\}/, "project-spend needs no Argo and runs");
    assert.doesNotMatch(metrics, /controller="usage"/);
  });

  it("refuses --controllers=usage there, saying what is missing", async () => {
    const m = await start("named-usage", ["--controllers=usage", "--metrics-port=0", "--health-port=0"]);
    const code = m.child.exitCode ?? (await new Promise<number | null>((resolve) => m.child.once("exit", (c) => resolve(c))));
    assert.equal(code, 2);
    assert.match(await readFile(m.logFile, "utf8"), /--controllers: usage needs Argo Workflows \(workflows\.argoproj\.io\), which this cluster does not serve/);
  });
});
