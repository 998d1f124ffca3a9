// Numbers as decimals, never in exponent notation (CWL tools read them as text).

/** `1.23e-5` → `0.0000123`, `1e+42` → `1000…000`; other numbers as JavaScript prints them. */
export function formatNumber(n: number): string {
  const plain = String(n);
  if (!plain.includes("e") || !Number.isFinite(n)) return plain;
  if (Number.isInteger(n)) return BigInt(n).toString();
  const [mantissa = "", exponentText = "0"] = n.toExponential().split("e");
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const exponent = Number(exponentText);
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
