// Quoting for PostgreSQL statements that cannot take bind parameters (DDL: CREATE ROLE, GRANT,
// CREATE VIEW). Every name and literal that reaches such a statement goes through these.

/** PostgreSQL truncates identifiers to NAMEDATALEN-1 bytes; a silently truncated name could alias another. */
export const maxIdentifierBytes = 63;

/** A double-quoted identifier: safe for any name, case preserved. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error("an SQL identifier must not be empty");
  if (name.includes("\0")) throw new Error(`SQL identifier ${JSON.stringify(name)} contains a NUL character`);
  if (Buffer.byteLength(name, "utf8") > maxIdentifierBytes) {
    throw new Error(`SQL identifier ${JSON.stringify(name)} is longer than ${maxIdentifierBytes} bytes: PostgreSQL would truncate it`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** schema.name, each part quoted. */
export function quoteQualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * A string literal. Backslashes are doubled and the E'' form used when present, so the result
 * means the same whatever standard_conforming_strings is (PostgreSQL's own quote_literal does this).
 */
export function quoteLiteral(value: string): string {
  if (value.includes("\0")) throw new Error("an SQL string literal must not contain a NUL character");
  const escaped = value.replaceAll("'", "''");
  if (!escaped.includes("\\")) return `'${escaped}'`;
  return `E'${escaped.replaceAll("\\", "\\\\")}'`;
}
