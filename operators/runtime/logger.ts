// Structured JSON logs (one object per line on stdout) with secrets kept out: any field whose
// name looks like key material is dropped, at any depth, before the line is formatted.
// Our own, not a logging library: the few lines below are all the controllers use, and winston
// cost every process ~4 MiB of resident memory (docs/decisions/own-logger.md).

const levels = ["error", "warn", "info", "http", "verbose", "debug", "silly"] as const;
export type LogLevel = (typeof levels)[number];
type Meta = Record<string, unknown>;

/** What components log through: a message (or an Error) and fields, at a level. */
export interface Logger {
  error(message: string | Error, meta?: Meta): void;
  warn(message: string | Error, meta?: Meta): void;
  info(message: string | Error, meta?: Meta): void;
  debug(message: string | Error, meta?: Meta): void;
  /** A logger that adds `meta` to each of its lines. */
  child(meta: Meta): Logger;
}

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

function levelFromEnv(): LogLevel {
  const wanted = process.env.LOG_LEVEL?.toLowerCase();
  return levels.find((l) => l === wanted) ?? "info";
}

/** One line: the fields, then level, message and time; an Error message brings its stack. */
function formatLine(level: LogLevel, message: string | Error, fields: Meta): string {
  const record: Meta = { ...fields };
  if (message instanceof Error) {
    record.message = message.message;
    record.stack = message.stack;
  } else record.message = message;
  redactRecord(record);
  record.level = level;
  record.timestamp = new Date().toISOString();
  return `${JSON.stringify(record, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value))}\n`;
}

interface LoggerOptions {
  /** error…silly; default LOG_LEVEL, else info */
  level?: string;
  silent?: boolean;
  /** where lines go (default stdout) */
  sink?: (line: string) => void;
}

/** A JSON logger for one component; `LOG_LEVEL` (error…silly, default info) sets the level. */
export function createLogger(component: string, opts: LoggerOptions = {}): Logger {
  const threshold = levels.indexOf(levels.find((l) => l === opts.level) ?? levelFromEnv());
  const sink = opts.sink ?? ((line: string) => void process.stdout.write(line));
  const make = (fields: Meta): Logger => {
    const at =
      (level: LogLevel) =>
      (message: string | Error, meta?: Meta): void => {
        if (opts.silent || levels.indexOf(level) > threshold) return;
        sink(formatLine(level, message, meta ? { ...fields, ...meta } : fields));
      };
    return { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug"), child: (meta) => make({ ...fields, ...meta }) };
  };
  return make({ component });
}
