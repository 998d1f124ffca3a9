// The I/O the discovery and Peer reconcilers share: fetching and verifying a peer's descriptor
// through IPFS, a peer's listen addresses as our kubo knows them, and timing its API's ping.
import { defaultEgressPolicy, type EgressPolicy } from "../runtime/egress.ts";
import { EgressRefused, egressFetch, readCapped } from "../runtime/egressHttp.ts";
import { federationPingPath } from "./contracts.ts";
import { MAX_DESCRIPTOR_BYTES, verifyDescriptor } from "./descriptor.ts";
import type { IpfsClient } from "./ipfsClient.ts";
import type { DescriptorCheck, ApiCheck } from "./peerStatus.ts";

/** Deadline of one IPNS resolve and of one descriptor fetch. */
export const DESCRIPTOR_LOOKUP_TIMEOUT_MS = 5_000;
/** Deadline of the API ping: an API that does not answer must not hold up a pass. */
export const API_PING_TIMEOUT_MS = 2_000;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function resolveCid(ipfs: IpfsClient, lookup: DescriptorLookup): Promise<string> {
  const { peerId, cidHint } = lookup;
  try {
    const path = await ipfs.resolveName(`/ipns/${peerId}`, { fresh: lookup.fresh ?? false, first: lookup.firstRecord ?? false, timeoutMs: DESCRIPTOR_LOOKUP_TIMEOUT_MS });
    return path.replace(/^\/ipfs\//, "");
  } catch (err) {
    if (cidHint) return cidHint;
    throw err;
  }
}

export interface DescriptorLookup {
  peerId: string;
  /** The key pinned on the Peer: a descriptor signed by another key is refused. */
  pinnedKey?: string;
  /** Bypass kubo's IPNS cache (a periodic re-check). */
  fresh?: boolean;
  /** A CID announced over pubsub, used only when the IPNS name does not resolve. */
  cidHint?: string;
  /**
   * Take the first IPNS record the query finds, not the newest of all it would find: a peer's
   * first sighting (its descriptor still verifies, and the Peer controller resolves in full after).
   */
  firstRecord?: boolean;
}

/**
 * Resolves /ipns/<peerId>, fetches the document and verifies it: it must be signed by the key
 * it carries (and by the pinned key, if any), and list `peerId` — the node it was fetched from.
 */
export async function checkDescriptor(ipfs: IpfsClient, lookup: DescriptorLookup, now: () => number): Promise<DescriptorCheck> {
  let cid: string;
  let bytes: Uint8Array;
  try {
    cid = await resolveCid(ipfs, lookup);
    bytes = await ipfs.catBytes(cid, MAX_DESCRIPTOR_BYTES, { timeoutMs: DESCRIPTOR_LOOKUP_TIMEOUT_MS });
  } catch (err) {
    return { kind: "unavailable", message: message(err) };
  }
  const expect = { peerId: lookup.peerId, ...(lookup.pinnedKey ? { publicKey: lookup.pinnedKey } : {}) };
  const result = verifyDescriptor(bytes, now(), expect);
  return result.ok ? { kind: "verified", cid, descriptor: result.descriptor } : { kind: "refused", cid, reason: result.reason, message: result.message };
}

/** A peer's listen addresses from our node's peerstore (identify); empty when it knows none. */
export async function peerListenAddresses(ipfs: IpfsClient, peerId: string, timeoutMs = 3_000): Promise<string[]> {
  try {
    const res = await fetch(`${ipfs.apiURL}/api/v0/id?arg=${encodeURIComponent(peerId)}`, { method: "POST", signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return [];
    const body = (await res.json()) as { Addresses?: string[] | null };
    return body.Addresses ?? [];
  } catch {
    return [];
  }
}

/**
 * GET <apiEndpoint>/federation/v1/ping through the egress policy (a peer's descriptor names the
 * endpoint, so the peer chooses where this cluster connects), timed; any 2xx within the deadline counts.
 */
export async function pingApi(apiEndpoint: string, egress: EgressPolicy = defaultEgressPolicy, timeoutMs = API_PING_TIMEOUT_MS): Promise<ApiCheck> {
  const url = `${apiEndpoint.replace(/\/+$/, "")}${federationPingPath}`;
  const start = performance.now();
  try {
    const res = await egressFetch(url, { signal: AbortSignal.timeout(timeoutMs) }, { policy: egress, purpose: "peer", maxRedirects: 0 });
    await readCapped(res, 64 << 10);
    if (!res.ok) return { ok: false, url, message: `HTTP ${res.status}` };
    return { ok: true, url, rttMs: performance.now() - start };
  } catch (err) {
    if (err instanceof EgressRefused) return { ok: false, url, message: err.message };
    const e = err as Error;
    return { ok: false, url, message: e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : message(e.cause ?? e) };
  }
}

export type ProbeResult = { reachable: true; rttMs: number } | { reachable: false; message: string };

interface PingLine {
  Success?: boolean;
  Time?: number;
  Text?: string;
}

/** Reads kubo's streamed ping answer up to the first measured round trip (or the end). */
async function firstPong(body: ReadableStream<Uint8Array>): Promise<ProbeResult> {
  const decoder = new TextDecoder();
  let buffered = "";
  const failure = "no answer";
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines.filter((l) => l.trim())) {
      const r = JSON.parse(line) as PingLine;
      if (r.Success && (r.Time ?? 0) > 0) return { reachable: true, rttMs: (r.Time ?? 0) / 1e6 };
      if (r.Success === false) return { reachable: false, message: r.Text || failure };
    }
  }
  return { reachable: false, message: failure };
}

/**
 * One libp2p ping, as IpfsClient.probePeer, but returning at the first pong: kubo waits a
 * second after each ping before it ends the answer (measured: 1004 ms for count=1 on loopback),
 * which would add a second to every probe. Throws only when our own node does not answer.
 */
export async function probePeerFast(ipfs: IpfsClient, peerId: string, timeoutMs = 3_000): Promise<ProbeResult> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no pong within ${timeoutMs} ms`)), timeoutMs);
  try {
    const res = await fetch(`${ipfs.apiURL}/api/v0/ping?arg=${encodeURIComponent(peerId)}&count=1`, { method: "POST", signal: abort.signal });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    const result = await firstPong(res.body);
    if (!result.reachable) await ipfs.id({ timeoutMs });
    return result;
  } catch (err) {
    await ipfs.id({ timeoutMs }); // our own node down: not the peer's fault
    return { reachable: false, message: abort.signal.aborted ? `no pong within ${timeoutMs} ms` : message(err) };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
