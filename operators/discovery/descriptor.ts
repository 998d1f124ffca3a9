// The signed cluster descriptor: what a cluster publishes on IPFS (under its node's IPNS name)
// so that peers learn its name, API endpoint and identity key. A descriptor that does not
// verify never creates or changes a Peer, so every check a receiver needs is here, pure:
// shape, signature, the key pinned for that peer, the IPFS peer it was fetched from, and time.
import { Type, type Static } from "typebox";
import { Value } from "typebox/value";
import { canonicalJson } from "../federation/canonicalJson.ts";
import { isPublicKey, publicKeyOf, signBytes, verifyBytes } from "../federation/keys.ts";

export const DESCRIPTOR_TYPE = "archipel.io/cluster-descriptor/v1";
/** How long a freshly issued descriptor (and its IPNS record) is valid. */
export const DESCRIPTOR_LIFETIME_MS = 24 * 60 * 60_000;
/** Re-issue and re-publish once less than this remains (half the lifetime: one failed round is harmless). */
export const DESCRIPTOR_REFRESH_REMAINING_MS = 12 * 60 * 60_000;
/** A verifier refuses descriptors valid for longer than this, whatever they claim. */
export const MAX_DESCRIPTOR_LIFETIME_MS = 7 * 24 * 60 * 60_000;
/** Tolerated clock difference between issuer and verifier for `issuedAt`. */
export const CLOCK_SKEW_MS = 2 * 60_000;
/** Readers stop fetching a descriptor beyond this size. */
export const MAX_DESCRIPTOR_BYTES = 16 * 1024;

const Timestamp = Type.String({ pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$" });

export const DescriptorNetworkSchema = Type.Object(
  {
    /** The Network's name as the issuing cluster calls it. */
    name: Type.String({ minLength: 1, maxLength: 253 }),
    /** The IPFS peer ID of the issuer's kubo node in that network. */
    peerId: Type.String({ pattern: "^[1-9A-HJ-NP-Za-km-z]{32,128}$" }),
  },
  { additionalProperties: false },
);

export const ClusterDescriptorSchema = Type.Object(
  {
    type: Type.Literal(DESCRIPTOR_TYPE),
    clusterName: Type.String({ pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" }),
    displayName: Type.String({ maxLength: 253 }),
    apiEndpoint: Type.String({ pattern: "^https?://[^\\s]+$", maxLength: 2048 }),
    publicKey: Type.String({ pattern: "^[A-Za-z0-9_-]{43}$" }),
    networks: Type.Array(DescriptorNetworkSchema, { maxItems: 64 }),
    issuedAt: Timestamp,
    expiresAt: Timestamp,
  },
  { additionalProperties: false },
);

export const SignedDescriptorSchema = Type.Object(
  {
    descriptor: ClusterDescriptorSchema,
    /** Ed25519 over canonicalJson(descriptor), base64url. */
    signature: Type.String({ pattern: "^[A-Za-z0-9_-]{86}$" }),
  },
  { additionalProperties: false },
);

export type DescriptorNetwork = Static<typeof DescriptorNetworkSchema>;
export type ClusterDescriptor = Static<typeof ClusterDescriptorSchema>;
export type SignedDescriptor = Static<typeof SignedDescriptorSchema>;

/** Why a descriptor is refused; part of the API (Peer conditions and events carry it). */
export const DescriptorReason = {
  Malformed: "DescriptorMalformed",
  BadSignature: "DescriptorBadSignature",
  KeyMismatch: "DescriptorKeyMismatch",
  PeerIdMismatch: "DescriptorPeerIdMismatch",
  Expired: "DescriptorExpired",
  NotYetValid: "DescriptorNotYetValid",
  LifetimeTooLong: "DescriptorLifetimeTooLong",
} as const;
export type DescriptorReason = (typeof DescriptorReason)[keyof typeof DescriptorReason];

export type DescriptorVerification =
  | { ok: true; descriptor: ClusterDescriptor }
  | { ok: false; reason: DescriptorReason; message: string };

export interface DescriptorInput {
  clusterName: string;
  displayName: string;
  apiEndpoint: string;
  publicKey: string;
  networks: DescriptorNetwork[];
}

/** What the verifier already knows about the issuer; each given field must match. */
export interface DescriptorExpectation {
  /** The key pinned on the Peer (first verified descriptor, or declared by hand). */
  publicKey?: string;
  /** The IPFS peer the descriptor was fetched from (its IPNS name): it must list itself. */
  peerId?: string;
}

export function buildDescriptor(input: DescriptorInput, now: number, lifetimeMs = DESCRIPTOR_LIFETIME_MS): ClusterDescriptor {
  const descriptor: ClusterDescriptor = {
    type: DESCRIPTOR_TYPE,
    ...input,
    networks: [...input.networks].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    issuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + lifetimeMs).toISOString(),
  };
  const problem = firstSchemaError(ClusterDescriptorSchema, descriptor);
  if (problem) throw new Error(`cannot build a descriptor: ${problem}`);
  return descriptor;
}

export function signDescriptor(descriptor: ClusterDescriptor, privateKeyPem: string): SignedDescriptor {
  if (publicKeyOf(privateKeyPem) !== descriptor.publicKey) {
    throw new Error("descriptor.publicKey is not the public half of the signing key");
  }
  return { descriptor, signature: signBytes(privateKeyPem, Buffer.from(canonicalJson(descriptor))) };
}

/** The bytes added to IPFS: canonical, so re-publishing an unchanged descriptor yields the same CID. */
export function serializeSignedDescriptor(signed: SignedDescriptor): string {
  return canonicalJson(signed);
}

/** True when the descriptor must be re-issued (close to expiry, or its content changed). */
export function descriptorNeedsRefresh(current: ClusterDescriptor | undefined, wanted: DescriptorInput, now: number): boolean {
  if (!current) return true;
  const remaining = Date.parse(current.expiresAt) - now;
  if (remaining < DESCRIPTOR_REFRESH_REMAINING_MS) return true;
  const { type: _t, issuedAt: _i, expiresAt: _e, ...content } = current;
  const wantedContent = buildDescriptor(wanted, now);
  const { type: _t2, issuedAt: _i2, expiresAt: _e2, ...wantedRest } = wantedContent;
  return canonicalJson(content) !== canonicalJson(wantedRest);
}

function firstSchemaError(schema: typeof ClusterDescriptorSchema | typeof SignedDescriptorSchema, value: unknown): string | undefined {
  for (const e of Value.Errors(schema, value)) {
    if (e.keyword === "boolean") continue; // the additionalProperties twin of a clearer error
    return `${e.instancePath || "(document)"} ${e.message}`;
  }
  return undefined;
}

function refuse(reason: DescriptorReason, message: string): DescriptorVerification {
  return { ok: false, reason, message };
}

function parseDocument(doc: unknown): { ok: true; signed: SignedDescriptor } | { ok: false; message: string } {
  let value = doc;
  if (typeof doc === "string" || doc instanceof Uint8Array) {
    const text = typeof doc === "string" ? doc : Buffer.from(doc).toString("utf8");
    if (Buffer.byteLength(text) > MAX_DESCRIPTOR_BYTES) return { ok: false, message: `larger than ${MAX_DESCRIPTOR_BYTES} bytes` };
    try {
      value = JSON.parse(text);
    } catch (err) {
      return { ok: false, message: `not JSON: ${(err as Error).message}` };
    }
  }
  const problem = firstSchemaError(SignedDescriptorSchema, value);
  return problem ? { ok: false, message: problem } : { ok: true, signed: value as SignedDescriptor };
}

function checkTime(d: ClusterDescriptor, now: number): DescriptorVerification | undefined {
  const issued = Date.parse(d.issuedAt);
  const expires = Date.parse(d.expiresAt);
  if (Number.isNaN(issued) || Number.isNaN(expires) || expires <= issued) {
    return refuse(DescriptorReason.Malformed, `issuedAt ${d.issuedAt} / expiresAt ${d.expiresAt} is not a valid interval`);
  }
  if (expires - issued > MAX_DESCRIPTOR_LIFETIME_MS) {
    return refuse(DescriptorReason.LifetimeTooLong, `valid for ${Math.round((expires - issued) / 3_600_000)} h; at most ${MAX_DESCRIPTOR_LIFETIME_MS / 3_600_000} h is accepted`);
  }
  if (issued - CLOCK_SKEW_MS > now) {
    return refuse(DescriptorReason.NotYetValid, `issued at ${d.issuedAt}, in the future (check the issuer's clock)`);
  }
  if (expires <= now) return refuse(DescriptorReason.Expired, `expired at ${d.expiresAt}`);
  return undefined;
}

function checkExpectation(d: ClusterDescriptor, expect: DescriptorExpectation): DescriptorVerification | undefined {
  if (expect.publicKey !== undefined && expect.publicKey !== d.publicKey) {
    return refuse(DescriptorReason.KeyMismatch, `signed by key ${d.publicKey}, but peer ${d.clusterName} is pinned to key ${expect.publicKey}`);
  }
  if (expect.peerId !== undefined && !d.networks.some((n) => n.peerId === expect.peerId)) {
    return refuse(DescriptorReason.PeerIdMismatch, `fetched from IPFS peer ${expect.peerId}, which the descriptor of ${d.clusterName} does not list`);
  }
  return undefined;
}

/**
 * Verifies a signed descriptor (raw bytes, text or parsed JSON) at time `now` (epoch ms).
 * Order: shape, signature against the embedded key, then the caller's expectations and time,
 * so a forged document is reported as such whatever else is wrong with it.
 */
export function verifyDescriptor(doc: unknown, now: number, expect: DescriptorExpectation = {}): DescriptorVerification {
  const parsed = parseDocument(doc);
  if (!parsed.ok) return refuse(DescriptorReason.Malformed, parsed.message);
  const { descriptor, signature } = parsed.signed;
  if (!isPublicKey(descriptor.publicKey) || !verifyBytes(descriptor.publicKey, Buffer.from(canonicalJson(descriptor)), signature)) {
    return refuse(DescriptorReason.BadSignature, `the signature of ${descriptor.clusterName}'s descriptor does not verify with its public key`);
  }
  return checkExpectation(descriptor, expect) ?? checkTime(descriptor, now) ?? { ok: true, descriptor };
}
