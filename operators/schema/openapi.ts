// The OpenAPI v3 schema of a kind, exactly as its CRD publishes it (structural form), for
// servers and clients that want the Kubernetes view rather than the TypeBox one.
import { objectSchemaOf, structural, type JsonObject } from "./crd.ts";
import type { KindDefinition } from "./kind.ts";

/** The whole object (apiVersion, kind, metadata, spec, status), as in the CRD. */
export function openapiSchemaOf(kind: KindDefinition): JsonObject {
  return objectSchemaOf(kind);
}

/** Only the spec, as in the CRD. */
export function openapiSpecSchemaOf(kind: KindDefinition): JsonObject {
  return structural(kind.spec, "spec");
}
