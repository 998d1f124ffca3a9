// Where and for how long a peer may ask this cluster for an AccessGrant. A signed request from
// an Accepted peer is not enough: the local admin opens a namespace to peers with the label
// `archipel.io/peer-grants: "true"`, and a peer's grant expires within a maximum lifetime (the
// API's --peer-grant-max-lifetime, default 168h; a namespace may lower it with the annotation
// `archipel.io/peer-grant-max-lifetime`, a Go duration). An expiresAt beyond it is refused (400
// naming body.expiresAt), never clamped: the peer asked for a date and must not get another one
// silently. A namespace that is missing or not open gets the same 403, so a peer learns nothing
// about which namespaces exist. Pure: the namespace's labels and the clock are passed in.
import { durationMs } from "../discovery/discoveryTiming.ts";

export const peerGrantsLabel = "archipel.io/peer-grants";
export const peerGrantMaxLifetimeAnnotation = "archipel.io/peer-grant-max-lifetime";
export const defaultPeerGrantMaxLifetimeMs = 7 * 24 * 3_600_000;

export interface NamespaceFacts {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface PeerGrantAsk {
  namespace: string;
  expiresAt: string;
}

export type PeerGrantRefusal = { status: 400 | 403; code: string; field: string; message: string };

function lifetimeOf(ns: NamespaceFacts, clusterMaxMs: number): number {
  const annotated = durationMs(ns.annotations?.[peerGrantMaxLifetimeAnnotation]);
  return annotated !== undefined && annotated > 0 ? Math.min(annotated, clusterMaxMs) : clusterMaxMs;
}

function hours(ms: number): string {
  return `${Math.round((ms / 3_600_000) * 100) / 100}h`;
}

/** Undefined when the request may go on; otherwise the refusal to answer. `ns` undefined: the namespace does not exist. */
export function checkPeerGrant(ask: PeerGrantAsk, ns: NamespaceFacts | undefined, opts: { now: number; maxLifetimeMs: number }): PeerGrantRefusal | undefined {
  if (ns?.labels?.[peerGrantsLabel] !== "true") {
    return { status: 403, code: "NamespaceNotOpenToPeers", field: "body.namespace", message: `namespace ${ask.namespace} is not open to peer grants (an admin labels it ${peerGrantsLabel}="true")` };
  }
  const at = Date.parse(ask.expiresAt);
  if (Number.isNaN(at)) return { status: 400, code: "BadRequest", field: "body.expiresAt", message: "body.expiresAt must be an RFC 3339 date-time" };
  if (at <= opts.now) return { status: 400, code: "BadRequest", field: "body.expiresAt", message: `body.expiresAt ${ask.expiresAt} is not in the future` };
  const maxMs = lifetimeOf(ns, opts.maxLifetimeMs);
  if (at - opts.now > maxMs) {
    return { status: 400, code: "LifetimeTooLong", field: "body.expiresAt", message: `body.expiresAt may be at most ${hours(maxMs)} from now in namespace ${ask.namespace} (until ${new Date(opts.now + maxMs).toISOString()})` };
  }
  return undefined;
}
