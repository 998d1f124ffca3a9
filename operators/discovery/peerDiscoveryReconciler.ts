// The peer-discovery controller, one pass per Network: gather candidate peer IDs (the node's
// swarm peers, pubsub announcements when enabled, bootstrap peers), drop this node and peers
// that already have a Peer, fetch and verify each candidate's descriptor from /ipns/<peer ID>,
// and create a Peer for each one that verifies — named deterministically, so a restarted
// manager meets AlreadyExists rather than making a duplicate. A descriptor that does not
// verify creates nothing: a Warning Event on the Network says why, once per peer and reason.
// Nor does one that claims a cluster name another Peer holds with another key (clusterNames.ts),
// whatever the approval policy: one name, one key.
import { CoreV1Api, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.ts";
import { reportingInstance } from "../runtime/events.ts";
import { type ControllerOptions, generationChanged, type ObjectKey, type ReconcileContext, type ReconcileResult, type Reconciler } from "../runtime/index.ts";
import { errorMessage, isAlreadyExists } from "../runtime/errors.ts";
import { EventRecorder } from "../runtime/events.ts";
import { isBeingDeleted } from "../runtime/finalizers.ts";
import { type Identity, identityKind } from "../schema/identity.ts";
import { kindRefOf } from "../schema/kind.ts";
import type { Network } from "../schema/network.ts";
import type { Peer } from "../schema/peer.ts";
import { encodeAnnouncement } from "./announcement.ts";
import { AnnouncementListener } from "./announcementListener.ts";
import { checkClusterName } from "./clusterNames.ts";
import { afterFailure, type Candidate, type CandidateAttempts, discoveredPeerObject, dueCandidates, networkPeerKey, nextPassAfterMs, peerIdOfMultiaddr, selectCandidates } from "./candidates.ts";
import { defaultSystemNamespace, kuboRpcUrl, swarmKeyField } from "./contracts.ts";
import { deferWake, discoveryIntervalMs, nodeDownRetryMs, passIntervalMs, type PlannedPass, swarmKeyOf } from "./discoveryTiming.ts";
import type { IpfsClient, NodeIdentity } from "./ipfsClient.ts";
import { checkDescriptor, peerListenAddresses } from "./peerLookups.ts";
import { processHandoff, type VerifiedHandoff } from "./verifiedHandoff.ts";
import { ensurePeerIndexes, ipfsClients, networkKindRef, peerKindRef, peersByNetworkPeerId } from "./peerReconciler.ts";
import type { DescriptorCheck } from "./peerStatus.ts";
import { parseSwarmKey, swarmKeyFingerprint } from "./swarmKey.ts";
import { mapLimit } from "../runtime/mapLimit.ts";

export const peerDiscoveryControllerName = "peer-discovery";
export const peerDiscoveryReportingController = "archipel.io/peer-discovery-controller";
export const DiscoveryReason = { DescriptorRefused: "DescriptorRefused", PeerDiscovered: "PeerDiscovered" } as const;
export const identityKindRef = kindRefOf(identityKind);
/** Candidates examined at once: each may wait for an IPNS lookup (a forming federation of N has N-1 at once). */
const CANDIDATE_CONCURRENCY = 10;
/** Rounds of one pass (dueCandidates): each candidate is examined at most once per pass, so this only bounds the pass. */
const MAX_ROUNDS = 3;

/** Reads the swarm key's fingerprint (never the key itself) for the pubsub topic. */
export type SwarmKeyFingerprintReader = (network: Network) => Promise<string | undefined>;

export interface PeerDiscoveryDeps {
  events: EventRecorder;
  systemNamespace?: string;
  /** Where verified descriptors are handed to the Peer controller (default: the process's). */
  handoff?: VerifiedHandoff;
  now?: () => number;
  swarmKeyFingerprint?: SwarmKeyFingerprintReader;
}

/** Per-network memory between passes (lost on restart, which costs only a few early retries). */
interface NetworkMemory {
  attempts: Map<string, CandidateAttempts>;
  /** "<peer ID> <reason>" already reported by an Event. */
  reported: Set<string>;
  /** Peer status writes wake discovery too; it runs on its own schedule unless the Network's spec changed. */
  planned?: PlannedPass;
  /** The swarm's peer IDs at the last pass (swarmKeyOf). */
  swarm?: string;
  /** Passes in a row that found this cluster's own node not answering. */
  nodeDown?: number;
}


interface Pass {
  ctx: ReconcileContext;
  network: Network;
  name: string;
  ipfs: IpfsClient;
  own: NodeIdentity;
  memory: NetworkMemory;
  /** when the pass began (before this node's `id`), for the debug log */
  began: number;
}

export function createPeerDiscoveryReconciler(deps: PeerDiscoveryDeps): Reconciler & { stop(): void } {
  const now = deps.now ?? Date.now;
  const ipfsFor = ipfsClients();
  const memories = new Map<string, NetworkMemory>();
  const systemNamespace = deps.systemNamespace ?? defaultSystemNamespace;
  const handoff = deps.handoff ?? processHandoff;
  let logger: Logger | undefined;
  const listener = new AnnouncementListener((network, err) => logger?.info("pubsub subscription ended; subscribing again on the next pass", { network, error: err.message }));

  function memoryOf(name: string): NetworkMemory {
    let m = memories.get(name);
    if (!m) memories.set(name, (m = { attempts: new Map(), reported: new Set() }));
    return m;
  }

  async function announcements(pass: Pass): Promise<Map<string, string>> {
    if (!pass.network.spec?.ipfs?.pubsub || !deps.swarmKeyFingerprint) {
      listener.stop(pass.name);
      return new Map();
    }
    try {
      const fingerprint = await deps.swarmKeyFingerprint(pass.network);
      if (fingerprint) await listener.ensure(pass.name, pass.ipfs, fingerprint);
    } catch (err) {
      pass.ctx.logger.debug("no pubsub announcements (the swarm stays the discovery path)", { network: pass.name, error: errorMessage(err) });
    }
    return listener.drain(pass.name);
  }

  /** The CID of this cluster's descriptor as published into `network` (the Identity reconciler's status). */
  function ownDescriptorCid(ctx: ReconcileContext, network: string): string | undefined {
    const identity = ctx.cache<Identity>(identityKindRef).list()[0];
    const published = identity?.status?.networks?.find((n) => n.network === network && n.publishedAt);
    return published?.descriptorCID ?? identity?.status?.descriptorCID;
  }

  /** Tells the network's pubsub listeners where our descriptor is (each pass: new members hear it soon). */
  async function announce(pass: Pass): Promise<void> {
    const topic = listener.topicOf(pass.name);
    const cid = ownDescriptorCid(pass.ctx, pass.name);
    if (!topic || !cid) return;
    await pass.ipfs.pubsubPublish(topic, encodeAnnouncement(pass.own.peerId, cid), { timeoutMs: 3_000 }).catch((err: unknown) => {
      pass.ctx.logger.debug("announcement not published", { network: pass.name, error: errorMessage(err) });
    });
  }

  async function candidates(pass: Pass): Promise<{ found: Candidate[]; swarmChanged: boolean }> {
    const swarmPeerIds = (await pass.ipfs.swarmPeers()).map((s) => s.peerId);
    const swarm = swarmKeyOf(swarmPeerIds);
    const swarmChanged = pass.memory.swarm !== swarm; // the first pass too: a new Network's swarm is forming
    pass.memory.swarm = swarm;
    const announced = await announcements(pass);
    await announce(pass);
    const bootstrap = pass.network.spec?.bootstrap ?? [];
    const peers = pass.ctx.cache<Peer>(peerKindRef);
    const ids = [...swarmPeerIds, ...announced.keys(), ...bootstrap.map(peerIdOfMultiaddr)].filter((id): id is string => !!id);
    const known = new Set(ids.filter((id) => peers.byIndex(peersByNetworkPeerId, networkPeerKey(pass.name, id)).length > 0));
    return { found: selectCandidates({ ownPeerId: pass.own.peerId, swarmPeerIds, announced, bootstrap, known }), swarmChanged };
  }

  async function createPeer(pass: Pass, candidate: Candidate, check: Extract<DescriptorCheck, { kind: "verified" }>): Promise<void> {
    const addresses = await peerListenAddresses(pass.ipfs, candidate.peerId);
    const body = discoveredPeerObject({ networkName: pass.name, peerId: candidate.peerId, addresses, descriptor: check.descriptor, approvalPolicy: pass.network.spec?.approvalPolicy });
    try {
      await pass.ctx.client.create(body as KubernetesObject);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      return; // created before (by us before a restart, or a moment ago): nothing to do
    }
    pass.ctx.logger.info("peer discovered", { network: pass.name, peerId: candidate.peerId, peer: body.metadata.name, clusterName: check.descriptor.clusterName, approval: body.spec.approval });
    await deps.events.record(pass.network as KubernetesObject, {
      type: "Normal",
      reason: DiscoveryReason.PeerDiscovered,
      action: "Discover",
      note: `peer ${candidate.peerId} (${check.descriptor.clusterName}) verified; Peer ${body.metadata.name} created ${body.spec.approval}`,
    });
  }

  async function refused(pass: Pass, peerId: string, check: Extract<DescriptorCheck, { kind: "refused" }>): Promise<void> {
    const key = `${peerId} ${check.reason}`;
    if (pass.memory.reported.has(key)) return;
    pass.memory.reported.add(key);
    pass.ctx.logger.warn("descriptor refused", { network: pass.name, peerId, reason: check.reason, detail: check.message });
    await deps.events.record(pass.network as KubernetesObject, {
      type: "Warning",
      reason: DiscoveryReason.DescriptorRefused,
      action: "VerifyDescriptor",
      note: `peer ${peerId}: ${check.reason}: ${check.message}`,
    });
  }

  async function examine(pass: Pass, candidate: Candidate): Promise<void> {
    const started = now();
    const fetched = await checkDescriptor(pass.ipfs, { peerId: candidate.peerId, fresh: true, firstRecord: true, ...(candidate.cidHint ? { cidHint: candidate.cidHint } : {}) }, now);
    const check = checkClusterName(fetched, pass.ctx.cache<Peer>(peerKindRef).list());
    if (check.kind === "verified") {
      pass.ctx.logger.debug("candidate verified", { network: pass.name, peerId: candidate.peerId, ms: now() - started });
      handoff.put(pass.name, candidate.peerId, check, now());
      await createPeer(pass, candidate, check);
      pass.memory.attempts.delete(candidate.peerId);
      return;
    }
    if (check.kind === "refused") await refused(pass, candidate.peerId, check);
    else pass.ctx.logger.debug("candidate not resolved yet", { network: pass.name, peerId: candidate.peerId, ms: now() - started, detail: check.message });
    pass.memory.attempts.set(candidate.peerId, afterFailure(pass.memory.attempts.get(candidate.peerId), now(), discoveryIntervalMs(pass.network.spec?.discovery)));
  }

  async function discover(pass: Pass): Promise<{ requeueAfter: number }> {
    const listed = now();
    const { found, swarmChanged } = await candidates(pass);
    const swarmMs = now() - listed;
    const interval = passIntervalMs(discoveryIntervalMs(pass.network.spec?.discovery), swarmChanged);
    const present = new Set(found.map((c) => c.peerId));
    for (const id of pass.memory.attempts.keys()) if (!present.has(id)) pass.memory.attempts.delete(id);
    const started = now();
    const examined = new Set<string>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const due = dueCandidates(found, pass.memory.attempts, examined, now());
      if (due.length === 0) break;
      for (const c of due) examined.add(c.peerId);
      await mapLimit(due, CANDIDATE_CONCURRENCY, (c) => examine(pass, c));
    }
    const requeueAfter = nextPassAfterMs([...pass.memory.attempts.values()], now(), interval);
    pass.ctx.logger.debug("discovery pass", { network: pass.name, candidates: found.length, examined: examined.size, idMs: listed - pass.began, swarmMs, ms: now() - started, swarmChanged, nextInMs: requeueAfter });
    return { requeueAfter };
  }

  const reconcile = async (key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> => {
    logger ??= ctx.logger;
    ensurePeerIndexes(ctx.cache<Peer>(peerKindRef));
    const network = ctx.cache<Network>(networkKindRef).get(key);
    const url = network && !isBeingDeleted(network as KubernetesObject) ? kuboRpcUrl(network, systemNamespace) : undefined;
    if (!network || !url) {
      listener.stop(key.name);
      memories.delete(key.name);
      return;
    }
    const memory = memoryOf(key.name);
    const specKey = `${network.metadata?.uid}/${network.metadata?.generation}`;
    const wait = deferWake(memory.planned, specKey, now());
    if (wait !== undefined) return { requeueAfter: wait };
    const result = await pass(ctx, network, url, memory);
    memory.planned = { nextAt: now() + result.requeueAfter, specKey };
    return result;
  };

  async function pass(ctx: ReconcileContext, network: Network, url: string, memory: NetworkMemory): Promise<{ requeueAfter: number }> {
    const name = network.metadata?.name ?? "";
    const ipfs = ipfsFor(url);
    const began = now();
    let own: NodeIdentity;
    try {
      own = await ipfs.id({ timeoutMs: 3_000 });
    } catch (err) {
      memory.nodeDown = (memory.nodeDown ?? 0) + 1;
      if (memory.nodeDown === 1) ctx.logger.info("this cluster's IPFS node does not answer; discovery waits", { network: name, error: errorMessage(err) });
      return { requeueAfter: nodeDownRetryMs(memory.nodeDown, discoveryIntervalMs(network.spec?.discovery)) };
    }
    if (memory.nodeDown) ctx.logger.info("this cluster's IPFS node answers again", { network: name, after: memory.nodeDown });
    memory.nodeDown = 0;
    return discover({ ctx, network, name, ipfs, own, memory, began });
  }
  return Object.assign(reconcile, { stop: () => listener.stopAll() });
}

/** The swarm key Secret's fingerprint, read live (Secrets are not cached by this controller). */
export function swarmKeyFingerprintReader(kubeConfig: KubeConfig): SwarmKeyFingerprintReader {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return async (network) => {
    const ref = network.status?.swarmKeySecretRef ?? network.spec?.swarmKeySecretRef;
    if (!ref) return undefined;
    const secret = await core.readNamespacedSecret({ namespace: ref.namespace, name: ref.name });
    const text = Buffer.from(secret.data?.[swarmKeyField] ?? "", "base64").toString("utf8");
    const parsed = parseSwarmKey(text);
    return parsed.ok ? swarmKeyFingerprint(parsed.key) : undefined;
  };
}

/** The controller as the manager registers it. */
export function peerDiscoveryController(kubeConfig: KubeConfig, opts: { logger?: Logger; systemNamespace?: string } = {}): ControllerOptions {
  const reconcile = createPeerDiscoveryReconciler({
    events: new EventRecorder(kubeConfig, { reportingController: peerDiscoveryReportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
    swarmKeyFingerprint: swarmKeyFingerprintReader(kubeConfig),
    ...(opts.systemNamespace ? { systemNamespace: opts.systemNamespace } : {}),
  });
  return {
    name: peerDiscoveryControllerName,
    for: networkKindRef,
    reconcile,
    concurrency: 2,
    // A Peer deleted (or edited) sends its Network through discovery again.
    watches: [
      { kind: peerKindRef, map: (obj) => [(obj as Peer).spec?.networkRef?.name].filter((n): n is string => !!n).map((name) => ({ name })), changed: generationChanged },
      // A newly published descriptor of ours is announced on the next pass of its networks.
      { kind: identityKindRef, map: (obj) => ((obj as Identity).status?.networks ?? []).map((n) => ({ name: n.network })) },
    ],
  };
}
