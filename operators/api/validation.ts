// Request validation with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1), configured
// for a thin view over Kubernetes: bodies are validated as sent (no type coercion, no removal
// of unknown fields, no defaults: Kubernetes applies the CRD's defaults itself), while path
// and query strings are coerced to the declared types (`?limit=10` → 10).
// Fastify's default compiler removes unknown properties and coerces bodies; a client would
// then see its typo silently dropped instead of a 400 naming the field.
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";

// ajv-formats is CommonJS; under nodenext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

function newAjv(coerceTypes: boolean): Ajv2020 {
  // strict: false — CRD schemas carry `x-kubernetes-*` keywords that only the API server reads.
  const ajv = new Ajv2020({ strict: false, allErrors: false, coerceTypes, useDefaults: false, removeAdditional: false, logger: false });
  addFormats(ajv);
  return ajv;
}

const bodyAjv = newAjv(false);
const stringPartsAjv = newAjv(true);

/** Fastify's validatorCompiler: strict for bodies, coercing for params/querystring/headers. */
export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === "body" ? bodyAjv : stringPartsAjv;
  // A compiled Ajv function is what Fastify expects: it returns a boolean and keeps `.errors`,
  // which Fastify attaches to the error as `validation` with `validationContext` = the part.
  const validate: ValidateFunction = ajv.compile(schema as object);
  return validate;
};
