import assert from "node:assert/strict";
import { RuntimeMetrics } from "./metrics.ts";

describe("runtime/metrics", () => {
  it("exposes controller-runtime's metric names, with zero series before any work", async () => {
    const m = new RuntimeMetrics({ processMetrics: false });
    m.registerController("provider", 2);
    m.queueSink("provider");
    m.leaderStatus.set({ name: "lease" }, 1);
    const text = await m.registry.metrics();
    for (const series of [
      'controller_runtime_reconcile_total{controller="provider",result="success"} 0',
      'controller_runtime_reconcile_total{controller="provider",result="error"} 0',
      'controller_runtime_reconcile_total{controller="provider",result="requeue"} 0',
      'controller_runtime_reconcile_total{controller="provider",result="requeue_after"} 0',
      'controller_runtime_reconcile_errors_total{controller="provider"} 0',
      'controller_runtime_max_concurrent_reconciles{controller="provider"} 2',
      'workqueue_depth{name="provider"} 0',
      'workqueue_adds_total{name="provider"} 0',
      'workqueue_retries_total{name="provider"} 0',
      'leader_election_master_status{name="lease"} 1',
    ]) {
      assert.ok(text.includes(series), `missing ${series}`);
    }
    for (const name of ["controller_runtime_reconcile_time_seconds", "workqueue_queue_duration_seconds", "workqueue_work_duration_seconds"]) {
      assert.ok(text.includes(`# TYPE ${name} histogram`), `missing histogram ${name}`);
    }
  });

  it("counts an error reconcile in both the total and the errors counter", async () => {
    const m = new RuntimeMetrics({ processMetrics: false });
    m.reconciled("c", "error", 0.02);
    m.reconciled("c", "success", 0.01);
    const text = await m.registry.metrics();
    assert.ok(text.includes('controller_runtime_reconcile_total{controller="c",result="error"} 1'));
    assert.ok(text.includes('controller_runtime_reconcile_errors_total{controller="c"} 1'));
    assert.ok(text.includes('controller_runtime_reconcile_time_seconds_count{controller="c"} 2'));
  });

  it("keeps two managers' registries apart", async () => {
    const a = new RuntimeMetrics();
    const b = new RuntimeMetrics();
    a.reconciled("x", "success", 0);
    assert.ok((await a.registry.metrics()).includes('controller="x"'));
    assert.ok(!(await b.registry.metrics()).includes('controller="x"'));
  });
});
