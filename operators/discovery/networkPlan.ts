// The Network reconciler's decisions, pure: where the swarm key comes from and whether it is
// usable, whether another Network already uses the same kubo node, which bootstrap peers must
// be added to kubo's peering set, and the Ready condition.
import type { ConditionUpdate } from "../runtime/conditions.ts";
import type { Network, NetworkStatus } from "../schema/network.ts";
import { managedKuboSwarmKeySecretName, swarmKeyField } from "./contracts.ts";
import { byAge, type SecretLocation } from "./identityPlan.ts";
import type { NodeIdentity } from "./ipfsClient.ts";
import { type PeeringEntry, planPeering } from "./peering.ts";
import { normalizeSwarmKey, parseSwarmKey } from "./swarmKey.ts";

/** Condition reasons of Network.Ready: part of the API. */
export const NetworkReason = {
  NodeReady: "NodeReady",
  NodeStarting: "NodeStarting",
  NodeUnreachable: "NodeUnreachable",
  NodeInUse: "NodeInUse",
  SwarmKeyMissing: "SwarmKeyMissing",
  SwarmKeyInvalid: "SwarmKeyInvalid",
  InvalidSpec: "InvalidSpec",
} as const;

export interface SwarmKeySource {
  /** Where the network's key is read from (what status.swarmKeySecretRef shows). */
  source: SecretLocation;
  /** True when the operator generates it (spec.swarmKeySecretRef absent). */
  generated: boolean;
}

/**
 * spec.swarmKeySecretRef, or (managed mode only) the Secret the operator generates. An external
 * node already has its own swarm.key, which the operator cannot install nor read: a generated
 * key would describe nothing, so none is made.
 */
export function swarmKeySource(network: Network, systemNamespace: string): SwarmKeySource | undefined {
  const ref = network.spec?.swarmKeySecretRef;
  if (ref) return { source: { namespace: ref.namespace, name: ref.name }, generated: false };
  if (network.spec?.ipfs?.mode !== "managed") return undefined;
  return { source: { namespace: systemNamespace, name: managedKuboSwarmKeySecretName(network.metadata?.name ?? "") }, generated: true };
}

export type SwarmKeyCheck = { ok: true; keyText: string } | { ok: false; reason: string; message: string };

/** Checks the given swarm key Secret's base64 `data` (undefined: the Secret does not exist). */
export function checkSwarmKeySecret(location: SecretLocation, data: Record<string, string> | undefined): SwarmKeyCheck {
  const where = `spec.swarmKeySecretRef (Secret ${location.namespace}/${location.name})`;
  if (data === undefined) {
    return { ok: false, reason: NetworkReason.SwarmKeyMissing, message: `${where} does not exist; create it with data key ${swarmKeyField}` };
  }
  const encoded = data[swarmKeyField];
  if (!encoded) return { ok: false, reason: NetworkReason.SwarmKeyMissing, message: `${where} has no data key ${swarmKeyField}` };
  const parsed = parseSwarmKey(Buffer.from(encoded, "base64").toString("utf8"));
  if (!parsed.ok) {
    // parseSwarmKey's messages name lines and lengths, never the key's digits.
    return { ok: false, reason: NetworkReason.SwarmKeyInvalid, message: `${where} key ${swarmKeyField} is not a swarm key file: ${parsed.message}` };
  }
  return { ok: true, keyText: normalizeSwarmKey(Buffer.from(encoded, "base64").toString("utf8")) };
}

function sameUrl(a: string | undefined, b: string | undefined): boolean {
  const norm = (u: string): string => u.trim().replace(/\/+$/, "").toLowerCase();
  return a !== undefined && b !== undefined && norm(a) === norm(b);
}

/** The node a Network points at: its RPC URL, and its peer ID once known. */
export interface NodeRef {
  url: string | undefined;
  peerId?: string | undefined;
}

function sameNode(other: Network, node: NodeRef, urlOf: (n: Network) => string | undefined): boolean {
  if (other.metadata?.deletionTimestamp) return false;
  return sameUrl(urlOf(other), node.url) || (node.peerId !== undefined && other.status?.peerId === node.peerId);
}

/**
 * The older Network that already uses this node (same RPC URL, or the same peer ID in its
 * status), if any: a kubo node belongs to one private network, so the younger one yields.
 */
export function nodeInUseBy(network: Network, all: readonly Network[], node: NodeRef, urlOf: (n: Network) => string | undefined): Network | undefined {
  const older = [...all].sort(byAge);
  const self = older.findIndex((n) => n.metadata?.name === network.metadata?.name);
  return older.slice(0, self < 0 ? older.length : self).find((other) => sameNode(other, node, urlOf));
}

/** What the node reports: its peer ID, its peering set and the peers connected now. */
export interface KuboState {
  ownPeerId: string;
  peering: readonly PeeringEntry[];
  connected: ReadonlySet<string>;
}

export interface BootstrapPlan {
  /** One `swarm peering add` per peer (all its full multiaddrs). */
  add: string[][];
  /** One `swarm connect` target per bootstrap peer not connected now. */
  connect: string[];
  /** spec.bootstrap entries without /p2p/<peer ID>: listed in the message. */
  invalid: string[];
}

/** The peer ID at the end of a full multiaddr (…/p2p/<id>), or undefined. */
export function peerIdOfAddr(addr: string): string | undefined {
  const m = /\/(?:p2p|ipfs)\/([1-9A-HJ-NP-Za-km-z]{32,128}|b[a-z2-7]{50,120})$/.exec(addr);
  return m?.[1];
}

/**
 * Bootstrap peers join kubo's peering set (kubo keeps the connection and re-dials after a
 * restart). Only additions: the Peer controller shares that set (Accepted peers), so an entry
 * this controller did not plan is not its to remove. Rejected peers and this node are skipped.
 */
export function planBootstrap(bootstrap: readonly string[], node: KuboState, rejected: ReadonlySet<string>): BootstrapPlan {
  const { ownPeerId, peering, connected } = node;
  const byPeer = new Map<string, string[]>();
  const invalid: string[] = [];
  for (const addr of bootstrap) {
    const id = peerIdOfAddr(addr);
    if (!id) invalid.push(addr);
    else if (id !== ownPeerId && !rejected.has(id)) byPeer.set(id, [...(byPeer.get(id) ?? []), addr]);
  }
  const wanted = [...byPeer].map(([peerId, addrs]) => ({ peerId, addrs }));
  const current = peering.filter((e) => byPeer.has(e.peerId));
  const connect = [...byPeer].filter(([id]) => !connected.has(id)).map(([, addrs]) => addrs[0] ?? "");
  return { add: planPeering(current, wanted).add, connect, invalid };
}

/** What one pass of the Network controller found. */
export interface Observed {
  ready: ConditionUpdate;
  node?: NodeIdentity;
  connectedPeers?: number;
  swarmKeySecretRef?: SecretLocation;
}

/**
 * The status fields besides conditions. A node that does not answer keeps its last known
 * identity (peers know it by it, it will be back); a node in use by another Network is not
 * this one's, so none is shown.
 */
export function networkStatusFields(previous: NetworkStatus | undefined, observed: Observed): Partial<NetworkStatus> {
  const down = observed.ready.reason === NetworkReason.NodeUnreachable || observed.ready.reason === NetworkReason.NodeStarting;
  const fields: Partial<NetworkStatus> = { swarmKeySecretRef: observed.swarmKeySecretRef };
  if (observed.node) return { ...fields, peerId: observed.node.peerId, addresses: observed.node.addresses.slice(0, 64), connectedPeers: observed.connectedPeers ?? 0 };
  if (down) return { ...fields, peerId: previous?.peerId, addresses: previous?.addresses, connectedPeers: 0 };
  return { ...fields, peerId: undefined, addresses: undefined, connectedPeers: observed.ready.reason === NetworkReason.NodeInUse ? 0 : undefined };
}

/**
 * Whether a Network changed in a way its readers act on (a watch predicate): its spec, deletion,
 * node (peer ID), swarm key or readiness. Not its count of connected peers, which the Network
 * controller rewrites as the swarm forms: measured at N=10, each rewrite woke every Peer and the
 * Identity of the member, whose passes then kept its kubo node and its manager busy.
 */
export function networkChanged(old: Network, current: Network): boolean {
  return JSON.stringify(readersView(old)) !== JSON.stringify(readersView(current));
}

function readersView(n: Network): unknown[] {
  const { metadata, status } = n;
  const ready = status?.conditions?.find((c) => c.type === "Ready");
  // In an array JSON writes an absent field as null: the views compare position by position.
  return [metadata?.generation, metadata?.deletionTimestamp, status?.peerId, status?.swarmKeySecretRef, ready?.status, ready?.reason];
}
