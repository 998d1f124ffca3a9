// One cluster name, one key. A cluster name is what Projects (members.clusters), grants and the
// federation API's key lookup refer to, so a name must never stand for two keys: a descriptor
// that claims a name a Peer already holds with another key is refused (discovery creates no Peer,
// the Peer controller pins no descriptor), whatever the Network's approval policy; and a lookup
// by name that still finds two keys (a race of two first sightings) refuses rather than guesses.
// A Peer holds the name of its pinned descriptor (status.descriptor, kept after expiry or a
// refused re-publication) until it is deleted or Rejected: rejecting a Peer is how an admin
// releases a name a squatter took first. Pure: the callers pass the Peers they see (a cache).
import { findCondition } from "../runtime/conditions.ts";
import type { Peer } from "../schema/peer.ts";
import type { DescriptorCheck } from "./peerStatus.ts";

export const ClusterNameReason = {
  Taken: "ClusterNameTaken",
  Ambiguous: "AmbiguousClusterName",
} as const;

export interface ClusterNameClaim {
  clusterName: string;
  publicKey: string;
  /** The claimant's own Peer object, if it has one (it does not conflict with itself). */
  peerName?: string;
}

function namedBy(peers: readonly Peer[], clusterName: string): Peer[] {
  return peers.filter((p) => p.status?.descriptor?.clusterName === clusterName);
}

function isRejected(p: Peer): boolean {
  return p.spec?.approval === "Rejected";
}

/** The Peers that hold `clusterName` now: their pinned descriptor names it and they are not Rejected. */
export function holdersOf(peers: readonly Peer[], clusterName: string): Peer[] {
  return namedBy(peers, clusterName).filter((p) => !isRejected(p));
}

/** Another Peer holding the claimed name with a different key, if any: the claim must be refused. */
export function clusterNameConflict(peers: readonly Peer[], claim: ClusterNameClaim): Peer | undefined {
  return holdersOf(peers, claim.clusterName).find((p) => p.metadata?.name !== claim.peerName && p.status?.descriptor?.publicKey !== claim.publicKey);
}

/** A verified descriptor whose name is taken by another key becomes a refusal (ClusterNameTaken). */
export function checkClusterName(check: DescriptorCheck, peers: readonly Peer[], peerName?: string): DescriptorCheck {
  if (check.kind !== "verified") return check;
  const { clusterName, publicKey } = check.descriptor;
  const holder = clusterNameConflict(peers, { clusterName, publicKey, ...(peerName ? { peerName } : {}) });
  if (!holder) return check;
  return {
    kind: "refused",
    cid: check.cid,
    reason: ClusterNameReason.Taken,
    message: `cluster name "${clusterName}" is held by Peer ${holder.metadata?.name ?? ""} with another key; one name, one key (reject or delete that Peer to release the name)`,
  };
}

export type ClusterNameLookup =
  | { kind: "none" }
  | { kind: "found"; peer: Peer }
  | { kind: "ambiguous"; peers: string[]; message: string };

function trusted(p: Peer): boolean {
  return findCondition(p.status?.conditions, "DescriptorVerified")?.status === "True";
}

/** Among Peers of one key: Accepted and verified first, then Accepted, then any (e.g. Pending). */
function preferred(peers: readonly Peer[]): Peer | undefined {
  const accepted = peers.filter((p) => p.spec?.approval === "Accepted");
  return accepted.find(trusted) ?? accepted[0] ?? peers[0];
}

/**
 * The Peer a federation request or a user's `cluster` parameter means by `clusterName`. One
 * cluster may be a Peer in several Networks (same key): the same key Rejected anywhere wins
 * (fail closed). Non-Rejected Peers naming it with different keys: ambiguous, refused.
 */
export function peerForClusterName(peers: readonly Peer[], clusterName: string): ClusterNameLookup {
  const named = namedBy(peers, clusterName);
  if (named.length === 0) return { kind: "none" };
  const holders = named.filter((p) => !isRejected(p));
  const keys = new Set(holders.map((p) => p.status?.descriptor?.publicKey));
  if (keys.size > 1) {
    const names = holders.map((p) => p.metadata?.name ?? "").sort();
    return { kind: "ambiguous", peers: names, message: `cluster name "${clusterName}" is claimed with ${keys.size} different keys (Peers ${names.join(", ")}); reject or delete the impostor` };
  }
  const key = holders[0]?.status?.descriptor?.publicKey;
  const rejected = named.find((p) => isRejected(p) && (key === undefined || p.status?.descriptor?.publicKey === key));
  const peer = rejected ?? preferred(holders);
  return peer ? { kind: "found", peer } : { kind: "none" };
}
