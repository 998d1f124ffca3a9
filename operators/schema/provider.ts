// Provider: a source of catalog Resources of one type (data, storage, compute or service) with
// its backend configuration. Credentials are always Secret references, never inline.
import { Type, type Static } from "typebox";
import type { KindDefinition } from "./kind.ts";
import {
  ageColumn,
  blockMatches,
  category,
  column,
  Decimal,
  group,
  HttpUrl,
  immutable,
  kindObject,
  Quantity,
  readyColumn,
  reasonColumn,
  SecretReference,
  statusBase,
  StringEnum,
  strictObject,
  Url,
  version,
} from "./common.ts";

export const providerTypes = ["data", "storage", "compute", "service"] as const;
export const ProviderType = StringEnum(providerTypes, { description: "what the provider offers" });
export type ProviderType = Static<typeof ProviderType>;

export const S3Connection = strictObject(
  {
    endpoint: Url,
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "defaults to us-east-1" })),
    forcePathStyle: Type.Optional(Type.Boolean({ description: "address buckets as endpoint/bucket (most self-hosted servers)" })),
    credentialsSecretRef: SecretReference,
  },
  { description: "an S3-compatible endpoint; the Secret holds keys accessKeyId and secretAccessKey" },
);
export type S3Connection = Static<typeof S3Connection>;

export const PostgresConnection = strictObject(
  {
    host: Type.String({ minLength: 1, maxLength: 253 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "defaults to 5432" })),
    database: Type.String({ minLength: 1, maxLength: 63 }),
    sslMode: Type.Optional(StringEnum(["disable", "require", "verify-ca", "verify-full"] as const)),
    credentialsSecretRef: SecretReference,
    schemas: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 63 }), {
        maxItems: 64,
        "x-kubernetes-list-type": "set",
        description: "data: the schemas whose tables and views Resources may expose (a table's schema; what a query may read); default [public]; pg_* and information_schema are never allowed",
      }),
    ),
  },
  { description: "a PostgreSQL database; the Secret holds keys username and password of a role that may create roles and views" },
);
export type PostgresConnection = Static<typeof PostgresConnection>;

export const dataSources = ["url", "s3", "stac", "postgres"] as const;

export const DataProvider = strictObject(
  {
    source: StringEnum(dataSources, { description: "url: files behind HTTP(S); s3: objects; stac: a STAC API; postgres: tables and queries" }),
    url: Type.Optional(
      strictObject({
        baseURL: Type.Optional(HttpUrl),
        headersSecretRef: Type.Optional(SecretReference),
      }, { description: "HTTP(S) files; the optional Secret's keys are sent as request headers" }),
    ),
    s3: Type.Optional(S3Connection),
    stac: Type.Optional(
      strictObject({
        apiURL: HttpUrl,
        credentialsSecretRef: Type.Optional(SecretReference),
      }, { description: "a STAC API (e.g. Sentinel products); the optional Secret holds key token" }),
    ),
    postgres: Type.Optional(PostgresConnection),
  },
  { "x-kubernetes-validations": blockMatches("spec.data", "source", dataSources) },
);
export type DataProvider = Static<typeof DataProvider>;

export const storageBackends = ["s3", "postgres"] as const;

export const StorageProvider = strictObject(
  {
    backend: StringEnum(storageBackends),
    s3: Type.Optional(S3Connection),
    postgres: Type.Optional(PostgresConnection),
  },
  { "x-kubernetes-validations": blockMatches("spec.storage", "backend", storageBackends) },
);
export type StorageProvider = Static<typeof StorageProvider>;

export const CpuMemory = strictObject({ cpu: Quantity, memory: Quantity });
export type CpuMemory = Static<typeof CpuMemory>;

export const ComputeProvider = strictObject({
  capacity: Type.Optional(
    strictObject(
      { cpu: Quantity, memory: Quantity },
      { description: "declared capacity; when absent, the sum of the nodes' allocatable" },
    ),
  ),
  overcommit: Type.Optional(
    strictObject(
      { cpu: Type.Optional(Decimal), memory: Type.Optional(Decimal) },
      { description: "reservable = capacity × ratio (decimal strings, default \"1\")" },
    ),
  ),
  nodeSelector: Type.Optional(
    Type.Record(Type.String(), Type.String(), { description: "only nodes with these labels count toward capacity" }),
  ),
});
export type ComputeProvider = Static<typeof ComputeProvider>;

export const ServiceProvider = strictObject({
  defaultImage: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "image for services that name none" })),
  registry: Type.Optional(
    strictObject({
      server: Type.String({ minLength: 1, maxLength: 253 }),
      pullSecretRef: Type.Optional(SecretReference),
    }, { description: "where service images come from; the Secret is of type kubernetes.io/dockerconfigjson" }),
  ),
});
export type ServiceProvider = Static<typeof ServiceProvider>;

export const ProviderSpec = strictObject(
  {
    type: StringEnum(providerTypes, { description: "what the provider offers", ...immutable("spec.type", "create a new Provider") }),
    displayName: Type.Optional(Type.String({ maxLength: 128 })),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    data: Type.Optional(DataProvider),
    storage: Type.Optional(StorageProvider),
    compute: Type.Optional(ComputeProvider),
    service: Type.Optional(ServiceProvider),
  },
  {
    description: "the provider's type and exactly the one matching configuration block",
    "x-kubernetes-validations": blockMatches("spec", "type", providerTypes),
  },
);
export type ProviderSpec = Static<typeof ProviderSpec>;

export const ComputeStatus = strictObject(
  {
    source: StringEnum(["Nodes", "Declared"] as const, { description: "where capacity comes from" }),
    capacity: CpuMemory,
    allocatable: Type.Optional(strictObject({ cpu: Quantity, memory: Quantity }, { description: "capacity × overcommit" })),
    offered: Type.Optional(strictObject({ cpu: Quantity, memory: Quantity }, { description: "what this provider's admitted compute Resources offer" })),
    reserved: Type.Optional(CpuMemory),
    free: Type.Optional(strictObject({ cpu: Quantity, memory: Quantity }, { description: "allocatable − offered (− reserved)" })),
  },
  { description: "compute capacity as last observed" },
);
export type ComputeStatus = Static<typeof ComputeStatus>;

export const ProviderStatus = strictObject({
  ...statusBase,
  resourceCount: Type.Optional(Type.Integer({ minimum: 0, description: "Resources that reference this provider" })),
  compute: Type.Optional(ComputeStatus),
});
export type ProviderStatus = Static<typeof ProviderStatus>;

export const Provider = kindObject("Provider", ProviderSpec, ProviderStatus);
export type Provider = Static<typeof Provider>;

export const providerKind: KindDefinition = {
  group,
  version,
  kind: "Provider",
  plural: "providers",
  singular: "provider",
  listKind: "ProviderList",
  scope: "Namespaced",
  shortNames: ["aprov"],
  categories: [category],
  description: "A source of catalog Resources of one type (data, storage, compute or service) and its backend configuration.",
  spec: ProviderSpec,
  status: ProviderStatus,
  printerColumns: [
    column("Type", ".spec.type"),
    column("Resources", ".status.resourceCount", { type: "integer" }),
    column("Display Name", ".spec.displayName", { priority: 1 }),
    column("Free CPU", ".status.compute.free.cpu", { priority: 1 }),
    column("Free Memory", ".status.compute.free.memory", { priority: 1 }),
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
  validations: [],
};
