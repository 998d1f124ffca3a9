// The thin I/O edge between discovery and one kubo node's RPC API: only the operations
// discovery needs, each with a deadline (AbortSignal), errors that name the node and the
// operation. Built on kubo-rpc-client (docs/decisions/kubo-rpc-client.md); the few commands it
// does not wrap (swarm peering, swarm filters) go through the same RPC API with fetch.
import type { KuboRPCClient } from "kubo-rpc-client";
import { onFirstUse } from "../runtime/lazyImport.ts";

// kubo-rpc-client (and the libp2p code under it) costs the process ~30 MiB once imported: it is
// imported by the first call, so a manager of a cluster outside any federation never loads it.
const kuboRpc = onFirstUse(() => import("kubo-rpc-client"));

export const DEFAULT_RPC_TIMEOUT_MS = 10_000;

export interface IpfsClientOptions {
  /** e.g. http://127.0.0.1:5001 — the RPC API, never exposed outside the cluster. */
  apiURL: string;
  /** Deadline for every call (default 10 s); a call may pass its own. */
  timeoutMs?: number;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface NodeIdentity {
  peerId: string;
  addresses: string[];
  agentVersion: string;
}

export interface SwarmPeer {
  peerId: string;
  /** The remote address of the connection. */
  addr: string;
}

export interface PingMeasure {
  /** Mean round-trip time of the successful pings, in ms. */
  rttMs: number;
  samples: number[];
}

export interface PublishOptions extends CallOptions {
  /** Name of a key in the node's keystore; "self" is the node's identity (its peer ID). */
  key?: string;
  /** How long the IPNS record is valid. */
  lifetimeMs: number;
  /** How long resolvers may cache it. */
  ttlMs?: number;
}

export class IpfsError extends Error {
  readonly operation: string;
  readonly apiURL: string;

  constructor(apiURL: string, operation: string, cause: unknown) {
    super(`kubo at ${apiURL}: ${operation}: ${describe(cause)}`, { cause });
    this.name = "IpfsError";
    this.operation = operation;
    this.apiURL = apiURL;
  }
}

function describe(err: unknown): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return `${err.name === "TimeoutError" ? "timed out" : "aborted"} (${err.message})`;
  return err instanceof Error ? err.message : String(err);
}

function goDuration(ms: number): string {
  return `${Math.max(1, Math.round(ms))}ms`;
}

export class IpfsClient {
  readonly apiURL: string;
  private readonly timeoutMs: number;
  private client: KuboRPCClient | undefined;

  constructor(options: IpfsClientOptions) {
    this.apiURL = options.apiURL.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  }

  private async kubo(): Promise<KuboRPCClient> {
    const { create } = await kuboRpc();
    this.client ??= create({ url: `${this.apiURL}/api/v0` });
    return this.client;
  }

  private signal(opts: CallOptions = {}): AbortSignal {
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs);
    return opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  }

  private async call<T>(operation: string, opts: CallOptions | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = this.signal(opts);
    try {
      return await fn(signal);
    } catch (err) {
      throw new IpfsError(this.apiURL, operation, signal.aborted ? (signal.reason ?? err) : err);
    }
  }

  /** A command kubo-rpc-client does not wrap: POST /api/v0/<path>?arg=…, JSON answer. */
  private async rpc(path: string, args: string[], signal: AbortSignal): Promise<unknown> {
    const query = new URLSearchParams(args.map((a): [string, string] => ["arg", a]));
    const res = await fetch(`${this.apiURL}/api/v0/${path}?${query}`, { method: "POST", signal });
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { Message?: string }).Message ?? text;
      } catch {
        // kubo answers plain text for some errors
      }
      throw new Error(`HTTP ${res.status}: ${message.trim()}`);
    }
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  async id(opts?: CallOptions): Promise<NodeIdentity> {
    return this.call("id", opts, async (signal) => {
      const r = await (await this.kubo()).id({ signal });
      return { peerId: r.id.toString(), addresses: r.addresses.map(String), agentVersion: r.agentVersion };
    });
  }

  async swarmPeers(opts?: CallOptions): Promise<SwarmPeer[]> {
    return this.call("swarm peers", opts, async (signal) => {
      const peers = await (await this.kubo()).swarm.peers({ signal });
      return peers.map((p) => ({ peerId: p.peer.toString(), addr: p.addr.toString() }));
    });
  }

  async isConnected(peerId: string, opts?: CallOptions): Promise<boolean> {
    return (await this.swarmPeers(opts)).some((p) => p.peerId === peerId);
  }

  /** Dials a full multiaddr (…/p2p/<peerId>). */
  async connect(addr: string, opts?: CallOptions): Promise<void> {
    await this.call(`swarm connect ${addr}`, opts, async (signal) => (await this.kubo()).swarm.connect((await kuboRpc()).multiaddr(addr), { signal }));
  }

  async disconnect(peerId: string, opts?: CallOptions): Promise<void> {
    await this.call(`swarm disconnect ${peerId}`, opts, async (signal) => (await this.kubo()).swarm.disconnect((await kuboRpc()).multiaddr(`/p2p/${peerId}`), { signal }));
  }

  /**
   * Peering: kubo keeps a connection to these peers and re-dials them with back-off. One call
   * per peer with all its full multiaddrs: kubo replaces the peer's addresses with the call's.
   */
  async peeringAdd(addrs: string | string[], opts?: CallOptions): Promise<void> {
    const list = typeof addrs === "string" ? [addrs] : addrs;
    if (list.length === 0) return;
    await this.call(`swarm peering add ${list.join(" ")}`, opts, (signal) => this.rpc("swarm/peering/add", list, signal));
  }

  async peeringRemove(peerId: string, opts?: CallOptions): Promise<void> {
    await this.call(`swarm peering rm ${peerId}`, opts, (signal) => this.rpc("swarm/peering/rm", [peerId], signal));
  }

  async peeringList(opts?: CallOptions): Promise<Array<{ peerId: string; addrs: string[] }>> {
    return this.call("swarm peering ls", opts, async (signal) => {
      const body = (await this.rpc("swarm/peering/ls", [], signal)) as { Peers?: Array<{ ID: string; Addrs?: string[] }> | null };
      return (body.Peers ?? []).map((p) => ({ peerId: p.ID, addrs: p.Addrs ?? [] }));
    });
  }

  /** Address filters (ipcidr multiaddrs), enforced on dial and accept, persisted in kubo's config. */
  async filtersList(opts?: CallOptions): Promise<string[]> {
    return this.call("swarm filters", opts, async (signal) => ((await this.rpc("swarm/filters", [], signal)) as { Strings?: string[] | null }).Strings ?? []);
  }

  async filtersAdd(filters: string[], opts?: CallOptions): Promise<void> {
    if (filters.length === 0) return;
    await this.call(`swarm filters add ${filters.join(" ")}`, opts, (signal) => this.rpc("swarm/filters/add", filters, signal));
  }

  async filtersRemove(filters: string[], opts?: CallOptions): Promise<void> {
    const present = new Set(await this.filtersList(opts));
    const toRemove = filters.filter((f) => present.has(f));
    if (toRemove.length === 0) return;
    await this.call(`swarm filters rm ${toRemove.join(" ")}`, opts, (signal) => this.rpc("swarm/filters/rm", toRemove, signal));
  }

  /**
   * Stops talking to a peer: no longer kept by peering, its addresses filtered where
   * planRefusal says it is safe, and disconnected. Idempotent; the reconciler calls it on every
   * pass for a Rejected peer, which also covers re-dials through IPs it could not filter.
   */
  async refusePeer(peerId: string, filters: string[], opts?: CallOptions): Promise<void> {
    const peering = await this.peeringList(opts);
    if (peering.some((p) => p.peerId === peerId)) await this.peeringRemove(peerId, opts);
    const present = new Set(await this.filtersList(opts));
    await this.filtersAdd(filters.filter((f) => !present.has(f)), opts);
    if (await this.isConnected(peerId, opts)) await this.disconnect(peerId, opts);
  }

  /** Undoes refusePeer's filters (an admin accepted the peer after all). */
  async allowPeer(filters: string[], opts?: CallOptions): Promise<void> {
    await this.filtersRemove(filters, opts);
  }

  /** Adds bytes as one raw block (CIDv1) and pins them. */
  async addBytes(data: Uint8Array | string, opts?: CallOptions): Promise<string> {
    return this.call("add", opts, async (signal) => {
      const r = await (await this.kubo()).add(typeof data === "string" ? new TextEncoder().encode(data) : data, { cidVersion: 1, rawLeaves: true, pin: true, signal });
      return r.cid.toString();
    });
  }

  /** Reads a CID (fetched from peers if needed), refusing more than `maxBytes`. */
  async catBytes(cid: string, maxBytes: number, opts?: CallOptions): Promise<Uint8Array> {
    return this.call(`cat ${cid}`, opts, async (signal) => {
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of (await this.kubo()).cat(cid, { signal, length: maxBytes + 1 })) {
        size += chunk.length;
        if (size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
        chunks.push(chunk);
      }
      return Buffer.concat(chunks);
    });
  }

  /** The IPNS name (k51… form) of a keystore key, generating an Ed25519 key if absent. */
  async ensureKey(name: string, opts?: CallOptions): Promise<string> {
    return this.call(`key ${name}`, opts, async (signal) => {
      const kubo = await this.kubo();
      const existing = (await kubo.key.list({ signal })).find((k) => k.name === name);
      if (existing) return existing.id;
      return (await kubo.key.gen(name, { type: "ed25519", signal })).id;
    });
  }

  async publishName(cid: string, opts: PublishOptions): Promise<{ name: string; value: string }> {
    const key = opts.key ?? "self";
    return this.call(`name publish ${cid} (key ${key})`, opts, async (signal) =>
      (await this.kubo()).name.publish(`/ipfs/${cid}`, {
        key,
        lifetime: goDuration(opts.lifetimeMs),
        ttl: goDuration(opts.ttlMs ?? 60_000),
        resolve: false,
        signal,
      }),
    );
  }

  /**
   * Resolves an IPNS name to its `/ipfs/<cid>` path; `fresh` bypasses kubo's cache. kubo streams
   * each newer record its DHT query finds and ends when the query does (every close node asked,
   * slow on a loaded network); `first` takes the first record and stops the query there: for a
   * caller that verifies what it gets and checks the name again later, as discovery does.
   */
  async resolveName(name: string, opts: CallOptions & { fresh?: boolean; first?: boolean } = {}): Promise<string> {
    return this.call(`name resolve ${name}`, opts, async (signal) => {
      const stop = new AbortController();
      let last: string | undefined;
      try {
        for await (const path of (await this.kubo()).name.resolve(name, { nocache: opts.fresh ?? false, recursive: true, signal: AbortSignal.any([signal, stop.signal]) })) {
          last = path;
          if (opts.first) break;
        }
      } finally {
        stop.abort(); // ends kubo's query when the loop left early
      }
      // With streaming on, kubo reports a failed lookup only in a trailer the client ignores.
      if (!last) throw new Error("could not resolve: no record found in this network");
      return last;
    });
  }

  /** Round-trip time to a peer over libp2p ping (kubo reports nanoseconds). */
  async ping(peerId: string, count = 3, opts?: CallOptions): Promise<PingMeasure> {
    return this.call(`ping ${peerId}`, opts, async (signal) => {
      const samples: number[] = [];
      let failure: string | undefined;
      for await (const r of (await this.kubo()).ping(peerId, { count, signal })) {
        if (!r.success) failure = r.text;
        else if (r.time > 0) samples.push(r.time / 1e6);
      }
      if (samples.length === 0) throw new Error(failure || "no successful ping");
      return { rttMs: samples.reduce((a, b) => a + b, 0) / samples.length, samples };
    });
  }

  /**
   * One reachability observation of a peer, for peerState: a libp2p ping within `timeoutMs`.
   * `swarm peers` alone is not enough — measured: a frozen peer stays listed ~45 s (until the
   * connection's keep-alive fails), while its ping fails at once. Throws only when this node
   * itself does not answer, so a local kubo outage is never blamed on the peers.
   */
  async probePeer(peerId: string, timeoutMs = 3_000): Promise<{ reachable: true; rttMs: number } | { reachable: false; message: string }> {
    try {
      const m = await this.ping(peerId, 1, { timeoutMs });
      return { reachable: true, rttMs: m.rttMs };
    } catch (err) {
      await this.id({ timeoutMs });
      return { reachable: false, message: err instanceof Error ? err.message : String(err) };
    }
  }

  /** False when the node runs without Pubsub.Enabled (discovery then relies on the swarm only). */
  async pubsubEnabled(opts?: CallOptions): Promise<boolean> {
    try {
      await this.call("pubsub ls", opts, async (signal) => (await this.kubo()).pubsub.ls({ signal }));
      return true;
    } catch (err) {
      // kubo: "experimental pubsub feature not enabled, run daemon with --enable-pubsub-experiment…"
      if (err instanceof IpfsError && /pubsub feature not enabled/i.test(describe(err.cause))) return false;
      throw err;
    }
  }

  async pubsubPublish(topic: string, data: Uint8Array | string, opts?: CallOptions): Promise<void> {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    await this.call(`pubsub pub ${topic}`, opts, async (signal) => (await this.kubo()).pubsub.publish(topic, bytes, { signal }));
  }

  /**
   * Subscribes until `signal` aborts. Only establishing the subscription has a deadline;
   * messages arrive with the sender's peer ID (kubo signs pubsub messages).
   */
  async pubsubSubscribe(
    topic: string,
    onMessage: (msg: { from?: string; data: Uint8Array }) => void,
    opts: { signal: AbortSignal; timeoutMs?: number; onError?: (err: Error) => void },
  ): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const kubo = await this.kubo();
    const subscribed = kubo.pubsub.subscribe(
      topic,
      (m) => onMessage({ from: m.type === "signed" ? m.from.toString() : undefined, data: m.data }),
      { signal: opts.signal, onError: opts.onError },
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([subscribed, deadline]);
    } catch (err) {
      subscribed.catch(() => undefined); // a late failure after the deadline is already reported
      throw new IpfsError(this.apiURL, `pubsub sub ${topic}`, err);
    } finally {
      clearTimeout(timer);
    }
  }
}
