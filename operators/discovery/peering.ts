// Which peers kubo should keep connections to (its peering set), as a diff the Network
// reconciler applies with `swarm peering add/rm`. Peering makes kubo hold the connection and
// re-dial with back-off after the peer restarts (measured: back within 5-8 s on loopback), so
// Accepted peers stay Connected without discovery dialling them itself. Pure.

export interface PeeringEntry {
  peerId: string;
  /** Multiaddrs without the /p2p/ suffix, as `swarm peering ls` lists them, or with it. */
  addrs: string[];
}

export interface PeeringPlan {
  /** One `swarm peering add` per entry: all of a peer's full multiaddrs (…/p2p/<peerId>) at once. */
  add: string[][];
  /** Peer IDs to `swarm peering rm`. */
  remove: string[];
}

function withoutPeerSuffix(addr: string, peerId: string): string {
  const suffix = `/p2p/${peerId}`;
  return addr.endsWith(suffix) ? addr.slice(0, -suffix.length) : addr;
}

function sameAddrs(a: PeeringEntry, b: PeeringEntry): boolean {
  const left = new Set(a.addrs.map((x) => withoutPeerSuffix(x, a.peerId)));
  const right = new Set(b.addrs.map((x) => withoutPeerSuffix(x, b.peerId)));
  return left.size === right.size && [...left].every((x) => right.has(x));
}

/**
 * @param current what kubo's peering holds now
 * @param wanted the peers to keep (Accepted peers, and Pending ones while they are verified),
 *   never this node itself and never a Rejected peer
 * Kubo's `peering add` replaces a peer's addresses with those of the call (measured on
 * v0.42), so a peer whose addresses changed is simply added again with all of them.
 */
export function planPeering(current: readonly PeeringEntry[], wanted: readonly PeeringEntry[]): PeeringPlan {
  const now = new Map(current.map((e) => [e.peerId, e]));
  const want = new Map(wanted.filter((e) => e.addrs.length > 0).map((e) => [e.peerId, e]));
  const plan: PeeringPlan = { add: [], remove: [] };
  for (const peerId of now.keys()) if (!want.has(peerId)) plan.remove.push(peerId);
  for (const [peerId, entry] of want) {
    const existing = now.get(peerId);
    if (existing && sameAddrs(existing, entry)) continue;
    plan.add.push([...new Set(entry.addrs.map((addr) => `${withoutPeerSuffix(addr, peerId)}/p2p/${peerId}`))]);
  }
  return plan;
}
