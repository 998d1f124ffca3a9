// Signed federation requests. Every request a cluster sends to a peer carries an Ed25519
// signature by its identity key over: method, request target (path + query, exactly as sent),
// SHA-256 of the body, timestamp, nonce, the sender's cluster name (key id), the receiver's
// cluster name (audience, so a request for B cannot be replayed to C) and the project the request
// claims to act for (empty when none): everything the receiver decides access on is signed, so a
// claim added or changed on the way is a bad signature. The receiver checks the signature against
// the key it pinned for that peer, a replay window, and a nonce cache.
// Pure: the clock (`now`), the key lookup and the nonce cache are passed in.
import { createHash } from "node:crypto";
import { signBytes, verifyBytes } from "./keys.ts";

export const SIGNATURE_SCHEME = "archipel-request-v2";
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

/**
 * The project a request acts for (restricted visibility). Optional, but signed: its value (or
 * the empty string when absent) is part of the signing string.
 */
export const ProjectClaimHeader = "x-archipel-project";

export const RequestRefusal = {
  MissingHeader: "MissingSignatureHeader",
  MalformedHeader: "MalformedSignatureHeader",
  UnknownKey: "UnknownKey",
  WrongAudience: "WrongAudience",
  DigestMismatch: "BodyDigestMismatch",
  BadSignature: "BadSignature",
  Expired: "TimestampOutsideWindow",
  Replayed: "NonceReplayed",
  BeforeStart: "TimestampBeforeNonceCache",
} as const;
export type RequestRefusal = (typeof RequestRefusal)[keyof typeof RequestRefusal];

/**
 * The body digest of a request whose body the signature does not cover: a stream the sender relays
 * and cannot hash before it sends. Accepted only by a route that says so (ReceivedRequest
 * unsignedPayload) and that checks the bytes against a signed digest of its own.
 */
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

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
  /** The project this request acts for, if any (a Project name). */
  project?: string;
  /** The body is not signed (UNSIGNED_PAYLOAD): only for the routes that accept it. */
  unsignedPayload?: boolean;
}

export interface ReceivedRequest {
  method: string;
  target: string;
  body?: Uint8Array | string;
  headers: Record<string, string | string[] | undefined>;
  /** This route accepts UNSIGNED_PAYLOAD (it checks the body against a signed digest itself). */
  unsignedPayload?: boolean;
}

/**
 * Remembers nonces until they leave the replay window. `addIfAbsent` must be atomic: true when
 * newly added, false when already present (a replay). A cache remembers only what it saw: a
 * request stamped before `coversSince` (e.g. before this process started) may have been
 * accepted by a process whose memory is gone, so it is refused (see
 * docs/decisions/federation-nonce-cache.md for why one API replica with one cache suffices).
 */
export interface NonceCache {
  /** Epoch ms from which every accepted nonce went through this cache. */
  readonly coversSince: number;
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
  | { ok: true; keyId: string; project?: string }
  | { ok: false; reason: RequestRefusal; message: string };

const NONCE_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;
const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** A Project is cluster-scoped: its name is a DNS subdomain. */
const PROJECT_PATTERN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

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
  /** "" when the request makes no project claim. */
  project: string;
}

function signingString(f: SignedFields): string {
  return [SIGNATURE_SCHEME, f.method.toUpperCase(), f.target, f.contentSha256, f.timestamp, f.nonce, f.keyId, f.audience, f.project, ""].join("\n");
}

/** The headers to add to the request (all of them are needed by the receiver). */
export function signRequest(req: RequestToSign, privateKeyPem: string): Record<string, string> {
  if (!req.target.startsWith("/")) throw new Error(`request target must start with '/': ${req.target}`);
  if (!NONCE_PATTERN.test(req.nonce)) throw new Error("nonce must be 22-128 base64url characters (≥ 16 random bytes)");
  if (req.project !== undefined && !PROJECT_PATTERN.test(req.project)) throw new Error(`project must be a Project name: ${req.project}`);
  const fields: SignedFields = {
    method: req.method,
    target: req.target,
    contentSha256: req.unsignedPayload === true ? UNSIGNED_PAYLOAD : bodySha256(req.body),
    timestamp: String(Math.trunc(req.now)),
    nonce: req.nonce,
    keyId: req.keyId,
    audience: req.audience,
    project: req.project ?? "",
  };
  return {
    ...(req.project !== undefined ? { [ProjectClaimHeader]: req.project } : {}),
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

type HeaderValues = Record<keyof typeof SignatureHeader, string> & { Project: string };
type HeaderRead = { ok: true; values: HeaderValues } | { ok: false; failure: RequestVerification };

function readHeaders(headers: ReceivedRequest["headers"]): HeaderRead {
  const values: Partial<Record<keyof typeof SignatureHeader, string>> = {};
  for (const [field, name] of Object.entries(SignatureHeader) as Array<[keyof typeof SignatureHeader, string]>) {
    const value = headers[name];
    if (value === undefined) return { ok: false, failure: refuse(RequestRefusal.MissingHeader, `header ${name} is missing`) };
    if (Array.isArray(value)) return { ok: false, failure: refuse(RequestRefusal.MalformedHeader, `header ${name} appears more than once`) };
    values[field] = value;
  }
  const project = headers[ProjectClaimHeader] ?? "";
  if (Array.isArray(project)) return { ok: false, failure: refuse(RequestRefusal.MalformedHeader, `header ${ProjectClaimHeader} appears more than once`) };
  return { ok: true, values: { ...(values as Record<keyof typeof SignatureHeader, string>), Project: project } };
}

function checkShape(v: HeaderValues): RequestVerification | undefined {
  if (!NAME_PATTERN.test(v.KeyId)) return refuse(RequestRefusal.MalformedHeader, `header ${SignatureHeader.KeyId} is not a cluster name`);
  if (!/^\d{1,16}$/.test(v.Timestamp)) return refuse(RequestRefusal.MalformedHeader, `header ${SignatureHeader.Timestamp} must be epoch milliseconds`);
  if (!NONCE_PATTERN.test(v.Nonce)) return refuse(RequestRefusal.MalformedHeader, `header ${SignatureHeader.Nonce} must be 22-128 base64url characters`);
  if (v.Project !== "" && !PROJECT_PATTERN.test(v.Project)) return refuse(RequestRefusal.MalformedHeader, `header ${ProjectClaimHeader} is not a Project name`);
  return undefined;
}

/** The body has the digest the header claims, or the route takes an unsigned body and the header says so. */
function digestMatches(req: ReceivedRequest, claimed: string): boolean {
  if (req.unsignedPayload === true && claimed === UNSIGNED_PAYLOAD) return true;
  return bodySha256(req.body) === claimed;
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
  if (!digestMatches(req, v.ContentSha256)) return refuse(RequestRefusal.DigestMismatch, "the body does not match its SHA-256 header");
  const fields: SignedFields = { method: req.method, target: req.target, contentSha256: v.ContentSha256, timestamp: v.Timestamp, nonce: v.Nonce, keyId: v.KeyId, audience: v.Audience, project: v.Project };
  if (!verifyBytes(publicKey, Buffer.from(signingString(fields)), v.Signature)) {
    return refuse(RequestRefusal.BadSignature, `signature does not verify with the key of peer ${v.KeyId} (method, target, body digest, timestamp, nonce, key id, audience and project claim are signed)`);
  }
  const fresh = checkFreshness(v, ctx);
  if (fresh) return fresh;
  return { ok: true, keyId: v.KeyId, ...(v.Project !== "" ? { project: v.Project } : {}) };
}

/** Within the window, after the nonce cache's start, and never seen: remembered from now on. */
function checkFreshness(v: HeaderValues, ctx: VerifyContext): RequestVerification | undefined {
  const timestamp = Number(v.Timestamp);
  if (Math.abs(ctx.now - timestamp) > REPLAY_WINDOW_MS) {
    return refuse(RequestRefusal.Expired, `timestamp is ${Math.round((ctx.now - timestamp) / 1000)} s from this cluster's clock; the window is ±${REPLAY_WINDOW_MS / 1000} s`);
  }
  if (timestamp < ctx.nonces.coversSince) {
    return refuse(RequestRefusal.BeforeStart, "the request is stamped before this server started remembering nonces (it restarted); sign and send it again");
  }
  if (!ctx.nonces.addIfAbsent(`${v.KeyId}/${v.Nonce}`, timestamp + REPLAY_WINDOW_MS, ctx.now)) {
    return refuse(RequestRefusal.Replayed, `nonce already used by ${v.KeyId}`);
  }
  return undefined;
}

/**
 * A NonceCache in process memory for the one API replica, bounded: expired entries are swept on
 * insert, and beyond `maxEntries` live nonces new requests are refused (as replays) rather than
 * letting memory grow — a flood of validly signed requests is the only way to get there.
 * `startedAt` (the process's start, passed in: the module has no clock) becomes `coversSince`;
 * 0 (the default, for unit tests with a fixed clock) covers every timestamp.
 */
export class MemoryNonceCache implements NonceCache {
  readonly coversSince: number;
  private readonly entries = new Map<string, number>();
  private readonly maxEntries: number;

  constructor(opts: { maxEntries?: number; startedAt?: number } = {}) {
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.coversSince = opts.startedAt ?? 0;
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
