// @kubernetes/client-node (2.0) builds a new undici Agent for every request of its typed API
// clients (KubeConfig.applySecurityAuthentication → createDispatcher), so every call opens its own
// TLS connection (an HTTP/2 session with the API server) and leaves it to idle out. Under load a
// process then holds hundreds of TLS and HTTP/2 sessions' native buffers and pays a TLS handshake
// per call. `pooledConnections` makes a KubeConfig reuse one Agent per TLS identity (server,
// CA, client certificate and key, verification settings): connections are kept and multiplexed,
// as client-go does. docs/decisions/manager-memory.md
import { createHash } from "node:crypto";
import type { Cluster, KubeConfig } from "@kubernetes/client-node";

/** What an undici dispatcher needs of us: closing it once it is evicted. */
interface Closable {
  close(): Promise<void>;
}

type CreateDispatcher = (cluster: Cluster | null, agentOptions: Record<string, unknown>) => Closable | undefined;

/** More distinct TLS identities than this (a long-lived process with rotating client certificates) evict the oldest. */
export const MAX_POOLED_IDENTITIES = 16;

const pool = new Map<string, Closable>();

/**
 * The pool key of a request's connection settings: the server and every TLS option, hashed
 * (keys and certificates are not kept in clear as map keys). Bearer tokens are request headers,
 * not part of the connection, so callers that differ only by token share connections.
 */
export function connectionKey(cluster: Pick<Cluster, "server" | "proxyUrl" | "skipTLSVerify" | "tlsServerName"> | null, agentOptions: Record<string, unknown>): string {
  const hash = createHash("sha256");
  const add = (name: string, value: unknown): void => {
    if (value === undefined || value === null) return;
    hash.update(`${name}=`);
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) hash.update(value);
    else if (Array.isArray(value)) for (const v of value) add(`${name}[]`, v);
    else hash.update(typeof value === "string" ? value : JSON.stringify(value));
    hash.update("\0");
  };
  add("server", cluster?.server);
  add("proxyUrl", cluster?.proxyUrl);
  add("skipTLSVerify", cluster?.skipTLSVerify);
  add("tlsServerName", cluster?.tlsServerName);
  for (const name of Object.keys(agentOptions).sort()) add(name, agentOptions[name]);
  return hash.digest("hex");
}

function pooled(key: string, create: () => Closable | undefined): Closable | undefined {
  const found = pool.get(key);
  if (found) {
    pool.delete(key); // most recently used last
    pool.set(key, found);
    return found;
  }
  const created = create();
  if (!created) return undefined; // plain HTTP without TLS options: the global dispatcher serves it
  pool.set(key, created);
  for (const [oldest, agent] of pool) {
    if (pool.size <= MAX_POOLED_IDENTITIES) break;
    pool.delete(oldest);
    void agent.close().catch(() => undefined); // in-flight requests finish first
  }
  return created;
}

/** Makes `kc`'s typed API clients share connections (one Agent per TLS identity); returns `kc`. */
export function pooledConnections(kc: KubeConfig): KubeConfig {
  // createDispatcher is private in the typings; it is the one place the library builds an Agent.
  const internals = kc as unknown as { createDispatcher: CreateDispatcher };
  const create = internals.createDispatcher.bind(kc);
  internals.createDispatcher = (cluster, agentOptions) => pooled(connectionKey(cluster, agentOptions), () => create(cluster, agentOptions));
  return kc;
}
