// A monthly statement: the UsageRecords of one namespace for one calendar month (UTC), for one
// project or one peer, with totals per currency. Pure: the records go in (the API lists them as
// the caller), the statement comes out as JSON or CSV.
//
// A record belongs to the month its step started in (the same instant that chose its Price).
// Totals are sums of the records' costs, which are sums of rounded line items: a statement adds
// up to the cent. Unpriced records (no Price applied) are listed with no cost and counted apart.
import type { Money } from "../schema/common.ts";
import type { UsageLine, UsageRecord } from "../schema/usageRecord.ts";
import { MoneyError, parseDecimal, roundToCurrency, toMoney } from "./money.ts";

export interface StatementQuery {
  namespace: string;
  /** YYYY-MM */
  month: string;
  project?: string;
  peer?: string;
  /**
   * With `peer`: "provider" (default) lists the steps this cluster ran for the peer (what it owes),
   * "consumer" the steps the peer ran for this cluster (its records, what this cluster owes).
   */
  side?: "provider" | "consumer";
}

export interface StatementEntry {
  record: string;
  run: string;
  step: string;
  cluster: string;
  peer?: string;
  requester?: string;
  project?: string;
  startedAt: string;
  finishedAt: string;
  source: string;
  cpuCoreHours: string;
  memoryGiBHours: string;
  price?: { name: string; peer?: string };
  lines: UsageLine[];
  cost?: Money;
}

export interface Statement {
  namespace: string;
  month: string;
  /** [from, until): the month in UTC */
  from: string;
  until: string;
  project?: string;
  peer?: string;
  side?: "provider" | "consumer";
  entries: StatementEntry[];
  /** One per currency, sorted by code. */
  totals: Money[];
  /** Entries without a cost (no Price applied when they were metered). */
  unpriced: number;
}

const monthGrammar = /^([0-9]{4})-(0[1-9]|1[0-2])$/;

/** "2026-12" → [2026-12-01T00:00Z, 2027-01-01T00:00Z). */
export function monthWindow(month: string): { from: Date; until: Date } {
  const match = monthGrammar.exec(month);
  if (!match) throw new MoneyError(`month ${JSON.stringify(month)} is not a month; write it like 2026-12`);
  const [year, index] = [Number(match[1]), Number(match[2]) - 1];
  return { from: new Date(Date.UTC(year, index, 1)), until: new Date(Date.UTC(year, index + 1, 1)) };
}

function entryOf(record: UsageRecord): StatementEntry {
  const { spec } = record;
  return {
    record: record.metadata.name ?? "",
    run: spec.pipelineRunRef.name,
    step: spec.step,
    cluster: spec.cluster,
    ...(spec.peer ? { peer: spec.peer } : {}),
    ...(spec.requester ? { requester: spec.requester.peer } : {}),
    ...(spec.projectRef ? { project: spec.projectRef.name } : {}),
    startedAt: spec.startedAt,
    finishedAt: spec.finishedAt,
    source: spec.source,
    cpuCoreHours: spec.usage.cpuCoreHours,
    memoryGiBHours: spec.usage.memoryGiBHours,
    ...(spec.priceRef ? { price: spec.priceRef } : {}),
    lines: spec.lines ?? [],
    ...(spec.cost ? { cost: spec.cost } : {}),
  };
}

function inMonth(record: UsageRecord, window: { from: Date; until: Date }): boolean {
  const started = Date.parse(record.spec.startedAt);
  return started >= window.from.getTime() && started < window.until.getTime();
}

/** The Peer on the query's side of a record: the one it ran for (provider), or that ran it (consumer). */
const peerOnSide = (record: UsageRecord, side: StatementQuery["side"]): string | undefined => (side === "consumer" ? record.spec.peer : record.spec.requester?.peer);

function inQuery(record: UsageRecord, query: StatementQuery, window: { from: Date; until: Date }): boolean {
  if (!inMonth(record, window)) return false;
  if (record.metadata.namespace !== undefined && record.metadata.namespace !== query.namespace) return false;
  if (query.project !== undefined && record.spec.projectRef?.name !== query.project) return false;
  return query.peer === undefined || peerOnSide(record, query.side) === query.peer;
}

/** Sums per currency, in minor units (the costs are already rounded). */
export function totalsOf(costs: readonly Money[]): Money[] {
  const sums = new Map<string, bigint>();
  for (const cost of costs) {
    const minor = roundToCurrency(parseDecimal(cost.amount, `cost in ${cost.currency}`), cost.currency).minor;
    sums.set(cost.currency, (sums.get(cost.currency) ?? 0n) + minor);
  }
  return [...sums.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([currency, minor]) => toMoney({ minor, currency }));
}

export function buildStatement(records: readonly UsageRecord[], query: StatementQuery): Statement {
  const window = monthWindow(query.month);
  const entries = records
    .filter((r) => inQuery(r, query, window))
    .map(entryOf)
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.record.localeCompare(b.record));
  const costs = entries.flatMap((e) => (e.cost ? [e.cost] : []));
  return {
    namespace: query.namespace,
    month: query.month,
    from: window.from.toISOString(),
    until: window.until.toISOString(),
    ...(query.project !== undefined ? { project: query.project } : {}),
    ...(query.peer !== undefined ? { peer: query.peer, side: query.side ?? "provider" } : {}),
    entries,
    totals: totalsOf(costs),
    unpriced: entries.length - costs.length,
  };
}

export const statementCsvHeader = ["record", "run", "step", "cluster", "peer", "requester", "project", "started_at", "finished_at", "source", "price", "charge", "quantity", "unit", "rate", "amount", "currency"] as const;

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One row per line item (an unpriced record: one row without price or amount); CRLF line ends. */
export function statementCsv(statement: Statement): string {
  const rows: string[][] = [[...statementCsvHeader]];
  for (const e of statement.entries) {
    const common = [e.record, e.run, e.step, e.cluster, ...[e.peer, e.requester, e.project].map((v) => v ?? ""), e.startedAt, e.finishedAt, e.source, e.price?.name ?? ""];
    if (e.lines.length === 0) rows.push([...common, "", "", "", "", "", ""]);
    for (const line of e.lines) rows.push([...common, line.charge, line.quantity, line.unit, line.rate, line.amount, e.cost?.currency ?? ""]);
  }
  return rows.map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** A Project's status.spent: the cost of every priced record billed to it, per currency (all time). */
export function projectSpent(records: readonly UsageRecord[], project: string): Money[] {
  return totalsOf(records.filter((r) => r.spec?.projectRef?.name === project && r.spec.cost).map((r) => r.spec.cost!));
}
