// The Network controller: makes sure a Network has a swarm key (given, or generated once for a
// managed node), runs its kubo node (managed: StatefulSet, Service, ConfigMap, Secret and
// NetworkPolicy in the system namespace, owned by the Network; external: spec.ipfs.apiURL),
// asks the node who it is, keeps the bootstrap peers in its peering set, and writes status:
// peerId, addresses, connectedPeers, swarmKeySecretRef and Ready. It runs again every discovery
// interval (spec.discovery.interval, default 5 s) to keep connectivity and status fresh.
import { type KubeConfig, type KubernetesObject, type KubernetesObjectApi, PatchStrategy, type V1Secret } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.ts";
import { reportingInstance } from "../runtime/events.ts";
import { type ControllerOptions, generationChanged, type KindRef, type ObjectKey, type ReconcileContext, type ReconcileResult, type Reconciler } from "../runtime/index.ts";
import { type ConditionUpdate, setCondition } from "../runtime/conditions.ts";
import { errorMessage, isAlreadyExists, isNotFound } from "../runtime/errors.ts";
import { EventRecorder } from "../runtime/events.ts";
import { controllerRef } from "../runtime/ownerReferences.ts";
import { StatusWriter } from "../runtime/status.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type Network, networkKind } from "../schema/network.ts";
import { type Peer, peerKind } from "../schema/peer.ts";
import { defaultSystemNamespace, kuboRpcUrl, managedKuboName, managedKuboSwarmKeySecretName } from "./contracts.ts";
import { discoveryIntervalMs } from "./discoveryTiming.ts";
import type { SecretLocation } from "./identityPlan.ts";
import { IpfsClient, type NodeIdentity } from "./ipfsClient.ts";
import { appliedHashAnnotation, type ManagedKuboObjects, managedKuboObjects } from "./managedKubo.ts";
import { checkSwarmKeySecret, NetworkReason, networkStatusFields, nodeInUseBy, type Observed, peerIdOfAddr, planBootstrap, type SwarmKeyCheck, swarmKeySource } from "./networkPlan.ts";
import { isReadyTransition } from "./readyTransition.ts";
import { generateSwarmKey } from "./swarmKey.ts";

export const networkControllerName = "network";
export const networkFieldManager = "archipel-network-controller";
export const networkReportingController = "archipel.io/network-controller";
export const networkKindRef = kindRefOf(networkKind);
export const peerKindRef = kindRefOf(peerKind);
const readyType = "Ready";
/** A node that does not answer `id` within this is reported unreachable (the pass must stay short). */
const ID_TIMEOUT_MS = 3_000;
const DIAL_TIMEOUT_MS = 3_000;

const statefulSetKind: KindRef = { group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true };
const serviceKind: KindRef = { group: "", version: "v1", kind: "Service", plural: "services", namespaced: true };
const configMapKind: KindRef = { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true };
const networkPolicyKind: KindRef = { group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies", namespaced: true };
/** Owned kinds watched through the cache. Secrets are read directly: caching every Secret of the cluster is not worth one owned Secret. */
export const networkOwnedKinds = [statefulSetKind, serviceKind, configMapKind, networkPolicyKind];

export interface NetworkReconcilerDeps {
  status: StatusWriter;
  events: EventRecorder;
  systemNamespace?: string;
  now?: () => Date;
}


function clients(): (url: string) => IpfsClient {
  const byUrl = new Map<string, IpfsClient>();
  return (url) => {
    let c = byUrl.get(url);
    if (!c) byUrl.set(url, (c = new IpfsClient({ apiURL: url })));
    return c;
  };
}

async function readSecret(client: KubernetesObjectApi, at: SecretLocation): Promise<V1Secret | undefined> {
  try {
    return await client.read<V1Secret>({ apiVersion: "v1", kind: "Secret", metadata: { namespace: at.namespace, name: at.name } });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

const fail = (reason: string, message: string): ConditionUpdate => ({ type: readyType, status: "False", reason, message });

function nodeInUse(what: string, owner: Network): ConditionUpdate {
  return fail(NetworkReason.NodeInUse, `${what} already belongs to Network ${owner.metadata?.name} (a node is in exactly one private network); give this Network its own node`);
}

function nodeReady(network: Network, node: NodeIdentity, url: string): ConditionUpdate {
  const invalid = (network.spec?.bootstrap ?? []).filter((a) => !peerIdOfAddr(a));
  const warning = invalid.length > 0 ? `; spec.bootstrap entries without /p2p/<peer ID> are ignored: ${invalid.join(", ")}` : "";
  return { type: readyType, status: "True", reason: NetworkReason.NodeReady, message: `kubo node ${node.peerId} answers at ${url}${warning}` };
}

export function createNetworkReconciler(deps: NetworkReconcilerDeps): Reconciler {
  const systemNamespace = deps.systemNamespace ?? defaultSystemNamespace;
  const now = deps.now ?? ((): Date => new Date());
  const ipfs = clients();

  /** The generated key, created once: an existing Secret is never replaced (AlreadyExists → read it). */
  async function ensureGeneratedKey(ctx: ReconcileContext, network: Network, at: SecretLocation): Promise<V1Secret | undefined> {
    const existing = await readSecret(ctx.client, at);
    if (existing) return existing;
    const objects = managedKuboObjects({ owner: controllerRef(network as KubernetesObject), networkName: network.metadata?.name ?? "", systemNamespace, swarmKeyText: generateSwarmKey() });
    try {
      const created = await ctx.client.create(objects.secret, undefined, undefined, networkFieldManager);
      ctx.logger.info("swarm key generated", { network: network.metadata?.name, secret: `${at.namespace}/${at.name}` });
      return created;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      return readSecret(ctx.client, at);
    }
  }

  async function ensureSwarmKey(ctx: ReconcileContext, network: Network): Promise<SwarmKeyCheck & { ref?: SecretLocation }> {
    const source = swarmKeySource(network, systemNamespace);
    if (!source) return { ok: true, keyText: "" };
    const secret = source.generated ? await ensureGeneratedKey(ctx, network, source.source) : await readSecret(ctx.client, source.source);
    const check = checkSwarmKeySecret(source.source, secret?.data);
    return check.ok ? { ...check, ref: source.source } : check;
  }

  function desiredObjects(network: Network, swarmKeyText: string): ManagedKuboObjects {
    const spec = network.spec?.ipfs;
    return managedKuboObjects({
      owner: controllerRef(network as KubernetesObject),
      networkName: network.metadata?.name ?? "",
      systemNamespace,
      swarmKeyText,
      ...(spec?.image ? { image: spec.image } : {}),
      ...(spec?.storage ? { storage: spec.storage } : {}),
      ...(spec?.pubsub !== undefined ? { pubsub: spec.pubsub } : {}),
    });
  }

  /** Each desired object with what exists now (cache; the Secret read directly). */
  async function withExisting(ctx: ReconcileContext, network: Network, objs: ManagedKuboObjects): Promise<Array<[KubernetesObject, KubernetesObject | undefined]>> {
    const name = network.metadata?.name ?? "";
    const key = { namespace: systemNamespace, name: managedKuboName(name) };
    const pairs: Array<[KubernetesObject, KubernetesObject | undefined]> = [
      [objs.configMap as KubernetesObject, ctx.cache<KubernetesObject>(configMapKind).get(key)],
      [objs.service as KubernetesObject, ctx.cache<KubernetesObject>(serviceKind).get(key)],
      [objs.networkPolicy as KubernetesObject, ctx.cache<KubernetesObject>(networkPolicyKind).get(key)],
      [objs.statefulSet as KubernetesObject, ctx.cache<KubernetesObject>(statefulSetKind).get(key)],
    ];
    const given = network.spec?.swarmKeySecretRef;
    const keySecret = { namespace: systemNamespace, name: managedKuboSwarmKeySecretName(name) };
    // A given key that already is the node's Secret is the user's: never overwritten nor owned.
    if (given?.namespace === keySecret.namespace && given.name === keySecret.name) return pairs;
    return [[objs.secret as KubernetesObject, await readSecret(ctx.client, keySecret)], ...pairs];
  }

  /** Server-side apply of each object whose applied hash differs from what is there. */
  async function ensureManagedObjects(ctx: ReconcileContext, network: Network, swarmKeyText: string): Promise<void> {
    for (const [desired, existing] of await withExisting(ctx, network, desiredObjects(network, swarmKeyText))) {
      const want = desired.metadata?.annotations?.[appliedHashAnnotation];
      if (existing?.metadata?.annotations?.[appliedHashAnnotation] === want) continue;
      await ctx.client.patch(desired, undefined, undefined, networkFieldManager, true, PatchStrategy.ServerSideApply);
      ctx.logger.info("managed kubo object applied", { network: network.metadata?.name, kind: desired.kind, name: desired.metadata?.name, namespace: systemNamespace, created: !existing });
    }
  }

  /** Bootstrap peers into kubo's peering set and dialled; dial failures are only logged (peering retries). */
  async function keepBootstrap(ctx: ReconcileContext, network: Network, client: IpfsClient, own: NodeIdentity): Promise<number> {
    const bootstrap = network.spec?.bootstrap ?? [];
    const peers = await client.swarmPeers();
    if (bootstrap.length === 0) return peers.length;
    const rejected = new Set(
      ctx.cache<Peer>(peerKindRef).list().filter((p) => p.spec?.networkRef?.name === network.metadata?.name && p.spec?.approval === "Rejected").map((p) => p.spec?.peerId ?? ""),
    );
    const plan = planBootstrap(bootstrap, { ownPeerId: own.peerId, peering: await client.peeringList(), connected: new Set(peers.map((p) => p.peerId)) }, rejected);
    for (const addrs of plan.add) await client.peeringAdd(addrs);
    let dialled = 0;
    for (const addr of plan.connect) {
      await client.connect(addr, { timeoutMs: DIAL_TIMEOUT_MS }).then(
        () => void dialled++,
        (err: unknown) => ctx.logger.debug("bootstrap peer not reachable yet", { network: network.metadata?.name, addr, error: errorMessage(err) }),
      );
    }
    return dialled > 0 ? (await client.swarmPeers()).length : peers.length;
  }

  /** The node's identity, or why it cannot be had. */
  async function contactNode(network: Network, url: string): Promise<NodeIdentity | ConditionUpdate> {
    try {
      return await ipfs(url).id({ timeoutMs: ID_TIMEOUT_MS });
    } catch (err) {
      if (network.spec?.ipfs?.mode !== "managed") return fail(NetworkReason.NodeUnreachable, `spec.ipfs.apiURL ${url} does not answer: ${errorMessage(err)}`);
      const sts = `${systemNamespace}/${managedKuboName(network.metadata?.name ?? "")}`;
      return fail(NetworkReason.NodeStarting, `the managed kubo node (StatefulSet ${sts}) does not answer at ${url} yet: ${errorMessage(err)}`);
    }
  }

  async function observeNode(ctx: ReconcileContext, network: Network, all: Network[]): Promise<Observed> {
    const url = kuboRpcUrl(network, systemNamespace);
    if (!url) return { ready: fail(NetworkReason.InvalidSpec, "spec.ipfs.apiURL is required when spec.ipfs.mode is external") };
    const urlOf = (n: Network): string | undefined => kuboRpcUrl(n, systemNamespace);
    const sameUrl = nodeInUseBy(network, all, { url }, urlOf);
    if (sameUrl) return { ready: nodeInUse(`the kubo node at ${url}`, sameUrl) };
    const node = await contactNode(network, url);
    if ("type" in node) return { ready: node };
    const samePeer = nodeInUseBy(network, all, { url, peerId: node.peerId }, urlOf);
    if (samePeer) return { ready: nodeInUse(`kubo node ${node.peerId} (${url})`, samePeer) };
    const connectedPeers = await keepBootstrap(ctx, network, ipfs(url), node);
    return { ready: nodeReady(network, node, url), node, connectedPeers };
  }

  async function writeStatus(ctx: ReconcileContext, network: Network, observed: Observed): Promise<void> {
    const generation = network.metadata?.generation;
    const conditions = setCondition(network.status?.conditions, observed.ready, generation, now()).filter((c) => c.type === readyType);
    const wrote = await deps.status.apply(networkKindRef, network, { conditions, observedGeneration: generation, ...networkStatusFields(network.status, observed) });
    if (!wrote || !isReadyTransition(network.status?.conditions, observed.ready)) return;
    ctx.logger.info("network readiness changed", { network: network.metadata?.name, status: observed.ready.status, reason: observed.ready.reason, detail: observed.ready.message });
    await deps.events.record(network as KubernetesObject, {
      type: observed.ready.status === "True" ? "Normal" : "Warning",
      reason: observed.ready.reason,
      action: "Reconcile",
      note: observed.ready.message,
    });
  }

  return async (key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> => {
    const network = ctx.cache<Network>(networkKindRef).get(key);
    if (!network || network.metadata?.deletionTimestamp) return;
    const interval = discoveryIntervalMs(network.spec?.discovery);
    const swarmKey = await ensureSwarmKey(ctx, network);
    if (!swarmKey.ok) {
      await writeStatus(ctx, network, { ready: fail(swarmKey.reason, swarmKey.message) });
      return { requeueAfter: Math.max(interval, 10_000) }; // Secrets are not watched: look again
    }
    if (network.spec?.ipfs?.mode === "managed") await ensureManagedObjects(ctx, network, swarmKey.keyText);
    const observed = await observeNode(ctx, network, ctx.cache<Network>(networkKindRef).list());
    await writeStatus(ctx, network, { ...observed, ...(swarmKey.ref ? { swarmKeySecretRef: swarmKey.ref } : {}) });
    return { requeueAfter: interval };
  };
}

/** Keys of the Networks a Peer belongs to (a Peer Rejected or accepted changes the bootstrap set). */
function networkOfPeer(obj: KubernetesObject): ObjectKey[] {
  const name = (obj as Peer).spec?.networkRef?.name;
  return name ? [{ name }] : [];
}

/** The controller as the manager registers it. */
export function networkController(kubeConfig: KubeConfig, opts: { logger?: Logger; systemNamespace?: string } = {}): ControllerOptions {
  const reconcile = createNetworkReconciler({
    status: new StatusWriter(kubeConfig, networkFieldManager),
    events: new EventRecorder(kubeConfig, { reportingController: networkReportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
    ...(opts.systemNamespace ? { systemNamespace: opts.systemNamespace } : {}),
  });
  return {
    name: networkControllerName,
    for: networkKindRef,
    reconcile,
    concurrency: 2,
    owns: networkOwnedKinds,
    // A Peer's approval (spec) changes the bootstrap set; its status, written on every probe, does not.
    watches: [{ kind: peerKindRef, map: networkOfPeer, changed: generationChanged }],
  };
}
