// Auto placement: which cluster runs a run's Auto steps, chosen among the offers of this cluster
// and of its peers. Pure: the offers go in (what each cluster said it would charge, how much room
// it has, how far this cluster trusts it), one choice and its reason come out. The survey that
// asks for the offers is autoSurvey.ts; the choice is pinned in status.autoPlacement, so that a
// plan never moves once made (a Price or a trust score changing later does not move a run).
//
// The rule (docs/orchestrator.md, "Auto"):
// 1. a cluster that cannot run the steps is out: it lacks (or does not show us) a service, did not
//    answer, has less free capacity than the steps' hold needs, or is a peer trusted less than the
//    run's placement.minTrust;
// 2. among the rest, the lowest quote in the run's currency wins (a quote in another currency, or
//    none, cannot be compared and ranks after every comparable one);
// 3. then the higher trust score (this cluster counts as 100: it trusts itself);
// 4. then this cluster, then the peer's name (a stable order, so a tie is decided the same way twice).
//
// Auto steps wired to each other (one reads another's output) go to one cluster together; steps
// not wired to each other are ranked apart (autoGroups), so a run's branches may go to different
// peers. autoSurvey.ts says which peers may be asked for each group.
// A peer whose hold for them ends before any step is sent there (it rejected it, or it expired)
// is left out and the steps ranked again (status.autoRefused): the one case where a pin moves.
import { compare, parseDecimal } from "../billing/money.ts";
import { parseQuantity } from "../catalog/quantity.ts";
import type { Money } from "../schema/common.ts";
import type { PipelineRunSpec, PipelineStep } from "../schema/pipelineRun.ts";
import { upstreamOf } from "./pipelineWorkflow.ts";
import type { StepSite } from "./placement.ts";

export interface CpuMemory {
  cpu: string;
  memory: string;
}

/** What one cluster said of the Auto steps. */
export interface AutoOffer {
  site: StepSite;
  /** how the reason names it: "this cluster", "peer lyon (cluster lyon-1)" */
  label: string;
  /** why it cannot run the steps at all; undefined: it can */
  unavailable?: string;
  /** its quote of the steps, one amount per currency; undefined: they are not priced there */
  quote?: Money[];
  /** what the steps' hold would be there: their widest moment plus room for Argo's containers */
  needs?: CpuMemory;
  /** its compute Provider's free capacity; undefined: it does not say */
  free?: CpuMemory;
  /** a peer's trust score (undefined: none yet); ignored for this cluster */
  trust?: number;
}

export interface AutoRules {
  /** the highest placement.minTrust that applies, with the field that set it */
  minTrust?: { min: number; field: string };
  /** the currency quotes are compared in (the run's budget's); default: this cluster's quote's, else the first comparable one */
  currency?: string;
}

export type AutoChoice = { ok: true; site: StepSite; reason: string } | { ok: false; message: string };

/** The placement reason's room in status (StepStatus.placement has 1024). */
const maxReason = 1000;

const isLocal = (o: AutoOffer): boolean => o.site.kind === "local";

/** Why the offer is out, or undefined when it can run the steps. */
function exclusion(o: AutoOffer, rules: AutoRules): string | undefined {
  if (o.unavailable !== undefined) return o.unavailable;
  if (o.needs && o.free) {
    const short = (["cpu", "memory"] as const).filter((r) => parseQuantity(o.needs![r]) > parseQuantity(o.free![r]));
    if (short.length > 0) return `no room: the hold needs ${o.needs.cpu} cpu and ${o.needs.memory}, ${o.free.cpu} cpu and ${o.free.memory} are free`;
  }
  const { minTrust } = rules;
  if (!isLocal(o) && minTrust && (o.trust === undefined || o.trust < minTrust.min)) {
    return `trust ${o.trust ?? "unknown"} below ${minTrust.field} ${minTrust.min}`;
  }
  return undefined;
}

/** The offer's quote in `currency`, when it is priced in that currency alone. */
function amountIn(o: AutoOffer, currency: string | undefined): Money | undefined {
  const [only, ...more] = o.quote ?? [];
  return only && more.length === 0 && only.currency === currency ? only : undefined;
}

function currencyOf(eligible: readonly AutoOffer[], rules: AutoRules): string | undefined {
  if (rules.currency) return rules.currency;
  const single = (o: AutoOffer): string | undefined => (o.quote?.length === 1 ? o.quote[0]?.currency : undefined);
  return single(eligible.find(isLocal) ?? ({} as AutoOffer)) ?? eligible.map(single).find((c) => c !== undefined);
}

const trustOf = (o: AutoOffer): number => (isLocal(o) ? 100 : (o.trust ?? 0));
const nameOf = (o: AutoOffer): string => (o.site.kind === "peer" ? o.site.peer : "");

/** Negative when `a` ranks before `b`. */
function ranking(currency: string | undefined): (a: AutoOffer, b: AutoOffer) => number {
  return (a, b) => {
    const [pa, pb] = [amountIn(a, currency), amountIn(b, currency)];
    if (pa && pb) {
      const price = compare(parseDecimal(pa.amount, "quote"), parseDecimal(pb.amount, "quote"));
      if (price !== 0) return price;
    } else if (pa || pb) {
      return pa ? -1 : 1;
    }
    return trustOf(b) - trustOf(a) || Number(isLocal(b)) - Number(isLocal(a)) || nameOf(a).localeCompare(nameOf(b));
  };
}

function describeOffer(o: AutoOffer, currency: string | undefined): string {
  const price = amountIn(o, currency);
  const quoted = price ? `${price.amount} ${price.currency}` : o.quote?.length ? `${o.quote.map((m) => `${m.amount} ${m.currency}`).join(" + ")} (not comparable)` : "not priced";
  const room = o.free ? `, ${o.free.cpu} cpu and ${o.free.memory} free` : "";
  const trust = isLocal(o) ? "" : `, trust ${o.trust ?? "unknown"}`;
  return `${o.label}: ${quoted}${room}${trust}`;
}

/** The cluster the Auto steps go to, and why (in words a user reads in status); or why none can take them. */
export function chooseAutoSite(offers: readonly AutoOffer[], rules: AutoRules = {}): AutoChoice {
  const out = offers.flatMap((o) => {
    const why = exclusion(o, rules);
    return why === undefined ? [] : [`${o.label}: ${why}`];
  });
  const eligible = offers.filter((o) => exclusion(o, rules) === undefined);
  const currency = currencyOf(eligible, rules);
  const [best, ...others] = [...eligible].sort(ranking(currency));
  if (!best) return { ok: false, message: `Auto: no cluster can run the steps (${out.join("; ") || "no offer"})` };
  const parts = [
    `Auto: ${describeOffer(best, currency)}`,
    ...(others.length ? [`ranked over ${others.map((o) => describeOffer(o, currency)).join("; ")}`] : []),
    ...(out.length ? [`left out ${out.join("; ")}`] : []),
  ];
  const reason = parts.join("; ");
  return { ok: true, site: best.site, reason: reason.length > maxReason ? `${reason.slice(0, maxReason - 1)}…` : reason };
}

/**
 * The Auto steps in the groups ranked apart: steps wired to each other, directly or through
 * other Auto steps, form one group and go to one cluster together (outputs that cross between
 * peers are relayed through this cluster: one cluster per chain keeps them where they are made);
 * groups come in the order of their first step.
 */
export function autoGroups(steps: readonly PipelineStep[]): PipelineStep[][] {
  const names = new Set(steps.map((s) => s.name));
  const leader = new Map(steps.map((s) => [s.name, s.name]));
  const find = (name: string): string => {
    let at = name;
    while (leader.get(at) !== at) at = leader.get(at) ?? at;
    return at;
  };
  for (const step of steps) {
    for (const from of upstreamOf(step)) {
      if (names.has(from)) leader.set(find(from), find(step.name));
    }
  }
  const groups = new Map<string, PipelineStep[]>();
  for (const step of steps) groups.set(find(step.name), [...(groups.get(find(step.name)) ?? []), step]);
  return [...groups.values()];
}

/** A step Auto ranks: its strategy is Auto (its own placement's, else the run's) and its service names no peer. */
export function rankedByAuto(spec: PipelineRunSpec, step: PipelineStep): boolean {
  const placement = step.placement ?? spec.placement;
  return placement?.strategy === "Auto" && step.serviceRef.peer === undefined;
}

/** Where Auto placed a step (status.autoPlacement). */
export interface AutoPin {
  step: string;
  /** the Peer object's name; absent: this cluster */
  peer?: string;
  reason: string;
}

/**
 * The spec as the rest of the controller runs it: a step Auto placed on a peer names that peer's
 * service of the same name (serviceRef.peer), as if the user had; its reason stays the ranking's.
 */
export function withAutoPins(spec: PipelineRunSpec, pins: readonly AutoPin[] | undefined): PipelineRunSpec {
  if (!pins?.length) return spec;
  const steps = spec.steps.map((s) => {
    const peer = pins.find((p) => p.step === s.name)?.peer;
    return peer && s.serviceRef.peer === undefined ? { ...s, serviceRef: { ...s.serviceRef, peer } } : s;
  });
  return { ...spec, steps };
}

/**
 * Whether the steps on `peer` are there only because Auto put them there (no step names the peer
 * itself): then a hold the peer does not keep sends them to be ranked again, not the run to fail.
 * `spec` is the pinned one (withAutoPins).
 */
export function placedOnPeerByAuto(spec: PipelineRunSpec, pins: readonly AutoPin[] | undefined, peer: string): boolean {
  const pinnedThere = new Set((pins ?? []).filter((p) => p.peer === peer).map((p) => p.step));
  return pinnedThere.size > 0 && spec.steps.every((s) => s.serviceRef.peer !== peer || pinnedThere.has(s.name));
}

/** Why a peer is out of the ranking for this run: its hold for the run's steps ended before they were sent. */
export function refusedHold(refused: readonly { peer: string; reservation: string; state: string; message?: string }[] | undefined, peer: string): string | undefined {
  const last = (refused ?? []).filter((r) => r.peer === peer).at(-1);
  return last && `its hold ${last.reservation} for these steps ended ${last.state}${last.message ? ` (${last.message})` : ""} before they were sent`;
}
