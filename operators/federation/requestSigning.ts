// Signed federation requests. Every request a cluster sends to a peer carries an Ed25519
// signature by its identity key over: method, request target (path + query, exactly as sent),
// SHA-256 of the body, timestamp, nonce, the sender's cluster name (key id) and the receiver's
// cluster name (audience, so a request for B cannot be replayed to C). The receiver checks the
// signature against the key it pinned for that peer, a replay window, and a nonce cache.
// Pure: the clock (`now`), the key lookup and the nonce cache are passed in.
import { createHash } from "node:crypto";
import { signBytes, verifyBytes } from "./keys.ts";

export const SIGNATURE_SCHEME = "archipel-request-v1";
/** A request is accepted only if its timestamp is within ± this of the receiver's clock. */
export const REPLAY_WINDOW_MS = 60_000;

/** Header names (lower case, as Node exposes them). */
export const SignatureHeader = {
  KeyId: "x-archipel-key-id",
  Audience: "x-archipel-audience",
  Timestamp: "x-archipel-timestamp",
  Nonce: "x-archipel-nonce",
  ContentSha256: "x-archipel-content-sha256",
  Signature: "x-archipel-signature",
} as const;

export const RequestRefusal = {
  MissingHeader: "MissingSignatureHeader",
  MalformedHeader: "MalformedSignatureHeader",
  UnknownKey: "UnknownKey",
  WrongAudience: "WrongAudience",
  DigestMismatch: "BodyDigestMismatch",
  BadSignature: "BadSignature",
  Expired: "TimestampOutsideWindow",
  Replayed: "NonceReplayed",
} as const;
export type RequestRefusal = (typeof RequestRefusal)[keyof typeof RequestRefusal];

export interface RequestToSign {
  method: string;
  /** Path and query exactly as sent on the wire, e.g. `/federation/v1/catalog?q=x`. */
  target: string;
  body?: Uint8Array | string;
  /** The sender's cluster name: the receiver finds the sender's key by it. */
  keyId: string;
  /** The receiving cluster's name. */
  audience: string;
  /** Epoch ms. */
  now: number;
  /** At least 16 random bytes, encoded (base64url recommended). */
  nonce: string;
}

export interface ReceivedRequest {
  method: string;
  target: string;
  body?: Uint8Array | string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Remembers nonces until they leave the replay window. Implementations may be shared by
 * several server replicas; `addIfAbsent` must be atomic: true when newly added, false when
 * already present (a replay).
 */
export interface NonceCache {
  addIfAbsent(scopedNonce: string, expiresAt: number, now: number): boolean;
}

export interface VerifyContext {
  /** This cluster's name: requests addressed to another audience are refused. */
  audience: string;
  now: number;
  /** The public key of an Accepted peer by its cluster name; undefined refuses the request. */
  lookupKey(keyId: string): string | undefined;
  nonces: NonceCache;
}

export type RequestVerification =
  | { ok: true; keyId: string }
  | { ok: false; reason: RequestRefusal; message: string };

const NONCE_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;
const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function bodySha256(body: Uint8Array | string | undefined): string {
  return createHash("sha256").update(body ?? "").digest("base64url");
}

interface SignedFields {
  method: string;
  target: string;
  contentSha256: string;
  timestamp: string;
  nonce: string;
  keyId: string;
  audience: string;
}

function signingString(f: SignedFields): string {
  return [SIGNATURE_SCHEME, f.method.toUpperCase(), f.target, f.contentSha256, f.timestamp, f.nonce, f.keyId, f.audience, ""].join("\n");
}

/** The headers to add to the request (all of them are needed by the receiver). */
export function signRequest(req: RequestToSign, privateKeyPem: string): Record<string, string> {
  if (!req.target.startsWith("/")) throw new Error(`request target must start with '/': ${req.target}`);
  if (!NONCE_PATTERN.test(req.nonce)) throw new Error("nonce must be 22-128 base64url characters (≥ 16 random bytes)");
  const fields: SignedFields = {
    method: req.method,
    target: req.target,
    contentSha256: bodySha256(req.body),
    timestamp: String(Math.trunc(req.now)),
    nonce: req.nonce,
    keyId: req.keyId,
    audience: req.audience,
  };
  return {
    [SignatureHeader.KeyId]: fields.keyId,
    [SignatureHeader.Audience]: fields.audience,
    [SignatureHeader.Timestamp]: fields.timestamp,
    [SignatureHeader.Nonce]: fields.nonce,
    [SignatureHeader.ContentSha256]: fields.contentSha256,
    [SignatureHeader.Signature]: signBytes(privateKeyPem, Buffer.from(signingString(fields))),
  };
}

function refuse(reason: RequestRefusal, message: string): RequestVerification {
  return { ok: false, reason, message };
}

type HeaderRead = { ok: true; values: Record<keyof typeof SignatureHeader, string> } | { ok: false; failure: RequestVerification };

function readHeaders(headers: ReceivedRequest["headers"]): HeaderRead {
  const values: Partial<Record<keyof typeof SignatureHeader, string>> = {};
  for (const [field, name] of Object.entries(SignatureHeader) as Array<[keyof typeof SignatureHeader, string]>) {
    const value = headers[name];
    if (value === undefined) return { ok: false, failure: refuse(RequestRefusal.MissingHeader, `header ${name} is missing`) };
    if (Array.isArray(value)) return { ok: false, failure: refuse(RequestRefusal.MalformedHeader, `header ${name} appears more than once`) };
    values[field] = value;
  }
  return { ok: true, values: values as Record<keyof typeof SignatureHeader, string> };
}

function checkShape(v: Record<keyof typeof SignatureHeader, string>): RequestVerification | undefined {
  if (!NAME_PATTERN.test(v.KeyId)) return refuse(RequestRefusal.MalformedHeader, `header ${SignatureHeader.KeyId} is not a cluster name`);
  if (!/^\d{1,16}$/.test(v.Timestamp)) return refuse(RequestRefusal.MalformedHeader, `header ${SignatureHeader.Timestamp} must be epoch milliseconds`);
  if (!NONCE_PATTERN.test(v.Nonce)) return refuse(RequestRefusal.MalformedHeader, `header ${SignatureHeader.Nonce} must be 22-128 base64url characters`);
  return undefined;
}

/**
 * Verifies a received request. Cheap checks first; the nonce is remembered only once the
 * signature and timestamp are good, so forged requests cannot fill the cache or burn nonces.
 */
export function verifyRequest(req: ReceivedRequest, ctx: VerifyContext): RequestVerification {
  const read = readHeaders(req.headers);
  if (!read.ok) return read.failure;
  const v = read.values;
  const shape = checkShape(v);
  if (shape) return shape;
  if (v.Audience !== ctx.audience) return refuse(RequestRefusal.WrongAudience, `request is addressed to ${v.Audience}, this is ${ctx.audience}`);
  const publicKey = ctx.lookupKey(v.KeyId);
  if (!publicKey) return refuse(RequestRefusal.UnknownKey, `no accepted peer named ${v.KeyId}`);
  if (bodySha256(req.body) !== v.ContentSha256) return refuse(RequestRefusal.DigestMismatch, "the body does not match its SHA-256 header");
  const fields: SignedFields = { method: req.method, target: req.target, contentSha256: v.ContentSha256, timestamp: v.Timestamp, nonce: v.Nonce, keyId: v.KeyId, audience: v.Audience };
  if (!verifyBytes(publicKey, Buffer.from(signingString(fields)), v.Signature)) {
    return refuse(RequestRefusal.BadSignature, `signature does not verify with the key of peer ${v.KeyId}`);
  }
  const timestamp = Number(v.Timestamp);
  if (Math.abs(ctx.now - timestamp) > REPLAY_WINDOW_MS) {
    return refuse(RequestRefusal.Expired, `timestamp is ${Math.round((ctx.now - timestamp) / 1000)} s from this cluster's clock; the window is ±${REPLAY_WINDOW_MS / 1000} s`);
  }
  if (!ctx.nonces.addIfAbsent(`${v.KeyId}/${v.Nonce}`, timestamp + REPLAY_WINDOW_MS, ctx.now)) {
    return refuse(RequestRefusal.Replayed, `nonce already used by ${v.KeyId}`);
  }
  return { ok: true, keyId: v.KeyId };
}

/**
 * A NonceCache in process memory for one API replica, bounded: expired entries are swept on
 * insert, and beyond `maxEntries` live nonces new requests are refused (as replays) rather than
 * letting memory grow — a flood of validly signed requests is the only way to get there.
 */
export class MemoryNonceCache implements NonceCache {
  private readonly entries = new Map<string, number>();
  private readonly maxEntries: number;

  constructor(maxEntries = 100_000) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  addIfAbsent(scopedNonce: string, expiresAt: number, now: number): boolean {
    const existing = this.entries.get(scopedNonce);
    if (existing !== undefined && existing >= now) return false;
    if (this.entries.size >= this.maxEntries) this.sweep(now);
    if (this.entries.size >= this.maxEntries) return false;
    this.entries.set(scopedNonce, expiresAt);
    return true;
  }

  private sweep(now: number): void {
    for (const [nonce, expiresAt] of this.entries) if (expiresAt < now) this.entries.delete(nonce);
  }
}
