// Peer reachability: Discovered → Connected → Unreachable → Lost (and back to Connected as soon
// as the peer answers again). Pure: the reconciler observes (IpfsClient.probePeer: a libp2p
// ping with a 3 s deadline — `swarm peers` keeps listing a hung peer for ~45 s) and passes the
// time; this decides the state, its reason, and when to look again (the requeueAfter).
//
// Timing (documented in the Peer CRD and the e2e bound):
//   - a peer is probed every PROBE_INTERVAL_MS (5 s);
//   - after MISSED_PROBES_BEFORE_UNREACHABLE (3) probes without contact, i.e. 15 s after it was
//     last seen, it is Unreachable — detected at most one interval later: ≤ 20 s after it stopped;
//   - after LOST_AFTER_MS (10 min) without contact it is Lost, and probed every
//     LOST_PROBE_INTERVAL_MS (60 s) only, so dead peers cost little.

export const PROBE_INTERVAL_MS = 5_000;
export const MISSED_PROBES_BEFORE_UNREACHABLE = 3;
export const UNREACHABLE_AFTER_MS = PROBE_INTERVAL_MS * MISSED_PROBES_BEFORE_UNREACHABLE;
export const LOST_AFTER_MS = 10 * 60_000;
export const LOST_PROBE_INTERVAL_MS = 60_000;
/**
 * A peer never reached yet (Discovered) is probed again after this, not after a whole interval:
 * its first probe often comes before the swarm connection is up, and Connected is what every
 * reader waits for. Its Unreachable deadline is unchanged (counted from its discovery).
 */
export const FIRST_CONTACT_RETRY_MS = 1_000;

export const PeerState = {
  Discovered: "Discovered",
  Connected: "Connected",
  Unreachable: "Unreachable",
  Lost: "Lost",
} as const;
export type PeerState = (typeof PeerState)[keyof typeof PeerState];

export const PeerStateReason = {
  FirstSeen: "FirstSeen",
  Reachable: "Reachable",
  Reconnected: "Reconnected",
  MissedProbes: "MissedProbes",
  NotSeenForLong: "NotSeenForLong",
} as const;
export type PeerStateReason = (typeof PeerStateReason)[keyof typeof PeerStateReason];

export interface PeerTiming {
  probeIntervalMs: number;
  unreachableAfterMs: number;
  lostAfterMs: number;
  lostProbeIntervalMs: number;
}

export const defaultPeerTiming: PeerTiming = {
  probeIntervalMs: PROBE_INTERVAL_MS,
  unreachableAfterMs: UNREACHABLE_AFTER_MS,
  lostAfterMs: LOST_AFTER_MS,
  lostProbeIntervalMs: LOST_PROBE_INTERVAL_MS,
};

/** What the Peer's status holds (times as epoch ms; the reconciler converts to RFC 3339). */
export interface PeerReachability {
  state: PeerState;
  reason: PeerStateReason;
  /** When the state last changed (a condition's lastTransitionTime). */
  since: number;
  /** Last time the peer was observed connected; absent if never. */
  lastSeen?: number;
  /** When it was first discovered — the reference for "never connected" timeouts. */
  discoveredAt: number;
}

export interface PeerObservation {
  now: number;
  /** True when the peer is connected in the swarm (and answered, if the reconciler pinged it). */
  connected: boolean;
}

export interface PeerStep {
  next: PeerReachability;
  changed: boolean;
  /** When to observe again, in ms from now (≥ 0). */
  checkAfterMs: number;
}

function to(prev: PeerReachability | undefined, state: PeerState, reason: PeerStateReason, obs: PeerObservation): PeerReachability {
  const sameState = prev?.state === state;
  return {
    state,
    reason: sameState && prev ? prev.reason : reason,
    since: sameState && prev ? prev.since : obs.now,
    lastSeen: obs.connected ? obs.now : prev?.lastSeen,
    discoveredAt: prev?.discoveredAt ?? obs.now,
  };
}

function onContact(prev: PeerReachability | undefined, obs: PeerObservation): PeerReachability {
  const reason = !prev || prev.state === PeerState.Discovered ? PeerStateReason.Reachable : PeerStateReason.Reconnected;
  return to(prev, PeerState.Connected, reason, obs);
}

function silentFor(prev: PeerReachability, now: number): number {
  return now - (prev.lastSeen ?? prev.discoveredAt);
}

function onSilence(prev: PeerReachability, obs: PeerObservation, t: PeerTiming): PeerReachability {
  // Lost ends only with a contact (a last-seen time known less exactly after a restart must not
  // bring a Lost peer back to Unreachable).
  if (prev.state === PeerState.Lost) return to(prev, PeerState.Lost, prev.reason, obs);
  const silent = silentFor(prev, obs.now);
  if (silent >= t.lostAfterMs) return to(prev, PeerState.Lost, PeerStateReason.NotSeenForLong, obs);
  if (silent >= t.unreachableAfterMs) return to(prev, PeerState.Unreachable, PeerStateReason.MissedProbes, obs);
  // Still within the grace period: a Discovered peer stays Discovered, a Connected one Connected.
  return to(prev, prev.state, prev.reason, obs);
}

function checkAfter(next: PeerReachability, now: number, t: PeerTiming): number {
  if (next.state === PeerState.Lost) return t.lostProbeIntervalMs;
  const interval = next.state === PeerState.Discovered ? Math.min(t.probeIntervalMs, FIRST_CONTACT_RETRY_MS) : t.probeIntervalMs;
  const silent = silentFor(next, now);
  // Wake exactly at the next threshold if it comes before the regular probe.
  const threshold = next.state === PeerState.Unreachable ? t.lostAfterMs : t.unreachableAfterMs;
  const untilThreshold = threshold - silent;
  return Math.max(0, untilThreshold > 0 ? Math.min(interval, untilThreshold) : interval);
}

/**
 * The next reachability of a peer given the previous one (undefined: just discovered) and one
 * observation. A first observation without contact yields Discovered (reason FirstSeen).
 */
export function nextPeerState(prev: PeerReachability | undefined, obs: PeerObservation, timing: PeerTiming = defaultPeerTiming): PeerStep {
  let next: PeerReachability;
  if (obs.connected) next = onContact(prev, obs);
  else if (!prev) next = to(undefined, PeerState.Discovered, PeerStateReason.FirstSeen, obs);
  else next = onSilence(prev, obs, timing);
  const changed = !prev || prev.state !== next.state;
  return { next, changed, checkAfterMs: checkAfter(next, obs.now, timing) };
}
