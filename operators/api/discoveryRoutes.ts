// The Discovery API: this cluster's Identity, its private networks and their Peers, as thin
// writes to the custom resources made with the caller's own token (Kubernetes RBAC decides).
// One route is unauthenticated: the federation ping, which peers time for the round trip; it
// reads the cluster's name with the API server's own credentials (cached briefly).
import { CoreV1Api, CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type, type TSchema } from "typebox";
import { federationPingPath } from "../discovery/contracts.ts";
import { identityKind } from "../schema/identity.ts";
import { networkKind } from "../schema/network.ts";
import { peerKind } from "../schema/peer.ts";
import { bearerToken, callerKubeConfig, serverCluster } from "./caller.ts";
import {
  approvalPatch,
  checkSwarmKey,
  CreateNetworkBody,
  currentIdentity,
  JoinNetworkBody,
  joinedKeySecret,
  joinedKeySecretName,
  networkObject,
  ownedByNetwork,
  peersOfNetwork,
  PingResponse,
} from "./discoveryViews.ts";
import { ApiError, notFound } from "./errors.ts";
import { ErrorResponse, kindSchemas, ObjectName } from "./kind-schemas.ts";
import { isDeletedStatus, toListView, toObjectView } from "./view.ts";

export interface DiscoveryDeps {
  /** The server's own kubeconfig: its cluster for callers' requests, its user for the ping only. */
  kubeConfig: KubeConfig;
  /** Where joined networks' swarm key Secrets go (the operator's namespace). */
  systemNamespace: string;
  /** How long the ping reuses the cluster name it read (default 5 s). */
  identityCacheMs?: number;
  now?: () => Date;
}

export const discoveryBase = "/api/v1/discovery";
const group = { group: identityKind.group, version: identityKind.version };
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const tags = ["Discovery"];

const errors = (...codes: number[]): Record<number, TSchema> => Object.fromEntries(codes.map((c) => [c, ErrorResponse]));
const NameParams = Type.Object({ name: ObjectName });
const PeerQuery = Type.Object(
  { network: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: "only the peers of this Network" })) },
  { additionalProperties: false },
);

interface CallerApis {
  custom: CustomObjectsApi;
  core: CoreV1Api;
}

type Json = Record<string, unknown>;

function callerApis(deps: DiscoveryDeps): (request: FastifyRequest) => CallerApis {
  const cluster = serverCluster(deps.kubeConfig);
  return (request) => {
    const kc = callerKubeConfig(cluster, bearerToken(request.headers.authorization));
    return { custom: kc.makeApiClient(CustomObjectsApi), core: kc.makeApiClient(CoreV1Api) };
  };
}

// 401 comes before validation: an anonymous caller learns nothing from a 400.
const onRequest = async (request: FastifyRequest): Promise<void> => {
  bearerToken(request.headers.authorization);
};

const items = (list: unknown): Json[] => ((list as { items?: Json[] }).items ?? []);

function registerIdentityRoute(app: FastifyInstance, apis: (r: FastifyRequest) => CallerApis): void {
  app.get(`${discoveryBase}/identity`, {
    onRequest,
    schema: {
      operationId: "readDiscoveryIdentity",
      summary: "This cluster's Identity (name, API endpoint, public key, published descriptor); the private key stays in its Secret",
      tags,
      response: { 200: kindSchemas(identityKind).object, ...errors(401, 403, 404) },
    },
    handler: async (request) => {
      const list = await apis(request).custom.listClusterCustomObject({ ...group, plural: identityKind.plural });
      const identity = currentIdentity(items(list));
      if (!identity) throw notFound("this cluster has no Identity yet; create one (kubectl apply an archipel.io Identity)");
      return toObjectView(identityKind, identity);
    },
  });
}

function registerNetworkReads(app: FastifyInstance, apis: (r: FastifyRequest) => CallerApis): void {
  const schemas = kindSchemas(networkKind);
  app.get(`${discoveryBase}/networks`, {
    onRequest,
    schema: { operationId: "listDiscoveryNetworks", summary: "The private networks this cluster takes part in", tags, response: { 200: schemas.list, ...errors(401, 403) } },
    handler: async (request) => toListView(networkKind, await apis(request).custom.listClusterCustomObject({ ...group, plural: networkKind.plural })),
  });
  app.get(`${discoveryBase}/networks/:name`, {
    onRequest,
    schema: { operationId: "readDiscoveryNetwork", summary: "One network", tags, params: NameParams, response: { 200: schemas.object, ...errors(401, 403, 404) } },
    handler: async (request) => {
      const { name } = request.params as { name: string };
      return toObjectView(networkKind, await apis(request).custom.getClusterCustomObject({ ...group, plural: networkKind.plural, name }));
    },
  });
}

async function createNetwork(custom: CustomObjectsApi, body: Json): Promise<Json> {
  return (await custom.createClusterCustomObject({ ...group, plural: networkKind.plural, body })) as Json;
}

/**
 * Join: the key Secret first (the Network never references a missing Secret), then the Network,
 * then the Secret is made the Network's dependent. Any failure after the Secret undoes what was
 * made, so a failed join leaves nothing behind.
 */
async function joinNetwork(apis: CallerApis, deps: DiscoveryDeps, body: JoinNetworkBody, log: FastifyRequest["log"]): Promise<Json> {
  const key = checkSwarmKey(body.swarmKey);
  const network = body.metadata.name;
  const secretName = joinedKeySecretName(network);
  const namespace = deps.systemNamespace;
  await apis.core.createNamespacedSecret({ namespace, body: joinedKeySecret(network, namespace, key) });
  let created: Json | undefined;
  try {
    created = await createNetwork(apis.custom, networkObject(body.metadata, body.spec as Json, { namespace, name: secretName }));
    await apis.core.patchNamespacedSecret({ namespace, name: secretName, body: ownedByNetwork(created) }, merge);
    return created;
  } catch (err) {
    if (created) await apis.custom.deleteClusterCustomObject({ ...group, plural: networkKind.plural, name: network }).catch((e: unknown) => undo(log, "Network", e));
    await apis.core.deleteNamespacedSecret({ namespace, name: secretName }).catch((e: unknown) => undo(log, "swarm key Secret", e));
    throw err;
  }
}

function undo(log: FastifyRequest["log"], what: string, err: unknown): void {
  // Never the error object itself: a client error may carry the request it sent.
  log.warn({ what, status: (err as { code?: unknown }).code }, "could not undo part of a failed join");
}

function registerNetworkWrites(app: FastifyInstance, deps: DiscoveryDeps, apis: (r: FastifyRequest) => CallerApis): void {
  const object = kindSchemas(networkKind).object;
  app.post(`${discoveryBase}/networks`, {
    onRequest,
    schema: {
      operationId: "createDiscoveryNetwork",
      summary: "Create a private network; the Network reconciler generates its swarm key",
      tags,
      body: CreateNetworkBody,
      response: { 201: object, ...errors(400, 401, 403, 409, 422) },
    },
    handler: async (request, reply) => {
      const body = request.body as CreateNetworkBody;
      const created = await createNetwork(apis(request).custom, networkObject(body.metadata, body.spec as Json));
      return reply.code(201).send(toObjectView(networkKind, created));
    },
  });
  app.post(`${discoveryBase}/networks/join`, {
    onRequest,
    schema: {
      operationId: "joinDiscoveryNetwork",
      summary: "Join an existing private network with its swarm key (stored in a Secret, never returned) and bootstrap addresses",
      tags,
      body: JoinNetworkBody,
      response: { 201: object, ...errors(400, 401, 403, 409, 422) },
    },
    handler: async (request, reply) => {
      const created = await joinNetwork(apis(request), deps, request.body as JoinNetworkBody, request.log);
      return reply.code(201).send(toObjectView(networkKind, created));
    },
  });
  app.delete(`${discoveryBase}/networks/:name`, {
    onRequest,
    schema: {
      operationId: "leaveDiscoveryNetwork",
      summary: "Leave a network: delete its Network (a joined network's key Secret goes with it); 202 while finalizers hold it",
      tags,
      params: NameParams,
      response: { 202: object, 204: { description: "left" }, ...errors(401, 403, 404) },
    },
    handler: async (request, reply) => {
      const { name } = request.params as { name: string };
      const result = await apis(request).custom.deleteClusterCustomObject({ ...group, plural: networkKind.plural, name });
      return isDeletedStatus(result) ? reply.code(204).send() : reply.code(202).send(toObjectView(networkKind, result));
    },
  });
}

function registerPeerRoutes(app: FastifyInstance, apis: (r: FastifyRequest) => CallerApis): void {
  const schemas = kindSchemas(peerKind);
  app.get(`${discoveryBase}/peers`, {
    onRequest,
    schema: { operationId: "listDiscoveryPeers", summary: "Peers of every network, or of one", tags, querystring: PeerQuery, response: { 200: schemas.list, ...errors(400, 401, 403) } },
    handler: async (request) => {
      const { network } = request.query as { network?: string };
      const list = (await apis(request).custom.listClusterCustomObject({ ...group, plural: peerKind.plural })) as Json;
      return toListView(peerKind, { ...list, items: peersOfNetwork(items(list), network) });
    },
  });
  app.get(`${discoveryBase}/peers/:name`, {
    onRequest,
    schema: { operationId: "readDiscoveryPeer", summary: "One peer", tags, params: NameParams, response: { 200: schemas.object, ...errors(401, 403, 404) } },
    handler: async (request) => {
      const { name } = request.params as { name: string };
      return toObjectView(peerKind, await apis(request).custom.getClusterCustomObject({ ...group, plural: peerKind.plural, name }));
    },
  });
  for (const [verb, approval] of [["accept", "Accepted"], ["reject", "Rejected"]] as const) {
    app.post(`${discoveryBase}/peers/:name/${verb}`, {
      onRequest,
      schema: {
        operationId: `${verb}DiscoveryPeer`,
        summary: verb === "accept" ? "Accept a peer (spec.approval: Accepted)" : "Reject a peer (spec.approval: Rejected; kubo stops talking to it)",
        tags,
        params: NameParams,
        response: { 200: schemas.object, ...errors(401, 403, 404) },
      },
      handler: async (request) => {
        const { name } = request.params as { name: string };
        const patched = await apis(request).custom.patchClusterCustomObject({ ...group, plural: peerKind.plural, name, body: approvalPatch(approval) }, merge);
        return toObjectView(peerKind, patched);
      },
    });
  }
}

/** The cluster's name for the ping, read with the server's own credentials and kept briefly. */
function clusterNameReader(deps: DiscoveryDeps): () => Promise<string> {
  const custom = deps.kubeConfig.makeApiClient(CustomObjectsApi);
  const ttl = deps.identityCacheMs ?? 5_000;
  const now = deps.now ?? (() => new Date());
  let cached: { name: string; at: number } | undefined;
  return async () => {
    const t = now().getTime();
    if (cached && t - cached.at < ttl) return cached.name;
    const list = await custom.listClusterCustomObject({ ...group, plural: identityKind.plural });
    const name = (currentIdentity(items(list))?.spec as { clusterName?: string } | undefined)?.clusterName;
    if (!name) throw new ApiError(503, "NotReady", "this cluster has no Identity yet");
    cached = { name, at: t };
    return name;
  };
}

function registerPing(app: FastifyInstance, deps: DiscoveryDeps): void {
  const clusterName = clusterNameReader(deps);
  const now = deps.now ?? (() => new Date());
  app.get(federationPingPath, {
    schema: {
      operationId: "federationPing",
      summary: "Liveness of this cluster's federation endpoint (unauthenticated); peers time it for the round trip",
      tags: ["Federation"],
      security: [],
      response: { 200: PingResponse, ...errors(503) },
    },
    handler: async (_request: FastifyRequest, reply: FastifyReply) => {
      void reply.header("cache-control", "no-store");
      return { clusterName: await clusterName(), time: now().toISOString() };
    },
  });
}

export function registerDiscoveryRoutes(app: FastifyInstance, deps: DiscoveryDeps): void {
  const apis = callerApis(deps);
  registerIdentityRoute(app, apis);
  registerNetworkReads(app, apis);
  registerNetworkWrites(app, deps, apis);
  registerPeerRoutes(app, apis);
  registerPing(app, deps);
}
