import assert from "node:assert/strict";
import type { UsageRecord, UsageRecordSpec } from "../schema/usageRecord.ts";
import { buildStatement, monthWindow, projectSpent, statementCsv, totalsOf } from "./statement.ts";

function record(name: string, spec: Partial<UsageRecordSpec> = {}, namespace = "team-a"): UsageRecord {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "UsageRecord",
    metadata: { name, namespace },
    spec: {
      pipelineRunRef: { name: "run" },
      step: name,
      cluster: "isle-1",
      projectRef: { name: "ocean" },
      startedAt: "2026-06-10T10:00:00Z",
      finishedAt: "2026-06-10T11:00:00Z",
      source: "resourcesDuration",
      resourcesDuration: { cpu: 3600 },
      usage: { cpuCoreHours: "1.000000", memoryGiBHours: "0.000000", pods: 1 },
      priceRef: { name: "p" },
      lines: [{ charge: "cpu", quantity: "1.000000", unit: "core-hour", rate: "0.05", amount: "0.05" }],
      cost: { amount: "0.05", currency: "EUR" },
      ...spec,
    },
  };
}

describe("monthly statement", () => {
  it("takes a calendar month in UTC, its first instant included and the next month's excluded", () => {
    assert.deepEqual(monthWindow("2026-12"), { from: new Date("2026-12-01T00:00:00Z"), until: new Date("2027-01-01T00:00:00Z") });
    const s = buildStatement(
      [
        record("first", { startedAt: "2026-06-01T00:00:00Z" }),
        record("last", { startedAt: "2026-06-30T23:59:59.999Z", finishedAt: "2026-07-01T01:00:00Z" }),
        record("july", { startedAt: "2026-07-01T00:00:00Z", finishedAt: "2026-07-01T01:00:00Z" }),
        record("may", { startedAt: "2026-05-31T23:59:59Z", finishedAt: "2026-06-01T01:00:00Z" }),
      ],
      { namespace: "team-a", month: "2026-06", project: "ocean" },
    );
    // A step belongs to the month it started in (the instant that chose its Price), even if it ended in the next.
    assert.deepEqual(s.entries.map((e) => e.record), ["first", "last"]);
    assert.equal(s.from, "2026-06-01T00:00:00.000Z");
    assert.equal(s.until, "2026-07-01T00:00:00.000Z");
  });

  it("refuses a month that is not YYYY-MM, naming it", () => {
    for (const bad of ["2026-13", "2026-6", "June", "2026-06-01"]) assert.throws(() => monthWindow(bad), /month ".*" is not a month; write it like 2026-12/);
  });

  it("keeps one project's records of the namespace, or one peer's: run for it, or run by it", () => {
    const all = [record("a"), record("b", { projectRef: { name: "forest" } }), record("c", { peer: "fed-2" }), record("d", {}, "team-b"), record("e", { requester: { peer: "fed-2" } })];
    assert.deepEqual(buildStatement(all, { namespace: "team-a", month: "2026-06", project: "ocean" }).entries.map((e) => e.record), ["a", "c", "e"]);
    const owedToUs = buildStatement(all, { namespace: "team-a", month: "2026-06", peer: "fed-2" });
    assert.deepEqual([owedToUs.side, owedToUs.entries.map((e) => [e.record, e.requester])], ["provider", [["e", "fed-2"]]]);
    const owedByUs = buildStatement(all, { namespace: "team-a", month: "2026-06", peer: "fed-2", side: "consumer" });
    assert.deepEqual([owedByUs.side, owedByUs.entries.map((e) => [e.record, e.peer])], ["consumer", [["c", "fed-2"]]]);
  });

  it("totals per currency, never converting, as sums of the records' rounded costs; counts unpriced records apart", () => {
    const s = buildStatement(
      [
        record("a", { cost: { amount: "0.05", currency: "EUR" } }),
        record("b", { cost: { amount: "1.10", currency: "EUR" } }),
        record("c", { cost: { amount: "7", currency: "JPY" } }),
        record("d", { cost: { amount: "0.125", currency: "KWD" } }),
        record("e", { cost: undefined, priceRef: undefined, lines: undefined }),
      ],
      { namespace: "team-a", month: "2026-06", project: "ocean" },
    );
    assert.deepEqual(s.totals, [
      { amount: "1.15", currency: "EUR" },
      { amount: "7", currency: "JPY" },
      { amount: "0.125", currency: "KWD" },
    ]);
    assert.equal(s.unpriced, 1);
    assert.equal(s.entries.find((e) => e.record === "e")?.cost, undefined);
  });

  it("adds exactly: ten costs of 0.10 are 1.00, not 0.9999999999999999", () => {
    assert.deepEqual(totalsOf(Array.from({ length: 10 }, () => ({ amount: "0.10", currency: "EUR" }))), [{ amount: "1.00", currency: "EUR" }]);
  });

  it("writes CSV with one row per line item, a row for an unpriced record, and quotes what needs it", () => {
    const priced = record("a", {
      lines: [
        { charge: "cpu", quantity: "1.000000", unit: "core-hour", rate: "0.05", amount: "0.05" },
        { charge: "run", quantity: "1.000000", unit: "run", rate: "0.10", amount: "0.10" },
      ],
      cost: { amount: "0.15", currency: "EUR" },
      cluster: 'odd,"name"',
    });
    const csv = statementCsv(buildStatement([priced, record("b", { cost: undefined, priceRef: undefined, lines: undefined })], { namespace: "team-a", month: "2026-06", project: "ocean" }));
    const rows = csv.split("\r\n");
    assert.equal(rows.length, 5, "header, two line items, one unpriced row, and the final line end");
    assert.equal(rows[0], "record,run,step,cluster,peer,requester,project,started_at,finished_at,source,price,charge,quantity,unit,rate,amount,currency");
    assert.equal(rows[1], 'a,run,a,"odd,""name""",,,ocean,2026-06-10T10:00:00Z,2026-06-10T11:00:00Z,resourcesDuration,p,cpu,1.000000,core-hour,0.05,0.05,EUR');
    assert.equal(rows[3], "b,run,b,isle-1,,,ocean,2026-06-10T10:00:00Z,2026-06-10T11:00:00Z,resourcesDuration,,,,,,,");
    assert.equal(rows[4], "");
  });

  it("sums a Project's spending per currency over its priced records of every namespace", () => {
    const records = [record("a"), record("b", {}, "team-b"), record("c", { cost: { amount: "2", currency: "USD" } }), record("d", { projectRef: { name: "forest" } }), record("e", { cost: undefined, priceRef: undefined, lines: undefined })];
    assert.deepEqual(projectSpent(records, "ocean"), [
      { amount: "0.10", currency: "EUR" },
      { amount: "2.00", currency: "USD" },
    ]);
    assert.deepEqual(projectSpent(records, "nobody"), []);
  });
});
