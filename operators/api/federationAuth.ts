// Authenticating a federation request: the signature is checked against the key a peer
// published (Peer.status.descriptor.publicKey, found by the sender's cluster name), addressed
// to this cluster (Identity.spec.clusterName), fresh and never seen before (shared nonce cache).
// The outcome is a visibility Caller of kind peer, so decideVisibility stays the one decision;
// the HTTP edge turns any refusal into a 401 naming the reason.
// The core (`authenticatePeer`) is pure: peers, audience, clock and nonce cache are passed in.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Caller, PeerApproval, SignatureCheck } from "../catalog/visibility.ts";
import { type ClusterNameLookup, peerForClusterName } from "../discovery/clusterNames.ts";
import { descriptorTrusted } from "../discovery/peerStatus.ts";
import { ProjectClaimHeader, RequestRefusal, verifyRequest, type NonceCache, type ReceivedRequest } from "../federation/requestSigning.ts";
import type { Peer } from "../schema/peer.ts";
import { ApiError } from "./errors.ts";

export { descriptorTrusted };

export type PeerCaller = Extract<Caller, { kind: "peer" }>;

/** Header a peer sets when its request is made for one project (restricted visibility); signed. */
export const projectHeader = ProjectClaimHeader;

export interface PeerAuthContext {
  /** This cluster's name (Identity.spec.clusterName); undefined refuses every request. */
  audience: string | undefined;
  /** The Peer whose descriptor carries this cluster name (see discovery/clusterNames.ts). */
  peerByCluster(clusterName: string): ClusterNameLookup;
  nonces: NonceCache;
  now: number;
}

export type PeerAuthentication =
  | { ok: true; caller: PeerCaller }
  | { ok: false; reason: string; message: string; caller: PeerCaller };

function approvalOf(peer: Peer | undefined): PeerApproval {
  const approval = peer?.spec.approval;
  return approval === "Accepted" || approval === "Pending" || approval === "Rejected" ? approval : "Unknown";
}

function signatureCheckOf(reason: RequestRefusal): SignatureCheck {
  if (reason === RequestRefusal.MissingHeader) return "Missing";
  if (reason === RequestRefusal.Replayed || reason === RequestRefusal.Expired) return "Replayed";
  return "Invalid";
}

function headerValue(headers: ReceivedRequest["headers"], name: string): string | undefined {
  const value = headers[name];
  return typeof value === "string" ? value : undefined;
}

const approvalMessages: Record<Exclude<PeerApproval, "Accepted">, string> = {
  Pending: "is not approved yet (Peer spec.approval is Pending)",
  Rejected: "was rejected (Peer spec.approval is Rejected)",
  Unknown: "is not a known peer",
};

/**
 * Verifies `req` and says who sent it. A Pending or Rejected peer's signature is still checked
 * (so the refusal names the real reason) but the request is refused; an unknown sender is
 * refused as UnknownKey before any crypto.
 */
export function authenticatePeer(req: ReceivedRequest, ctx: PeerAuthContext): PeerAuthentication {
  const claimed = headerValue(req.headers, "x-archipel-key-id") ?? "";
  const lookup: ClusterNameLookup = claimed === "" ? { kind: "none" } : ctx.peerByCluster(claimed);
  const peer = lookup.kind === "found" ? lookup.peer : undefined;
  // The project claim is taken from the verified signature only (it is part of the signed string).
  const base = { kind: "peer" as const, cluster: claimed, approval: approvalOf(peer) };
  if (ctx.audience === undefined) {
    return { ok: false, reason: "NoIdentity", message: "this cluster has no Identity yet; it cannot accept federation requests", caller: { ...base, signature: "Invalid" } };
  }
  if (lookup.kind === "ambiguous") return { ok: false, reason: "AmbiguousClusterName", message: lookup.message, caller: { ...base, signature: "Invalid" } };
  const verification = verifyRequest(req, {
    audience: ctx.audience,
    now: ctx.now,
    lookupKey: (keyId) => (keyId === claimed ? peer?.status?.descriptor?.publicKey : undefined),
    nonces: ctx.nonces,
  });
  if (!verification.ok) {
    return { ok: false, reason: verification.reason, message: verification.message, caller: { ...base, signature: signatureCheckOf(verification.reason) } };
  }
  const caller: PeerCaller = { ...base, ...(verification.project ? { project: verification.project } : {}), signature: "Verified" };
  if (caller.approval !== "Accepted") {
    return { ok: false, reason: `Peer${caller.approval}`, message: `peer ${claimed} ${approvalMessages[caller.approval]}`, caller };
  }
  if (!descriptorTrusted(peer)) {
    return { ok: false, reason: "PeerNotVerified", message: `peer ${claimed}'s descriptor is not verified now (its Peer's DescriptorVerified condition is not True)`, caller };
  }
  return { ok: true, caller };
}

/** A Peer lookup by descriptor cluster name over any list of Peers (e.g. an informer cache); refuses ambiguity. */
export function peerFinder(peers: () => readonly Peer[]): (clusterName: string) => ClusterNameLookup {
  return (clusterName) => peerForClusterName(peers(), clusterName);
}

// ---------------------------------------------------------------------------------------------
// HTTP edge

declare module "fastify" {
  interface FastifyRequest {
    /** The body exactly as received, for the signature's digest (set by captureRawBody). */
    rawBody?: string;
  }
}

/**
 * Keeps JSON bodies as received (the digest is over those bytes) and parses them after.
 * Call it inside the encapsulated plugin that registers federation routes only.
 */
export function captureRawBody(scope: FastifyInstance): void {
  scope.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    request.rawBody = text;
    if (text === "") {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new ApiError(400, "BadRequest", "the request body is not valid JSON"), undefined);
    }
  });
}

export interface FederationAuthDeps {
  audience(): string | undefined;
  peerByCluster(clusterName: string): ClusterNameLookup;
  nonces: NonceCache;
  now?: () => number;
}

/** The peer caller of a federation request, or throws 401 naming the refusal reason. */
export function requirePeer(request: FastifyRequest, deps: FederationAuthDeps, options: { unsignedPayload?: boolean } = {}): PeerCaller {
  const result = authenticatePeer(
    { method: request.method, target: request.url, body: request.rawBody ?? "", headers: request.headers, ...(options.unsignedPayload === true ? { unsignedPayload: true } : {}) },
    { audience: deps.audience(), peerByCluster: (n) => deps.peerByCluster(n), nonces: deps.nonces, now: (deps.now ?? Date.now)() },
  );
  if (!result.ok) throw new ApiError(401, result.reason, `federation request refused (${result.reason}): ${result.message}`);
  return result.caller;
}
