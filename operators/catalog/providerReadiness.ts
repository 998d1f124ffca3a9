// Whether a Provider's spec is complete enough to serve Resources: a chain of named pure checks,
// each returning the first problem it finds as { reason, message } (cert-manager's readiness
// policies). The CRD's CEL rules catch most of this at admission; the chain also covers what
// CEL cannot express (ratios ≥ 1, where service images come from) and objects stored before a
// rule existed.
import type { PostgresConnection, ProviderSpec, S3Connection } from "../schema/provider.ts";

/** Every reason the Provider controller writes into conditions and Events. */
export const ProviderReason = {
  Valid: "Valid",
  MissingTypeBlock: "MissingTypeBlock",
  ExtraTypeBlock: "ExtraTypeBlock",
  MissingSourceBlock: "MissingSourceBlock",
  MissingField: "MissingField",
  InvalidSpec: "InvalidSpec",
  DeletionBlocked: "DeletionBlocked",
} as const;
export type ProviderReason = (typeof ProviderReason)[keyof typeof ProviderReason];

export interface CheckFailure {
  reason: ProviderReason;
  message: string;
}

export interface ReadinessCheck {
  name: string;
  /** The first problem found, or undefined when this check passes. */
  check(spec: ProviderSpec): CheckFailure | undefined;
}

export interface Readiness {
  ready: boolean;
  reason: ProviderReason;
  message: string;
  /** The check that failed, for logs. */
  failedCheck?: string;
}

const typeBlocks = ["data", "storage", "compute", "service"] as const;

const missing = (field: string, what: string): CheckFailure => ({
  reason: ProviderReason.MissingField,
  message: `${field} is required: ${what}`,
});

const blank = (v: unknown): boolean => typeof v !== "string" || v.trim() === "";

export const typeBlockPresent: ReadinessCheck = {
  name: "typeBlockPresent",
  check: (spec) => {
    if (!(typeBlocks as readonly string[]).includes(spec.type)) {
      return { reason: ProviderReason.InvalidSpec, message: `spec.type "${String(spec.type)}" is not one of ${typeBlocks.join(", ")}` };
    }
    return spec[spec.type] === undefined
      ? { reason: ProviderReason.MissingTypeBlock, message: `spec.${spec.type} is required when spec.type is "${spec.type}"` }
      : undefined;
  },
};

export const noOtherTypeBlock: ReadinessCheck = {
  name: "noOtherTypeBlock",
  check: (spec) => {
    const extra = typeBlocks.filter((b) => b !== spec.type && spec[b] !== undefined);
    return extra.length === 0
      ? undefined
      : {
          reason: ProviderReason.ExtraTypeBlock,
          message: `spec.${extra.join(", spec.")} must not be set when spec.type is "${spec.type}"; remove it or create a Provider of that type`,
        };
  },
};

function checkS3(at: string, s3: S3Connection): CheckFailure | undefined {
  if (blank(s3.endpoint)) return missing(`${at}.endpoint`, "the S3 endpoint URL");
  if (blank(s3.credentialsSecretRef?.name)) return missing(`${at}.credentialsSecretRef.name`, "the Secret holding accessKeyId and secretAccessKey");
  return undefined;
}

function checkPostgres(at: string, pg: PostgresConnection): CheckFailure | undefined {
  if (blank(pg.host)) return missing(`${at}.host`, "the PostgreSQL server's host name");
  if (blank(pg.database)) return missing(`${at}.database`, "the database to serve from");
  if (blank(pg.credentialsSecretRef?.name)) return missing(`${at}.credentialsSecretRef.name`, "the Secret holding username and password");
  return undefined;
}

/** The block a data source or storage backend names, checked for its connection fields. */
function checkBackendBlock(at: string, selector: string, block: { s3?: S3Connection; postgres?: PostgresConnection; stac?: { apiURL?: string } } & Record<string, unknown>): CheckFailure | undefined {
  const chosen = block[selector];
  if (chosen === undefined) {
    return { reason: ProviderReason.MissingSourceBlock, message: `${at}.${selector} is required when ${at} selects "${selector}"` };
  }
  if (selector === "s3" && block.s3) return checkS3(`${at}.s3`, block.s3);
  if (selector === "postgres" && block.postgres) return checkPostgres(`${at}.postgres`, block.postgres);
  if (selector === "stac" && blank(block.stac?.apiURL)) return missing(`${at}.stac.apiURL`, "the STAC API's URL");
  return undefined;
}

export const connectionFields: ReadinessCheck = {
  name: "connectionFields",
  check: (spec) => {
    if (spec.type === "data" && spec.data) return checkBackendBlock("spec.data", spec.data.source, spec.data);
    if (spec.type === "storage" && spec.storage) return checkBackendBlock("spec.storage", spec.storage.backend, spec.storage);
    return undefined;
  },
};

const decimal = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/** A ratio is a decimal string ≥ 1, compared as text so no float rounding is involved. */
function checkRatio(field: string, value: string | undefined): CheckFailure | undefined {
  if (value === undefined) return undefined;
  if (!decimal.test(value)) {
    return { reason: ProviderReason.InvalidSpec, message: `${field} "${value}" is not a decimal number; write it like "1.5"` };
  }
  return value.startsWith("0")
    ? { reason: ProviderReason.InvalidSpec, message: `${field} is ${value}; an overcommit ratio must be at least 1 (1 = no overcommit)` }
    : undefined;
}

export const computeRatios: ReadinessCheck = {
  name: "computeRatios",
  check: (spec) => {
    if (spec.type !== "compute" || !spec.compute) return undefined;
    const { capacity, overcommit } = spec.compute;
    if (capacity && blank(capacity.cpu)) return missing("spec.compute.capacity.cpu", "declared CPU capacity (or omit capacity to use the nodes' allocatable)");
    if (capacity && blank(capacity.memory)) return missing("spec.compute.capacity.memory", "declared memory capacity (or omit capacity to use the nodes' allocatable)");
    return checkRatio("spec.compute.overcommit.cpu", overcommit?.cpu) ?? checkRatio("spec.compute.overcommit.memory", overcommit?.memory);
  },
};

export const serviceImageSource: ReadinessCheck = {
  name: "serviceImageSource",
  check: (spec) => {
    if (spec.type !== "service" || !spec.service) return undefined;
    const { defaultImage, registry } = spec.service;
    if (!blank(defaultImage) || !blank(registry?.server)) return undefined;
    return missing("spec.service.defaultImage or spec.service.registry.server", "where the provider's service images come from");
  },
};

/** The chain, in order: a later check may assume the earlier ones passed. */
export const providerChecks: readonly ReadinessCheck[] = [typeBlockPresent, noOtherTypeBlock, connectionFields, computeRatios, serviceImageSource];

export function providerReadiness(spec: ProviderSpec | undefined, checks: readonly ReadinessCheck[] = providerChecks): Readiness {
  if (!spec) return { ready: false, reason: ProviderReason.InvalidSpec, message: "spec is required", failedCheck: "specPresent" };
  for (const c of checks) {
    const failure = c.check(spec);
    if (failure) return { ready: false, ...failure, failedCheck: c.name };
  }
  return { ready: true, reason: ProviderReason.Valid, message: `the ${spec.type} provider's configuration is complete` };
}

/** The Ready message while Resources hold a Provider that is being deleted. */
export function deletionBlockedMessage(resourceNames: readonly string[]): string {
  const shown = resourceNames.slice(0, 10).join(", ");
  const more = resourceNames.length > 10 ? ` and ${resourceNames.length - 10} more` : "";
  const noun = resourceNames.length === 1 ? "Resource still references" : "Resources still reference";
  return `deletion waits: ${resourceNames.length} ${noun} this Provider (${shown}${more}); delete them or point spec.providerRef at another Provider`;
}
