// A Peer's status from one reconcile pass's observations: reachability (peerState), the pinned
// descriptor, the API's round-trip time, conditions, and the Events owed on transitions. Pure:
// the Peer reconciler observes and passes `now`; this decides what to write.
import { type ConditionUpdate, findCondition, setCondition } from "../runtime/conditions.ts";
import type { Condition } from "../schema/common.ts";
import type { Peer, PeerDescriptor, PeerStatus } from "../schema/peer.ts";
import { type ClusterDescriptor, DescriptorReason } from "./descriptor.ts";
import { nextPeerState, type PeerReachability, PeerState, type PeerStateReason, PeerStateReason as StateReasons, type PeerTiming } from "./peerState.ts";

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

const stateReasons = new Set<string>(Object.values(StateReasons));

function previousReason(peer: Peer): PeerStateReason {
  const reason = findCondition(peer.status?.conditions, PeerConditionType.Reachable)?.reason;
  return reason && stateReasons.has(reason) ? (reason as PeerStateReason) : StateReasons.FirstSeen;
}

/** The reachability the previous pass wrote, rebuilt from status (undefined: never probed). */
export function previousReachability(peer: Peer): PeerReachability | undefined {
  const state = peer.status?.reachability;
  if (!state) return undefined;
  const created = parseTime(peer.metadata?.creationTimestamp as string | undefined) ?? 0;
  const since = parseTime(findCondition(peer.status?.conditions, PeerConditionType.Reachable)?.lastTransitionTime) ?? created;
  const lastSeen = parseTime(peer.status?.lastSeen);
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
  if (api.ok) return { type: PeerConditionType.ApiReachable, status: "True", reason: PeerReason.Answered, message: `GET ${api.url} answered in ${Math.round(api.rttMs)} ms` };
  return { type: PeerConditionType.ApiReachable, status: "False", reason: PeerReason.NoAnswer, message: `GET ${api.url}: ${api.message}` };
}

function reachableCondition(r: PeerReachability): ConditionUpdate {
  const connected = r.state === PeerState.Connected;
  const message = connected ? "its IPFS node answers libp2p pings" : `its IPFS node is ${r.state.toLowerCase()}${r.lastSeen ? `; last seen ${new Date(r.lastSeen).toISOString()}` : "; never seen connected"}`;
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
  const note = next.state === PeerState.Connected ? `IPFS node connected (${next.reason})` : `IPFS node ${next.state.toLowerCase()}: not seen since ${next.lastSeen ? new Date(next.lastSeen).toISOString() : "it was discovered"}`;
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
  const prev = previousReachability(peer);
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

function reachabilityFields(next: PeerReachability | undefined, obs: PeerObservations): Partial<PeerStatus> {
  if (!next) return {};
  return {
    reachability: next.state,
    ...(next.lastSeen !== undefined ? { lastSeen: new Date(next.lastSeen).toISOString() } : {}),
    missedIntervals: missedIntervals(next, obs.now, obs.timing),
  };
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

function optionalFields(peer: Peer, obs: PeerObservations, descriptor: PeerDescriptor | undefined): Partial<PeerStatus> {
  const generation = peer.metadata?.generation;
  const rtt = obs.api?.ok && peer.spec?.approval !== "Rejected" ? Math.max(0, Math.round(obs.api.rttMs)) : undefined;
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    ...(rtt !== undefined ? { rttMilliseconds: rtt } : {}),
    ...(descriptor ? { descriptor } : {}),
  };
}

/** The whole status this controller owns, and the Events for what changed. */
export function planPeerStatus(peer: Peer, obs: PeerObservations): PeerStatusPlan {
  const { prev, next, checkAfterMs } = reachability(peer, obs);
  const v = verdicts(peer, obs, next);
  const reachable = next ? reachableCondition(next) : undefined;
  const conditions = conditionsOf(peer, [v.descriptorUpdate, apiCondition(obs.api), reachable, v.ready], new Date(obs.now));
  const status: PeerStatus = { conditions, ...reachabilityFields(next, obs), ...optionalFields(peer, obs, v.descriptor) };
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
