// The Identity reconciler's decisions, pure: which Identity is this cluster's, where its key
// lives and whether the Secret holds a usable one, which descriptor is current (kept, or
// re-issued when its content changed or half its lifetime has passed), and per network
// whether the descriptor must be published again. Time is passed in; no I/O.
import { createHash } from "node:crypto";
import type { Condition } from "../schema/common.ts";
import type { Identity, NetworkPublication } from "../schema/identity.ts";
import type { Network } from "../schema/network.ts";
import { publicKeyOf } from "../federation/keys.ts";
import { defaultIdentityKeySecret, identityPrivateKeyField, kuboRpcUrl } from "./contracts.ts";
import {
  buildDescriptor,
  type ClusterDescriptor,
  DESCRIPTOR_LIFETIME_MS,
  type DescriptorInput,
  type DescriptorNetwork,
  MAX_DESCRIPTOR_LIFETIME_MS,
  serializeSignedDescriptor,
  signDescriptor,
} from "./descriptor.ts";
import { durationMs } from "./discoveryTiming.ts";

/** Condition reasons of Identity.Ready: part of the API (tests and users read them). */
export const IdentityReason = {
  Published: "Published",
  NoNetwork: "NoNetwork",
  PublishFailed: "PublishFailed",
  DuplicateIdentity: "DuplicateIdentity",
  KeySecretInvalid: "KeySecretInvalid",
  KeySecretUnavailable: "KeySecretUnavailable",
  InvalidSpec: "InvalidSpec",
} as const;

/** Shortest accepted spec.descriptorValidity: re-publication happens at half of it. */
export const MIN_DESCRIPTOR_LIFETIME_MS = 2 * 60_000;
/** How often a published record is checked (resolved by its own node) between re-publications. */
export const PUBLICATION_CHECK_INTERVAL_MS = 30_000;
/** Re-publish even a record that resolves fine this often: peers' DHT copies age too. */
export const REPUBLISH_INTERVAL_MS = 60 * 60_000;

interface Meta {
  metadata?: { name?: string; creationTimestamp?: string | Date };
}

function creationMs(o: Meta): number {
  const t = o.metadata?.creationTimestamp;
  const ms = t === undefined ? Number.NaN : new Date(t).getTime();
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

/** Oldest first (creationTimestamp, then name): the order that decides who wins a tie. */
export function byAge<T extends Meta>(a: T, b: T): number {
  const d = creationMs(a) - creationMs(b);
  if (d !== 0) return d;
  const an = a.metadata?.name ?? "";
  const bn = b.metadata?.name ?? "";
  return an < bn ? -1 : an > bn ? 1 : 0;
}

/** The cluster's one Identity: the oldest; every other one is a duplicate. */
export function currentIdentity(identities: readonly Identity[]): Identity | undefined {
  return [...identities].sort(byAge)[0];
}

export interface SecretLocation {
  namespace: string;
  name: string;
}

/** spec.keySecretRef, else the default Secret name in the operator's system namespace. */
export function identityKeyLocation(identity: Identity, systemNamespace: string): SecretLocation {
  const ref = identity.spec?.keySecretRef;
  return ref ? { namespace: ref.namespace, name: ref.name } : { namespace: systemNamespace, name: defaultIdentityKeySecret.name };
}

export type KeyCheck = { ok: true; privateKeyPem: string; publicKey: string } | { ok: false; reason: string; message: string };

/**
 * Reads the key out of a Secret's base64 `data`. A Secret that exists without a usable key is
 * never overwritten (it may be a key someone restores): the admin fixes or deletes it.
 */
export function checkIdentityKeySecret(location: SecretLocation, data: Record<string, string> | undefined): KeyCheck {
  const where = `Secret ${location.namespace}/${location.name}`;
  const encoded = data?.[identityPrivateKeyField];
  const fix = `fix it, or delete the Secret to have a new key generated (peers that pinned the old key will refuse the new one)`;
  if (!encoded) return { ok: false, reason: IdentityReason.KeySecretInvalid, message: `${where} has no data key ${identityPrivateKeyField}; ${fix}` };
  const pem = Buffer.from(encoded, "base64").toString("utf8");
  try {
    return { ok: true, privateKeyPem: pem, publicKey: publicKeyOf(pem) };
  } catch {
    // The parse error could quote key material: it is not repeated.
    return { ok: false, reason: IdentityReason.KeySecretInvalid, message: `${where} key ${identityPrivateKeyField} is not a PKCS#8 PEM Ed25519 private key; ${fix}` };
  }
}

export type LifetimeCheck = { ok: true; lifetimeMs: number } | { ok: false; message: string };

export function descriptorLifetime(identity: Identity): LifetimeCheck {
  const text = identity.spec?.descriptorValidity;
  if (text === undefined) return { ok: true, lifetimeMs: DESCRIPTOR_LIFETIME_MS };
  const ms = durationMs(text);
  if (ms === undefined || ms < MIN_DESCRIPTOR_LIFETIME_MS || ms > MAX_DESCRIPTOR_LIFETIME_MS) {
    return { ok: false, message: `spec.descriptorValidity "${text}" must be a duration between 2m and 168h (e.g. 24h)` };
  }
  return { ok: true, lifetimeMs: ms };
}

/** A Network whose node can carry the descriptor: it has a peer ID and is nobody's duplicate. */
export interface PublishTarget {
  network: string;
  peerId: string;
  apiURL: string;
}

function readyReason(network: Network): string | undefined {
  return network.status?.conditions?.find((c: Condition) => c.type === "Ready")?.reason;
}

/** Networks (by name) whose node the Network controller identified, minus NodeInUse duplicates. */
export function publishTargets(networks: readonly Network[], systemNamespace: string, nodeInUseReason: string): PublishTarget[] {
  const targets: PublishTarget[] = [];
  for (const n of networks) {
    const name = n.metadata?.name;
    const peerId = n.status?.peerId;
    const apiURL = kuboRpcUrl(n, systemNamespace);
    if (!name || !peerId || !apiURL || n.metadata?.deletionTimestamp || readyReason(n) === nodeInUseReason) continue;
    targets.push({ network: name, peerId, apiURL });
  }
  return targets.sort((a, b) => (a.network < b.network ? -1 : a.network > b.network ? 1 : 0));
}

export function descriptorInput(identity: Identity, publicKey: string, targets: readonly PublishTarget[]): DescriptorInput {
  const networks: DescriptorNetwork[] = targets.map((t) => ({ name: t.network, peerId: t.peerId }));
  const spec = identity.spec;
  return { clusterName: spec?.clusterName ?? "", displayName: spec?.displayName ?? "", apiEndpoint: spec?.apiEndpoint ?? "", publicKey, networks };
}

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * The CID kubo gives these bytes when added as one raw block (CIDv1, raw codec, sha2-256,
 * base32 — IpfsClient.addBytes), computed locally: the reconciler knows whether the descriptor
 * it would publish is the one already published without asking a node.
 */
export function rawBlockCid(data: string | Uint8Array): string {
  const digest = createHash("sha256").update(data).digest();
  return `b${base32(Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), digest]))}`;
}

export interface CurrentDescriptor {
  descriptor: ClusterDescriptor;
  /** The bytes to add to IPFS. */
  text: string;
  cid: string;
  /** True when this pass issued a new descriptor (content changed, or due for refresh). */
  reissued: boolean;
  /** When it must be re-issued (half its lifetime), epoch ms. */
  refreshAt: number;
}

function signed(input: DescriptorInput, issuedAt: number, lifetimeMs: number, privateKeyPem: string): { descriptor: ClusterDescriptor; text: string; cid: string } {
  const descriptor = buildDescriptor(input, issuedAt, lifetimeMs);
  const text = serializeSignedDescriptor(signDescriptor(descriptor, privateKeyPem));
  return { descriptor, text, cid: rawBlockCid(text) };
}

function refreshTime(d: ClusterDescriptor): number {
  const issued = Date.parse(d.issuedAt);
  return issued + (Date.parse(d.expiresAt) - issued) / 2;
}

export interface DescriptorRequest {
  input: DescriptorInput;
  status: Identity["status"];
  privateKeyPem: string;
  lifetimeMs: number;
}

/** The descriptor of status re-signed with the wanted content, when status describes one of this lifetime. */
function keptDescriptor(req: DescriptorRequest): ReturnType<typeof signed> | undefined {
  const s = req.status;
  if (!s?.descriptorCID || !s.descriptorIssuedAt || !s.descriptorExpiresAt) return undefined;
  const issued = Date.parse(s.descriptorIssuedAt);
  if (Number.isNaN(issued) || Date.parse(s.descriptorExpiresAt) - issued !== req.lifetimeMs) return undefined;
  const kept = signed(req.input, issued, req.lifetimeMs, req.privateKeyPem);
  return kept.cid === s.descriptorCID ? kept : undefined;
}

/**
 * The descriptor to publish. The one in status is kept when re-signing the wanted content with
 * its issue and expiry times gives the same CID (Ed25519 signatures and the canonical JSON are
 * deterministic) and half its lifetime has not passed; otherwise a new one is issued at `now`.
 * So a manager restart or a second pass re-issues nothing.
 */
export function planDescriptor(req: DescriptorRequest, now: number): CurrentDescriptor {
  const kept = keptDescriptor(req);
  if (kept && now < refreshTime(kept.descriptor)) return { ...kept, reissued: false, refreshAt: refreshTime(kept.descriptor) };
  const fresh = signed(req.input, now, req.lifetimeMs, req.privateKeyPem);
  return { ...fresh, reissued: true, refreshAt: refreshTime(fresh.descriptor) };
}

export type PublicationAction = "publish" | "check" | "none";

/**
 * What to do for one network this pass: publish when it never was, when it carries another
 * descriptor or another node (peer ID), or after REPUBLISH_INTERVAL_MS; otherwise check (resolve
 * the record on its own node: a wiped or restarted node loses it) every
 * PUBLICATION_CHECK_INTERVAL_MS.
 */
export function publicationAction(
  published: NetworkPublication | undefined,
  wanted: { peerId: string; cid: string },
  now: number,
  lastCheckedAt: number | undefined,
): PublicationAction {
  if (!published || published.descriptorCID !== wanted.cid || published.peerId !== wanted.peerId || !published.publishedAt) return "publish";
  if (now - Date.parse(published.publishedAt) >= REPUBLISH_INTERVAL_MS) return "publish";
  if (lastCheckedAt === undefined || now - lastCheckedAt >= PUBLICATION_CHECK_INTERVAL_MS) return "check";
  return "none";
}

/** When the next pass is due (ms from now): the earliest refresh or check, sooner after a failure. */
export function nextPassInMs(now: number, due: { refreshAt: number; failed: boolean; nextCheckAt?: number | undefined }): number {
  const retry = due.failed ? 5_000 : due.nextCheckAt !== undefined ? due.nextCheckAt - now : 60_000;
  return Math.max(1_000, Math.min(retry, due.refreshAt - now));
}

/** The IPNS name a network's peers resolve: the node's own key, i.e. its peer ID. */
export function ipnsPath(peerId: string): string {
  return `/ipns/${peerId}`;
}
