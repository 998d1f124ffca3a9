// Numbers as decimals, never in exponent notation (CWL tools read them as text).
//
// A number is written with the shortest digits that read back as the same double, the
// digits its source document most likely wrote: the integer literal
// 4200000000000000000000000000000000000000000 of a YAML document comes back as those 43
// digits, as the reference runner (Python, exact integers) prints it, not as the exact value
// of the nearest double (4199999999999999909983484408708288647004160), which a Python reader
// such as cwltest compares unequal to the literal. Integers beyond 2^53 with more than 17
// significant digits cannot survive a JavaScript number; they keep their first 17.

/** `1.23e-5` → `0.0000123`, `4.2e+42` → `42` and 41 zeros; other numbers as JavaScript prints them. */
export function formatNumber(n: number): string {
  const plain = String(n);
  if (!plain.includes("e") || !Number.isFinite(n)) return plain;
  const [mantissa = "", exponentText = "0"] = plain.split("e");
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const exponent = Number(exponentText);
  // JavaScript uses exponents only below 1e-6 and from 1e21 on, so a positive exponent
  // always exceeds the (at most 17) digits: the number is an integer.
  const body = exponent < 0 ? `0.${"0".repeat(-exponent - 1)}${digits}` : digits.padEnd(exponent + 1, "0");
  return (negative ? "-" : "") + body;
}

/** JSON text like JSON.stringify(value, null, indent), with formatNumber for numbers. */
function scalarJson(value: unknown): string {
  if (typeof value === "number") return Number.isFinite(value) ? formatNumber(value) : "null";
  return JSON.stringify(value) ?? "null";
}

export function toJson(value: unknown, indent = 2, depth = 0): string {
  if (value === null || typeof value !== "object") return scalarJson(value);
  const pad = " ".repeat(indent * (depth + 1));
  const end = " ".repeat(indent * depth);
  const items = Array.isArray(value)
    ? value.map((v) => pad + toJson(v, indent, depth + 1))
    : Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => `${pad}${JSON.stringify(k)}: ${toJson(v, indent, depth + 1)}`);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return items.length === 0 ? open + close : `${open}\n${items.join(",\n")}\n${end}${close}`;
}

/**
 * JSON text as the reference runner writes it into files and interpolated strings:
 * keys sorted, `", "` and `": "` separators (Python's json.dumps defaults).
 */
export function toSpacedJson(value: unknown): string {
  if (value === null || typeof value !== "object") return scalarJson(value);
  if (Array.isArray(value)) return `[${value.map(toSpacedJson).join(", ")}]`;
  const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${toSpacedJson(v)}`).join(", ")}}`;
}
