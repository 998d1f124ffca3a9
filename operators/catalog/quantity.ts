// Kubernetes quantities (apimachinery's resource.Quantity) as exact integers of nano-units, so
// sums and comparisons of capacity never go through floating point. Pure.
//
// A value finer than a nano-unit is rounded up, as Kubernetes does when it canonicalises.

const nano = 1_000_000_000n;

const binarySuffixes: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const decimalExponents: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const grammar = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

export class QuantityError extends Error {}

function pow10(exponent: number): bigint {
  return 10n ** BigInt(exponent);
}

/** numerator / 10^scale × multiplier × 10^exponent, in nano-units, rounded up. */
function toNano(digits: string, scale: number, multiplier: bigint, exponent: number): bigint {
  const value = BigInt(digits) * multiplier;
  const shift = exponent + 9 - scale;
  if (shift >= 0) return value * pow10(shift);
  const divisor = pow10(-shift);
  return (value + divisor - 1n) / divisor;
}

/**
 * Parses "500m", "4", "1.5Gi", "2e3" into nano-units (1 = 10⁻⁹ of the unit: cores for CPU,
 * bytes for memory). `field` names the spec field in the error.
 */
export function parseQuantity(text: string, field = "quantity"): bigint {
  const match = grammar.exec(text.trim());
  if (!match) throw new QuantityError(`${field} ${JSON.stringify(text)} is not a Kubernetes quantity; write it like 500m, 4, 16Gi`);
  const [sign, number, suffix] = match.slice(1).map((g) => g ?? "") as [string, string, string];
  const { multiplier, exponent } = suffixScale(suffix);
  if (Math.abs(exponent) > 60) throw new QuantityError(`${field} ${JSON.stringify(text)} has an exponent out of range`);
  const dot = number.indexOf(".");
  const fraction = dot < 0 ? "" : number.slice(dot + 1);
  const value = toNano(number.replace(".", "") || "0", fraction.length, multiplier, exponent);
  return sign === "-" ? -value : value;
}

function suffixScale(suffix: string): { multiplier: bigint; exponent: number } {
  const binary = binarySuffixes[suffix];
  if (binary !== undefined) return { multiplier: binary, exponent: 0 };
  if (/^[eE]/.test(suffix)) return { multiplier: 1n, exponent: Number(suffix.slice(1)) };
  return { multiplier: 1n, exponent: decimalExponents[suffix] ?? 0 };
}

/** CPU as Kubernetes writes it: whole cores ("4") or millicores ("3500m"), rounded up to 1m. */
export function formatCpu(nanoCores: bigint): string {
  if (nanoCores % nano === 0n) return (nanoCores / nano).toString();
  const milli = nano / 1000n;
  const millis = nanoCores >= 0n ? (nanoCores + milli - 1n) / milli : nanoCores / milli;
  return `${millis}m`;
}

/** Memory in bytes with the largest binary suffix that divides it exactly ("8Gi", "1536Mi", "1000"). */
export function formatMemory(nanoBytes: bigint): string {
  const bytes = nanoBytes >= 0n ? (nanoBytes + nano - 1n) / nano : nanoBytes / nano;
  if (bytes === 0n) return "0";
  for (const suffix of ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"]) {
    const unit = binarySuffixes[suffix]!;
    if (bytes % unit === 0n) return `${bytes / unit}${suffix}`;
  }
  return bytes.toString();
}

const decimalRatio = /^(\d+)(?:\.(\d+))?$/;

/** value × ratio (a decimal string like "1.5"), rounded down: overcommit never rounds capacity up. */
export function scaleByRatio(value: bigint, ratio: string, field = "ratio"): bigint {
  const match = decimalRatio.exec(ratio);
  if (!match) throw new QuantityError(`${field} ${JSON.stringify(ratio)} is not a decimal number; write it like "1.5"`);
  const [, whole = "0", fraction = ""] = match;
  return (value * BigInt(`${whole}${fraction}`)) / pow10(fraction.length);
}
