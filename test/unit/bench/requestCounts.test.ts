import assert from "node:assert/strict";
import { grown, sumCounter } from "../../../bench/requestCounts.ts";

describe("bench/discovery's request counts, read from Prometheus text", () => {
  const metrics = [
    "# HELP apiserver_request_total Counter of apiserver requests",
    "# TYPE apiserver_request_total counter",
    'apiserver_request_total{code="200",component="apiserver",group="archipel.io",resource="peers",scope="cluster",subresource="status",verb="PATCH",version="v1alpha1"} 7',
    'apiserver_request_total{code="409",component="apiserver",group="archipel.io",resource="peers",scope="cluster",subresource="status",verb="PATCH",version="v1alpha1"} 2',
    'apiserver_request_total{code="201",component="apiserver",group="",resource="events",scope="namespace",subresource="",verb="POST",version="v1"} 3',
    'apiserver_request_total_other{verb="GET"} 100',
    'apiserver_request_duration_seconds_bucket{verb="GET",le="0.1"} 50',
  ].join("\n");

  it("sums a counter by the labels asked, across the other labels (codes), and only that counter", () => {
    const byRequest = sumCounter(metrics, "apiserver_request_total", (l) => `${l.verb} ${l.resource}${l.subresource ? `/${l.subresource}` : ""}`);
    assert.deepEqual([...byRequest], [["PATCH peers/status", 9], ["POST events", 3]]);
  });

  it("reports what grew, largest first, and leaves out what did not", () => {
    const before = new Map([["PATCH peers/status", 9], ["POST events", 3], ["GET leases", 4]]);
    const after = new Map([["PATCH peers/status", 30], ["POST events", 4], ["GET leases", 4], ["LIST peers", 2]]);
    assert.deepEqual(grown(before, after, 2), [["PATCH peers/status", 21], ["LIST peers", 2]]);
  });
});
