// Who the caller is, and the Events about one object — the two reads the web UI makes beside the
// kinds' own routes. Both are made with the caller's token: a SelfSubjectReview answers for any
// authenticated token, and Events are listed only where the caller's RBAC allows it.
import { AuthenticationV1Api, CoreV1Api, type CoreV1Event, type KubeConfig } from "@kubernetes/client-node";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static, type TSchema } from "typebox";
import { bearerToken, callerKubeConfig, serverCluster } from "./caller.ts";
import { ErrorResponse, NamespaceName, ObjectName } from "./kind-schemas.ts";

export const whoAmIPath = "/api/v1/whoami";
export const eventsPath = "/api/v1/namespaces/:namespace/events";

const errors = (...codes: number[]): Record<number, TSchema> => Object.fromEntries(codes.map((c) => [c, ErrorResponse]));

export const WhoAmI = Type.Object(
  {
    user: Type.String({ description: "the user name Kubernetes authenticated the token as" }),
    groups: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);

const EventsQuery = Type.Object(
  {
    kind: Type.String({ minLength: 1, maxLength: 63, pattern: "^[A-Za-z][A-Za-z0-9]*$", description: "the object's kind, e.g. Provider" }),
    name: ObjectName,
  },
  { additionalProperties: false },
);

export const ObjectEvent = Type.Object({
  type: Type.String({ description: "Normal or Warning" }),
  reason: Type.String(),
  message: Type.String(),
  count: Type.Integer(),
  lastSeen: Type.Optional(Type.String({ description: "RFC 3339" })),
  source: Type.Optional(Type.String({ description: "the controller that reported it" })),
});
export type ObjectEvent = Static<typeof ObjectEvent>;

const EventList = Type.Object({ items: Type.Array(ObjectEvent) });

type Time = Date | string | null | undefined;

function lastSeenOf(event: CoreV1Event): string | undefined {
  const times: Time[] = [event.series?.lastObservedTime, event.lastTimestamp, event.eventTime, event.firstTimestamp, event.metadata.creationTimestamp];
  // Through core/v1, an events.k8s.io Event has null where it has no legacy timestamp.
  const time = times.find((t) => t !== undefined && t !== null);
  return time ? new Date(time).toISOString() : undefined;
}

const sourceOf = (event: CoreV1Event): string | undefined => event.reportingComponent || event.source?.component;

/** A core Event (also what events.k8s.io/v1 Events look like through core/v1) → what the UI shows. Pure. */
export function toObjectEvent(event: CoreV1Event): ObjectEvent {
  const lastSeen = lastSeenOf(event);
  const source = sourceOf(event);
  return {
    type: event.type ?? "Normal",
    reason: event.reason ?? "",
    message: event.message ?? "",
    count: event.series?.count ?? event.count ?? 1,
    ...(lastSeen ? { lastSeen } : {}),
    ...(source ? { source } : {}),
  };
}

export function newestFirst(events: ObjectEvent[]): ObjectEvent[] {
  return [...events].sort((a, b) => (b.lastSeen ?? "").localeCompare(a.lastSeen ?? ""));
}

const onRequest = async (request: FastifyRequest): Promise<void> => {
  bearerToken(request.headers.authorization);
};

export function registerSessionRoutes(app: FastifyInstance, deps: { kubeConfig: KubeConfig }): void {
  const cluster = serverCluster(deps.kubeConfig);
  const as = (request: FastifyRequest): KubeConfig => callerKubeConfig(cluster, bearerToken(request.headers.authorization));

  app.get(whoAmIPath, {
    onRequest,
    schema: { operationId: "whoAmI", summary: "Who the caller is (a SelfSubjectReview made with the caller's token)", tags: ["Session"], response: { 200: WhoAmI, ...errors(401, 403) } },
    handler: async (request, reply) => {
      const review = await as(request).makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
      void reply.header("cache-control", "no-store");
      return { user: review.status?.userInfo?.username ?? "", groups: review.status?.userInfo?.groups ?? [] };
    },
  });

  app.get(eventsPath, {
    onRequest,
    schema: {
      operationId: "listObjectEvents",
      summary: "The Events Kubernetes keeps about one object of this namespace (cluster-scoped objects: namespace default), newest first",
      tags: ["Session"],
      params: Type.Object({ namespace: NamespaceName }),
      querystring: EventsQuery,
      response: { 200: EventList, ...errors(400, 401, 403) },
    },
    handler: async (request) => {
      const { namespace } = request.params as { namespace: string };
      const { kind, name } = request.query as Static<typeof EventsQuery>;
      const list = await as(request).makeApiClient(CoreV1Api).listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}`, limit: 100 });
      return { items: newestFirst(list.items.map(toObjectEvent)) };
    },
  });
}
