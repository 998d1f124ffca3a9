// Which Price applies to a request: one target (a Resource, or its Provider), one audience (the
// peer cluster asking and/or the project billed) and one time. Pure: Prices and time are passed in.
//
// Rules (docs/billing.md says the same for users):
// - A Price is in force on [spec.validFrom, spec.validUntil): from validFrom included, until
//   validUntil excluded (no validUntil: for ever). At validUntil the next Price can start
//   without a gap or an overlap.
// - Candidates are the Prices of the target's namespace on the Resource or on its Provider whose
//   audience admits the request: no audience (the default, for everyone), a project in
//   spec.audience.projects equal to the project billed, or a peer in spec.audience.peers equal to
//   the peer asking.
// - Precedence, first difference wins: a Price on the Resource beats one on its Provider; then a
//   project match beats a peer match, which beats the default (a project is the narrower deal: a
//   peer acts for many projects).
// - Two candidates of the same, best rank are a conflict: neither applies and the request gets no
//   price, so nobody is charged a rate its owner did not single out. The Price controller marks
//   such Prices Ready=False, reason Conflict, naming each other (`conflictingPrices`).
import type { Price, PriceAudience, PriceRates } from "../schema/price.ts";

/** What is priced: a Resource (with the Provider it belongs to) or a Provider alone. */
export interface PriceTarget {
  namespace: string;
  resource?: string;
  provider: string;
}

/** Who asks: the peer cluster a request comes from (absent: a local user) and the project billed. */
export interface Audience {
  peer?: string;
  project?: string;
}

/** The rates a quote or a cost uses, and where they come from (priceRef of a UsageRecord). */
export interface ResolvedRates {
  price: string;
  /** The Peer whose cluster holds the Price; absent: this cluster. */
  peer?: string;
  currency: string;
  rates: PriceRates;
}

export type Resolution =
  | { outcome: "resolved"; price: Price; rates: ResolvedRates }
  | { outcome: "none"; message: string }
  | { outcome: "conflict"; prices: string[]; message: string };

export class PriceError extends Error {
  override name = "PriceError";
}

function instant(price: Price, field: "validFrom" | "validUntil"): number | undefined {
  const text = price.spec[field];
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new PriceError(`Price ${price.metadata.name ?? ""}: spec.${field} ${JSON.stringify(text)} is not an RFC 3339 time`);
  return ms;
}

/** [from, until) in epoch ms; until undefined = open-ended. */
export function validityOf(price: Price): { from: number; until: number | undefined } {
  return { from: instant(price, "validFrom") ?? 0, until: instant(price, "validUntil") };
}

/** validFrom ≤ at < validUntil. */
export function inForce(price: Price, at: Date): boolean {
  const { from, until } = validityOf(price);
  const t = at.getTime();
  return from <= t && (until === undefined || t < until);
}

/** Two half-open windows share at least one instant. */
export function windowsOverlap(a: Price, b: Price): boolean {
  const x = validityOf(a);
  const y = validityOf(b);
  return (y.until === undefined || x.from < y.until) && (x.until === undefined || y.from < x.until);
}

const shares = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => (a ?? []).some((v) => (b ?? []).includes(v));

/** Both default, or both name a same peer or a same project: some request would match both. */
export function audiencesOverlap(a: PriceAudience | undefined, b: PriceAudience | undefined): boolean {
  if (!a || !b) return !a && !b;
  return shares(a.peers, b.peers) || shares(a.projects, b.projects);
}

const sameTarget = (a: Price, b: Price): boolean =>
  a.metadata.namespace === b.metadata.namespace && a.spec.targetRef.kind === b.spec.targetRef.kind && a.spec.targetRef.name === b.spec.targetRef.name;

/** The other Prices that some request at some time would find at the same rank as `price`. */
export function conflictingPrices(price: Price, others: readonly Price[]): Price[] {
  return others
    .filter((o) => o.metadata.name !== price.metadata.name && sameTarget(price, o))
    .filter((o) => audiencesOverlap(price.spec.audience, o.spec.audience) && windowsOverlap(price, o))
    .sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
}

/** 0 default, 1 peer match, 2 project match; undefined: not for this audience. */
function audienceRank(audience: PriceAudience | undefined, who: Audience): number | undefined {
  if (!audience) return 0;
  if (who.project !== undefined && audience.projects?.includes(who.project)) return 2;
  if (who.peer !== undefined && audience.peers?.includes(who.peer)) return 1;
  return undefined;
}

function targetRank(price: Price, target: PriceTarget): number | undefined {
  if (price.metadata.namespace !== target.namespace) return undefined;
  const ref = price.spec.targetRef;
  if (ref.kind === "Resource") return target.resource !== undefined && ref.name === target.resource ? 1 : undefined;
  return ref.name === target.provider ? 0 : undefined;
}

/** Higher is more specific; undefined: the Price does not apply to this request. */
export function rankOf(price: Price, target: PriceTarget, who: Audience): number | undefined {
  const t = targetRank(price, target);
  const a = audienceRank(price.spec.audience, who);
  return t === undefined || a === undefined ? undefined : t * 3 + a;
}

function describe(target: PriceTarget, who: Audience): string {
  const what = target.resource ? `Resource ${target.namespace}/${target.resource} (Provider ${target.provider})` : `Provider ${target.namespace}/${target.provider}`;
  const parts = [who.peer ? `peer ${who.peer}` : "local users", ...(who.project ? [`project ${who.project}`] : [])];
  return `${what} for ${parts.join(", ")}`;
}

/** The Price in force at `at` for `target` and `who`, by the rules above. */
export function resolvePrice(prices: readonly Price[], target: PriceTarget, who: Audience, at: Date): Resolution {
  const ranked = prices
    .filter((p) => inForce(p, at))
    .map((price) => ({ price, rank: rankOf(price, target, who) }))
    .filter((c): c is { price: Price; rank: number } => c.rank !== undefined);
  if (ranked.length === 0) return { outcome: "none", message: `no Price is in force at ${at.toISOString()} for ${describe(target, who)}` };
  const best = Math.max(...ranked.map((c) => c.rank));
  const winners = ranked.filter((c) => c.rank === best).map((c) => c.price);
  if (winners.length > 1) {
    const names = winners.map((p) => p.metadata.name ?? "").sort();
    return { outcome: "conflict", prices: names, message: `Prices ${names.join(", ")} apply equally to ${describe(target, who)} at ${at.toISOString()}: none is used until they no longer overlap` };
  }
  const price = winners[0]!;
  return { outcome: "resolved", price, rates: { price: price.metadata.name ?? "", currency: price.spec.currency, rates: price.spec.rates } };
}
