// Which IPFS peers of a Network might be member clusters not yet known as Peers, when to look
// at each again, and the Peer object a verified one becomes. Pure: the discovery reconciler
// gathers the inputs (swarm, pubsub hints, bootstrap, the Peer cache) and does the I/O.
import type { ClusterDescriptor } from "./descriptor.ts";
import { discoveredPeerName, peerLabels } from "./contracts.ts";
import { FAST_RETRIES, UNRESOLVED_RETRY_MS } from "./discoveryTiming.ts";

export interface Candidate {
  peerId: string;
  /** A descriptor CID announced over pubsub: tried when the IPNS name does not resolve. */
  cidHint?: string;
}

export interface CandidateSources {
  ownPeerId: string;
  swarmPeerIds: readonly string[];
  /** Pubsub announcements (peer ID → announced CID); hints only. */
  announced: ReadonlyMap<string, string>;
  bootstrap: readonly string[];
  /** Peer IDs that already have a Peer in this network (discovered or declared). */
  known: ReadonlySet<string>;
}

const P2P = /\/(?:p2p|ipfs)\/([1-9A-HJ-NP-Za-km-z]{32,128})$/;

/** The peer ID at the end of a multiaddr (…/p2p/<id>), if any. */
export function peerIdOfMultiaddr(addr: string): string | undefined {
  return P2P.exec(addr)?.[1];
}

/** New candidates, each once, in a stable order (swarm first, then announcements, then bootstrap). */
export function selectCandidates(s: CandidateSources): Candidate[] {
  const out = new Map<string, Candidate>();
  const consider = (peerId: string | undefined): void => {
    if (!peerId || peerId === s.ownPeerId || s.known.has(peerId) || out.has(peerId)) return;
    const cidHint = s.announced.get(peerId);
    out.set(peerId, cidHint ? { peerId, cidHint } : { peerId });
  };
  for (const id of s.swarmPeerIds) consider(id);
  for (const id of s.announced.keys()) consider(id);
  for (const addr of s.bootstrap) consider(peerIdOfMultiaddr(addr));
  return [...out.values()];
}

/** How one candidate fared so far (kept in memory: a restart only costs a few fast retries). */
export interface CandidateAttempts {
  failures: number;
  nextAttemptAt: number;
}

/** After a failed look: fast retries first (its descriptor is likely being published), then at the interval. */
export function afterFailure(prev: CandidateAttempts | undefined, now: number, intervalMs: number): CandidateAttempts {
  const failures = (prev?.failures ?? 0) + 1;
  const delay = failures < FAST_RETRIES ? Math.min(UNRESOLVED_RETRY_MS, intervalMs) : intervalMs;
  return { failures, nextAttemptAt: now + delay };
}

export function isDue(attempts: CandidateAttempts | undefined, now: number): boolean {
  return !attempts || attempts.nextAttemptAt <= now;
}

/**
 * The candidates to examine now, in one round of a pass: due, and not examined earlier in the
 * pass. A pass examines in rounds until none is left (examining takes seconds on a loaded
 * node: a candidate that came due meanwhile is looked at then, not after another pass).
 */
export function dueCandidates(found: readonly Candidate[], attempts: ReadonlyMap<string, CandidateAttempts>, examined: ReadonlySet<string>, now: number): Candidate[] {
  return found.filter((c) => !examined.has(c.peerId) && isDue(attempts.get(c.peerId), now));
}

/** The next pass: as soon as a pending candidate is due (at least 200 ms away), else the interval. */
export function nextPassAfterMs(pending: readonly CandidateAttempts[], now: number, intervalMs: number): number {
  if (pending.length === 0) return intervalMs;
  const soonest = Math.min(...pending.map((a) => a.nextAttemptAt));
  return Math.min(intervalMs, Math.max(200, soonest - now));
}

export interface DiscoveredPeerInput {
  networkName: string;
  peerId: string;
  addresses: readonly string[];
  descriptor: ClusterDescriptor;
  approvalPolicy: string | undefined;
}

export interface DiscoveredPeerObject {
  apiVersion: string;
  kind: "Peer";
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    peerId: string;
    networkRef: { name: string };
    addresses: string[];
    origin: "Discovered";
    approval: "Accepted" | "Pending";
  };
}

const MAX_ADDRESSES = 32;

/** Listen addresses worth dialling: with the /p2p/ suffix, no duplicates, no relay or unspecified. */
export function dialableAddresses(peerId: string, addrs: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of addrs) {
    if (raw.includes("/p2p-circuit") || /^\/ip[46]\/(0\.0\.0\.0|::)\//.test(raw)) continue;
    const base = raw.replace(new RegExp(`/(p2p|ipfs)/${peerId}$`), "");
    if (P2P.test(base)) continue; // another peer's address
    out.add(`${base}/p2p/${peerId}`);
  }
  return [...out].sort().slice(0, MAX_ADDRESSES);
}

/** The Peer a verified candidate becomes; its name is deterministic so a restart cannot duplicate it. */
export function discoveredPeerObject(input: DiscoveredPeerInput): DiscoveredPeerObject {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "Peer",
    metadata: {
      name: discoveredPeerName(input.networkName, input.peerId),
      labels: { [peerLabels.network]: input.networkName, [peerLabels.clusterName]: input.descriptor.clusterName },
    },
    spec: {
      peerId: input.peerId,
      networkRef: { name: input.networkName },
      addresses: dialableAddresses(input.peerId, input.addresses),
      origin: "Discovered",
      approval: input.approvalPolicy === "auto" ? "Accepted" : "Pending",
    },
  };
}

/** The Peer cache index: one value per (network, peer ID). */
export function networkPeerKey(networkName: string, peerId: string): string {
  return `${networkName}/${peerId}`;
}
