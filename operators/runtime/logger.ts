// Structured JSON logs (one object per line on stdout) with secrets kept out: any field whose
// name looks like key material is dropped, at any depth, before the line is formatted.
import winston from "winston";

const levels = ["error", "warn", "info", "http", "verbose", "debug", "silly"] as const;

/**
 * Field names that hold or may hold secret material. Names ending in `Ref`/`Refs` are
 * references to a Secret (`credentialsSecretRef: { name }`), which are safe and useful to log.
 */
const secretName = /secret|token|passw(or)?d|passphrase|credential|authorization|bearer|cookie|private.?key|api.?key|access.?key|signing.?key|swarm.?key|session.?key|^key$/i;
const referenceName = /Refs?$/;

export function isSecretFieldName(name: string): boolean {
  return secretName.test(name) && !referenceName.test(name);
}

const maxDepth = 8;

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (depth >= maxDepth || seen.has(value)) return "[elided]";
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, seen));
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!isSecretFieldName(k)) out[k] = redactValue(v, depth + 1, seen);
  }
  return out;
}

/**
 * Removes secret-named fields from a log record. Nested objects are copied, never mutated:
 * callers log objects they still use (cached Kubernetes objects among them).
 */
export function redactRecord<T extends Record<string | symbol, unknown>>(record: T): T {
  const seen = new WeakSet<object>();
  seen.add(record);
  for (const key of Object.keys(record)) {
    if (isSecretFieldName(key)) delete record[key];
    else (record as Record<string, unknown>)[key] = redactValue(record[key], 1, seen);
  }
  return record;
}

export const redactFormat = winston.format((info) => redactRecord(info));

function levelFromEnv(): string {
  const wanted = process.env.LOG_LEVEL?.toLowerCase();
  return wanted && (levels as readonly string[]).includes(wanted) ? wanted : "info";
}

/** A JSON logger for one component; `LOG_LEVEL` (error…silly, default info) sets the level. */
export function createLogger(component: string, opts: { level?: string; silent?: boolean } = {}): winston.Logger {
  return winston.createLogger({
    level: opts.level ?? levelFromEnv(),
    defaultMeta: { component },
    format: winston.format.combine(winston.format.errors({ stack: true }), redactFormat(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console({ silent: opts.silent ?? false })],
  });
}
