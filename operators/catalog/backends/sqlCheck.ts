// What a Resource may ask of a provider's PostgreSQL, decided on the text alone (no server): which
// schemas a read grant may reach, and whether a query Resource's SQL is one plain SELECT without
// comments, parameters or a second statement, that names no system catalog. The database's own
// privileges (a view owner that can read the declared schemas only, postgresGrant.ts) stay the
// enforcement; this gives the author a clear refusal naming the field first.

/** A Resource's SQL or schema is refused; the message names the field. */
export class SqlSpecError extends Error {
  readonly field: string;
  /** The condition reason a controller reports for it. */
  readonly reason = "InvalidSpec";
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "SqlSpecError";
    this.field = field;
  }
}

/**
 * Schemas a Provider's read grants reach when its spec declares none: `public` only. It is where a
 * table Resource's schema defaults to, and anything else (another application's schema, an
 * extension's) has to be opened on purpose.
 */
export const defaultReadSchemas: readonly string[] = ["public"];

/** pg_catalog, pg_toast, pg_temp_N, any other pg_* (reserved to the system), information_schema. */
export function isSystemSchema(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === "information_schema" || lower.startsWith("pg_");
}

/** The schemas a Provider allows, declared or by default; a declared system schema is refused. */
export function allowedReadSchemas(declared: readonly string[] | undefined, field: string): string[] {
  const schemas = declared && declared.length > 0 ? [...new Set(declared)] : [...defaultReadSchemas];
  const system = schemas.find(isSystemSchema);
  if (system !== undefined) throw new SqlSpecError(field, `${JSON.stringify(system)} is a system schema; no grant may read it`);
  return schemas;
}

/** A table Resource's schema must be one the Provider allows and never a system schema. */
export function checkReadSchema(schema: string, allowed: readonly string[], field: string): string {
  if (isSystemSchema(schema)) throw new SqlSpecError(field, `${JSON.stringify(schema)} is a system schema; no grant may read it`);
  if (!allowed.includes(schema)) {
    throw new SqlSpecError(field, `schema ${JSON.stringify(schema)} is not one the Provider allows (${allowed.join(", ")}); the Provider's spec.<type>.postgres.schemas lists them`);
  }
  return schema;
}

// ---------------------------------------------------------------- lexer

type TokenKind = "space" | "comment" | "string" | "dollarString" | "param" | "quotedIdent" | "ident" | "number" | "semicolon" | "operator";

interface Token {
  kind: TokenKind;
  text: string;
  at: number;
}

// PostgreSQL's lexical structure, in the order its lexer decides: comments before operators
// (an operator never contains -- or /*), prefixed strings (E'', B'', X'', N'', U&'') before
// identifiers. An escape string (E'') honours backslashes; a standard one doubles quotes only.
const lexemes: ReadonlyArray<[TokenKind, RegExp]> = [
  ["space", /\s+/y],
  ["comment", /--|\/\*/y],
  ["string", /[eE]'(?:[^'\\]|\\[\s\S]|'')*'/y],
  ["string", /(?:[uU]&|[bBxXnN])?'(?:[^']|'')*'/y],
  ["dollarString", /\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$[\s\S]*?\$\1\$/y],
  ["param", /\$\d+/y],
  ["quotedIdent", /(?:[uU]&)?"(?:[^"]|"")+"/y],
  ["ident", /[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*/y],
  ["number", /(?:0[xX][\da-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/y],
  ["semicolon", /;/y],
  ["operator", /(?:[+*<>=~!@#%^&|`?]|-(?!-)|\/(?!\*))+|::|[(),.[\]:]/y],
];

function nextToken(sql: string, at: number, field: string): Token {
  for (const [kind, pattern] of lexemes) {
    pattern.lastIndex = at;
    const match = pattern.exec(sql);
    if (match) return { kind, text: match[0], at };
  }
  const what = `'"$`.includes(sql[at] ?? "") ? "an unterminated quote" : `the character ${JSON.stringify(sql[at])}`;
  throw new SqlSpecError(field, `cannot be read at character ${at + 1}: ${what}`);
}

function tokens(sql: string, field: string): Token[] {
  const out: Token[] = [];
  for (let at = 0; at < sql.length; ) {
    const token = nextToken(sql, at, field);
    if (token.kind !== "space") out.push(token);
    at += token.text.length;
  }
  return out;
}

/** The name an identifier token stands for: unquoted folds to lower case, quoted is exact. */
function identifierName(token: Token): string | undefined {
  if (token.kind === "ident") return token.text.toLowerCase();
  if (token.kind !== "quotedIdent") return undefined;
  return token.text.replace(/^(?:[uU]&)?"/, "").slice(0, -1).replaceAll('""', '"');
}

const queryStarts = new Set(["select", "with", "values", "table"]);
/** Keywords of statements that write or lock (a WITH … DELETE, SELECT INTO, FOR UPDATE): a view only reads. */
const writeKeywords = new Set(["insert", "update", "delete", "merge", "into", "truncate", "copy"]);

function refuseToken(token: Token, index: number, count: number, field: string): void {
  if (token.kind === "comment") throw new SqlSpecError(field, `must not contain comments (${token.text} at character ${token.at + 1}): give the bare statement`);
  if (token.kind === "param") throw new SqlSpecError(field, `must not use parameters (${token.text}): a view has no values to bind`);
  if (token.kind === "semicolon" && index < count - 1) throw new SqlSpecError(field, "must be a single statement: ';' may only end it");
  if (token.kind === "ident" && writeKeywords.has(token.text.toLowerCase())) {
    throw new SqlSpecError(field, `must only read: ${token.text.toUpperCase()} (at character ${token.at + 1}) writes, copies or locks rows`);
  }
  const name = identifierName(token);
  if (name !== undefined && isSystemSchema(name)) {
    throw new SqlSpecError(field, `names ${JSON.stringify(name)}: system catalogs, schemas and pg_* functions are not readable through a grant`);
  }
}

/**
 * One SELECT (or WITH … SELECT, VALUES, TABLE) statement, returned without its final ';'. Refused:
 * comments, several statements, bind parameters, writing or locking keywords (INSERT, UPDATE,
 * DELETE, MERGE, INTO, …), anything named pg_* or information_schema (quoted or not), and text
 * the lexer cannot read (an unterminated quote).
 */
export function checkSelectQuery(sql: string, field: string): string {
  const list = tokens(sql, field);
  list.forEach((token, index) => refuseToken(token, index, list.length, field));
  const body = list.at(-1)?.kind === "semicolon" ? list.slice(0, -1) : list;
  if (body.length === 0) throw new SqlSpecError(field, "is empty: give one SELECT statement");
  const first = body.find((t) => t.text !== "(");
  if (!first || !queryStarts.has(identifierName(first) ?? "") || first.kind !== "ident") {
    throw new SqlSpecError(field, "must start with SELECT, WITH, VALUES or TABLE");
  }
  const last = body.at(-1)!;
  return sql.slice(body[0]!.at, last.at + last.text.length);
}
