// What the generator, the API server and the tests need to know about one custom resource kind.
// A kind's schemas are TypeBox (JSON Schema) objects; the CRD YAML, the API's OpenAPI document
// and the TypeScript types (Static<typeof X>) all come from them.
import type { TSchema } from "typebox";

/** One column of `kubectl get` (CRD additionalPrinterColumns). */
export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  /** 0 shows in `kubectl get`; 1 only with `-o wide`. */
  priority?: number;
  format?: string;
}

/** A CEL rule as CRDs carry it in `x-kubernetes-validations`. */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  /** JSONPath (relative to the node carrying the rule) of the field the error is reported on. */
  fieldPath?: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
}

export interface KindDefinition {
  group: "archipel.io";
  version: "v1alpha1";
  kind: string;
  plural: string;
  singular: string;
  listKind: string;
  scope: "Namespaced" | "Cluster";
  shortNames: string[];
  categories: string[];
  /** One line for `kubectl explain <plural>`. */
  description: string;
  spec: TSchema;
  status: TSchema;
  printerColumns: PrinterColumn[];
  /**
   * CEL rules on the whole object (they may read metadata.name). Rules on spec fields live in
   * the spec schema itself (`x-kubernetes-validations` on the node they constrain), so that a
   * rule travels with the field it checks; `celRulesOf` in crd.ts lists both.
   */
  validations: ValidationRule[];
}

/** What the runtime needs to watch a kind (structurally the runtime's KindRef). */
export function kindRefOf(def: KindDefinition): { group: string; version: string; kind: string; plural: string; namespaced: boolean } {
  return { group: def.group, version: def.version, kind: def.kind, plural: def.plural, namespaced: def.scope === "Namespaced" };
}
