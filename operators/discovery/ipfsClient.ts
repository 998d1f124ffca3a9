// The thin I/O edge between discovery and one kubo node's RPC API: only the operations
// discovery needs, each with a deadline (AbortSignal), errors that name the node and the
// operation. Plain fetch against /api/v0 (kuboRpc.ts; docs/decisions/kubo-rpc-client.md).
import { lines, multibaseEncode, pubsubMessage, type RpcParams } from "./kuboEncoding.ts";
import { rpcBytes, rpcCall, rpcJson, rpcStream } from "./kuboRpc.ts";

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

  constructor(options: IpfsClientOptions) {
    this.apiURL = options.apiURL.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
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

  /** A command with a JSON answer. */
  private rpc<T = unknown>(command: string, params: RpcParams, signal: AbortSignal): Promise<T> {
    return rpcJson<T>(this.apiURL, command, params, { signal });
  }

  async id(opts?: CallOptions): Promise<NodeIdentity> {
    return this.call("id", opts, async (signal) => {
      const r = await this.rpc<{ ID: string; Addresses?: string[] | null; AgentVersion?: string }>("id", {}, signal);
      return { peerId: r.ID, addresses: r.Addresses ?? [], agentVersion: r.AgentVersion ?? "" };
    });
  }

  async swarmPeers(opts?: CallOptions): Promise<SwarmPeer[]> {
    return this.call("swarm peers", opts, async (signal) => {
      const body = await this.rpc<{ Peers?: Array<{ Peer: string; Addr: string }> | null }>("swarm/peers", {}, signal);
      return (body.Peers ?? []).map((p) => ({ peerId: p.Peer, addr: p.Addr }));
    });
  }

  async isConnected(peerId: string, opts?: CallOptions): Promise<boolean> {
    return (await this.swarmPeers(opts)).some((p) => p.peerId === peerId);
  }

  /** Dials a full multiaddr (…/p2p/<peerId>). */
  async connect(addr: string, opts?: CallOptions): Promise<void> {
    await this.call(`swarm connect ${addr}`, opts, (signal) => this.rpc("swarm/connect", { arg: addr }, signal));
  }

  async disconnect(peerId: string, opts?: CallOptions): Promise<void> {
    await this.call(`swarm disconnect ${peerId}`, opts, (signal) => this.rpc("swarm/disconnect", { arg: `/p2p/${peerId}` }, signal));
  }

  /**
   * Peering: kubo keeps a connection to these peers and re-dials them with back-off. One call
   * per peer with all its full multiaddrs: kubo replaces the peer's addresses with the call's.
   */
  async peeringAdd(addrs: string | string[], opts?: CallOptions): Promise<void> {
    const list = typeof addrs === "string" ? [addrs] : addrs;
    if (list.length === 0) return;
    await this.call(`swarm peering add ${list.join(" ")}`, opts, (signal) => this.rpc("swarm/peering/add", { arg: list }, signal));
  }

  async peeringRemove(peerId: string, opts?: CallOptions): Promise<void> {
    await this.call(`swarm peering rm ${peerId}`, opts, (signal) => this.rpc("swarm/peering/rm", { arg: peerId }, signal));
  }

  async peeringList(opts?: CallOptions): Promise<Array<{ peerId: string; addrs: string[] }>> {
    return this.call("swarm peering ls", opts, async (signal) => {
      const body = await this.rpc<{ Peers?: Array<{ ID: string; Addrs?: string[] }> | null }>("swarm/peering/ls", {}, signal);
      return (body.Peers ?? []).map((p) => ({ peerId: p.ID, addrs: p.Addrs ?? [] }));
    });
  }

  /** Address filters (ipcidr multiaddrs), enforced on dial and accept, persisted in kubo's config. */
  async filtersList(opts?: CallOptions): Promise<string[]> {
    return this.call("swarm filters", opts, async (signal) => (await this.rpc<{ Strings?: string[] | null }>("swarm/filters", {}, signal)).Strings ?? []);
  }

  async filtersAdd(filters: string[], opts?: CallOptions): Promise<void> {
    if (filters.length === 0) return;
    await this.call(`swarm filters add ${filters.join(" ")}`, opts, (signal) => this.rpc("swarm/filters/add", { arg: filters }, signal));
  }

  async filtersRemove(filters: string[], opts?: CallOptions): Promise<void> {
    const present = new Set(await this.filtersList(opts));
    const toRemove = filters.filter((f) => present.has(f));
    if (toRemove.length === 0) return;
    await this.call(`swarm filters rm ${toRemove.join(" ")}`, opts, (signal) => this.rpc("swarm/filters/rm", { arg: toRemove }, signal));
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
      const file = typeof data === "string" ? new TextEncoder().encode(data) : data;
      return (await rpcJson<{ Hash: string }>(this.apiURL, "add", { "cid-version": 1, "raw-leaves": true, pin: true }, { signal, file })).Hash;
    });
  }

  /** Reads a CID (fetched from peers if needed), refusing more than `maxBytes`. */
  async catBytes(cid: string, maxBytes: number, opts?: CallOptions): Promise<Uint8Array> {
    return this.call(`cat ${cid}`, opts, (signal) => rpcBytes(this.apiURL, "cat", { arg: cid, length: maxBytes + 1 }, { signal, maxBytes }));
  }

  /** The IPNS name (k51… form) of a keystore key, generating an Ed25519 key if absent. */
  async ensureKey(name: string, opts?: CallOptions): Promise<string> {
    return this.call(`key ${name}`, opts, async (signal) => {
      const existing = (await this.rpc<{ Keys?: Array<{ Name: string; Id: string }> | null }>("key/list", {}, signal)).Keys?.find((k) => k.Name === name);
      if (existing) return existing.Id;
      return (await this.rpc<{ Id: string }>("key/gen", { arg: name, type: "ed25519" }, signal)).Id;
    });
  }

  async publishName(cid: string, opts: PublishOptions): Promise<{ name: string; value: string }> {
    const key = opts.key ?? "self";
    return this.call(`name publish ${cid} (key ${key})`, opts, async (signal) => {
      const r = await this.rpc<{ Name: string; Value: string }>("name/publish", { arg: `/ipfs/${cid}`, key, lifetime: goDuration(opts.lifetimeMs), ttl: goDuration(opts.ttlMs ?? 60_000), resolve: false }, signal);
      return { name: r.Name, value: r.Value };
    });
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
        const found = rpcStream<{ Path?: string }>(this.apiURL, "name/resolve", { arg: name, nocache: opts.fresh ?? false, recursive: true, stream: true }, { signal: AbortSignal.any([signal, stop.signal]) });
        for await (const { Path: path } of found) {
          if (!path) continue;
          last = path;
          if (opts.first) break;
        }
      } finally {
        stop.abort(); // ends kubo's query when the loop left early
      }
      // With streaming on, kubo reports a failed lookup only in a trailer (fetch does not read trailers).
      if (!last) throw new Error("could not resolve: no record found in this network");
      return last;
    });
  }

  /** Round-trip time to a peer over libp2p ping (kubo reports nanoseconds). */
  async ping(peerId: string, count = 3, opts?: CallOptions): Promise<PingMeasure> {
    return this.call(`ping ${peerId}`, opts, async (signal) => {
      const samples: number[] = [];
      let failure: string | undefined;
      for await (const r of rpcStream<{ Success?: boolean; Time?: number; Text?: string }>(this.apiURL, "ping", { arg: peerId, count }, { signal })) {
        if (!r.Success) failure = r.Text;
        else if ((r.Time ?? 0) > 0) samples.push((r.Time ?? 0) / 1e6);
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
      await this.call("pubsub ls", opts, (signal) => this.rpc("pubsub/ls", {}, signal));
      return true;
    } catch (err) {
      // kubo: "experimental pubsub feature not enabled, run daemon with --enable-pubsub-experiment…"
      if (err instanceof IpfsError && /pubsub feature not enabled/i.test(describe(err.cause))) return false;
      throw err;
    }
  }

  async pubsubPublish(topic: string, data: Uint8Array | string, opts?: CallOptions): Promise<void> {
    const file = typeof data === "string" ? new TextEncoder().encode(data) : data;
    await this.call(`pubsub pub ${topic}`, opts, (signal) => rpcJson(this.apiURL, "pubsub/pub", { arg: multibaseEncode(topic) }, { signal, file }));
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
    const connection = new AbortController();
    const cancel = (): void => connection.abort(opts.signal.reason);
    if (opts.signal.aborted) cancel();
    else opts.signal.addEventListener("abort", cancel, { once: true });
    // The deadline covers the subscription's start (kubo's answer); then only opts.signal ends it.
    const late = new Error(`timed out after ${timeoutMs} ms`);
    const timer = setTimeout(() => connection.abort(late), timeoutMs);
    let res: Response;
    try {
      res = await rpcCall(this.apiURL, "pubsub/sub", { arg: multibaseEncode(topic) }, { signal: connection.signal });
    } catch (err) {
      opts.signal.removeEventListener("abort", cancel);
      throw new IpfsError(this.apiURL, `pubsub sub ${topic}`, connection.signal.reason === late ? late : err);
    } finally {
      clearTimeout(timer);
    }
    void this.readMessages(res, onMessage, opts.signal, opts.onError).finally(() => opts.signal.removeEventListener("abort", cancel));
  }

  /** A subscription's messages until it ends: an end not asked for is reported to onError. */
  private async readMessages(res: Response, onMessage: (msg: { from?: string; data: Uint8Array }) => void, signal: AbortSignal, onError?: (err: Error) => void): Promise<void> {
    try {
      for await (const line of res.body ? lines(res.body) : []) {
        const message = pubsubMessage(line);
        if (message) onMessage(message);
      }
      if (!signal.aborted) onError?.(new IpfsError(this.apiURL, "pubsub sub", new Error("the subscription ended")));
    } catch (err) {
      if (!signal.aborted) onError?.(new IpfsError(this.apiURL, "pubsub sub", err));
    }
  }
}
