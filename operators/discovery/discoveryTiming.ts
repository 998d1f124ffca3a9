// How often discovery looks at a Network and probes its Peers, from the Network's
// spec.discovery overrides (Go durations, as Kubernetes users write them). Pure.
import { defaultPeerTiming, type PeerTiming } from "./peerState.ts";

/** Default pause between discovery passes of a Network with no unresolved candidate. */
export const DISCOVERY_INTERVAL_MS = 5_000;
/**
 * Pause while a candidate peer's descriptor is not resolved yet: it is being published, or this
 * node has just joined and its DHT does not reach the record yet (such a lookup fails within
 * ~100 ms, so retrying each second costs little). Measured at N=10: with 2 s, a late joiner found
 * the first members up to 10–15 s after they published; with 1 s, at most 8–9 s.
 */
export const UNRESOLVED_RETRY_MS = 1_000;
/** Fast retries of one candidate (20 s of them) before it is only retried at the discovery interval. */
export const FAST_RETRIES = 20;
/**
 * Pause after a pass that saw the swarm change (peers joined or left): a forming federation keeps
 * changing it, and each member joining is otherwise found only at the next interval (measured:
 * up to 7 s between a member's publication and its discovery by the last of 9 others).
 */
export const SWARM_CHANGED_RETRY_MS = 1_000;

/**
 * Pause after a pass that found this cluster's own kubo node not answering: it is most often
 * starting (a forming federation's members start theirs at once, and one under load answers
 * after a few seconds), so it is asked again each second a few times, then at the interval.
 * Measured at N=10: the interval's 5 s wait after a node that answered a moment later was the
 * longest gap between a member's Network becoming Ready and its first discovery pass.
 */
export const NODE_DOWN_RETRY_MS = 1_000;
export const NODE_DOWN_FAST_RETRIES = 10;

export function nodeDownRetryMs(failuresInARow: number, intervalMs: number): number {
  return failuresInARow <= NODE_DOWN_FAST_RETRIES ? Math.min(NODE_DOWN_RETRY_MS, intervalMs) : intervalMs;
}

const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** "30s", "1m30s", "500ms" → milliseconds; undefined for text that is not a Go duration. */
export function durationMs(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * (unitMs[p[2] ?? "ms"] ?? 1), 0);
}

export interface DiscoverySettings {
  interval?: string;
  unreachableAfterMissed?: number;
  lostAfter?: string;
}

/** The interval of discovery passes and peer probes (spec.discovery.interval, default 5 s, at least 500 ms). */
export function discoveryIntervalMs(settings: DiscoverySettings | undefined): number {
  const interval = durationMs(settings?.interval);
  return interval === undefined ? DISCOVERY_INTERVAL_MS : Math.max(500, interval);
}

/** The pause before the next discovery pass: sooner while the swarm changes, else the interval. */
export function passIntervalMs(intervalMs: number, swarmChanged: boolean): number {
  return swarmChanged ? Math.min(intervalMs, SWARM_CHANGED_RETRY_MS) : intervalMs;
}

/** The swarm as one comparable value (order of `swarm peers` is not stable). */
export function swarmKeyOf(peerIds: readonly string[]): string {
  return [...new Set(peerIds)].sort().join(",");
}

/** peerState's timing with a Network's overrides applied. */
export function peerTimingFor(settings: DiscoverySettings | undefined): PeerTiming {
  const probeIntervalMs = settings?.interval ? discoveryIntervalMs(settings) : defaultPeerTiming.probeIntervalMs;
  const missed = settings?.unreachableAfterMissed;
  const unreachableAfterMs = missed ? probeIntervalMs * missed : (defaultPeerTiming.unreachableAfterMs / defaultPeerTiming.probeIntervalMs) * probeIntervalMs;
  const lostAfterMs = Math.max(durationMs(settings?.lostAfter) ?? defaultPeerTiming.lostAfterMs, unreachableAfterMs + probeIntervalMs);
  return { ...defaultPeerTiming, probeIntervalMs, unreachableAfterMs, lostAfterMs };
}

/** When the last pass of one object planned the next, and on which spec (generations) it ran. */
export interface PlannedPass {
  nextAt: number;
  specKey: string;
}

/**
 * A wake before the planned pass on the same spec comes from our own status writes (or another
 * controller's): such passes would probe in a loop whenever a probe changes status. Returns
 * how long to wait instead, or undefined to run now (first pass, a spec changed, or it is time).
 */
export function deferWake(planned: PlannedPass | undefined, specKey: string, now: number): number | undefined {
  if (!planned || planned.specKey !== specKey) return undefined;
  const wait = planned.nextAt - now;
  return wait > 50 ? wait : undefined;
}
