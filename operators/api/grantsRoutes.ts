// The Grants API (local part): request an AccessGrant, read its status, read its credentials —
// every call made with the caller's own token, so Kubernetes RBAC decides. The credentials come
// from the grant's Secret, which the AccessGrant controller lets only the grantee read: anyone
// else gets the API server's 403. The grantee defaults to the caller (a SelfSubjectReview made
// with the caller's token says who that is); naming anyone else needs accessgrants/on-behalf,
// checked by the API server's admission policy for this route and kubectl alike
// (docs/decisions/grant-grantee-authorization.md).
import { AuthenticationV1Api, CoreV1Api, CustomObjectsApi, type V1Secret } from "@kubernetes/client-node";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static, type TSchema } from "typebox";
import { credentialsSecretName } from "../catalog/accessGrantPlan.ts";
import { type AccessGrant, accessGrantKind } from "../schema/accessGrant.ts";
import { federationGrantsPath } from "../discovery/contracts.ts";
import type { Peer } from "../schema/peer.ts";
import { captureRawBody, type FederationAuthDeps, peerFinder, requirePeer } from "./federationAuth.ts";
import type { KubeConfig } from "@kubernetes/client-node";
import { bearerToken, callerKubeConfig, serverCluster } from "./caller.ts";
import { ApiError, notFound } from "./errors.ts";
import { ErrorResponse, kindSchemas, NamespaceName, ObjectName } from "./kind-schemas.ts";
import { checkPeerGrant, defaultPeerGrantMaxLifetimeMs, type NamespaceFacts } from "./peerGrantPolicy.ts";
import { toObjectView } from "./view.ts";

export interface GrantsDeps {
  kubeConfig: KubeConfig;
}

export const grantsBase = "/api/v1/namespaces/:namespace/grants";
const tags = ["Grants"];
const errors = (...codes: number[]): Record<number, TSchema> => Object.fromEntries(codes.map((c) => [c, ErrorResponse]));

export const GrantRequest = Type.Object(
  {
    name: ObjectName,
    resource: Type.String({ minLength: 1, maxLength: 253, description: "the Resource (in this namespace) to grant access to" }),
    mode: Type.Union([Type.Literal("read"), Type.Literal("write")], { description: "read (data) or write (storage)" }),
    expiresAt: Type.String({ format: "date-time", description: "RFC 3339; the credentials stop working then" }),
    grantee: Type.Optional(
      Type.Object(
        {
          kind: Type.Union([Type.Literal("User"), Type.Literal("Group"), Type.Literal("ServiceAccount")]),
          name: Type.String({ minLength: 1, maxLength: 253 }),
          namespace: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
        },
        { additionalProperties: false, description: "who receives the credentials (default: the caller)" },
      ),
    ),
    purpose: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export type GrantRequest = Static<typeof GrantRequest>;

const Params = Type.Object({ namespace: NamespaceName });
const NamedParams = Type.Object({ namespace: NamespaceName, name: ObjectName });
const Credentials = Type.Object(
  {
    grant: Type.String(),
    secret: Type.String({ description: "the Secret the credentials are kept in" }),
    data: Type.Record(Type.String(), Type.String(), { description: "e.g. host, port, database, username, password, view — or endpoint, bucket, prefix, accessKeyId, secretAccessKey" }),
  },
  { additionalProperties: false },
);

const onRequest = async (request: FastifyRequest): Promise<void> => {
  bearerToken(request.headers.authorization);
};

/** The caller's user name, as the API server authenticated the token. */
async function callerName(kc: KubeConfig): Promise<string> {
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
  const user = review.status?.userInfo?.username;
  if (!user) throw new ApiError(422, "Unprocessable", "the API server did not say who the caller is; give body.grantee");
  return user;
}

/** A ServiceAccount's user name becomes a ServiceAccount grantee (RBAC subject of its own kind). */
export function granteeOfUser(user: string): { kind: "User" | "ServiceAccount"; name: string; namespace?: string } {
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
  if (sa?.[1] && sa[2]) return { kind: "ServiceAccount", namespace: sa[1], name: sa[2] };
  return { kind: "User", name: user };
}

/** The AccessGrant a request asks for. */
export function grantObject(body: GrantRequest, grantee: { kind: string; name: string; namespace?: string; project?: string }): Record<string, unknown> {
  if (Number.isNaN(Date.parse(body.expiresAt))) throw new ApiError(400, "BadRequest", "body.expiresAt must be an RFC 3339 date-time", { field: "body.expiresAt" });
  if (grantee.kind === "ServiceAccount" && !grantee.namespace) throw new ApiError(400, "BadRequest", "body.grantee.namespace is required for a ServiceAccount", { field: "body.grantee.namespace" });
  return {
    apiVersion: `${accessGrantKind.group}/${accessGrantKind.version}`,
    kind: accessGrantKind.kind,
    metadata: { name: body.name },
    spec: { resourceRef: { name: body.resource }, grantee, mode: body.mode, expiresAt: body.expiresAt, ...(body.purpose ? { purpose: body.purpose } : {}) },
  };
}

export function registerGrantsRoutes(app: FastifyInstance, deps: GrantsDeps): void {
  const cluster = serverCluster(deps.kubeConfig);
  const as = (request: FastifyRequest): KubeConfig => callerKubeConfig(cluster, bearerToken(request.headers.authorization));
  const schemas = kindSchemas(accessGrantKind);
  const at = { group: accessGrantKind.group, version: accessGrantKind.version, plural: accessGrantKind.plural };

  app.post(grantsBase, {
    onRequest,
    schema: {
      operationId: "requestGrant",
      summary: "Request an AccessGrant on a Resource of this namespace (as the caller; the grantee defaults to the caller)",
      tags,
      params: Params,
      body: GrantRequest,
      response: { 201: schemas.object, ...errors(400, 401, 403, 409, 422) },
    },
    handler: async (request, reply) => {
      const { namespace } = request.params as Static<typeof Params>;
      const body = request.body as GrantRequest;
      const kc = as(request);
      const grantee = body.grantee ?? granteeOfUser(await callerName(kc));
      const created = await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ ...at, namespace, body: grantObject(body, grantee) });
      return reply.code(201).send(toObjectView(accessGrantKind, created));
    },
  });

  app.get(`${grantsBase}/:name`, {
    onRequest,
    schema: { operationId: "readGrant", summary: "One AccessGrant and its status (never the credentials)", tags, params: NamedParams, response: { 200: schemas.object, ...errors(401, 403, 404) } },
    handler: async (request) => {
      const { namespace, name } = request.params as Static<typeof NamedParams>;
      return toObjectView(accessGrantKind, await as(request).makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...at, namespace, name }));
    },
  });

  app.get(`${grantsBase}/:name/credentials`, {
    onRequest,
    schema: {
      operationId: "readGrantCredentials",
      summary: "The grant's credentials; only the grantee may read them (403 otherwise, 404 before they are issued or after revocation)",
      tags,
      params: NamedParams,
      response: { 200: Credentials, ...errors(401, 403, 404) },
    },
    handler: async (request, reply) => {
      const { namespace, name } = request.params as Static<typeof NamedParams>;
      const secret = credentialsSecretName(name);
      const s = await as(request).makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name: secret });
      // A revoked grant's Secret is emptied (it goes with the grant).
      if (!s.data || Object.keys(s.data).length === 0) throw notFound(`grant ${name} has no credentials (not issued yet, or revoked)`);
      const data = Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
      // Credentials must not be kept by proxies or browsers.
      void reply.header("Cache-Control", "no-store");
      return { grant: name, secret, data };
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Federation (receiving side): a signed request from an Accepted peer creates an AccessGrant
// whose grantee is that Peer, only in a namespace the admin opened to peers and within a maximum
// lifetime (peerGrantPolicy.ts); the AccessGrant controller decides visibility and issues. Peers have
// no Kubernetes identity here, so the API acts with its own credentials, and answers a peer only
// about the grants whose grantee it is: the credentials leave only in the signed response to it.

export interface FederationGrantsDeps {
  /** The API's own kubeconfig (its ServiceAccount: create/get AccessGrants, get their Secrets, get Namespaces). */
  kubeConfig: KubeConfig;
  auth: FederationAuthDeps;
  peers(): readonly Peer[];
  /** The longest a peer's grant may last (default peerGrantPolicy.defaultPeerGrantMaxLifetimeMs, 168h). */
  maxLifetimeMs?: number;
  now?: () => number;
}

export const FederationGrantRequest = Type.Object(
  {
    namespace: NamespaceName,
    name: ObjectName,
    resource: Type.String({ minLength: 1, maxLength: 253 }),
    mode: Type.Union([Type.Literal("read"), Type.Literal("write")]),
    expiresAt: Type.String({ format: "date-time" }),
    purpose: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export type FederationGrantRequest = Static<typeof FederationGrantRequest>;

/** A peer's grant is named after the Peer, so two peers never collide on one name. */
export function peerGrantName(peerName: string, name: string): string {
  return `${peerName}-${name}`.slice(0, 253);
}

function peerObjectName(deps: FederationGrantsDeps, cluster: string): string {
  const found = peerFinder(deps.peers)(cluster);
  const name = found.kind === "found" ? found.peer.metadata?.name : undefined;
  if (!name) throw new ApiError(401, "PeerUnknown", `peer ${cluster} is not known here`);
  return name;
}

/** The namespace's labels and annotations, or undefined when it does not exist (read with the API's own rights). */
async function namespaceFacts(core: CoreV1Api, name: string): Promise<NamespaceFacts | undefined> {
  try {
    const ns = await core.readNamespace({ name });
    return { ...(ns.metadata?.labels ? { labels: ns.metadata.labels } : {}), ...(ns.metadata?.annotations ? { annotations: ns.metadata.annotations } : {}) };
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

async function requireOpenNamespace(core: CoreV1Api, body: FederationGrantRequest, opts: { now: number; maxLifetimeMs: number }): Promise<void> {
  const refusal = checkPeerGrant(body, await namespaceFacts(core, body.namespace), opts);
  if (refusal) throw new ApiError(refusal.status, refusal.code, refusal.message, { field: refusal.field });
}

/**
 * The decoded credentials in `secret` if the grant controls it and it holds any (a revoked
 * grant's Secret is empty; a Secret merely bearing the name is not the grant's).
 */
function grantCredentials(secret: V1Secret, grant: AccessGrant): Record<string, string> | undefined {
  const owned = secret.metadata?.ownerReferences?.some((r) => r.controller === true && r.uid === grant.metadata?.uid) ?? false;
  const data = Object.entries(secret.data ?? {});
  if (!owned || data.length === 0) return undefined;
  return Object.fromEntries(data.map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

export function registerFederationGrantsRoutes(app: FastifyInstance, deps: FederationGrantsDeps): void {
  const custom = deps.kubeConfig.makeApiClient(CustomObjectsApi);
  const core = deps.kubeConfig.makeApiClient(CoreV1Api);
  const at = { group: accessGrantKind.group, version: accessGrantKind.version, plural: accessGrantKind.plural };
  void app.register(async (scope) => {
    captureRawBody(scope);
    scope.post(federationGrantsPath, {
      schema: { summary: "Federation: request an AccessGrant for the signing peer", tags: ["federation"], body: FederationGrantRequest, response: { 201: Type.Unknown() } },
      handler: async (request, reply) => {
        const caller = requirePeer(request, deps.auth);
        const peerName = peerObjectName(deps, caller.cluster);
        const body = request.body as FederationGrantRequest;
        await requireOpenNamespace(core, body, { now: (deps.now ?? Date.now)(), maxLifetimeMs: deps.maxLifetimeMs ?? defaultPeerGrantMaxLifetimeMs });
        // The signed project claim: the AccessGrant controller grants a restricted Resource for it when the project lists the peer's cluster.
        const object = grantObject({ ...body, name: peerGrantName(peerName, body.name) }, { kind: "Peer", name: peerName, ...(caller.project ? { project: caller.project } : {}) });
        const created = await custom.createNamespacedCustomObject({ ...at, namespace: body.namespace, body: object });
        return reply.code(201).send(toObjectView(accessGrantKind, created));
      },
    });
    scope.get(`${federationGrantsPath}/:namespace/:name`, {
      schema: { summary: "Federation: the signing peer's grant, with its credentials once issued", tags: ["federation"], params: NamedParams },
      handler: async (request, reply) => {
        const caller = requirePeer(request, deps.auth);
        const peerName = peerObjectName(deps, caller.cluster);
        const { namespace, name } = request.params as Static<typeof NamedParams>;
        const grant = (await custom.getNamespacedCustomObject({ ...at, namespace, name }).catch(() => undefined)) as AccessGrant | undefined;
        // Another grantee's grant is answered as absent: a peer learns nothing about others' grants.
        if (!grant || grant.spec.grantee.kind !== "Peer" || grant.spec.grantee.name !== peerName) throw notFound(`no grant ${namespace}/${name} for peer ${caller.cluster}`);
        const secret = await core.readNamespacedSecret({ namespace, name: credentialsSecretName(name) }).catch(() => undefined);
        const data = secret ? grantCredentials(secret, grant) : undefined;
        void reply.header("Cache-Control", "no-store");
        return { grant: toObjectView(accessGrantKind, grant), ...(data ? { credentials: data } : {}) };
      },
    });
  });
}
