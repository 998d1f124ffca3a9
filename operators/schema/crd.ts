// From a kind's TypeBox schemas to a CustomResourceDefinition (apiextensions.k8s.io/v1). Pure.
// TypeBox emits plain JSON Schema; a CRD needs a *structural* schema: every node typed, no
// unions of types, no `const`, no `patternProperties`, no closed objects (Kubernetes prunes
// unknown fields instead). The conversion rewrites what has a CRD equivalent and throws on
// anything else, so a schema that cannot become a CRD fails `make manifests`, not the cluster.
import type { TSchema } from "typebox";
import type { KindDefinition, ValidationRule } from "./kind.ts";

export type JsonObject = { [key: string]: unknown };

// Output key order: what a reader looks for first, then constraints, then children.
const keyOrder = [
  "description",
  "type",
  "format",
  "enum",
  "default",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "required",
  "properties",
  "additionalProperties",
  "items",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
] as const;
const allowedKeys = new Set<string>(keyOrder);
// Keywords with a CRD rewrite, handled before copying.
const rewrittenKeys = new Set(["const", "anyOf", "patternProperties"]);
const ruleKeyOrder = ["rule", "message", "messageExpression", "fieldPath", "reason"] as const;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `anyOf` of string constants (TypeBox's union of literals) → `enum`. */
function enumOfUnion(members: unknown, at: string): string[] {
  if (!Array.isArray(members)) throw new Error(`${at}: anyOf must be an array`);
  return members.map((member, i) => {
    if (isObject(member) && typeof member.const === "string") return member.const;
    if (isObject(member) && Array.isArray(member.enum) && member.enum.length === 1) return String(member.enum[0]);
    throw new Error(`${at}.anyOf[${i}]: only unions of string literals can become a CRD enum; use StringEnum or separate optional fields`);
  });
}

/** Rewrites TypeBox-only shapes into their CRD equivalents (shallow). */
function rewrite(node: JsonObject, at: string): JsonObject {
  const out: JsonObject = { ...node };
  if ("const" in out) {
    out.enum = [out.const];
    out.type ??= typeof out.const;
    delete out.const;
  }
  if ("anyOf" in out) {
    out.enum = enumOfUnion(out.anyOf, at);
    out.type ??= "string";
    delete out.anyOf;
  }
  if ("patternProperties" in out) {
    const patterns = out.patternProperties as JsonObject;
    const values = Object.values(patterns);
    if (values.length !== 1) throw new Error(`${at}: patternProperties with several patterns has no CRD equivalent`);
    out.additionalProperties = values[0];
    delete out.patternProperties;
  }
  // Closed objects are TypeBox's way to reject unknown fields; Kubernetes prunes them instead.
  if (out.additionalProperties === false) delete out.additionalProperties;
  return out;
}

function convertChild(key: string, value: unknown, at: string): unknown {
  if (key === "properties") {
    const props: JsonObject = {};
    for (const [name, child] of Object.entries(value as JsonObject)) props[name] = structural(child, `${at}.${name}`);
    return props;
  }
  if (key === "items" || key === "additionalProperties") return structural(value, `${at}[]`);
  if (key === "x-kubernetes-validations") return (value as ValidationRule[]).map(orderedRule);
  return value;
}

function orderedRule(rule: ValidationRule): JsonObject {
  const out: JsonObject = {};
  for (const key of ruleKeyOrder) if (rule[key] !== undefined) out[key] = rule[key];
  return out;
}

/** The structural (CRD) form of one schema node and its children, keys in a fixed order. */
export function structural(schema: unknown, at = "schema"): JsonObject {
  if (!isObject(schema)) throw new Error(`${at}: expected a schema object`);
  const node = rewrite(schema, at);
  for (const key of Object.keys(node)) {
    if (!allowedKeys.has(key) && !rewrittenKeys.has(key)) {
      throw new Error(`${at}: keyword "${key}" has no place in a CRD schema; remove it from the TypeBox schema`);
    }
  }
  const untypedOk = node["x-kubernetes-preserve-unknown-fields"] === true;
  if (node.type === undefined && !untypedOk) throw new Error(`${at}: every node of a structural schema needs a type`);
  const out: JsonObject = {};
  for (const key of keyOrder) {
    if (node[key] !== undefined) out[key] = convertChild(key, node[key], at);
  }
  return out;
}

/** The openAPIV3Schema of a kind's CRD: the whole object, structural. */
export function objectSchemaOf(kind: KindDefinition): JsonObject {
  const root: JsonObject = {
    description: kind.description,
    type: "object",
    required: ["spec"],
    properties: {
      apiVersion: { description: "archipel.io/v1alpha1", type: "string" },
      kind: { description: kind.kind, type: "string" },
      metadata: { type: "object" },
      spec: { description: `what the user wants of this ${kind.kind}`, ...structural(kind.spec, "spec") },
      status: { description: "what the controllers observed (written through the status subresource)", ...structural(kind.status, "status") },
    },
  };
  if (kind.validations.length > 0) root["x-kubernetes-validations"] = kind.validations.map(orderedRule);
  return root;
}

function printerColumns(kind: KindDefinition): JsonObject[] {
  const order = ["name", "type", "format", "description", "priority", "jsonPath"] as const;
  return kind.printerColumns.map((col) => {
    const out: JsonObject = {};
    for (const key of order) if (col[key] !== undefined) out[key] = col[key];
    return out;
  });
}

export const crdName = (kind: KindDefinition): string => `${kind.plural}.${kind.group}`;

/** The CustomResourceDefinition of a kind. */
export function crdOf(kind: KindDefinition): JsonObject {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: crdName(kind), labels: { "app.kubernetes.io/part-of": "archipel" } },
    spec: {
      group: kind.group,
      names: {
        kind: kind.kind,
        listKind: kind.listKind,
        plural: kind.plural,
        singular: kind.singular,
        shortNames: kind.shortNames,
        categories: kind.categories,
      },
      scope: kind.scope,
      versions: [
        {
          name: kind.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns(kind),
          schema: { openAPIV3Schema: objectSchemaOf(kind) },
        },
      ],
    },
  };
}

/** Every CEL rule of a kind with the path of the node carrying it (for docs and tests). */
export function celRulesOf(kind: KindDefinition): { path: string; rule: ValidationRule }[] {
  const found: { path: string; rule: ValidationRule }[] = kind.validations.map((rule) => ({ path: "", rule }));
  const walk = (node: unknown, path: string): void => {
    if (!isObject(node)) return;
    for (const rule of (node["x-kubernetes-validations"] as ValidationRule[] | undefined) ?? []) found.push({ path, rule });
    for (const [name, child] of Object.entries((node.properties as JsonObject | undefined) ?? {})) walk(child, `${path}.${name}`);
    if (node.items !== undefined) walk(node.items, `${path}[]`);
  };
  walk(kind.spec as TSchema, "spec");
  walk(kind.status as TSchema, "status");
  return found;
}
