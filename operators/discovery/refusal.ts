// How to make kubo stop talking to a Rejected peer. Kubo has no peer-ID deny list: a swarm
// key admits anyone who holds it, and `swarm disconnect` lasts only until one side re-dials
// (the DHT's routing-table refresh does within a minute). What kubo does have is address
// filters (Swarm.AddrFilters, `swarm filters add`), enforced by its connection gater on dial
// AND accept, persisted in its config. An address filter blocks every peer at that IP, so a
// refused peer's IP is filtered only when no peer we keep (and not this node) uses it; the
// rest is left to disconnecting it again on every reconcile. Pure: the reconciler passes the
// multiaddrs it knows.

export interface RefusalPlan {
  /** `/ip4/A.B.C.D/ipcidr/32` or `/ip6/…/ipcidr/128` filters safe to add. */
  filters: string[];
  /** IPs of the refused peer that could not be filtered, with why (for the Peer's condition message). */
  unfiltered: Array<{ ip: string; why: string }>;
}

const IP_PART = /^\/(ip4|ip6)\/([^/]+)/;
const UNSPECIFIED = new Set(["0.0.0.0", "::"]);

/** The IP family and address at the start of a multiaddr, if any (DNS addresses have none). */
export function multiaddrIp(addr: string): { family: "ip4" | "ip6"; ip: string } | undefined {
  const m = IP_PART.exec(addr);
  if (!m?.[1] || !m[2]) return undefined;
  return { family: m[1] as "ip4" | "ip6", ip: m[2] };
}

export function ipFilterFor(family: "ip4" | "ip6", ip: string): string {
  return `/${family}/${ip}/ipcidr/${family === "ip4" ? 32 : 128}`;
}

function ipsOf(addrs: readonly string[]): Set<string> {
  const ips = new Set<string>();
  for (const a of addrs) {
    const parsed = multiaddrIp(a);
    if (parsed) ips.add(parsed.ip);
  }
  return ips;
}

/**
 * @param refusedAddrs every multiaddr seen for the refused peer (swarm peers, descriptor, spec)
 * @param keptAddrs multiaddrs of every peer that is not refused (Pending and Accepted alike)
 * @param ownAddrs this node's listen addresses
 */
export function planRefusal(refusedAddrs: readonly string[], keptAddrs: readonly string[], ownAddrs: readonly string[]): RefusalPlan {
  const kept = ipsOf(keptAddrs);
  const own = ipsOf(ownAddrs);
  const plan: RefusalPlan = { filters: [], unfiltered: [] };
  const done = new Set<string>();
  for (const addr of refusedAddrs) {
    const parsed = multiaddrIp(addr);
    if (!parsed || done.has(parsed.ip)) continue;
    done.add(parsed.ip);
    if (UNSPECIFIED.has(parsed.ip)) plan.unfiltered.push({ ip: parsed.ip, why: "unspecified address" });
    else if (own.has(parsed.ip)) plan.unfiltered.push({ ip: parsed.ip, why: "this node listens on it" });
    else if (kept.has(parsed.ip)) plan.unfiltered.push({ ip: parsed.ip, why: "shared with a peer that is not refused" });
    else plan.filters.push(ipFilterFor(parsed.family, parsed.ip));
  }
  return plan;
}
