// Test fixture: a real PostgreSQL on loopback, started by hack/postgres (Debian's server binaries).
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../..");
const postgresScript = path.join(repoRoot, "hack/postgres");

export interface TestPostgres {
  name: string;
  /** postgresql://superuser:password@127.0.0.1:port/postgres */
  url: string;
  host: string;
  port: number;
  superuser: string;
  password: string;
  database: string;
  /** Stops the server and deletes its data (a no-op for a server this run did not start). */
  stop(): Promise<void>;
}

interface PostgresJson {
  name: string;
  host: string;
  port: number;
  superuser: string;
  database: string;
  passwordFile: string;
}

function pgDir(): string {
  return process.env.PG_DIR ?? path.join(repoRoot, ".pg");
}

/** Reads a server that hack/postgres already started. */
export async function attachPostgres(name: string, owned = false): Promise<TestPostgres> {
  const info = JSON.parse(await readFile(path.join(pgDir(), name, "postgres.json"), "utf8")) as PostgresJson;
  const password = (await readFile(info.passwordFile, "utf8")).trim();
  const url = `postgresql://${encodeURIComponent(info.superuser)}:${encodeURIComponent(password)}@${info.host}:${info.port}/${info.database}`;
  return {
    name,
    url,
    host: info.host,
    port: info.port,
    superuser: info.superuser,
    password,
    database: info.database,
    stop: async () => {
      if (owned) await run(postgresScript, ["down", name]);
    },
  };
}

/**
 * Starts PostgreSQL NAME (or reuses it when already running; ARCHIPEL_TEST_POSTGRES=NAME reuses a
 * server you started by hand and keeps it afterwards).
 */
export async function startPostgres(name: string): Promise<TestPostgres> {
  const reuse = process.env.ARCHIPEL_TEST_POSTGRES;
  const target = reuse ?? name;
  try {
    await run(postgresScript, ["up", target], { maxBuffer: 1 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`hack/postgres up ${target} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
  return attachPostgres(target, reuse === undefined);
}
