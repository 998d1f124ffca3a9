// The Peer controller: keeps each Peer's IPFS node connected (peering + dial) unless it is
// Rejected (then refused: out of peering, address-filtered, disconnected, on every pass),
// probes it (libp2p ping → peerState), re-verifies its descriptor with the key pinned, times
// its API's ping, accepts discovered peers under an `auto` Network, and writes status. A
// descriptor claiming a cluster name another Peer holds with another key is refused
// (ClusterNameTaken): it is never pinned, so it can neither sign as that cluster nor lock it out.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { PatchStrategy } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.ts";
import { reportingInstance } from "../runtime/events.ts";
import type { Cache, ControllerOptions, ObjectKey, ReconcileContext, Reconciler } from "../runtime/index.ts";
import { findCondition } from "../runtime/conditions.ts";
import { errorMessage } from "../runtime/errors.ts";
import { EventRecorder } from "../runtime/events.ts";
import { isBeingDeleted } from "../runtime/finalizers.ts";
import { StatusWriter } from "../runtime/status.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type Network, networkKind } from "../schema/network.ts";
import { networkChanged } from "./networkPlan.ts";
import { type Peer, peerKind, type PeerStatus } from "../schema/peer.ts";
import { type PipelineRun, pipelineRunKind } from "../schema/pipelineRun.ts";
import { dialableAddresses, networkPeerKey } from "./candidates.ts";
import { checkClusterName } from "./clusterNames.ts";
import { defaultSystemNamespace, kuboRpcUrl } from "./contracts.ts";
import { deferWake, DISCOVERY_INTERVAL_MS, peerTimingFor, type PlannedPass } from "./discoveryTiming.ts";
import { IpfsClient, type NodeIdentity } from "./ipfsClient.ts";
import { checkDescriptor, peerListenAddresses, pingApi, probePeerFast } from "./peerLookups.ts";
import { processHandoff, type VerifiedHandoff } from "./verifiedHandoff.ts";
import { planPeering } from "./peering.ts";
import { PeerState } from "./peerState.ts";
import { outcomesOf, peersOfRun, type RunOutcomes, runOutcome, type RunRecord, runsOnPeer } from "./peerTrust.ts";
import { type ApiCheck, blockedPeerStatus, type DescriptorCheck, PeerConditionType, PeerReason, planPeerStatus, type PeerObservations } from "./peerStatus.ts";
import { present } from "../runtime/present.ts";
import { planRefusal } from "./refusal.ts";
import { defaultEgressPolicy, type EgressPolicy } from "../runtime/egress.ts";

export const peerControllerName = "peer";
export const peerFieldManager = "archipel-peer-controller";
export const peerReportingController = "archipel.io/peer-controller";
export const peerKindRef = kindRefOf(peerKind);
export const networkKindRef = kindRefOf(networkKind);
/** A verified descriptor is fetched again (bypassing kubo's cache) every this many probe intervals (30 s by default), to follow re-publications and key changes. */
export const DESCRIPTOR_RECHECK_INTERVALS = 6;
/** Peer cache index: "<network>/<peer ID>" (shared with the discovery controller's own cache use). */
export const peersByNetworkPeerId = "archipel.io/network-peer-id";
/** Peer cache index: network name. */
export const peersByNetwork = "archipel.io/network";
/** PipelineRun cache index: the Peers its steps were sent to (status.peerRuns[].peer). */
const runsByPeer = "archipel.io/runs-by-peer";
const pipelineRunKindRef = kindRefOf(pipelineRunKind);
const PROBE_TIMEOUT_MS = 3_000;
const DIAL_TIMEOUT_MS = 3_000;

export type PeerApiPing = (apiEndpoint: string) => ReturnType<typeof pingApi>;

export interface PeerReconcilerDeps {
  status: StatusWriter;
  events: EventRecorder;
  systemNamespace?: string;
  /** Descriptors discovery verified in this process (default: the process's). */
  handoff?: VerifiedHandoff;
  now?: () => number;
  pingApi?: PeerApiPing;
  /** Where the API ping may connect (peer endpoints: https unless configured for tests). */
  egress?: EgressPolicy;
}

/** One IpfsClient per kubo RPC URL, shared by every reconcile. */
export function ipfsClients(): (url: string) => IpfsClient {
  const clients = new Map<string, IpfsClient>();
  return (url) => {
    let c = clients.get(url);
    if (!c) clients.set(url, (c = new IpfsClient({ apiURL: url })));
    return c;
  };
}

const indexed = new WeakSet<object>();

/** Adds the Peer indexes discovery and this controller use, once per cache. */
export function ensurePeerIndexes(peers: Cache<Peer>): void {
  if (indexed.has(peers)) return;
  indexed.add(peers);
  peers.addIndex(peersByNetworkPeerId, (p) => (p.spec?.networkRef?.name && p.spec.peerId ? [networkPeerKey(p.spec.networkRef.name, p.spec.peerId)] : []));
  peers.addIndex(peersByNetwork, (p) => (p.spec?.networkRef?.name ? [p.spec.networkRef.name] : []));
}

interface Pass {
  ctx: ReconcileContext;
  peer: Peer;
  network: Network;
  ipfs: IpfsClient;
  own: NodeIdentity;
  now: () => number;
  /** How long each part of this pass took (ms), for the debug log: where a slow pass spends. */
  spent: Record<string, number>;
}

/** `work`, its duration recorded in `spent` under `part`. */
async function measured<T>(pass: Pass, part: string, work: () => Promise<T>): Promise<T> {
  const started = pass.now();
  try {
    return await work();
  } finally {
    pass.spent[part] = pass.now() - started;
  }
}

/** What a pass depends on besides observations: the Peer's spec and its Network's spec. */
function specKeyOf(ctx: ReconcileContext, peer: Peer): string {
  const network = ctx.cache<Network>(networkKindRef).get({ name: peer.spec?.networkRef?.name ?? "" });
  const generations = (o: { metadata?: { uid?: string; generation?: number } } | undefined): string => `${o?.metadata?.uid}/${o?.metadata?.generation}`;
  return `${generations(peer)} ${generations(network)}`;
}

function peerIdOf(peer: Peer): string {
  return peer.spec?.peerId ?? "";
}

function log(pass: Pass): Record<string, string> {
  return { peer: pass.peer.metadata?.name ?? "", peerId: peerIdOf(pass.peer), network: pass.network.metadata?.name ?? "" };
}

/** Peering (kubo re-dials by itself after a restart) and, when not connected, one dial now. */
async function ensureConnected(pass: Pass): Promise<void> {
  const peerId = peerIdOf(pass.peer);
  const addrs = dialableAddresses(peerId, pass.peer.spec?.addresses ?? []);
  if (addrs.length > 0) {
    const current = (await pass.ipfs.peeringList()).filter((e) => e.peerId === peerId);
    if (planPeering(current, [{ peerId, addrs }]).add.length > 0) await pass.ipfs.peeringAdd(addrs);
  }
  if (await pass.ipfs.isConnected(peerId)) return;
  for (const addr of addrs.length > 0 ? addrs : [`/p2p/${peerId}`]) {
    try {
      await pass.ipfs.connect(addr, { timeoutMs: DIAL_TIMEOUT_MS });
      return;
    } catch (err) {
      pass.ctx.logger.debug("dial failed", { ...log(pass), addr, error: errorMessage(err) });
    }
  }
}

/** Every address known for `peerIds`: declared, and of live connections. */
function addressesOf(peers: readonly Peer[], swarm: ReadonlyArray<{ peerId: string; addr: string }>): string[] {
  const ids = new Set(peers.map(peerIdOf));
  return [...peers.flatMap((p) => p.spec?.addresses ?? []), ...swarm.filter((s) => ids.has(s.peerId)).map((s) => s.addr)];
}

async function refusalPlan(pass: Pass): Promise<ReturnType<typeof planRefusal>> {
  const peers = pass.ctx.cache<Peer>(peerKindRef);
  const swarm = await pass.ipfs.swarmPeers();
  const sameNetwork = peers.byIndex(peersByNetwork, pass.network.metadata?.name ?? "");
  const kept = sameNetwork.filter((p) => p.spec?.approval !== "Rejected" && p.metadata?.name !== pass.peer.metadata?.name);
  const refused = [...addressesOf([pass.peer], swarm), ...(await peerListenAddresses(pass.ipfs, peerIdOf(pass.peer)))];
  return planRefusal(refused, addressesOf(kept, swarm), pass.own.addresses);
}

/** Rejected: out of peering, filtered where safe, disconnected — again on every pass. */
async function refuse(pass: Pass): Promise<string | undefined> {
  const plan = await refusalPlan(pass);
  await pass.ipfs.refusePeer(peerIdOf(pass.peer), plan.filters);
  if (plan.unfiltered.length === 0) return undefined;
  return `not filtered (disconnected on every pass instead): ${plan.unfiltered.map((u) => `${u.ip} (${u.why})`).join(", ")}`;
}

/** An admin accepted a peer it had rejected: lift the address filters added for it. */
async function allowIfWasRejected(pass: Pass): Promise<void> {
  if (findCondition(pass.peer.status?.conditions, PeerConditionType.Ready)?.reason !== PeerReason.Rejected) return;
  const plan = await refusalPlan(pass);
  await pass.ipfs.allowPeer(plan.filters);
  pass.ctx.logger.info("peer no longer rejected: address filters lifted", { ...log(pass), filters: plan.filters });
}

function descriptorDue(peer: Peer, lastCheck: number | undefined, now: number, probeIntervalMs: number): boolean {
  const verified = findCondition(peer.status?.conditions, PeerConditionType.DescriptorVerified)?.status === "True";
  return !verified || !peer.status?.descriptor || lastCheck === undefined || now - lastCheck >= DESCRIPTOR_RECHECK_INTERVALS * probeIntervalMs;
}

/** Under an `auto` Network a discovered Pending peer whose descriptor verified is Accepted. */
async function autoAccept(pass: Pass, descriptorOk: boolean): Promise<Peer> {
  const p = pass.peer;
  if (pass.network.spec?.approvalPolicy !== "auto" || p.spec?.approval !== "Pending" || p.spec.origin !== "Discovered" || !descriptorOk) return p;
  const patch = { apiVersion: p.apiVersion, kind: p.kind, metadata: { name: p.metadata?.name, resourceVersion: p.metadata?.resourceVersion }, spec: { approval: "Accepted" } };
  const updated = (await pass.ctx.client.patch(patch as KubernetesObject, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch)) as Peer;
  pass.ctx.logger.info("peer accepted by the Network's auto approval policy", log(pass));
  return updated;
}

interface Observed {
  reachable: boolean;
  descriptor?: DescriptorCheck;
  api?: ApiCheck;
}

export function createPeerReconciler(deps: PeerReconcilerDeps): Reconciler {
  const now = deps.now ?? Date.now;
  const ipfsFor = ipfsClients();
  const egress = deps.egress ?? defaultEgressPolicy;
  const ping = deps.pingApi ?? ((endpoint: string) => pingApi(endpoint, egress));
  const lastDescriptorCheck = new Map<string, number>();
  const handoff = deps.handoff ?? processHandoff;
  /** The exact last contact per Peer (status.lastSeen is to the minute): the Unreachable/Lost clock. */
  const lastContact = new Map<string, number>();
  const planned = new Map<string, PlannedPass>();
  const keptInPeering = new Map<string, { url: string; network: string; peerId: string }>();
  const systemNamespace = deps.systemNamespace ?? defaultSystemNamespace;

  async function write(peer: Peer, status: PeerStatus): Promise<void> {
    await deps.status.apply(peerKindRef, peer, status as Record<string, unknown>);
  }

  async function blocked(ctx: ReconcileContext, peer: Peer, reason: string, message: string): Promise<{ requeueAfter: number }> {
    ctx.logger.debug("peer not probed", { peer: peer.metadata?.name, reason, detail: message });
    await write(peer, blockedPeerStatus(peer, reason, message, now()));
    return { requeueAfter: DISCOVERY_INTERVAL_MS };
  }

  /** A new Peer's first look: what discovery verified a moment ago, if it handed it over (verifiedHandoff.ts). */
  function handedOver(pass: Pass): DescriptorCheck | undefined {
    if (pass.peer.status?.descriptor) return undefined;
    return handoff.take(pass.network.metadata?.name ?? "", peerIdOf(pass.peer), now());
  }

  /** The peer's descriptor when a check is due, with the cluster name it claims checked against the other Peers'. */
  async function lookUpDescriptor(pass: Pass): Promise<DescriptorCheck | undefined> {
    const name = pass.peer.metadata?.name ?? "";
    if (!descriptorDue(pass.peer, lastDescriptorCheck.get(name), now(), peerTimingFor(pass.network.spec?.discovery).probeIntervalMs)) return undefined;
    const lookup = { peerId: peerIdOf(pass.peer), fresh: lastDescriptorCheck.has(name), ...(pass.peer.status?.descriptor ? { pinnedKey: pass.peer.status.descriptor.publicKey } : {}) };
    const descriptor = handedOver(pass) ?? (await measured(pass, "descriptorMs", () => checkDescriptor(pass.ipfs, lookup, now)));
    if (descriptor.kind !== "unavailable") lastDescriptorCheck.set(name, now());
    return checkClusterName(descriptor, pass.ctx.cache<Peer>(peerKindRef).list(), name);
  }

  /**
   * Three probes at once: libp2p (after the connection is set up), the descriptor, and the API
   * (once the descriptor names it). In sequence, a new Peer's first pass took 3 s on a loaded
   * machine (bench/discovery.ts N=10: connect 1.0, descriptor 1.0, API 0.7 s, medians).
   */
  async function observe(pass: Pass): Promise<Observed> {
    const connected = measured(pass, "connectMs", () => ensureConnected(pass)).catch((err: unknown) => pass.ctx.logger.debug("could not set up the connection", { ...log(pass), error: errorMessage(err) }));
    const reach = connected.then(() => measured(pass, "pingMs", () => probePeerFast(pass.ipfs, peerIdOf(pass.peer), PROBE_TIMEOUT_MS)));
    const looked = lookUpDescriptor(pass);
    const api = looked.then((descriptor) => {
      const endpoint = descriptor?.kind === "verified" ? descriptor.descriptor.apiEndpoint : pass.peer.status?.descriptor?.apiEndpoint;
      return endpoint ? measured(pass, "apiMs", () => ping(endpoint)) : undefined;
    });
    const [probe, descriptor, apiCheck] = await Promise.all([reach, looked, api]);
    return { reachable: probe.reachable, ...present({ descriptor, api: apiCheck }) };
  }

  async function recordEvents(peer: Peer, events: ReturnType<typeof planPeerStatus>["events"]): Promise<void> {
    for (const e of events) await deps.events.record(peer as KubernetesObject, { ...e, action: "Probe" });
  }

  async function rejected(pass: Pass): Promise<{ requeueAfter: number }> {
    const timing = peerTimingFor(pass.network.spec?.discovery);
    const refusalNote = await refuse(pass);
    const plan = planPeerStatus(pass.peer, { now: now(), timing, ...(refusalNote ? { refusalNote } : {}) });
    await write(pass.peer, plan.status);
    await recordEvents(pass.peer, plan.events);
    return { requeueAfter: timing.probeIntervalMs };
  }

  /** The exact last contact before this probe; this probe's, when it answered, for the next. */
  function remember(peer: Peer, reachable: boolean): { rememberedLastSeen?: number } {
    const name = peer.metadata?.name ?? "";
    const remembered = lastContact.get(name);
    if (reachable) lastContact.set(name, now());
    return remembered !== undefined ? { rememberedLastSeen: remembered } : {};
  }

  async function observations(pass: Pass): Promise<PeerObservations> {
    const { reachable, descriptor, api } = await observe(pass);
    const timing = peerTimingFor(pass.network.spec?.discovery);
    const runs = runsOn(pass.ctx, pass.peer);
    return { now: now(), timing, reachable, runs, ...remember(pass.peer, reachable), ...(descriptor ? { descriptor } : {}), ...(api ? { api } : {}) };
  }

  async function converge(pass: Pass): Promise<{ requeueAfter: number }> {
    const started = now();
    await allowIfWasRejected(pass);
    const obs = await observations(pass);
    const plan = planPeerStatus(pass.peer, obs);
    pass.ctx.logger.debug("peer probed", { ...log(pass), reachable: obs.reachable, reachability: plan.status.reachability, descriptor: obs.descriptor?.kind ?? "not due", passMs: now() - started, ...pass.spent });
    const descriptorOk = findCondition(plan.status.conditions, PeerConditionType.DescriptorVerified)?.status === "True";
    const peer = await autoAccept(pass, descriptorOk);
    await write(peer, peer === pass.peer ? plan.status : planPeerStatus(peer, obs).status);
    await recordEvents(peer, plan.events);
    const lost = plan.status.reachability === PeerState.Lost;
    return { requeueAfter: lost ? obs.timing.lostProbeIntervalMs : Math.min(obs.timing.probeIntervalMs, Math.max(200, plan.checkAfterMs)) };
  }

  /**
   * A deleted Peer leaves kubo's peering set (best effort: remembered from this process's passes;
   * no finalizer, so deleting a Peer never waits on a kubo node). Discovery may find it again.
   */
  async function forget(ctx: ReconcileContext, name: string): Promise<void> {
    const last = keptInPeering.get(name);
    keptInPeering.delete(name);
    if (!last) return;
    const peers = ctx.cache<Peer>(peerKindRef);
    if (peers.byIndex(peersByNetworkPeerId, networkPeerKey(last.network, last.peerId)).length > 0) return;
    await ipfsFor(last.url)
      .peeringRemove(last.peerId, { timeoutMs: PROBE_TIMEOUT_MS })
      .catch((err: unknown) => ctx.logger.debug("could not remove a deleted Peer from peering", { peer: name, error: errorMessage(err) }));
  }

  async function pass(ctx: ReconcileContext, peer: Peer): Promise<{ requeueAfter: number }> {
    const where = await locate(ctx, peer);
    if ("reason" in where) return blocked(ctx, peer, where.reason, where.message);
    const p: Pass = { ctx, peer, ...where, now, spent: {} };
    if (peer.spec?.approval === "Rejected") {
      keptInPeering.delete(peer.metadata?.name ?? "");
      return rejected(p);
    }
    keptInPeering.set(peer.metadata?.name ?? "", { url: where.ipfs.apiURL, network: where.network.metadata?.name ?? "", peerId: peerIdOf(peer) });
    return converge(p);
  }

  /** The Peer's Network and its kubo node, or why the peer cannot be looked at. */
  async function locate(ctx: ReconcileContext, peer: Peer): Promise<{ network: Network; ipfs: IpfsClient; own: NodeIdentity } | { reason: string; message: string }> {
    const networkName = peer.spec?.networkRef?.name ?? "";
    const network = ctx.cache<Network>(networkKindRef).get({ name: networkName });
    if (!network) return { reason: PeerReason.NetworkNotFound, message: `Network ${networkName} (spec.networkRef.name) does not exist` };
    const url = kuboRpcUrl(network, systemNamespace);
    if (!url) return { reason: PeerReason.NetworkNotFound, message: `Network ${networkName} names no IPFS node (spec.ipfs)` };
    const ipfs = ipfsFor(url);
    try {
      return { network, ipfs, own: await ipfs.id({ timeoutMs: PROBE_TIMEOUT_MS }) };
    } catch (err) {
      return { reason: PeerReason.LocalNodeUnavailable, message: `this cluster's IPFS node for Network ${networkName} does not answer: ${errorMessage(err)}` };
    }
  }

  return async (key: ObjectKey, ctx: ReconcileContext) => {
    const peers = ctx.cache<Peer>(peerKindRef);
    ensurePeerIndexes(peers);
    const peer = peers.get(key);
    if (!peer || isBeingDeleted(peer as KubernetesObject)) {
      lastDescriptorCheck.delete(key.name);
      lastContact.delete(key.name);
      planned.delete(key.name);
      await forget(ctx, key.name);
      return;
    }
    const specKey = specKeyOf(ctx, peer);
    const wait = deferWake(planned.get(key.name), specKey, now());
    if (wait !== undefined) return { requeueAfter: wait };
    const result = await pass(ctx, peer);
    planned.set(key.name, { nextAt: now() + result.requeueAfter, specKey });
    return result;
  };
}

/** How this cluster's runs with steps on `peer` ended (the trust score's run counts). */
function runsOn(ctx: ReconcileContext, peer: Peer): RunOutcomes {
  const runs = ctx.cache<PipelineRun>(pipelineRunKindRef);
  ensureRunIndex(runs);
  const name = peer.metadata?.name ?? "";
  return outcomesOf(runs.byIndex(runsByPeer, name).flatMap((r) => runsOnPeer(runRecord(r), name)));
}

const runIndexed = new WeakSet<object>();
function ensureRunIndex(runs: Cache<PipelineRun>): void {
  if (runIndexed.has(runs)) return;
  runs.addIndex(runsByPeer, (r) => peersOfRun(runRecord(r)));
  runIndexed.add(runs);
}

function runRecord(run: PipelineRun): RunRecord {
  const reason = findCondition(run.status?.conditions, "Succeeded")?.reason;
  return { ...(run.status?.peerRuns ? { peerRuns: run.status.peerRuns } : {}), ...(run.status?.autoRefused ? { autoRefused: run.status.autoRefused } : {}), ...(reason ? { reason } : {}) };
}

/** A run on a peer that has ended, or that a peer's hold failed, wakes that Peer: its trust counts change. */
function peerOfEndedRun(obj: KubernetesObject): ObjectKey[] {
  const run = runRecord(obj as PipelineRun);
  return peersOfRun(run)
    .filter((peer) => runsOnPeer(run, peer).some((r) => runOutcome(r) !== undefined))
    .map((name) => ({ name }));
}

/** Peers of a Network, for waking them when it changes (its approval policy or timing). */
function peersOfNetwork(peers: () => Cache<Peer> | undefined): (obj: KubernetesObject) => ObjectKey[] {
  return (obj) => {
    const cache = peers();
    if (!cache) return [];
    return cache.byIndex(peersByNetwork, obj.metadata?.name ?? "").map((p) => ({ name: p.metadata?.name ?? "" }));
  };
}

/** The controller as the manager registers it. */
export function peerController(kubeConfig: KubeConfig, opts: { logger?: Logger; systemNamespace?: string; egress?: EgressPolicy } = {}): ControllerOptions {
  const reconcile = createPeerReconciler({
    status: new StatusWriter(kubeConfig, peerFieldManager),
    events: new EventRecorder(kubeConfig, { reportingController: peerReportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
    ...(opts.systemNamespace ? { systemNamespace: opts.systemNamespace } : {}),
    ...(opts.egress ? { egress: opts.egress } : {}),
  });
  let peerCache: Cache<Peer> | undefined;
  return {
    name: peerControllerName,
    for: peerKindRef,
    reconcile: async (key, ctx) => {
      peerCache ??= ctx.cache<Peer>(peerKindRef);
      return reconcile(key, ctx);
    },
    // A pass mostly waits (libp2p ping ≤ 3 s, descriptor lookup ≤ 5 s, API ping ≤ 2 s), and a
    // forming federation creates N-1 Peers at once: with 4 workers, N=10 queued ~14 s of passes
    // between "peer discovered" and Connected (bench/discovery.ts manager logs).
    concurrency: 16,
    watches: [
      { kind: networkKindRef, map: peersOfNetwork(() => peerCache), changed: (old, current) => networkChanged(old as Network, current as Network) },
      { kind: pipelineRunKindRef, map: peerOfEndedRun },
    ],
  };
}
