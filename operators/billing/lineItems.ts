// A step's usage × its rates → line items, each rounded once at its end (money.ts states the
// rule), and totals per currency as sums of rounded line items. Shared by quotes (expected usage)
// and costs (measured usage), so both price the same way. Pure.
import type { Money } from "../schema/common.ts";
import type { PriceRates } from "../schema/price.ts";
import { type Exact, exact, formatScaled, type MinorAmount, mul, parseDecimal, roundHalfEven, roundToCurrency, toMoney } from "./money.ts";
import type { ResolvedRates } from "./priceResolution.ts";
import type { Usage } from "./usage.ts";

export type Charge = "cpu" | "memory" | "run";

export interface LineItem {
  charge: Charge;
  /** For reading only, rounded to 6 decimals: the amount is computed from the exact quantity. */
  quantity: string;
  unit: "core-hour" | "GiB-hour" | "run";
  /** The rate used, as the Price writes it, in the Price's currency per unit. */
  rate: string;
  amount: Money;
}

export interface PricedStep {
  step: string;
  /** The Peer whose cluster runs the step; absent: this cluster. */
  peer?: string;
  price: { name: string; peer?: string };
  lines: LineItem[];
  total: Money;
}

const quantityDigits = 6;
const perHour = exact(1n, 3600n);

interface ChargeRule {
  charge: Charge;
  unit: LineItem["unit"];
  rate: keyof PriceRates;
  quantity(usage: Usage): Exact;
}

// Storage (per GiB-month) and egress (per GiB) are not derived from a step's requests or from
// Argo's resourcesDuration; they are priced where they are metered, not here.
const chargeRules: readonly ChargeRule[] = [
  { charge: "cpu", unit: "core-hour", rate: "cpuCoreHour", quantity: (u) => mul(u.cpuCoreSeconds, perHour) },
  { charge: "memory", unit: "GiB-hour", rate: "memoryGiBHour", quantity: (u) => mul(u.memoryGiBSeconds, perHour) },
  { charge: "run", unit: "run", rate: "perRun", quantity: (u) => exact(u.runs) },
];

/** One line item per rate the Price sets: a rate it does not set is not charged. */
export function priceUsage(step: string, peer: string | undefined, usage: Usage, rates: ResolvedRates): PricedStep {
  const lines: LineItem[] = [];
  const minorAmounts: MinorAmount[] = [];
  for (const rule of chargeRules) {
    const rate = rates.rates[rule.rate];
    if (rate === undefined) continue;
    const quantity = rule.quantity(usage);
    const amount = roundToCurrency(mul(quantity, parseDecimal(rate, `Price "${rates.price}" spec.rates.${rule.rate}`)), rates.currency);
    minorAmounts.push(amount);
    lines.push({ charge: rule.charge, quantity: formatScaled(roundHalfEven(quantity, quantityDigits), quantityDigits), unit: rule.unit, rate, amount: toMoney(amount) });
  }
  const total = toMoney({ minor: minorAmounts.reduce((sum, a) => sum + a.minor, 0n), currency: rates.currency });
  return { step, ...(peer !== undefined ? { peer } : {}), price: { name: rates.price, ...(rates.peer !== undefined ? { peer: rates.peer } : {}) }, lines, total };
}

/** One total per currency, sorted by currency code: amounts in different currencies are never added or converted. */
export function totalsByCurrency(steps: readonly PricedStep[]): Money[] {
  const sums = new Map<string, bigint>();
  for (const s of steps) {
    const minor = roundToCurrency(parseDecimal(s.total.amount, `step ${s.step} total`), s.total.currency).minor;
    sums.set(s.total.currency, (sums.get(s.total.currency) ?? 0n) + minor);
  }
  return [...sums.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([currency, minor]) => toMoney({ minor, currency }));
}
