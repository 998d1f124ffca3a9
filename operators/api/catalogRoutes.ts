// The Catalog API. Local search is served from warm informer caches, in key order (indexes by
// type, tag and provider narrow the candidates; no LIST, no sort and no copy per request); the caller's user and groups come from
// a SelfSubjectReview made with the caller's token, and the namespaces whose private Resources
// it may see from SelfSubjectAccessReviews (verb list on resources.archipel.io), all cached
// briefly by the token's digest. Federated search needs a permission of its own (verb get on
// the virtual resource catalog/federated), since it makes this cluster sign requests to every
// peer; it fans out, signed and in parallel, to Accepted peers with a deadline, and returns
// partial results with a per-peer error list. The federation endpoint answers signed requests
// from Accepted peers with only what decideVisibility allows them.
import { createHash } from "node:crypto";
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static } from "typebox";
import { Value } from "typebox/value";
import { candidatesFor, type CatalogItem, type CatalogQuery, CatalogQueryError, catalogIndexes, mergeFederated, type PeerOutcome, projectMemberships, searchOrdered } from "../catalog/search.ts";
import { type Caller, decideVisibility, type ListableNamespaces } from "../catalog/visibility.ts";
import { peerForClusterName } from "../discovery/clusterNames.ts";
import { federationCatalogPath } from "../discovery/contracts.ts";
import { cachedSigningIdentity, FederationRequestError, loadSigningIdentity, type SigningIdentity, signedFetch } from "../federation/client.ts";
import { MemoryNonceCache, type NonceCache } from "../federation/requestSigning.ts";
import type { Cache } from "../runtime/cache.ts";
import type { EgressPolicy } from "../runtime/egress.ts";
import { Manager } from "../runtime/manager.ts";
import { type Identity, identityKind } from "../schema/identity.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type Peer, peerKind } from "../schema/peer.ts";
import { type Project, projectKind } from "../schema/project.ts";
import { type Resource, resourceKind } from "../schema/resource.ts";
import { bearerToken, callerKubeConfig, serverCluster } from "./caller.ts";
import { ApiError } from "./errors.ts";
import { ErrorResponse } from "./kind-schemas.ts";
import type { RouteSchema } from "./openapi.ts";
import { captureRawBody, descriptorTrusted, peerFinder, requirePeer } from "./federationAuth.ts";
import { mapLimit } from "../runtime/mapLimit.ts";

export const catalogPath = "/api/v1/catalog";
export const federatedCatalogPath = "/api/v1/catalog/federated";
export const defaultDeadlineMs = 2_000;
/** The virtual resource (group archipel.io) whose verb `get` allows a federated search. */
export const federatedSearchPermission = { group: "archipel.io", resource: "catalog", subresource: "federated", verb: "get" } as const;
/** Access reviews of one request made at once (a caller with private Resources in many namespaces). */
const REVIEW_CONCURRENCY = 8;

export interface CatalogCaches {
  resources: Cache<Resource>;
  projects: Cache<Project>;
  peers: Cache<Peer>;
  identities: Cache<Identity>;
}

/** The caches the catalog reads, with its indexes; call before manager.start(). */
export function catalogCaches(manager: Manager): CatalogCaches {
  const resources = manager.cache<Resource>(kindRefOf(resourceKind));
  for (const [name, fn] of Object.entries(catalogIndexes)) resources.addIndex(name, fn);
  return {
    resources,
    projects: manager.cache<Project>(kindRefOf(projectKind)),
    peers: manager.cache<Peer>(kindRefOf(peerKind)),
    identities: manager.cache<Identity>(kindRefOf(identityKind)),
  };
}

/** What a SelfSubjectAccessReview asks about (resourceAttributes). */
export interface AccessAttributes {
  group: string;
  resource: string;
  subresource?: string;
  verb: string;
  /** Absent: cluster-wide (every namespace). */
  namespace?: string;
}

export interface LocalUser {
  user: string;
  groups: string[];
}

export interface CatalogDeps {
  kubeConfig: KubeConfig;
  caches: CatalogCaches;
  nonces: NonceCache;
  signingIdentity: () => Promise<SigningIdentity>;
  /** Where the fan-out may connect (peer endpoints from descriptors: the API's --egress-* flags). */
  egress: EgressPolicy;
  /** Who a token belongs to (default: a SelfSubjectReview with that token). */
  whoAmI?: (token: string) => Promise<LocalUser>;
  /** Whether RBAC allows the token's holder an action (default: a SelfSubjectAccessReview with that token). */
  accessReview?: (token: string, attributes: AccessAttributes) => Promise<boolean>;
  /** How long a token's identity and access reviews are reused (default 10 s). */
  identityTtlMs?: number;
  now?: () => number;
}

const CatalogQueryString = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 256, description: "case-insensitive text in title, description or tags" })),
    type: Type.Optional(Type.Union([Type.Literal("data"), Type.Literal("storage"), Type.Literal("compute"), Type.Literal("service")])),
    tag: Type.Optional(Type.String({ maxLength: 1024, description: "comma-separated tags, all required" })),
    provider: Type.Optional(Type.String({ maxLength: 253 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    continue: Type.Optional(Type.String({ maxLength: 2048, description: "the token of the previous page" })),
  },
  { additionalProperties: false },
);
type CatalogQueryString = Static<typeof CatalogQueryString>;

const FederatedQueryString = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 256 })),
    type: Type.Optional(Type.Union([Type.Literal("data"), Type.Literal("storage"), Type.Literal("compute"), Type.Literal("service")])),
    tag: Type.Optional(Type.String({ maxLength: 1024 })),
    provider: Type.Optional(Type.String({ maxLength: 253 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50, description: "per cluster" })),
    deadlineMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 30_000, default: defaultDeadlineMs, description: "how long to wait for peers" })),
    project: Type.Optional(Type.String({ maxLength: 63, description: "the project peers should consider this search made for" })),
  },
  { additionalProperties: false },
);
type FederatedQueryString = Static<typeof FederatedQueryString>;

export const FederationCatalogBody = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 256 })),
    type: Type.Optional(Type.String({ maxLength: 32 })),
    tags: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { maxItems: 32 })),
    provider: Type.Optional(Type.String({ maxLength: 253 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  },
  { additionalProperties: false },
);
type FederationCatalogBody = Static<typeof FederationCatalogBody>;

const CatalogItemSchema = Type.Object({
  origin: Type.Optional(Type.String()),
  namespace: Type.String(),
  name: Type.String(),
  type: Type.String(),
  title: Type.String(),
  description: Type.Optional(Type.String()),
  tags: Type.Array(Type.String()),
  provider: Type.String(),
  visibility: Type.String(),
  projects: Type.Optional(Type.Array(Type.String())),
  ready: Type.Boolean(),
});
const CatalogPageSchema = Type.Object({ items: Type.Array(CatalogItemSchema), continue: Type.Optional(Type.String()) });

// What a peer's answer must be before anything of it is merged: the item schema with the bounds
// of a Resource's spec (a peer is another cluster's API, not trusted to be well-formed).
const bounded = (maxLength: number): ReturnType<typeof Type.String> => Type.String({ maxLength });
const PeerCatalogItemSchema = Type.Object({
  namespace: bounded(63),
  name: bounded(253),
  type: Type.Union([Type.Literal("data"), Type.Literal("storage"), Type.Literal("compute"), Type.Literal("service")]),
  title: bounded(256),
  description: Type.Optional(bounded(8192)),
  tags: Type.Array(bounded(63), { maxItems: 32 }),
  provider: bounded(253),
  visibility: Type.Union([Type.Literal("public"), Type.Literal("restricted")]),
  projects: Type.Optional(Type.Array(bounded(63), { maxItems: 64 })),
  ready: Type.Boolean(),
});
const PeerCatalogPageSchema = Type.Object({ items: Type.Array(PeerCatalogItemSchema, { maxItems: maxPeerItems() }) });
const PeerErrorSchema = Type.Object({ error: Type.Object({ code: Type.Optional(bounded(64)), message: Type.Optional(bounded(1024)) }) });

function maxPeerItems(): number {
  return 500; // FederatedQueryString's limit maximum: a peer never has a reason to send more
}

/** Only the fields of the item schema (a newer peer's extra fields are not passed on). */
function peerItem(item: Static<typeof PeerCatalogItemSchema>): CatalogItem {
  const { namespace, name, type, title, description, tags, provider, visibility, projects, ready } = item;
  return { namespace, name, type, title, ...(description === undefined ? {} : { description }), tags, provider, visibility, ...(projects ? { projects } : {}), ready };
}
const FederatedSchema = Type.Object({
  items: Type.Array(CatalogItemSchema),
  errors: Type.Array(Type.Object({ cluster: Type.String(), code: Type.String(), message: Type.String() })),
});

function splitTags(tag: string | undefined): string[] | undefined {
  const tags = (tag ?? "").split(",").map((t) => t.trim()).filter((t) => t !== "");
  return tags.length > 0 ? tags : undefined;
}

function toQuery(q: { q?: string; type?: string; tags?: string[]; provider?: string; limit?: number; continue?: string }): CatalogQuery {
  return {
    ...(q.q ? { text: q.q } : {}),
    ...(q.type ? { type: q.type } : {}),
    ...(q.tags ? { tags: q.tags } : {}),
    ...(q.provider ? { provider: q.provider } : {}),
    ...(q.limit !== undefined ? { limit: q.limit } : {}),
    ...(q.continue ? { continueToken: q.continue } : {}),
  };
}

function clusterName(caches: CatalogCaches): string | undefined {
  return caches.identities.list()[0]?.spec.clusterName;
}

function search(deps: CatalogDeps, query: CatalogQuery, caller: Caller): { items: CatalogItem[]; continue?: string } {
  try {
    const origin = clusterName(deps.caches);
    return searchOrdered(candidatesFor(deps.caches.resources, query), query, {
      caller,
      memberships: projectMemberships(deps.caches.projects.list()),
      ...(origin ? { origin } : {}),
    });
  } catch (err) {
    if (err instanceof CatalogQueryError) throw new ApiError(400, "BadRequest", err.message, { field: err.field, details: { in: "query" } });
    throw err;
  }
}

/** Who the token belongs to, as the API server says (a SelfSubjectReview made with it). */
export async function selfSubjectReview(kubeConfig: KubeConfig, token: string): Promise<LocalUser> {
  const kc = callerKubeConfig(serverCluster(kubeConfig), token);
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
  const info = review.status?.userInfo;
  if (!info?.username) throw new ApiError(401, "Unauthorized", "Kubernetes did not say who this token belongs to");
  return { user: info.username, groups: info.groups ?? [] };
}

/**
 * Answers keyed by a string, each remembered for `ttlMs`; failures are forgotten at once. A hit
 * past half its TTL starts one lookup in the background and is answered meanwhile, so a caller who
 * keeps using the API never waits on a review again; no answer older than `ttlMs` is ever given
 * (a revoked right or token is seen no later than without refreshing ahead).
 */
export function ttlCache<T>(ttlMs: number, now: () => number): (key: string, compute: () => Promise<T>) => Promise<T> {
  interface Entry {
    value: Promise<T>;
    at: number;
    refreshing: boolean;
  }
  const entries = new Map<string, Entry>();
  const forget = (key: string, entry: Entry): void => {
    if (entries.get(key) === entry) entries.delete(key);
  };
  const remember = (key: string, value: Promise<T>, at: number): Entry => {
    const entry = { value, at, refreshing: false };
    entries.set(key, entry);
    value.catch(() => forget(key, entry));
    return entry;
  };
  return (key, compute) => {
    const t = now();
    const hit = entries.get(key);
    if (hit && t - hit.at < ttlMs) {
      if (!hit.refreshing && t - hit.at >= ttlMs / 2) {
        hit.refreshing = true;
        const next = compute();
        // A failed refresh drops the entry: the next call looks up again and sees the failure.
        next.then(() => remember(key, next, t), () => forget(key, hit));
      }
      return hit.value;
    }
    if (entries.size > 10_000) for (const [k, e] of entries) if (t - e.at >= ttlMs) entries.delete(k);
    return remember(key, compute(), t).value;
  };
}

function tokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

/** Token → user, remembered by the token's SHA-256 (never the token itself) for `ttlMs`. */
export function identityCache(lookup: (token: string) => Promise<LocalUser>, ttlMs: number, now: () => number): (token: string) => Promise<LocalUser> {
  const cache = ttlCache<LocalUser>(ttlMs, now);
  return (token) => cache(tokenDigest(token), () => lookup(token));
}

/** (token, attributes) → allowed, remembered by the token's SHA-256 for `ttlMs`. */
export function accessReviewCache(review: (token: string, attributes: AccessAttributes) => Promise<boolean>, ttlMs: number, now: () => number): (token: string, attributes: AccessAttributes) => Promise<boolean> {
  const cache = ttlCache<boolean>(ttlMs, now);
  return (token, a) => cache(`${tokenDigest(token)} ${a.verb} ${a.group}/${a.resource}/${a.subresource ?? ""} ${a.namespace ?? "*"}`, () => review(token, a));
}

async function selfSubjectAccessReview(kubeConfig: KubeConfig, token: string, attributes: AccessAttributes): Promise<boolean> {
  const kc = callerKubeConfig(serverCluster(kubeConfig), token);
  const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes: attributes } },
  });
  return review.status?.allowed === true;
}

/**
 * Namespaces holding a private Resource: the only ones whose rights matter (kept by an index:
 * a superset of those among one query's candidates, asked once per token for the TTL).
 */
export function privateNamespaces(resources: Cache<Resource>): string[] {
  return resources.indexValues("privateNamespace");
}


const listResources = { group: resourceKind.group, resource: resourceKind.plural, verb: "list" } as const;

/** Where the caller may list Resources, as far as `namespaces` go: a cluster-wide right first, then one review per namespace. */
async function listableNamespaces(review: (attributes: AccessAttributes) => Promise<boolean>, namespaces: readonly string[]): Promise<ListableNamespaces> {
  if (namespaces.length === 0) return new Set();
  if (await review(listResources)) return "all";
  const allowed = await mapLimit(namespaces, REVIEW_CONCURRENCY, (namespace) => review({ ...listResources, namespace }));
  return new Set(namespaces.filter((_, i) => allowed[i]));
}

async function peerSearch(identity: SigningIdentity, peer: Peer, body: FederationCatalogBody, opts: { deadlineMs: number; egress: EgressPolicy; project?: string }): Promise<PeerOutcome> {
  const descriptor = peer.status?.descriptor;
  if (!descriptor) return { cluster: peer.metadata.name ?? "", error: { code: "NoDescriptor", message: `peer ${peer.metadata.name ?? ""} has no verified descriptor yet` } };
  const cluster = descriptor.clusterName;
  if (!descriptorTrusted(peer)) return { cluster, error: { code: "DescriptorNotVerified", message: `peer ${cluster}'s descriptor is not verified now (see its Peer's DescriptorVerified condition)` } };
  try {
    const res = await signedFetch(identity, {
      endpoint: descriptor.apiEndpoint,
      audience: descriptor.clusterName,
      method: "POST",
      target: federationCatalogPath,
      body,
      ...(opts.project ? { project: opts.project } : {}),
      deadlineMs: opts.deadlineMs,
      egress: opts.egress,
    });
    return peerAnswer(cluster, res.status, res.body);
  } catch (err) {
    const e = err instanceof FederationRequestError ? err : new FederationRequestError("Unreachable", `${cluster} failed`);
    return { cluster, error: { code: e.code, message: e.message } };
  }
}

/** A peer's answer as that peer's items, or as that peer's error when it is not a valid page. */
export function peerAnswer(cluster: string, status: number, body: unknown): PeerOutcome {
  if (status === 200) {
    if (Value.Check(PeerCatalogPageSchema, body)) return { cluster, items: body.items.map(peerItem) };
    return { cluster, error: { code: "BadResponse", message: `${cluster} answered 200 with a body that is not a catalog page (${firstError(PeerCatalogPageSchema, body)}); nothing of it was merged` } };
  }
  const error = Value.Check(PeerErrorSchema, body) ? body.error : {};
  return { cluster, error: { code: error.code ?? `Http${status}`, message: error.message ?? `peer answered ${status}` } };
}

function firstError(schema: typeof PeerCatalogPageSchema, body: unknown): string {
  const e = Value.Errors(schema, body)[0];
  return e ? `${e.instancePath || "/"}: ${e.message}` : "invalid";
}

/**
 * The Peers to fan out to: one per cluster name (a cluster may be a Peer in several Networks),
 * chosen as the federation endpoint chooses a sender (peerForClusterName); an ambiguous name
 * (two keys) is asked nothing and reported as an error.
 */
function fanOutTargets(caches: CatalogCaches): { peers: Peer[]; refused: PeerOutcome[] } {
  const all = caches.peers.list();
  const accepted = all.filter((p) => p.spec.approval === "Accepted");
  const unnamed = accepted.filter((p) => !p.status?.descriptor);
  const names = [...new Set(accepted.flatMap((p) => (p.status?.descriptor ? [p.status.descriptor.clusterName] : [])))];
  const peers: Peer[] = [...unnamed];
  const refused: PeerOutcome[] = [];
  for (const name of names) {
    const found = peerForClusterName(all, name);
    if (found.kind === "ambiguous") refused.push({ cluster: name, error: { code: "AmbiguousClusterName", message: found.message } });
    else if (found.kind === "found" && found.peer.spec.approval === "Accepted") peers.push(found.peer);
  }
  return { peers, refused };
}

/**
 * Peers trust this cluster's project claim, so it is made only for a caller who is a member of
 * that Project here (the same rule as a restricted Resource of that project). `doing`: what the
 * claim is for, in the refusal ("search", "request a grant").
 */
export function requireProjectMember(projects: readonly Project[], caller: Caller, project: string, doing: string): void {
  const decision = decideVisibility({ visibility: "restricted", projects: [project] }, caller, projectMemberships(projects));
  if (!decision.visible) {
    throw new ApiError(403, "NotProjectMember", `query.project: you may ${doing} for project "${project}" only as its member here (${decision.message})`, { field: "project", details: { in: "query" } });
  }
}

const security = [{ bearerAuth: [] }];
const localSchema: RouteSchema = {
  operationId: "searchCatalog",
  summary: "Search this cluster's catalog (what the caller may see)",
  tags: ["catalog"],
  security,
  querystring: CatalogQueryString,
  response: { 200: CatalogPageSchema, 400: ErrorResponse, 401: ErrorResponse },
};
const federatedSchema: RouteSchema = {
  operationId: "searchFederatedCatalog",
  summary: "Search this cluster's and every Accepted peer's catalog (RBAC: get catalog/federated): partial results with per-peer errors, within deadlineMs",
  tags: ["catalog"],
  security,
  querystring: FederatedQueryString,
  response: { 200: FederatedSchema, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse },
};
const federationSchema: RouteSchema = {
  operationId: "federationSearchCatalog",
  summary: "Federation: this catalog as a signed request from an Accepted peer may see it",
  tags: ["federation"],
  security: [],
  body: FederationCatalogBody,
  response: { 200: CatalogPageSchema },
};

function federationBody(qs: FederatedQueryString, tags: string[] | undefined): FederationCatalogBody {
  return { ...(qs.q ? { q: qs.q } : {}), ...(qs.type ? { type: qs.type } : {}), ...(tags ? { tags } : {}), ...(qs.provider ? { provider: qs.provider } : {}), ...(qs.limit ? { limit: qs.limit } : {}) };
}

export function registerCatalogRoutes(app: FastifyInstance, deps: CatalogDeps): void {
  const now = deps.now ?? Date.now;
  const ttlMs = deps.identityTtlMs ?? 10_000;
  const whoAmI = identityCache(deps.whoAmI ?? ((token) => selfSubjectReview(deps.kubeConfig, token)), ttlMs, now);
  const mayI = accessReviewCache(deps.accessReview ?? ((token, a) => selfSubjectAccessReview(deps.kubeConfig, token, a)), ttlMs, now);
  /** The caller, with the rights its search needs: where it may list the candidates' private Resources. */
  const localCaller = async (request: FastifyRequest): Promise<Caller> => {
    const token = bearerToken(request.headers.authorization);
    const who = await whoAmI(token);
    const listable = await listableNamespaces((a) => mayI(token, a), privateNamespaces(deps.caches.resources));
    return { kind: "local", user: who.user, groups: who.groups, listableNamespaces: listable };
  };
  const requireFederatedSearch = async (request: FastifyRequest): Promise<void> => {
    if (await mayI(bearerToken(request.headers.authorization), federatedSearchPermission)) return;
    const p = federatedSearchPermission;
    throw new ApiError(403, "Forbidden", `a federated search makes this cluster sign requests to every peer: RBAC must allow verb "${p.verb}" on resource "${p.resource}/${p.subresource}" (apiGroup ${p.group}), e.g. ClusterRole archipel-catalog-user`);
  };

  app.get<{ Querystring: CatalogQueryString }>(
    catalogPath,
    { schema: localSchema },
    async (request) => {
      const qs = request.query;
      const tags = splitTags(qs.tag);
      const query = toQuery({ ...qs, ...(tags ? { tags } : {}) });
      return search(deps, query, await localCaller(request));
    },
  );

  app.get<{ Querystring: FederatedQueryString }>(
    federatedCatalogPath,
    { schema: federatedSchema },
    async (request) => {
      await whoAmI(bearerToken(request.headers.authorization)); // an unknown token is a 401 before any 403
      await requireFederatedSearch(request);
      const qs = request.query;
      const tags = splitTags(qs.tag);
      const query = toQuery({ ...qs, ...(tags ? { tags } : {}) });
      const caller = await localCaller(request);
      if (qs.project) requireProjectMember(deps.caches.projects.list(), caller, qs.project, "search");
      const local = search(deps, query, caller).items;
      const body = federationBody(qs, tags);
      const { peers, refused } = fanOutTargets(deps.caches);
      const identity = peers.length > 0 ? await deps.signingIdentity() : undefined;
      const deadlineMs = qs.deadlineMs ?? defaultDeadlineMs;
      const outcomes = identity ? await Promise.all(peers.map((p) => peerSearch(identity, p, body, { deadlineMs, egress: deps.egress, ...(qs.project ? { project: qs.project } : {}) }))) : [];
      return mergeFederated(clusterName(deps.caches) ?? "local", local, [...outcomes, ...refused]);
    },
  );

  // The federation endpoint sits in its own scope: its JSON bodies are kept raw for the digest.
  void app.register(async (scope) => {
    captureRawBody(scope);
    scope.post<{ Body: FederationCatalogBody | undefined }>(
      federationCatalogPath,
      { schema: federationSchema },
      async (request) => {
        const caller = requirePeer(request, {
          audience: () => clusterName(deps.caches),
          peerByCluster: peerFinder(() => deps.caches.peers.list()),
          nonces: deps.nonces,
          now,
        });
        const b = request.body ?? {};
        return { items: search(deps, toQuery(b), caller).items };
      },
    );
  });
}

export interface CatalogRuntime {
  deps: CatalogDeps;
  stop(): Promise<void>;
}

/**
 * The catalog's caches (a Manager without controllers: warm informers only), a nonce cache and
 * the signing identity, for the API's composition root. Informers start here; the routes answer
 * from whatever the caches hold (empty until the first list lands).
 */
export async function catalogRuntime(kubeConfig: KubeConfig, egress: EgressPolicy): Promise<CatalogRuntime> {
  const manager = new Manager({ kubeConfig, leaderElection: false });
  const caches = catalogCaches(manager);
  await manager.start();
  return {
    deps: { kubeConfig, caches, nonces: new MemoryNonceCache({ startedAt: Date.now() }), signingIdentity: cachedSigningIdentity(() => loadSigningIdentity(kubeConfig)), egress },
    stop: () => manager.stop(),
  };
}
