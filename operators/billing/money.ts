// Money arithmetic without floats. Pure.
//
// Amounts are exact rationals of bigints (numerator / denominator) while a line item is being
// computed: a rate per hour times seconds divides by 3600, and Argo's memory unit (100Mi) is
// 25/256 GiB, so a fixed number of decimals would round in between. The rounding rule:
//
//   each line item is rounded ONCE, at its end, half to even ("banker's rounding"), to the minor
//   units of its currency (ISO 4217: 2 for EUR, 0 for JPY, 3 for KWD); totals are sums of the
//   rounded line items, so a statement always adds up. Nothing is rounded in between.
//
// Half-even is IEEE 754's and most ledgers' default: unlike half-up it does not bias a long
// series of .5 cases upwards. docs/billing.md states the same rule for users.
import type { Money } from "../schema/common.ts";

/** numerator / denominator, denominator > 0. Not kept in lowest terms: nothing needs it. */
export interface Exact {
  readonly num: bigint;
  readonly den: bigint;
}

/** A wrong amount, rate or currency; the message names the field. */
export class MoneyError extends Error {
  override name = "MoneyError";
}

export const zero: Exact = { num: 0n, den: 1n };

export function exact(num: bigint, den = 1n): Exact {
  if (den === 0n) throw new MoneyError("division by zero");
  return den < 0n ? { num: -num, den: -den } : { num, den };
}

const decimalGrammar = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/** "0.042" → 42/1000. Non-negative, no exponent, no sign: what the schema's Decimal allows. */
export function parseDecimal(text: string, field: string): Exact {
  const match = decimalGrammar.exec(text);
  if (!match) throw new MoneyError(`${field} ${JSON.stringify(text)} is not a decimal number; write it like "0.042"`);
  const fraction = match[2] ?? "";
  return { num: BigInt(`${match[1]}${fraction}`), den: 10n ** BigInt(fraction.length) };
}

export function add(a: Exact, b: Exact): Exact {
  return a.den === b.den ? { num: a.num + b.num, den: a.den } : { num: a.num * b.den + b.num * a.den, den: a.den * b.den };
}

export function sub(a: Exact, b: Exact): Exact {
  return add(a, { num: -b.num, den: b.den });
}

export function mul(...factors: Exact[]): Exact {
  return factors.reduce((acc, f) => ({ num: acc.num * f.num, den: acc.den * f.den }), { num: 1n, den: 1n });
}

/** -1, 0 or 1 as a < b, a = b, a > b. */
export function compare(a: Exact, b: Exact): -1 | 0 | 1 {
  const d = a.num * b.den - b.num * a.den;
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

// ISO 4217 minor units that are not 2. Codes not listed (and not real) get 2: the schema only
// checks the shape of a code, and 2 is what nearly every currency uses.
const minorUnitExceptions: Record<string, number> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

const currencyGrammar = /^[A-Z]{3}$/;

/** Decimal places of the currency's minor unit (EUR 2: cents). */
export function minorUnitsOf(currency: string): number {
  if (!currencyGrammar.test(currency)) throw new MoneyError(`currency ${JSON.stringify(currency)} is not an ISO 4217 code like "EUR"`);
  return minorUnitExceptions[currency] ?? 2;
}

/** x × 10^digits rounded half to even, as an integer (symmetric: -2.5 → -2, like 2.5 → 2). */
export function roundHalfEven(x: Exact, digits: number): bigint {
  const scaled = x.num * 10n ** BigInt(digits);
  const n = scaled < 0n ? -scaled : scaled;
  const q = n / x.den;
  const twice = 2n * (n % x.den);
  const up = twice > x.den || (twice === x.den && q % 2n === 1n);
  const rounded = up ? q + 1n : q;
  return scaled < 0n ? -rounded : rounded;
}

/** A scaled integer as a decimal string with exactly `digits` decimals: (1234n, 2) → "12.34". */
export function formatScaled(scaled: bigint, digits: number): string {
  const sign = scaled < 0n ? "-" : "";
  const abs = (scaled < 0n ? -scaled : scaled).toString().padStart(digits + 1, "0");
  if (digits === 0) return `${sign}${abs}`;
  return `${sign}${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
}

/**
 * An exact value that has a finite decimal form (any difference of decimal strings has), with
 * at least `minDigits` decimals. Throws for 1/3: such a value must be rounded, not printed.
 */
export function formatDecimal(x: Exact, minDigits: number): string {
  for (let digits = minDigits; digits <= minDigits + 40; digits++) {
    const scale = 10n ** BigInt(digits);
    if ((x.num * scale) % x.den === 0n) return formatScaled((x.num * scale) / x.den, digits);
  }
  throw new MoneyError(`${x.num}/${x.den} has no finite decimal form: round it first`);
}

/** An amount already rounded to its currency's minor units (cents for EUR). */
export interface MinorAmount {
  minor: bigint;
  currency: string;
}

/** The rounding rule of every line item: half to even, to the currency's minor units. */
export function roundToCurrency(x: Exact, currency: string): MinorAmount {
  return { minor: roundHalfEven(x, minorUnitsOf(currency)), currency };
}

export function exactOf(amount: MinorAmount): Exact {
  return { num: amount.minor, den: 10n ** BigInt(minorUnitsOf(amount.currency)) };
}

// The schema's Decimal: at most 18 integer digits. A larger amount cannot be written to the API.
const largestWritable = 10n ** 18n;

/** As the API writes money: {amount: "12.30", currency: "EUR"}. Negative or oversized amounts are refused. */
export function toMoney(amount: MinorAmount): Money {
  const digits = minorUnitsOf(amount.currency);
  if (amount.minor < 0n) throw new MoneyError(`amount ${formatScaled(amount.minor, digits)} ${amount.currency} is negative: money fields hold no negative amounts`);
  if (amount.minor >= largestWritable * 10n ** BigInt(digits)) throw new MoneyError(`amount ${formatScaled(amount.minor, digits)} ${amount.currency} has more than 18 integer digits`);
  return { amount: formatScaled(amount.minor, digits), currency: amount.currency };
}

/** A Money field read back exactly; `field` names it in errors (e.g. "spec.budget"). */
export function parseMoney(money: Money, field: string): { value: Exact; currency: string } {
  minorUnitsOf(money.currency);
  return { value: parseDecimal(money.amount, `${field}.amount`), currency: money.currency };
}

/** Amounts added per currency (sorted by code, never converted): e.g. a run's steps here plus those a peer quoted. */
export function sumByCurrency(amounts: readonly Money[], field: string): Money[] {
  const sums = new Map<string, Exact>();
  for (const [i, m] of amounts.entries()) {
    const { value, currency } = parseMoney(m, `${field}[${i}]`);
    sums.set(currency, add(sums.get(currency) ?? zero, value));
  }
  return [...sums.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([currency, value]) => toMoney(roundToCurrency(value, currency)));
}
