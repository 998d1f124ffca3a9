// Monthly statements: a thin view over the UsageRecords of one namespace, listed with the caller's
// own token (Kubernetes RBAC decides: `list usagerecords` in that namespace), for one project or
// one peer and one calendar month (UTC), as JSON or CSV. The arithmetic is billing/statement.ts.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type, type Static, type TSchema } from "typebox";
import { UsageLabel } from "../billing/metering.ts";
import { buildStatement, statementCsv, statementCsvHeader, type StatementQuery } from "../billing/statement.ts";
import { Money } from "../schema/common.ts";
import { UsageLine, type UsageRecord, usageRecordKind } from "../schema/usageRecord.ts";
import { bearerToken, callerKubeConfig, serverCluster } from "./caller.ts";
import { ApiError } from "./errors.ts";
import { ErrorResponse, NamespaceName, ObjectName } from "./kind-schemas.ts";

const tags = ["Billing"];
const errors = (...codes: number[]): Record<number, TSchema> => Object.fromEntries(codes.map((c) => [c, ErrorResponse]));
/** More records than a statement lists: the caller narrows the month or splits the namespace. */
export const maxStatementRecords = 20_000;
const pageSize = 500;

const ProjectParams = Type.Object({
  namespace: NamespaceName,
  name: Type.String({ minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", description: "a Project (runs bill projects by DNS label names)" }),
});
const PeerParams = Type.Object({ namespace: NamespaceName, name: ObjectName });
const StatementQueryString = Type.Object(
  {
    month: Type.String({ pattern: "^[0-9]{4}-(0[1-9]|1[0-2])$", description: "the calendar month, UTC, e.g. 2026-12" }),
    format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("csv")], { description: "json (default) or csv: one row per line item" })),
  },
  { additionalProperties: false },
);
type StatementQueryString = Static<typeof StatementQueryString>;
const PeerStatementQueryString = Type.Object(
  {
    ...StatementQueryString.properties,
    side: Type.Optional(
      Type.Union([Type.Literal("provider"), Type.Literal("consumer")], {
        description: "provider (default): the steps this cluster ran for the peer, what the peer owes; consumer: the steps the peer ran for this cluster (its signed records), what this cluster owes",
      }),
    ),
  },
  { additionalProperties: false },
);
type PeerStatementQueryString = Static<typeof PeerStatementQueryString>;

const StatementEntry = Type.Object({
  record: Type.String(),
  run: Type.String(),
  step: Type.String(),
  cluster: Type.String({ description: "the cluster that ran and metered the step" }),
  peer: Type.Optional(Type.String({ description: "the Peer that ran the step for this cluster" })),
  requester: Type.Optional(Type.String({ description: "the Peer this cluster ran the step for" })),
  project: Type.Optional(Type.String()),
  startedAt: Type.String({ format: "date-time" }),
  finishedAt: Type.String({ format: "date-time" }),
  source: Type.String({ description: "resourcesDuration or requests" }),
  cpuCoreHours: Type.String(),
  memoryGiBHours: Type.String(),
  price: Type.Optional(Type.Object({ name: Type.String(), peer: Type.Optional(Type.String()) })),
  lines: Type.Array(UsageLine),
  cost: Type.Optional(Money),
});

export const Statement = Type.Object(
  {
    namespace: Type.String(),
    month: Type.String(),
    from: Type.String({ format: "date-time" }),
    until: Type.String({ format: "date-time", description: "excluded" }),
    project: Type.Optional(Type.String()),
    peer: Type.Optional(Type.String()),
    side: Type.Optional(Type.Union([Type.Literal("provider"), Type.Literal("consumer")])),
    entries: Type.Array(StatementEntry, { description: "one per UsageRecord whose step started in the month, by start time" }),
    totals: Type.Array(Money, { description: "one per currency: sums of the records' costs (each a sum of line items rounded half to even)" }),
    unpriced: Type.Integer({ description: "entries recorded without a cost (no Price applied)" }),
  },
  { description: "a monthly statement; with format=csv the same entries as text/csv, one row per line item" },
);

/** The namespace's UsageRecords matching `labelSelector`, listed as the caller, page by page. */
async function listRecords(kc: KubeConfig, namespace: string, labelSelector: string): Promise<UsageRecord[]> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const records: UsageRecord[] = [];
  let next: string | undefined;
  do {
    const page = (await api.listNamespacedCustomObject({ group: usageRecordKind.group, version: usageRecordKind.version, plural: usageRecordKind.plural, namespace, labelSelector, limit: pageSize, ...(next ? { _continue: next } : {}) })) as { items: UsageRecord[]; metadata?: { _continue?: string; continue?: string } };
    records.push(...page.items);
    if (records.length > maxStatementRecords) throw new ApiError(422, "Unprocessable", `namespace ${namespace} has more than ${maxStatementRecords} UsageRecords in this month for this statement; ask per project or per peer`);
    next = page.metadata?._continue ?? page.metadata?.continue;
  } while (next);
  return records;
}

function send(reply: FastifyReply, query: StatementQuery, format: StatementQueryString["format"], records: UsageRecord[]): FastifyReply {
  const statement = buildStatement(records, query);
  if (format !== "csv") return reply.send(statement);
  const who = query.project ?? `${query.peer ?? ""}-${query.side ?? "provider"}`;
  return reply
    .header("content-type", "text/csv; charset=utf-8")
    .header("content-disposition", `attachment; filename="statement-${query.namespace}-${who}-${query.month}.csv"`)
    .send(statementCsv(statement));
}

export function registerStatementRoutes(app: FastifyInstance, deps: { kubeConfig: KubeConfig }): void {
  const cluster = serverCluster(deps.kubeConfig);
  const as = (request: FastifyRequest): KubeConfig => callerKubeConfig(cluster, bearerToken(request.headers.authorization));
  const onRequest = async (request: FastifyRequest): Promise<void> => {
    bearerToken(request.headers.authorization);
  };
  const ok = {
    description: "the statement: JSON, or with format=csv text/csv (one row per line item)",
    content: { "application/json": { schema: Statement }, "text/csv": { schema: Type.String({ description: `RFC 4180, CRLF line ends; header: ${statementCsvHeader.join(",")}` }) } },
  };
  const common = { tags, querystring: StatementQueryString, response: { 200: ok, ...errors(400, 401, 403, 422) } };

  app.get("/api/v1/namespaces/:namespace/projects/:name/statement", {
    onRequest,
    schema: {
      ...common,
      params: ProjectParams,
      operationId: "projectStatement",
      summary: "The monthly statement of a Project in a namespace: its UsageRecords and totals per currency (as the caller; format=csv for text/csv)",
    },
    handler: async (request, reply) => {
      const { namespace, name } = request.params as Static<typeof ProjectParams>;
      const { month, format } = request.query as StatementQueryString;
      const records = await listRecords(as(request), namespace, `${UsageLabel.project}=${name},${UsageLabel.month}=${month}`);
      return send(reply, { namespace, month, project: name }, format, records);
    },
  });

  app.get("/api/v1/namespaces/:namespace/peers/:name/statement", {
    onRequest,
    schema: {
      ...common,
      params: PeerParams,
      querystring: PeerStatementQueryString,
      operationId: "peerStatement",
      summary: "The monthly statement between this cluster and a Peer in a namespace: the steps run for it (side=provider) or by it (side=consumer), totals per currency (as the caller; format=csv for text/csv)",
    },
    handler: async (request, reply) => {
      const { namespace, name } = request.params as Static<typeof PeerParams>;
      const { month, format, side } = request.query as PeerStatementQueryString;
      const records = await listRecords(as(request), namespace, `${UsageLabel.month}=${month}`);
      return send(reply, { namespace, month, peer: name, side: side ?? "provider" }, format, records);
    },
  });
}
