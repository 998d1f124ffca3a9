// Building blocks shared by every kind: references, quantities, money, conditions, metadata.
// Pure schema values; no I/O. Conventions:
// - objects are closed (`additionalProperties: false`) so a typo is an error in the API and in
//   `Value.Check`; the CRD generator drops the keyword because Kubernetes prunes instead;
// - no floats: quantities are Kubernetes quantity strings, money and ratios decimal strings;
// - CEL rules name the field they check in `fieldPath` and in their message.
import { Type, type Static, type TProperties, type TSchema, type TObject, type TUnsafe, type TOptional } from "typebox";
import type { PrinterColumn, ValidationRule } from "./kind.ts";

export const group = "archipel.io";
export const version = "v1alpha1";
export const apiVersion = `${group}/${version}`;
export const category = "archipel";
/** Where the operator keeps its own objects (identity key, managed kubo nodes) by default. */
export const defaultSystemNamespace = "archipel-system";

/** A closed object: unknown fields are errors (the CRD generator drops the keyword). */
export function strictObject<P extends TProperties>(properties: P, options: Record<string, unknown> = {}): TObject<P> {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** A string restricted to `values`, as a plain JSON Schema `enum` (what CRDs understand). */
export function StringEnum<const V extends readonly string[]>(
  values: V,
  options: Record<string, unknown> = {},
): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ type: "string", enum: [...values], ...options });
}

/** The same schema with its own description (TypeBox's hidden markers kept). */
export function described<T extends TSchema>(schema: T, description: string): T {
  const copy = Object.defineProperties({}, Object.getOwnPropertyDescriptors(schema)) as T & { description?: string };
  copy.description = description;
  return copy;
}

/** A CEL rule for `x-kubernetes-validations`. `fieldPath` is relative to the node carrying it. */
export function cel(rule: string, message: string, fieldPath?: string): ValidationRule {
  return fieldPath === undefined ? { rule, message } : { rule, message, fieldPath };
}

/** `self == oldSelf` on a field: it can be set on create and never changed. */
export function immutable(field: string, advice: string): { "x-kubernetes-validations": ValidationRule[] } {
  return { "x-kubernetes-validations": [cel("self == oldSelf", `${field} is immutable; ${advice}`)] };
}

/**
 * Exactly the block named like `discriminator`'s value is set, e.g. `spec.type: data` needs
 * `spec.data` and forbids `spec.storage`. One rule per block, so the error names the block.
 */
export function blockMatches(path: string, discriminator: string, blocks: readonly string[]): ValidationRule[] {
  return blocks.map((block) =>
    cel(
      `has(self.${block}) == (self.${discriminator} == '${block}')`,
      `${path}.${block} must be set when ${path}.${discriminator} is "${block}", and only then`,
      `.${block}`,
    ),
  );
}

/** Exactly one of `fields` is set (a union of alternative blocks). */
export function exactlyOneOf(path: string, fields: readonly string[]): ValidationRule {
  const present = fields.map((f) => `has(self.${f})`).join(", ");
  const names = fields.map((f) => `${path}.${f}`).join(", ");
  return cel(`[${present}].filter(x, x).size() == 1`, `exactly one of ${names} must be set`);
}

const dnsSubdomain = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
const dnsLabel = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/** The name of a Kubernetes object (DNS-1123 subdomain). */
export const ObjectName = Type.String({ minLength: 1, maxLength: 253, pattern: dnsSubdomain });
/** A DNS-1123 label: step names, project names in lists. */
export const DnsLabel = Type.String({ minLength: 1, maxLength: 63, pattern: dnsLabel });

export const LocalObjectReference = strictObject(
  { name: ObjectName },
  { description: "an object of the expected kind in the same namespace" },
);
export type LocalObjectReference = Static<typeof LocalObjectReference>;

/** A reference to a cluster-scoped object (Network, Peer, Project). */
export const ClusterObjectReference = strictObject({ name: ObjectName }, { description: "a cluster-scoped object" });
export type ClusterObjectReference = Static<typeof ClusterObjectReference>;

export const SecretReference = strictObject(
  { name: ObjectName },
  { description: "a Secret in the same namespace; the keys it must hold are given by the field using it" },
);
export type SecretReference = Static<typeof SecretReference>;

export const SecretKeyRef = strictObject(
  { name: ObjectName, key: Type.String({ minLength: 1, maxLength: 253, pattern: "^[-._a-zA-Z0-9]+$" }) },
  { description: "one key of a Secret in the same namespace" },
);
export type SecretKeyRef = Static<typeof SecretKeyRef>;

/** For cluster-scoped kinds, whose Secrets live in a namespace of their own. */
export const NamespacedSecretReference = strictObject(
  { namespace: DnsLabel, name: ObjectName },
  { description: "a Secret in the given namespace" },
);
export type NamespacedSecretReference = Static<typeof NamespacedSecretReference>;

export const ConfigMapKeyRef = strictObject(
  { name: ObjectName, key: Type.String({ minLength: 1, maxLength: 253, pattern: "^[-._a-zA-Z0-9]+$" }) },
  { description: "one key of a ConfigMap in the same namespace" },
);
export type ConfigMapKeyRef = Static<typeof ConfigMapKeyRef>;

/** A catalog entry here or on an Accepted Peer (`peer` = the Peer object's name). */
export const CatalogRef = strictObject(
  {
    name: ObjectName,
    namespace: Type.Optional(DnsLabel),
    peer: Type.Optional(ObjectName),
  },
  { description: "a Resource: in this namespace by default, in `namespace` if given, on the cluster of Peer `peer` if given" },
);
export type CatalogRef = Static<typeof CatalogRef>;

export const visibilities = ["public", "private", "restricted"] as const;
export const Visibility = StringEnum(visibilities, {
  description: "public: every local user and Accepted peer; private: local users only; restricted: members of spec.projects",
});
export type Visibility = Static<typeof Visibility>;

// The Kubernetes quantity grammar (apimachinery's resource.Quantity), without a sign.
const quantityPattern =
  "^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";
export const Quantity = Type.String({ maxLength: 64, pattern: quantityPattern, description: "a Kubernetes quantity, e.g. 500m, 4, 16Gi" });
export type Quantity = Static<typeof Quantity>;

/** Non-negative decimal as a string: money amounts, rates, ratios. Never a float. */
export const Decimal = Type.String({
  maxLength: 32,
  pattern: "^(0|[1-9][0-9]{0,17})(\\.[0-9]{1,9})?$",
  description: "a non-negative decimal number written as a string, e.g. \"0.042\"",
});
export type Decimal = Static<typeof Decimal>;

/** Signed decimal string (coordinates). */
export const SignedDecimal = Type.String({ maxLength: 32, pattern: "^-?(0|[1-9][0-9]{0,2})(\\.[0-9]{1,12})?$" });

export const Currency = Type.String({ pattern: "^[A-Z]{3}$", minLength: 3, maxLength: 3, description: "ISO 4217 code, e.g. EUR" });

export const Money = strictObject(
  { amount: Decimal, currency: Currency },
  { description: "an amount of money: a decimal string and an ISO 4217 currency" },
);
export type Money = Static<typeof Money>;

export const Timestamp = Type.String({ format: "date-time", description: "RFC 3339 time, e.g. 2026-01-01T00:00:00Z" });

/** A Go duration string (what Kubernetes users write elsewhere): 30s, 5m, 1h30m. */
export const Duration = Type.String({ maxLength: 32, pattern: "^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", description: "a duration, e.g. 30s, 5m, 1h30m" });

export const Url = Type.String({ minLength: 1, maxLength: 2048, pattern: "^[a-zA-Z][a-zA-Z0-9+.-]*://[^\\s]+$", description: "an absolute URL" });
export const HttpUrl = Type.String({ minLength: 1, maxLength: 2048, pattern: "^https?://[^\\s]+$", description: "an http(s) URL" });

/** A libp2p multiaddr, e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW... */
export const Multiaddr = Type.String({ minLength: 2, maxLength: 1024, pattern: "^/[^\\s]+$", description: "a libp2p multiaddr" });

/** A libp2p peer ID: base58btc (Qm…, 12D3Koo…) or a base32 CIDv1 (b…). */
const peerIdOptions = {
  minLength: 46,
  maxLength: 128,
  pattern: "^([1-9A-HJ-NP-Za-km-z]{46,64}|b[a-z2-7]{50,120})$",
  description: "a libp2p peer ID",
};
export const PeerId = Type.String(peerIdOptions);
/** A peer ID field with extra keywords (e.g. immutability). */
export function peerIdWith(extra: Record<string, unknown>): ReturnType<typeof Type.String> {
  return Type.String({ ...peerIdOptions, ...extra });
}

export const conditionStatuses = ["True", "False", "Unknown"] as const;

/** A status condition, as metav1.Condition (Kubernetes API conventions). */
export const Condition = strictObject({
  type: Type.String({
    maxLength: 316,
    pattern:
      "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    description: "CamelCase, e.g. Ready",
  }),
  status: StringEnum(conditionStatuses),
  reason: Type.String({ minLength: 1, maxLength: 1024, pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", description: "CamelCase, for machines" }),
  message: Type.String({ maxLength: 32768, description: "for humans" }),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: "int64" })),
  lastTransitionTime: Type.String({ format: "date-time", description: "when status last changed" }),
});
export type Condition = Static<typeof Condition>;
export type ConditionStatus = Condition["status"];

export const Conditions = Type.Array(Condition, {
  maxItems: 32,
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["type"],
  description: "the latest observations; Ready on every kind",
});

/** Fields every status has. Spread into a kind's status object. */
export const statusBase = {
  conditions: Type.Optional(Conditions),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: "int64", description: "the generation this status describes" })),
};

const StringMap = Type.Record(Type.String(), Type.String());

/** The metadata fields a client reads or sends (open: the server adds more). */
export const ObjectMeta = Type.Object({
  name: Type.Optional(Type.String()),
  generateName: Type.Optional(Type.String()),
  namespace: Type.Optional(Type.String()),
  uid: Type.Optional(Type.String()),
  resourceVersion: Type.Optional(Type.String()),
  generation: Type.Optional(Type.Integer()),
  creationTimestamp: Type.Optional(Type.String()),
  deletionTimestamp: Type.Optional(Type.String()),
  labels: Type.Optional(StringMap),
  annotations: Type.Optional(StringMap),
  finalizers: Type.Optional(Type.Array(Type.String())),
  ownerReferences: Type.Optional(Type.Array(Type.Object({ apiVersion: Type.String(), kind: Type.String(), name: Type.String(), uid: Type.String() }))),
});
export type ObjectMeta = Static<typeof ObjectMeta>;

/** The whole object of a kind: apiVersion, kind, metadata, spec, status. */
export function kindObject<K extends string, S extends TSchema, T extends TSchema>(
  kind: K,
  spec: S,
  status: T,
): TObject<{ apiVersion: TUnsafe<typeof apiVersion>; kind: TUnsafe<K>; metadata: typeof ObjectMeta; spec: S; status: TOptional<T> }> {
  return Type.Object({
    apiVersion: Type.Unsafe<typeof apiVersion>({ type: "string", enum: [apiVersion] }),
    kind: Type.Unsafe<K>({ type: "string", enum: [kind] }),
    metadata: ObjectMeta,
    spec,
    status: Type.Optional(status) as TOptional<T>,
  });
}

/** Printer columns every kind shares. */
export const readyColumn: PrinterColumn = {
  name: "Ready",
  type: "string",
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: "the Ready condition",
};
export const reasonColumn: PrinterColumn = {
  name: "Reason",
  type: "string",
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  description: "why Ready is what it is",
  priority: 1,
};
export const ageColumn: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

export function column(name: string, jsonPath: string, extra: Partial<PrinterColumn> = {}): PrinterColumn {
  return { name, type: "string", jsonPath, ...extra };
}
