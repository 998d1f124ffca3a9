// The Grants API, requesting side: a user of this cluster asks a peer for an AccessGrant on one
// of the peer's Resources. On the peer the grantee is this cluster (its Peer object there), so
// the request goes out signed with this cluster's identity. Who here may ask is decided by
// Kubernetes RBAC on the virtual subresource `peers/grants` of the Peer object, checked with a
// SelfSubjectAccessReview made with the caller's token: `create` to request, `get` to read a
// grant and its credentials. A request may act for a Project (`?project=`): the peer then grants
// a restricted Resource of that project, when the project there lists this cluster; the claim is
// signed, and made only for a caller who is a member of that Project here (as a federated
// search's). Nothing is stored here — the peer's AccessGrant is the source of
// truth — and the credentials pass through once, marked no-store.
import { AuthorizationV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static, type TSchema } from "typebox";
import { peerForClusterName } from "../discovery/clusterNames.ts";
import { Value } from "typebox/value";
import { federationGrantsPath } from "../discovery/contracts.ts";
import { FederationRequestError, type SigningIdentity, signedFetch } from "../federation/client.ts";
import type { EgressPolicy } from "../runtime/egress.ts";
import { accessGrantKind } from "../schema/accessGrant.ts";
import type { Peer } from "../schema/peer.ts";
import type { Project } from "../schema/project.ts";
import { type LocalUser, requireProjectMember, selfSubjectReview } from "./catalogRoutes.ts";
import { bearerToken, callerKubeConfig, serverCluster } from "./caller.ts";
import { ApiError } from "./errors.ts";
import { descriptorTrusted } from "./federationAuth.ts";
import { FederationGrantRequest } from "./grantsRoutes.ts";
import { ErrorResponse, kindSchemas, NamespaceName, ObjectName } from "./kind-schemas.ts";

export const peerGrantsBase = "/api/v1/peers/:cluster/grants";
export const defaultPeerDeadlineMs = 10_000;

export interface PeerGrantsDeps {
  /** The API's own kubeconfig: only its server address is used, every check runs as the caller. */
  kubeConfig: KubeConfig;
  peers(): readonly Peer[];
  signingIdentity(): Promise<SigningIdentity>;
  deadlineMs?: number;
  /** Where the relay may connect (peer endpoints from descriptors: the API's --egress-* flags). */
  egress: EgressPolicy;
  /** This cluster's Projects: who may make a project claim. */
  projects(): readonly Project[];
  /** Who a token belongs to (default: a SelfSubjectReview made with it). */
  whoAmI?: (token: string) => Promise<LocalUser>;
}

// A peer's grant answer is one object: 1 MiB is generous (the client's own cap is larger).
const maxGrantAnswerBytes = 1 << 20;

export interface PeerTarget {
  /** The Peer object's name here: what RBAC rules name. */
  peerName: string;
  cluster: string;
  endpoint: string;
}

function peerNamed(peers: readonly Peer[], cluster: string): Peer | undefined {
  const found = peerForClusterName(peers, cluster);
  if (found.kind === "ambiguous") throw new ApiError(409, "AmbiguousClusterName", found.message, { field: "cluster", details: { in: "path" } });
  return found.kind === "found" ? found.peer : undefined;
}

/** The Peer a user means by a cluster name (the catalog's `origin`), if this cluster may talk to it. */
export function grantTarget(peers: readonly Peer[], cluster: string): PeerTarget {
  const peer = peerNamed(peers, cluster);
  const descriptor = peer?.status?.descriptor;
  if (!peer || !descriptor) throw new ApiError(404, "NotFound", `no Peer here has cluster name "${cluster}" (see GET /api/v1/discovery/peers)`, { field: "cluster", details: { in: "path" } });
  const peerName = peer.metadata.name ?? "";
  if (peer.spec.approval !== "Accepted") {
    throw new ApiError(409, "PeerNotAccepted", `Peer ${peerName} (${cluster}) is ${peer.spec.approval ?? "Pending"}; an admin must accept it before grants can be requested`);
  }
  if (!descriptorTrusted(peer)) throw new ApiError(409, "PeerNotVerified", `Peer ${peerName} (${cluster}) has no verified descriptor now (see its DescriptorVerified condition)`);
  return { peerName, cluster, endpoint: descriptor.apiEndpoint };
}

/** Statuses whose meaning is the user's to act on (bad field, no such resource, name taken). */
const relayedStatuses = new Set([400, 404, 409, 422]);

interface PeerErrorBody {
  code?: string;
  message?: string;
  field?: string;
}

function peerError(body: unknown): PeerErrorBody {
  return (body as { error?: PeerErrorBody } | undefined)?.error ?? {};
}

/**
 * The peer's answer → what the user gets: a 2xx body as is; the peer's verdict on the request
 * itself passed on (prefixed with the peer's name); its refusal of this cluster's signature a
 * 502, since the user cannot fix that.
 */
export function peerAnswer(cluster: string, status: number, body: unknown): unknown {
  if (status >= 200 && status < 300) return body;
  const error = peerError(body);
  const message = `peer ${cluster}: ${error.message ?? `answered ${status}`}`;
  if (relayedStatuses.has(status)) throw new ApiError(status, error.code ?? "PeerRefused", message, error.field ? { field: error.field } : {});
  if (status === 401 || status === 403) throw new ApiError(502, "PeerRefusedCluster", `${message} (is this cluster Accepted there?)`);
  throw new ApiError(502, "PeerError", message);
}

/** A 2xx answer relayed only when it has the shape this API documents for it (else a 502, nothing relayed). */
export function checkedPeerBody(cluster: string, schema: TSchema, body: unknown): unknown {
  if (Value.Check(schema, body)) return body;
  const e = Value.Errors(schema, body)[0];
  throw new ApiError(502, "PeerBadResponse", `peer ${cluster} answered with a body that is not the documented object (${e ? `${e.instancePath || "/"}: ${e.message}` : "invalid"})`);
}

export function peerFailure(err: unknown, cluster: string): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof FederationRequestError && err.code === "Timeout") return new ApiError(504, "PeerTimeout", err.message);
  if (err instanceof FederationRequestError) return new ApiError(502, `Peer${err.code}`, err.message);
  return new ApiError(502, "PeerUnreachable", `peer ${cluster} cannot be reached`);
}

type Verb = "create" | "get";

async function authorize(kc: KubeConfig, verb: Verb, target: PeerTarget): Promise<void> {
  const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
    body: {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes: { group: accessGrantKind.group, resource: "peers", subresource: "grants", verb, name: target.peerName } },
    },
  });
  if (review.status?.allowed === true) return;
  throw new ApiError(403, "Forbidden", `you may not ${verb} grants on peer ${target.cluster}: RBAC must allow verb "${verb}" on resource "peers/grants" (apiGroup archipel.io) for Peer ${target.peerName}`);
}

const tags = ["Grants"];
const errors = (...codes: number[]): Record<number, TSchema> => Object.fromEntries(codes.map((c) => [c, ErrorResponse]));
const Params = Type.Object({ cluster: ObjectName });
const ClaimQuery = Type.Object({
  project: Type.Optional(Type.String({ minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", description: "the Project the grant is for: the peer grants a restricted Resource of that project when its Project there lists this cluster; you must be a member of it here" })),
});
const GrantParams = Type.Object({ cluster: ObjectName, namespace: NamespaceName, name: ObjectName });
// Who is asking comes first: an anonymous request learns nothing about peers or fields.
const onRequest = async (request: FastifyRequest): Promise<void> => {
  bearerToken(request.headers.authorization);
};

export function registerPeerGrantsRoutes(app: FastifyInstance, deps: PeerGrantsDeps): void {
  const cluster = serverCluster(deps.kubeConfig);
  const schemas = kindSchemas(accessGrantKind);
  const deadlineMs = deps.deadlineMs ?? defaultPeerDeadlineMs;
  const GrantWithCredentials = Type.Object({ grant: schemas.object, credentials: Type.Optional(Type.Record(Type.String(), Type.String())) });

  const whoAmI = deps.whoAmI ?? ((token: string) => selfSubjectReview(deps.kubeConfig, token));

  /** A project claim only for a member of that Project here. */
  const requireClaim = async (token: string, project: string | undefined): Promise<void> => {
    if (project === undefined) return;
    const who = await whoAmI(token);
    requireProjectMember(deps.projects(), { kind: "local", user: who.user, groups: who.groups }, project, "request a grant");
  };

  /** Checks the caller, then sends the signed request and relays the answer. */
  const forward = async (request: FastifyRequest, call: { verb: Verb; method: "GET" | "POST"; target: string; body?: unknown; answer: TSchema; project?: string }): Promise<unknown> => {
    const token = bearerToken(request.headers.authorization);
    const kc = callerKubeConfig(cluster, token);
    const peer = grantTarget(deps.peers(), (request.params as { cluster: string }).cluster);
    await authorize(kc, call.verb, peer);
    await requireClaim(token, call.project);
    const identity = await deps.signingIdentity().catch((err: unknown) => {
      throw new ApiError(503, "NoSigningIdentity", `this cluster cannot sign federation requests yet: ${err instanceof Error ? err.message : String(err)}`);
    });
    try {
      const { method, target, body, project } = call;
      const res = await signedFetch(identity, {
        endpoint: peer.endpoint,
        audience: peer.cluster,
        method,
        target,
        ...(body === undefined ? {} : { body }),
        ...(project === undefined ? {} : { project }),
        deadlineMs,
        egress: deps.egress,
        maxAnswerBytes: maxGrantAnswerBytes,
      });
      return checkedPeerBody(peer.cluster, call.answer, peerAnswer(peer.cluster, res.status, res.body));
    } catch (err) {
      throw peerFailure(err, peer.cluster);
    }
  };

  app.post(peerGrantsBase, {
    onRequest,
    schema: {
      operationId: "requestPeerGrant",
      summary: "Ask a peer for an AccessGrant on one of its Resources, for this cluster, optionally acting for a Project (RBAC: create peers/grants)",
      tags,
      params: Params,
      querystring: ClaimQuery,
      body: FederationGrantRequest,
      response: { 201: schemas.object, ...errors(400, 401, 403, 404, 409, 422, 502, 503, 504) },
    },
    handler: async (request, reply) => {
      const { project } = request.query as Static<typeof ClaimQuery>;
      const created = await forward(request, { verb: "create", method: "POST", target: federationGrantsPath, body: request.body, answer: schemas.object, ...(project ? { project } : {}) });
      return reply.code(201).send(created);
    },
  });

  app.get(`${peerGrantsBase}/:namespace/:name`, {
    onRequest,
    schema: {
      operationId: "readPeerGrant",
      summary: "A grant this cluster holds on a peer, with its credentials once issued (RBAC: get peers/grants)",
      tags,
      params: GrantParams,
      response: { 200: GrantWithCredentials, ...errors(401, 403, 404, 409, 502, 503, 504) },
    },
    handler: async (request, reply) => {
      const { namespace, name } = request.params as Static<typeof GrantParams>;
      const grant = await forward(request, { verb: "get", method: "GET", target: `${federationGrantsPath}/${namespace}/${name}`, answer: GrantWithCredentials });
      // Credentials must not be kept by proxies or browsers.
      void reply.header("Cache-Control", "no-store");
      return grant;
    },
  });
}
