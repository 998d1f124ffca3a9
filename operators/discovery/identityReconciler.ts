// The Identity controller: keeps this cluster's Ed25519 key (generated once into a Secret,
// never regenerated, never in status, events or logs), issues the signed descriptor (cluster
// name, display name, API endpoint, public key, networks with this cluster's peer ID in each),
// adds it to every Network's kubo node and publishes it under the node's own IPNS key, so the
// IPNS name is the node's peer ID and peers resolve /ipns/<peer ID>. It re-issues the
// descriptor when its content changes or half its lifetime has passed, re-publishes when a
// node stops resolving its own record (restarted or wiped), and writes status.
//
// The key Secret gets NO ownerReference, only a label: with one, deleting the Identity (or a
// GitOps tool pruning and re-creating it) would garbage-collect the key, and every peer that
// pinned the public key would refuse the new one — losing the key cannot be undone, deleting a
// Secret by hand can be done deliberately.
import type { KubeConfig, KubernetesObject, KubernetesObjectApi, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.ts";
import { reportingInstance } from "../runtime/events.ts";
import type { Cache, ControllerOptions, ObjectKey, ReconcileContext, ReconcileResult, Reconciler } from "../runtime/index.ts";
import { type ConditionUpdate, setCondition } from "../runtime/conditions.ts";
import { errorMessage, isAlreadyExists, isNotFound } from "../runtime/errors.ts";
import { EventRecorder } from "../runtime/events.ts";
import { StatusWriter } from "../runtime/status.ts";
import { generateIdentityKey } from "../federation/keys.ts";
import { type Identity, identityKind, type NetworkPublication } from "../schema/identity.ts";
import { kindRefOf } from "../schema/kind.ts";
import type { Network } from "../schema/network.ts";
import { defaultSystemNamespace, identityKeyLabel, identityPrivateKeyField } from "./contracts.ts";
import {
  checkIdentityKeySecret,
  type CurrentDescriptor,
  currentIdentity,
  descriptorInput,
  descriptorLifetime,
  IdentityReason,
  identityKeyLocation,
  ipnsPath,
  nextPassInMs,
  planDescriptor,
  PUBLICATION_CHECK_INTERVAL_MS,
  publicationAction,
  type PublishTarget,
  publishTargets,
  type SecretLocation,
} from "./identityPlan.ts";
import { IpfsClient } from "./ipfsClient.ts";
import { NetworkReason, networkChanged } from "./networkPlan.ts";
import { isReadyTransition } from "./readyTransition.ts";
import { networkKindRef } from "./networkReconciler.ts";

export const identityControllerName = "identity";
export const identityFieldManager = "archipel-identity-controller";
export const identityReportingController = "archipel.io/identity-controller";
export const identityKindRef = kindRefOf(identityKind);
const readyType = "Ready";
const PUBLISH_TIMEOUT_MS = 30_000;
const CHECK_TIMEOUT_MS = 5_000;
/** Resolvers may cache the record this long; peers that must see a change resolve with nocache. */
const IPNS_TTL_MS = 30_000;

export interface IdentityReconcilerDeps {
  status: StatusWriter;
  events: EventRecorder;
  systemNamespace?: string;
  now?: () => Date;
}

type KeyResult = { ok: true; privateKeyPem: string; publicKey: string; location: SecretLocation } | { ok: false; ready: ConditionUpdate; location: SecretLocation };

interface PublishOutcome {
  publications: NetworkPublication[];
  failures: string[];
}

const fail = (reason: string, message: string): ConditionUpdate => ({ type: readyType, status: "False", reason, message });

function keptAfterFailure(before: NetworkPublication | undefined, target: PublishTarget): NetworkPublication {
  return before && before.peerId === target.peerId ? before : { network: target.network, peerId: target.peerId };
}

async function readSecret(client: KubernetesObjectApi, at: SecretLocation): Promise<V1Secret | undefined> {
  try {
    return await client.read<V1Secret>({ apiVersion: "v1", kind: "Secret", metadata: { namespace: at.namespace, name: at.name } });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The reconciler, and the Identity cache it reads (known after its first pass) for the Network watch. */
export interface IdentityReconciler {
  reconcile: Reconciler;
  identities(): Identity[];
}

export function createIdentityReconciler(deps: IdentityReconcilerDeps): IdentityReconciler {
  const systemNamespace = deps.systemNamespace ?? defaultSystemNamespace;
  const now = deps.now ?? ((): Date => new Date());
  const clients = new Map<string, IpfsClient>();
  /** network name → when its record was last resolved successfully on its own node (process memory: a restart checks again at once). */
  const lastChecked = new Map<string, number>();
  const ipfs = (url: string): IpfsClient => {
    let c = clients.get(url);
    if (!c) clients.set(url, (c = new IpfsClient({ apiURL: url })));
    return c;
  };

  /** Creates the key if absent; never replaces one. A create that races (or a crash before status) ends in reading it. */
  async function ensureKey(ctx: ReconcileContext, identity: Identity): Promise<KeyResult> {
    const location = identityKeyLocation(identity, systemNamespace);
    let secret = await readSecret(ctx.client, location);
    if (!secret) {
      const key = generateIdentityKey();
      const body: V1Secret = {
        apiVersion: "v1",
        kind: "Secret",
        type: "Opaque",
        metadata: { namespace: location.namespace, name: location.name, labels: { [identityKeyLabel]: "true", "app.kubernetes.io/managed-by": "archipel" } },
        data: { [identityPrivateKeyField]: Buffer.from(key.privateKeyPem).toString("base64") },
      };
      try {
        secret = await ctx.client.create(body, undefined, undefined, identityFieldManager);
        ctx.logger.info("identity key generated", { secret: `${location.namespace}/${location.name}`, publicKey: key.publicKey });
        await deps.events.record(identity as KubernetesObject, { type: "Normal", reason: "KeyGenerated", action: "Create", note: `Ed25519 key generated into Secret ${location.namespace}/${location.name}; public key ${key.publicKey}` });
      } catch (err) {
        if (isAlreadyExists(err)) secret = await readSecret(ctx.client, location);
        else if (isNotFound(err)) return { ok: false, location, ready: fail(IdentityReason.KeySecretUnavailable, `cannot create the key Secret ${location.namespace}/${location.name}: namespace ${location.namespace} does not exist (create it, or set spec.keySecretRef)`) };
        else throw err;
      }
    }
    const check = checkIdentityKeySecret(location, secret?.data);
    return check.ok ? { ...check, location } : { ok: false, location, ready: fail(check.reason, check.message) };
  }

  /** Adds the descriptor and publishes it under the node's own key (IPNS name = peer ID). */
  async function publish(target: PublishTarget, current: CurrentDescriptor, at: Date): Promise<NetworkPublication> {
    const client = ipfs(target.apiURL);
    const node = await client.id({ timeoutMs: CHECK_TIMEOUT_MS });
    if (node.peerId !== target.peerId) throw new Error(`the node at ${target.apiURL} is now ${node.peerId}, not ${target.peerId}; waiting for Network ${target.network} to catch up`);
    const cid = await client.addBytes(current.text, { timeoutMs: PUBLISH_TIMEOUT_MS });
    if (cid !== current.cid) throw new Error(`kubo stored the descriptor as ${cid}, expected ${current.cid}`);
    const lifetimeMs = Math.max(60_000, Date.parse(current.descriptor.expiresAt) - at.getTime());
    await client.publishName(cid, { key: "self", lifetimeMs, ttlMs: IPNS_TTL_MS, timeoutMs: PUBLISH_TIMEOUT_MS });
    lastChecked.set(target.network, at.getTime());
    return { network: target.network, peerId: target.peerId, descriptorCID: cid, ipnsName: ipnsPath(target.peerId), publishedAt: at.toISOString().replace(/\.\d{3}Z$/, "Z") };
  }

  /**
   * True when the node itself still resolves its name to the current descriptor. Bypassing
   * kubo's cache (measured: a cached resolve on the publishing node returns the previous value
   * after another publish), which costs ~10 ms in a small network, alone or not.
   */
  async function stillResolves(target: PublishTarget, cid: string): Promise<boolean> {
    try {
      return (await ipfs(target.apiURL).resolveName(ipnsPath(target.peerId), { fresh: true, timeoutMs: CHECK_TIMEOUT_MS })) === `/ipfs/${cid}`;
    } catch {
      return false;
    }
  }

  async function publishOne(ctx: ReconcileContext, target: PublishTarget, current: CurrentDescriptor, previous: NetworkPublication | undefined): Promise<NetworkPublication> {
    const at = now();
    const action = publicationAction(previous, { peerId: target.peerId, cid: current.cid }, at.getTime(), lastChecked.get(target.network));
    ctx.logger.debug("publication", { network: target.network, action, cid: current.cid });
    if (action === "none" && previous) return previous;
    if (action === "check" && previous && (await stillResolves(target, current.cid))) {
      lastChecked.set(target.network, at.getTime());
      return previous;
    }
    if (action === "check") ctx.logger.info("descriptor record no longer resolves on its node: publishing again", { network: target.network, peerId: target.peerId });
    const started = Date.now();
    const published = await publish(target, current, at);
    ctx.logger.info("descriptor published", { network: target.network, peerId: target.peerId, cid: current.cid, ms: Date.now() - started });
    return published;
  }

  async function publishAll(ctx: ReconcileContext, identity: Identity, targets: PublishTarget[], current: CurrentDescriptor): Promise<PublishOutcome> {
    const previous = new Map((identity.status?.networks ?? []).map((p) => [p.network, p]));
    const results = await Promise.all(
      targets.map((t) =>
        publishOne(ctx, t, current, previous.get(t.network)).then(
          (p) => ({ publication: p }),
          // Keep what was published before (still resolvable by peers), not another node's entry.
          (err: unknown) => ({ failure: `${t.network}: ${errorMessage(err)}`, publication: keptAfterFailure(previous.get(t.network), t) }),
        ),
      ),
    );
    const publications = results.map((r) => r.publication);
    const failures = results.flatMap((r) => ("failure" in r ? [r.failure] : []));
    for (const name of lastChecked.keys()) if (!targets.some((t) => t.network === name)) lastChecked.delete(name);
    return { publications, failures };
  }

  async function writeStatus(ctx: ReconcileContext, identity: Identity, ready: ConditionUpdate, fields: Record<string, unknown>): Promise<void> {
    const generation = identity.metadata?.generation;
    const conditions = setCondition(identity.status?.conditions, ready, generation, now()).filter((c) => c.type === readyType);
    const wrote = await deps.status.apply(identityKindRef, identity, { conditions, observedGeneration: generation, ...fields });
    if (!wrote || !isReadyTransition(identity.status?.conditions, ready)) return;
    ctx.logger.info("identity readiness changed", { identity: identity.metadata?.name, status: ready.status, reason: ready.reason, detail: ready.message });
    await deps.events.record(identity as KubernetesObject, { type: ready.status === "True" ? "Normal" : "Warning", reason: ready.reason, action: "Publish", note: ready.message });
  }

  function readiness(targets: PublishTarget[], outcome: PublishOutcome, cid: string): ConditionUpdate {
    if (targets.length === 0) return fail(IdentityReason.NoNetwork, "no Network has a kubo node with a peer ID yet; the descriptor is published as soon as one has");
    if (outcome.failures.length > 0) return fail(IdentityReason.PublishFailed, `descriptor ${cid} not published to: ${outcome.failures.join("; ")}`);
    return { type: readyType, status: "True", reason: IdentityReason.Published, message: `descriptor ${cid} published in ${targets.map((t) => `${t.network} (/ipns/${t.peerId})`).join(", ")}` };
  }

  async function reconcileCurrent(ctx: ReconcileContext, identity: Identity): Promise<ReconcileResult> {
    const lifetime = descriptorLifetime(identity);
    if (!lifetime.ok) {
      await writeStatus(ctx, identity, fail(IdentityReason.InvalidSpec, lifetime.message), {});
      return {};
    }
    const key = await ensureKey(ctx, identity);
    const keySecretRef = { namespace: key.location.namespace, name: key.location.name };
    if (!key.ok) {
      await writeStatus(ctx, identity, key.ready, { keySecretRef });
      return { requeueAfter: 30_000 }; // Secrets are not watched: look again
    }
    const targets = publishTargets(ctx.cache<Network>(networkKindRef).list(), systemNamespace, NetworkReason.NodeInUse);
    const input = descriptorInput(identity, key.publicKey, targets);
    const at = now().getTime();
    const current = planDescriptor({ input, status: identity.status, privateKeyPem: key.privateKeyPem, lifetimeMs: lifetime.lifetimeMs }, at);
    if (current.reissued) ctx.logger.info("descriptor issued", { cid: current.cid, networks: targets.map((t) => t.network), expiresAt: current.descriptor.expiresAt });
    const outcome = await publishAll(ctx, identity, targets, current);
    await writeStatus(ctx, identity, readiness(targets, outcome, current.cid), {
      publicKey: key.publicKey,
      keySecretRef,
      descriptorCID: current.cid,
      descriptorIssuedAt: current.descriptor.issuedAt,
      descriptorExpiresAt: current.descriptor.expiresAt,
      networks: outcome.publications,
    });
    const checks = targets.map((t) => (lastChecked.get(t.network) ?? at) + PUBLICATION_CHECK_INTERVAL_MS);
    const nextCheckAt = checks.length > 0 ? Math.min(...checks) : undefined;
    return { requeueAfter: nextPassInMs(now().getTime(), { refreshAt: current.refreshAt, failed: outcome.failures.length > 0, nextCheckAt }) };
  }

  let cache: Cache<Identity> | undefined;
  const reconcile = async (key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> => {
    const identities = ctx.cache<Identity>(identityKindRef);
    cache = identities;
    const identity = identities.get(key);
    if (!identity || identity.metadata?.deletionTimestamp) return;
    const current = currentIdentity(identities.list().filter((i) => !i.metadata?.deletionTimestamp));
    if (current?.metadata?.name !== identity.metadata?.name) {
      const message = `this cluster already has Identity ${current?.metadata?.name}; a cluster has exactly one Identity: delete this one`;
      await writeStatus(ctx, identity, fail(IdentityReason.DuplicateIdentity, message), {});
      return { requeueAfter: 60_000 }; // takes over when the current one is deleted
    }
    return reconcileCurrent(ctx, identity);
  };
  return { reconcile, identities: () => cache?.list() ?? [] };
}

/** The controller as the manager registers it. */
export function identityController(kubeConfig: KubeConfig, opts: { logger?: Logger; systemNamespace?: string } = {}): ControllerOptions {
  const { reconcile, identities } = createIdentityReconciler({
    status: new StatusWriter(kubeConfig, identityFieldManager),
    events: new EventRecorder(kubeConfig, { reportingController: identityReportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
    ...(opts.systemNamespace ? { systemNamespace: opts.systemNamespace } : {}),
  });
  // A Network change (a node's peer ID, a new or deleted Network) wakes every Identity; only
  // the current one publishes. The cache is the reconciler's, known after its first pass (the
  // controller reconciles every Identity once at start).
  const everyIdentity = (): ObjectKey[] => identities().map((i) => ({ name: i.metadata?.name ?? "" }));
  return {
    name: identityControllerName,
    for: identityKindRef,
    reconcile,
    watches: [{ kind: networkKindRef, map: everyIdentity, changed: (old, current) => networkChanged(old as Network, current as Network) }],
  };
}
