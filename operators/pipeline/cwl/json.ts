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
export function toJson(value: unknown, indent = 2, depth = 0): string {
  if (typeof value === "number") return Number.isFinite(value) ? formatNumber(value) : "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  const pad = " ".repeat(indent * (depth + 1));
  const end = " ".repeat(indent * depth);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => pad + toJson(v, indent, depth + 1)).join(",\n")}\n${end}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "{}";
  return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(k)}: ${toJson(v, indent, depth + 1)}`).join(",\n")}\n${end}}`;
}

/**
 * JSON text as the reference runner writes it into files and interpolated strings:
 * keys sorted, `", "` and `": "` separators (Python's json.dumps defaults).
 */
export function toSpacedJson(value: unknown): string {
  if (typeof value === "number") return Number.isFinite(value) ? formatNumber(value) : "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(toSpacedJson).join(", ")}]`;
  const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${toSpacedJson(v)}`).join(", ")}}`;
}
