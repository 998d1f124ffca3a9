// Resource: one catalog entry offered by a Provider (same namespace), with its visibility.
// `type` must equal the provider's type; CEL can only check that the block matches `type`,
// the catalog reconciler checks the provider (Ready=False, reason ProviderTypeMismatch).
import { Type, type Static } from "typebox";
import type { KindDefinition } from "./kind.ts";
import {
  ageColumn,
  blockMatches,
  category,
  cel,
  column,
  ConfigMapKeyRef,
  DnsLabel,
  exactlyOneOf,
  group,
  HttpUrl,
  immutable,
  kindObject,
  ObjectName,
  Quantity,
  readyColumn,
  reasonColumn,
  SignedDecimal,
  statusBase,
  StringEnum,
  strictObject,
  Timestamp,
  version,
  visibilities,
} from "./common.ts";
import { providerTypes } from "./provider.ts";

export const Checksum = strictObject(
  {
    algorithm: StringEnum(["sha256", "sha512"] as const),
    value: Type.String({ minLength: 64, maxLength: 128, pattern: "^[0-9a-f]+$", description: "lower-case hex digest" }),
  },
  { description: "the content's digest, verified by the provider" },
);
export type Checksum = Static<typeof Checksum>;

const fileFacts = {
  checksum: Type.Optional(Checksum),
  sizeBytes: Type.Optional(Type.Integer({ minimum: 0, format: "int64" })),
  mediaType: Type.Optional(Type.String({ maxLength: 255, description: "e.g. image/tiff; application=geotiff" })),
};

export const TimeRange = strictObject(
  { start: Timestamp, end: Timestamp },
  { "x-kubernetes-validations": [cel("self.end > self.start", "spec.data.stac.datetime.end must be after start", ".end")] },
);
export type TimeRange = Static<typeof TimeRange>;

export const BoundingBox = strictObject(
  { west: SignedDecimal, south: SignedDecimal, east: SignedDecimal, north: SignedDecimal },
  {
    description: "WGS84 degrees, as decimal strings",
    "x-kubernetes-validations": [
      cel("double(self.south) <= double(self.north)", "spec.data.stac.bbox.south must not be greater than north", ".south"),
      cel("double(self.south) >= -90.0 && double(self.north) <= 90.0", "spec.data.stac.bbox: latitudes must be within [-90, 90]", ".north"),
      cel("double(self.west) >= -180.0 && double(self.east) <= 180.0", "spec.data.stac.bbox: longitudes must be within [-180, 180]", ".east"),
    ],
  },
);
export type BoundingBox = Static<typeof BoundingBox>;

export const DataResource = strictObject(
  {
    url: Type.Optional(strictObject({ url: HttpUrl, ...fileFacts }, { description: "one file behind HTTP(S)" })),
    s3: Type.Optional(
      strictObject(
        {
          bucket: Type.String({ minLength: 3, maxLength: 63 }),
          key: Type.String({ minLength: 1, maxLength: 1024, description: "object key (or prefix ending in /)" }),
          ...fileFacts,
        },
        { description: "an object on the provider's S3 endpoint" },
      ),
    ),
    stac: Type.Optional(
      strictObject(
        {
          collection: Type.String({ minLength: 1, maxLength: 256, description: "e.g. sentinel-2-l2a" }),
          bbox: Type.Optional(BoundingBox),
          datetime: Type.Optional(TimeRange),
          maxCloudCover: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: "percent, for optical products" })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: "at most this many items" })),
        },
        { description: "STAC items of a collection, filtered" },
      ),
    ),
    postgres: Type.Optional(
      strictObject(
        {
          table: Type.Optional(
            strictObject({
              schema: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: "defaults to public" })),
              name: Type.String({ minLength: 1, maxLength: 63 }),
              columns: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { maxItems: 256, description: "only these columns (default all)" })),
            }),
          ),
          query: Type.Optional(Type.String({ minLength: 1, maxLength: 65536, description: "a SELECT; grants see its rows only" })),
        },
        {
          description: "a table or a query of the provider's database",
          "x-kubernetes-validations": [exactlyOneOf("spec.data.postgres", ["table", "query"])],
        },
      ),
    ),
  },
  { "x-kubernetes-validations": [exactlyOneOf("spec.data", ["url", "s3", "stac", "postgres"])] },
);
export type DataResource = Static<typeof DataResource>;

export const StorageResource = strictObject(
  {
    s3: Type.Optional(
      strictObject({
        bucket: Type.String({ minLength: 3, maxLength: 63, pattern: "^[a-z0-9][a-z0-9.-]+[a-z0-9]$" }),
        prefix: Type.Optional(Type.String({ maxLength: 1024, description: "grants write under this prefix only" })),
      }),
    ),
    postgres: Type.Optional(strictObject({ schema: Type.String({ minLength: 1, maxLength: 63, pattern: "^[a-z_][a-z0-9_]*$" }) })),
    quota: Type.Optional(Quantity),
  },
  { "x-kubernetes-validations": [exactlyOneOf("spec.storage", ["s3", "postgres"])] },
);
export type StorageResource = Static<typeof StorageResource>;

export const ComputeResource = strictObject(
  { cpu: Quantity, memory: Quantity },
  { description: "capacity offered through this entry" },
);
export type ComputeResource = Static<typeof ComputeResource>;

export const ServiceResource = strictObject(
  {
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "defaults to the provider's defaultImage" })),
    cwl: strictObject(
      {
        document: Type.Optional(
          Type.Unsafe<Record<string, unknown>>({
            type: "object",
            "x-kubernetes-preserve-unknown-fields": true,
            description: "the CWL document (CommandLineTool or Workflow) inline",
          }),
        ),
        configMapRef: Type.Optional(ConfigMapKeyRef),
      },
      {
        description: "the CWL document, inline or from a ConfigMap key (YAML or JSON)",
        "x-kubernetes-validations": [exactlyOneOf("spec.service.cwl", ["document", "configMapRef"])],
      },
    ),
  },
);
export type ServiceResource = Static<typeof ServiceResource>;

export const ResourceSpec = strictObject(
  {
    providerRef: strictObject({ name: ObjectName }, { description: "the Provider in this namespace that offers this entry" }),
    type: StringEnum(providerTypes, { description: "equals the provider's type", ...immutable("spec.type", "create a new Resource") }),
    title: Type.String({ minLength: 1, maxLength: 256, description: "shown in catalog searches" }),
    description: Type.Optional(Type.String({ maxLength: 8192 })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { maxItems: 32, "x-kubernetes-list-type": "set" })),
    visibility: StringEnum(visibilities, {
      description: "public: every local user and Accepted peer; private: local users only; restricted: members of spec.projects",
    }),
    projects: Type.Optional(
      Type.Array(DnsLabel, { maxItems: 64, "x-kubernetes-list-type": "set", description: "Project names; required when restricted" }),
    ),
    data: Type.Optional(DataResource),
    storage: Type.Optional(StorageResource),
    compute: Type.Optional(ComputeResource),
    service: Type.Optional(ServiceResource),
  },
  {
    "x-kubernetes-validations": [
      cel(
        "self.visibility != 'restricted' || (has(self.projects) && size(self.projects) > 0)",
        "spec.projects must list at least one project when spec.visibility is restricted",
        ".projects",
      ),
      ...blockMatches("spec", "type", providerTypes),
    ],
  },
);
export type ResourceSpec = Static<typeof ResourceSpec>;

export const ResourceStatus = strictObject({
  ...statusBase,
  service: Type.Optional(
    strictObject(
      {
        cwlVersion: Type.String({ maxLength: 16 }),
        class: Type.String({ maxLength: 32 }),
        image: Type.Optional(Type.String({ maxLength: 512, description: "the image steps run: spec.service.image or the provider's defaultImage" })),
        inputs: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 256 }),
        outputs: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 256 }),
      },
      { description: "what the validated CWL document declares" },
    ),
  ),
  data: Type.Optional(
    strictObject({
      sizeBytes: Type.Optional(Type.Integer({ minimum: 0, format: "int64" })),
      itemCount: Type.Optional(Type.Integer({ minimum: 0, description: "STAC items matching spec.data.stac (at most its limit)" })),
      checkedAt: Type.Optional(Type.String({ format: "date-time", description: "when the backend was found as described here (later re-checks that find the same do not move it)" })),
    }),
  ),
});
export type ResourceStatus = Static<typeof ResourceStatus>;

export const Resource = kindObject("Resource", ResourceSpec, ResourceStatus);
export type Resource = Static<typeof Resource>;

export const resourceKind: KindDefinition = {
  group,
  version,
  kind: "Resource",
  plural: "resources",
  singular: "resource",
  listKind: "ResourceList",
  scope: "Namespaced",
  shortNames: ["ares"],
  categories: [category],
  description: "One catalog entry offered by a Provider, with its visibility (public, private or restricted to projects).",
  spec: ResourceSpec,
  status: ResourceStatus,
  printerColumns: [
    column("Type", ".spec.type"),
    column("Provider", ".spec.providerRef.name"),
    column("Visibility", ".spec.visibility"),
    column("Title", ".spec.title", { priority: 1 }),
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
  validations: [],
};
