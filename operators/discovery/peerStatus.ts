// A Peer's status from one reconcile pass's observations: reachability (peerState), the pinned
// descriptor, the API's round-trip time, conditions, and the Events owed on transitions. Pure:
// the Peer reconciler observes and passes `now`; this decides what to write.
//
// A steady Connected peer plans the status it already has, so probing it writes nothing
// (docs/decisions/peer-status-writes.md): lastSeen is kept to the minute, the RTT only moves
// when it changed significantly, missedIntervals is refreshed when it at least doubles, and no
// condition message carries a per-probe figure. The exact last contact lives in the reconciler's
// memory (PeerObservations.rememberedLastSeen) for the Unreachable/Lost thresholds.
import { type ConditionUpdate, findCondition, setCondition } from "../runtime/conditions.ts";
import type { Condition } from "../schema/common.ts";
import type { Peer, PeerDescriptor, PeerStatus, PeerTrust } from "../schema/peer.ts";
import { type ClusterDescriptor, DescriptorReason } from "./descriptor.ts";
import { nextPeerState, type PeerReachability, PeerState, type PeerStateReason, PeerStateReason as StateReasons, type PeerTiming } from "./peerState.ts";
import { planTrust, type RunOutcomes, type TrustPass } from "./peerTrust.ts";

export const PeerConditionType = {
  Ready: "Ready",
  Reachable: "Reachable",
  DescriptorVerified: "DescriptorVerified",
  ApiReachable: "ApiReachable",
} as const;

/** Reasons this controller writes (peerState's and descriptor.ts's reasons are used as they are). */
export const PeerReason = {
  Ready: "Connected",
  Rejected: "Rejected",
  NotConnected: "NotConnected",
  DescriptorNotVerified: "DescriptorNotVerified",
  Verified: "Verified",
  KeyChanged: "KeyChanged",
  DescriptorUnavailable: "DescriptorUnavailable",
  Answered: "Answered",
  NoAnswer: "NoAnswer",
  NoEndpoint: "NoEndpoint",
  NetworkNotFound: "NetworkNotFound",
  LocalNodeUnavailable: "LocalNodeUnavailable",
} as const;

export type DescriptorCheck =
  | { kind: "verified"; cid: string; descriptor: ClusterDescriptor }
  | { kind: "refused"; cid: string; reason: DescriptorReason | "ClusterNameTaken"; message: string }
  | { kind: "unavailable"; message: string };

export type ApiCheck = { ok: true; url: string; rttMs: number } | { ok: false; url: string; message: string };

export interface PeerObservations {
  now: number;
  timing: PeerTiming;
  /** The libp2p probe; absent when not probed (Rejected peer). */
  reachable?: boolean;
  /** Absent when the descriptor was not looked at this pass. */
  descriptor?: DescriptorCheck;
  /** Absent when there is no API endpoint to ask (no verified descriptor) or the peer is Rejected. */
  api?: ApiCheck;
  /** Why some of a Rejected peer's addresses could not be filtered (condition message). */
  refusalNote?: string;
  /** The exact time this process last saw the peer connected (status.lastSeen is to the minute). */
  rememberedLastSeen?: number;
  /** How this cluster's runs with steps on the peer ended; absent: the counts written stand. */
  runs?: RunOutcomes;
}

export interface PeerEvent {
  type: "Normal" | "Warning";
  reason: string;
  note: string;
}

export interface PeerStatusPlan {
  status: PeerStatus;
  events: PeerEvent[];
  /** When to probe again (peerState: at the next threshold if it comes before the interval). */
  checkAfterMs: number;
}

function parseTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}

/** status.lastSeen is written to this resolution: at most one write a minute for a Connected peer. */
export const LAST_SEEN_RESOLUTION_MS = 60_000;
/** An RTT is written again only when it moved by at least this much… */
export const RTT_MIN_CHANGE_MS = 20;
/** …and by at least this fraction of the written one (hysteresis: no flapping at a boundary). */
export const RTT_MIN_CHANGE_RATIO = 0.5;

/** A time to the minute (what status.lastSeen holds). */
export function toResolution(ms: number): number {
  return Math.floor(ms / LAST_SEEN_RESOLUTION_MS) * LAST_SEEN_RESOLUTION_MS;
}

/** The RTT to report: the written one unless the measured one differs significantly. */
export function rttToReport(written: number | undefined, measured: number): number {
  if (written === undefined) return measured;
  const change = Math.abs(measured - written);
  return change >= RTT_MIN_CHANGE_MS && change >= written * RTT_MIN_CHANGE_RATIO ? measured : written;
}

/** missedIntervals as written: refreshed on a state change, or when it at least doubled (log-many writes for a dead peer). */
function missedToReport(written: number | undefined, computed: number | undefined, stateChanged: boolean): number | undefined {
  if (stateChanged || written === undefined || computed === undefined) return computed;
  if (computed === 0 || written === 0) return computed;
  return computed >= 2 * written ? computed : written;
}

const stateReasons = new Set<string>(Object.values(StateReasons));

function previousReason(peer: Peer): PeerStateReason {
  const reason = findCondition(peer.status?.conditions, PeerConditionType.Reachable)?.reason;
  return reason && stateReasons.has(reason) ? (reason as PeerStateReason) : StateReasons.FirstSeen;
}

/**
 * The last contact as far as the thresholds are concerned: this process's exact memory, else the
 * latest moment status.lastSeen (to the minute) can stand for — so that after a restart
 * Unreachable and Lost are never declared early (at most one resolution late instead).
 */
function lastSeenOf(peer: Peer, remembered: number | undefined): number | undefined {
  const written = parseTime(peer.status?.lastSeen);
  if (written === undefined) return remembered;
  // Our memory is exact unless status is of a later minute (another process saw it since).
  if (remembered !== undefined && toResolution(remembered) >= toResolution(written)) return remembered;
  return toResolution(written) + LAST_SEEN_RESOLUTION_MS - 1;
}

/** The reachability the previous pass wrote, rebuilt from status (undefined: never probed). */
export function previousReachability(peer: Peer, rememberedLastSeen?: number): PeerReachability | undefined {
  const state = peer.status?.reachability;
  if (!state) return undefined;
  const created = parseTime(peer.metadata?.creationTimestamp as string | undefined) ?? 0;
  const since = parseTime(findCondition(peer.status?.conditions, PeerConditionType.Reachable)?.lastTransitionTime) ?? created;
  const lastSeen = lastSeenOf(peer, rememberedLastSeen);
  return { state, reason: previousReason(peer), since, ...(lastSeen !== undefined ? { lastSeen } : {}), discoveredAt: created };
}

/** What status.descriptor holds for a verified descriptor. */
export function descriptorStatus(cid: string, d: ClusterDescriptor): PeerDescriptor {
  return {
    cid,
    clusterName: d.clusterName,
    displayName: d.displayName,
    apiEndpoint: d.apiEndpoint,
    publicKey: d.publicKey,
    networks: d.networks.map((n) => n.name),
    issuedAt: d.issuedAt,
    expiresAt: d.expiresAt,
  };
}

function checkedCondition(check: Exclude<DescriptorCheck, { kind: "unavailable" }>): ConditionUpdate {
  const type = PeerConditionType.DescriptorVerified;
  if (check.kind === "verified") {
    return { type, status: "True", reason: PeerReason.Verified, message: `descriptor ${check.cid} of ${check.descriptor.clusterName} verified; valid until ${check.descriptor.expiresAt}` };
  }
  const reason = check.reason === DescriptorReason.KeyMismatch ? PeerReason.KeyChanged : check.reason;
  return { type, status: "False", reason, message: `descriptor ${check.cid} refused: ${check.message}` };
}

function isExpired(current: PeerDescriptor | undefined, now: number): boolean {
  const expiresAt = parseTime(current?.expiresAt);
  return expiresAt !== undefined && expiresAt <= now;
}

/** Verified or refused this pass decides; otherwise the previous verdict stands unless the pinned descriptor expired. */
function descriptorCondition(current: PeerDescriptor | undefined, check: DescriptorCheck | undefined, prev: Condition | undefined, now: number): ConditionUpdate {
  const type = PeerConditionType.DescriptorVerified;
  if (check && check.kind !== "unavailable") return checkedCondition(check);
  if (current && isExpired(current, now)) {
    return { type, status: "False", reason: DescriptorReason.Expired, message: `the last verified descriptor expired at ${current.expiresAt} and no newer one could be fetched` };
  }
  if (prev) return { type, status: prev.status, reason: prev.reason, message: prev.message };
  const why = check?.kind === "unavailable" ? check.message : "not fetched yet";
  return { type, status: "Unknown", reason: PeerReason.DescriptorUnavailable, message: `no descriptor of this peer verified yet: ${why}` };
}

function apiCondition(api: ApiCheck | undefined): ConditionUpdate {
  if (!api) return { type: PeerConditionType.ApiReachable, status: "Unknown", reason: PeerReason.NoEndpoint, message: "no verified descriptor names this peer's API endpoint yet" };
  // No RTT in the message: it would change it on every probe (the RTT is status.rttMilliseconds).
  if (api.ok) return { type: PeerConditionType.ApiReachable, status: "True", reason: PeerReason.Answered, message: `GET ${api.url} answered` };
  return { type: PeerConditionType.ApiReachable, status: "False", reason: PeerReason.NoAnswer, message: `GET ${api.url}: ${api.message}` };
}

function reportedLastSeen(r: PeerReachability): string | undefined {
  return r.lastSeen === undefined ? undefined : new Date(toResolution(r.lastSeen)).toISOString();
}

function reachableCondition(r: PeerReachability): ConditionUpdate {
  const connected = r.state === PeerState.Connected;
  const seen = reportedLastSeen(r);
  const message = connected ? "its IPFS node answers libp2p pings" : `its IPFS node is ${r.state.toLowerCase()}${seen ? `; last seen ${seen} (to the minute)` : "; never seen connected"}`;
  return { type: PeerConditionType.Reachable, status: connected ? "True" : "False", reason: r.reason, message };
}

function readyCondition(peer: Peer, state: string | undefined, descriptorOk: boolean, refusalNote: string | undefined): ConditionUpdate {
  const type = PeerConditionType.Ready;
  if (peer.spec?.approval === "Rejected") {
    return { type, status: "False", reason: PeerReason.Rejected, message: `rejected by an admin: removed from peering, filtered and disconnected${refusalNote ? `; ${refusalNote}` : ""}` };
  }
  if (state !== PeerState.Connected) return { type, status: "False", reason: PeerReason.NotConnected, message: `reachability is ${state ?? "not probed yet"}` };
  if (!descriptorOk) return { type, status: "False", reason: PeerReason.DescriptorNotVerified, message: "connected, but its descriptor is not verified (see DescriptorVerified)" };
  return { type, status: "True", reason: PeerReason.Ready, message: `connected; descriptor verified; approval ${peer.spec?.approval ?? "Pending"}` };
}

const transitionEvents: Record<string, PeerEvent["type"]> = { Connected: "Normal", Unreachable: "Warning", Lost: "Warning" };

function reachabilityEvents(prev: PeerReachability | undefined, next: PeerReachability): PeerEvent[] {
  if (prev?.state === next.state) return [];
  const type = transitionEvents[next.state];
  if (!type) return [];
  const note = next.state === PeerState.Connected ? `IPFS node connected (${next.reason})` : `IPFS node ${next.state.toLowerCase()}: not seen since ${reportedLastSeen(next) ?? "it was discovered"}`;
  return [{ type, reason: next.state, note }];
}

function conditionEvents(prev: readonly Condition[] | undefined, next: ConditionUpdate, forType: "Ready" | "DescriptorVerified"): PeerEvent[] {
  const before = findCondition(prev, next.type);
  if (before?.reason === next.reason && before.status === next.status) return [];
  if (forType === "Ready" && next.reason === PeerReason.Rejected) return [{ type: "Warning", reason: PeerReason.Rejected, note: next.message }];
  if (forType === "DescriptorVerified" && next.status === "False") return [{ type: "Warning", reason: next.reason, note: next.message }];
  return [];
}

interface Reach {
  next: PeerReachability | undefined;
  prev: PeerReachability | undefined;
  checkAfterMs: number;
}

function reachability(peer: Peer, obs: PeerObservations): Reach {
  const prev = previousReachability(peer, obs.rememberedLastSeen);
  if (obs.reachable === undefined) return { prev, next: prev, checkAfterMs: obs.timing.probeIntervalMs };
  const step = nextPeerState(prev, { now: obs.now, connected: obs.reachable }, obs.timing);
  return { prev, next: step.next, checkAfterMs: step.checkAfterMs };
}

function missedIntervals(r: PeerReachability | undefined, now: number, timing: PeerTiming): number | undefined {
  if (!r) return undefined;
  if (r.state === PeerState.Connected) return 0;
  return Math.floor((now - (r.lastSeen ?? r.discoveredAt)) / timing.probeIntervalMs);
}

function conditionsOf(peer: Peer, updates: Array<ConditionUpdate | undefined>, at: Date): Condition[] {
  let conditions = peer.status?.conditions;
  for (const u of updates) if (u) conditions = setCondition(conditions, u, peer.metadata?.generation, at);
  const ours = new Set<string>(Object.values(PeerConditionType));
  return (conditions ?? []).filter((c) => ours.has(c.type));
}

function reachabilityFields(peer: Peer, next: PeerReachability | undefined, obs: PeerObservations): Partial<PeerStatus> {
  if (!next) return {};
  const seen = reportedLastSeen(next);
  const stateChanged = peer.status?.reachability !== next.state;
  const missed = missedToReport(peer.status?.missedIntervals, missedIntervals(next, obs.now, obs.timing), stateChanged);
  return { reachability: next.state, ...(seen !== undefined ? { lastSeen: seen } : {}), ...(missed !== undefined ? { missedIntervals: missed } : {}) };
}

interface Verdicts {
  descriptor: PeerDescriptor | undefined;
  descriptorUpdate: ConditionUpdate;
  ready: ConditionUpdate;
}

function verdicts(peer: Peer, obs: PeerObservations, next: PeerReachability | undefined): Verdicts {
  const check = obs.descriptor;
  const previous = findCondition(peer.status?.conditions, PeerConditionType.DescriptorVerified);
  const descriptorUpdate = descriptorCondition(peer.status?.descriptor, check, previous, obs.now);
  return {
    descriptor: check?.kind === "verified" ? descriptorStatus(check.cid, check.descriptor) : peer.status?.descriptor,
    descriptorUpdate,
    ready: readyCondition(peer, next?.state, descriptorUpdate.status === "True", obs.refusalNote),
  };
}

function reportedRtt(peer: Peer, obs: PeerObservations): number | undefined {
  if (!obs.api?.ok || peer.spec?.approval === "Rejected") return undefined;
  return rttToReport(peer.status?.rttMilliseconds, Math.max(0, Math.round(obs.api.rttMs)));
}

function optionalFields(peer: Peer, obs: PeerObservations, descriptor: PeerDescriptor | undefined): Partial<PeerStatus> {
  const generation = peer.metadata?.generation;
  const rtt = reportedRtt(peer, obs);
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    ...(rtt !== undefined ? { rttMilliseconds: rtt } : {}),
    ...(descriptor ? { descriptor } : {}),
  };
}

const minuteOf = (t: string | undefined): number => (t ? toResolution(Date.parse(t)) : Number.NaN);

/** The run counts written, when this pass did not count them. */
const writtenRuns = (trust: PeerTrust | undefined): RunOutcomes => ({ succeeded: trust?.runsSucceeded ?? 0, failed: trust?.runsFailed ?? 0 });

/** What the trust history needs of this pass: the reachability before and after it. */
function trustPass(peer: Peer, fields: Partial<PeerStatus>, obs: PeerObservations): TrustPass {
  const before = peer.status?.reachability;
  return {
    now: obs.now,
    wasConnected: before === PeerState.Connected,
    stateChanged: before !== fields.reachability,
    lastSeenMoved: fields.lastSeen !== undefined && minuteOf(fields.lastSeen) !== minuteOf(peer.status?.lastSeen),
    runs: obs.runs ?? writtenRuns(peer.status?.trust),
  };
}

/** status.trust after this pass (peerTrust.ts): its history advances with the writes that happen anyway. */
function trustField(peer: Peer, fields: Partial<PeerStatus>, obs: PeerObservations): Partial<PeerStatus> {
  const written = peer.status?.trust;
  if (!fields.reachability) return written ? { trust: written } : {};
  return { trust: planTrust(written, trustPass(peer, fields, obs)) };
}

/** The whole status this controller owns, and the Events for what changed. */
export function planPeerStatus(peer: Peer, obs: PeerObservations): PeerStatusPlan {
  const { prev, next, checkAfterMs } = reachability(peer, obs);
  const v = verdicts(peer, obs, next);
  const reachable = next ? reachableCondition(next) : undefined;
  const conditions = conditionsOf(peer, [v.descriptorUpdate, apiCondition(obs.api), reachable, v.ready], new Date(obs.now));
  const reach = reachabilityFields(peer, next, obs);
  const status: PeerStatus = { conditions, ...reach, ...optionalFields(peer, obs, v.descriptor), ...trustField(peer, reach, obs) };
  const probed = peer.spec?.approval !== "Rejected" && next !== undefined;
  const events = [
    ...(probed && next ? reachabilityEvents(prev, next) : []),
    ...conditionEvents(peer.status?.conditions, v.ready, "Ready"),
    ...conditionEvents(peer.status?.conditions, v.descriptorUpdate, "DescriptorVerified"),
  ];
  return { status, events, checkAfterMs };
}

/** Ready=False for a reason that prevents looking at the peer at all (no Network, our own kubo down). */
export function blockedPeerStatus(peer: Peer, reason: string, message: string, now: number): PeerStatus {
  const generation = peer.metadata?.generation;
  const conditions = setCondition(peer.status?.conditions, { type: PeerConditionType.Ready, status: "False", reason, message }, generation, new Date(now));
  return { ...peer.status, conditions, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
}

/**
 * Whether the key in status.descriptor is one to trust now: the discovery controller keeps the
 * last verified descriptor even after a newer one is refused (KeyChanged, bad signature) or the
 * pinned one expired, and says so in the DescriptorVerified condition.
 */
export function descriptorTrusted(peer: Peer | undefined): boolean {
  return peer?.status?.descriptor !== undefined && findCondition(peer.status.conditions, PeerConditionType.DescriptorVerified)?.status === "True";
}
