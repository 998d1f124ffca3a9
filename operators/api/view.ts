// The API's view of a custom resource, and the objects it sends to Kubernetes. Pure: the
// handlers do the I/O. The view drops what only Kubernetes machinery reads (managedFields,
// last-applied annotations) and keeps what a client needs for the next write.
import type { TSchema } from "typebox";

/** What the API needs of a kind; `KindDefinition` from operators/schema satisfies it. */
export interface ApiKind {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  scope: "Namespaced" | "Cluster";
  spec: TSchema;
  status: TSchema;
}

export const apiVersionOf = (kind: ApiKind): string => `${kind.group}/${kind.version}`;

export interface ObjectMetadataView {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

export interface ObjectView {
  apiVersion: string;
  kind: string;
  metadata: ObjectMetadataView;
  spec: unknown;
  status?: unknown;
}

export interface ListView {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: ObjectView[];
}

type Json = Record<string, unknown>;

const hiddenAnnotations = new Set(["kubectl.kubernetes.io/last-applied-configuration"]);

const metadataKeys = [
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "labels",
  "finalizers",
] as const;

function asRecord(value: unknown): Json {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function pickMetadata(raw: Json): ObjectMetadataView {
  const view: Json = {};
  for (const key of metadataKeys) {
    if (raw[key] !== undefined) view[key] = raw[key];
  }
  const annotations = Object.entries(asRecord(raw.annotations)).filter(([k]) => !hiddenAnnotations.has(k));
  if (annotations.length > 0) view.annotations = Object.fromEntries(annotations);
  return view as unknown as ObjectMetadataView;
}

/** A custom object as Kubernetes returned it → the API's view of it. */
export function toObjectView(kind: ApiKind, raw: unknown): ObjectView {
  const obj = asRecord(raw);
  const view: ObjectView = {
    apiVersion: apiVersionOf(kind),
    kind: kind.kind,
    metadata: pickMetadata(asRecord(obj.metadata)),
    spec: obj.spec ?? {},
  };
  if (obj.status !== undefined) view.status = obj.status;
  return view;
}

/** A Kubernetes list → the API's list view (continue token passed through for paging). */
export function toListView(kind: ApiKind, raw: unknown): ListView {
  const list = asRecord(raw);
  const meta = asRecord(list.metadata);
  const metadata: ListView["metadata"] = {};
  if (typeof meta.resourceVersion === "string") metadata.resourceVersion = meta.resourceVersion;
  if (typeof meta.continue === "string" && meta.continue !== "") metadata.continue = meta.continue;
  if (typeof meta.remainingItemCount === "number") metadata.remainingItemCount = meta.remainingItemCount;
  const items = Array.isArray(list.items) ? list.items : [];
  return { apiVersion: apiVersionOf(kind), kind: `${kind.kind}List`, metadata, items: items.map((i) => toObjectView(kind, i)) };
}

/** Whether a DELETE answer is a Status (the object is gone) rather than the object itself. */
export function isDeletedStatus(raw: unknown): boolean {
  return asRecord(raw).kind === "Status";
}

/** What a client sends to create an object. */
export interface CreateRequest {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: unknown;
}

/** What a client sends to replace an object's spec (and optionally its labels/annotations). */
export interface ReplaceRequest {
  metadata: { name?: string; resourceVersion: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: unknown;
}

/** The object to create: apiVersion, kind and namespace come from the server, never the body. */
export function newObject(kind: ApiKind, namespace: string | undefined, body: CreateRequest): Json {
  const metadata: Json = { name: body.metadata.name };
  if (namespace !== undefined) metadata.namespace = namespace;
  if (body.metadata.labels) metadata.labels = body.metadata.labels;
  if (body.metadata.annotations) metadata.annotations = body.metadata.annotations;
  return { apiVersion: apiVersionOf(kind), kind: kind.kind, metadata, spec: body.spec };
}

/**
 * The object to PUT: the current object with the caller's spec (and labels/annotations when
 * given) and the caller's resourceVersion, so Kubernetes refuses the write with 409 when the
 * object changed since the caller read it. Finalizers, owner references and status are kept.
 */
export function replacedObject(current: unknown, body: ReplaceRequest): Json {
  const obj = asRecord(current);
  const metadata: Json = { ...asRecord(obj.metadata), resourceVersion: body.metadata.resourceVersion };
  delete metadata.managedFields;
  if (body.metadata.labels) metadata.labels = body.metadata.labels;
  if (body.metadata.annotations) metadata.annotations = body.metadata.annotations;
  return { ...obj, metadata, spec: body.spec };
}
