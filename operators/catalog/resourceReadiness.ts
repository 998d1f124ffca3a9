// Whether a catalog Resource can be served: the pure decisions of the Resource controller.
// The reconciler gathers facts (the Provider from the cache, what a backend answered) and these
// functions turn them into { reason, message }: the gate every type passes (provider exists, is
// Ready, has the same type and source), the verification of declared file facts, and when a
// backend may be asked again (never hammered: a success is re-checked every few minutes, a
// failure with growing back-off).
import type { Condition } from "../schema/common.ts";
import type { Provider } from "../schema/provider.ts";
import type { Checksum, Resource } from "../schema/resource.ts";

/** Every reason the Resource controller writes into conditions and Events. */
export const ResourceReason = {
  Available: "Available",
  InvalidSpec: "InvalidSpec",
  ProviderNotFound: "ProviderNotFound",
  ProviderNotReady: "ProviderNotReady",
  ProviderTypeMismatch: "ProviderTypeMismatch",
  SourceMismatch: "SourceMismatch",
  CredentialsNotFound: "CredentialsNotFound",
  SourceUnreachable: "SourceUnreachable",
  SizeMismatch: "SizeMismatch",
  ChecksumMismatch: "ChecksumMismatch",
  ContentTooLarge: "ContentTooLarge",
  ObjectNotFound: "ObjectNotFound",
  CollectionNotFound: "CollectionNotFound",
  TableNotFound: "TableNotFound",
  ColumnNotFound: "ColumnNotFound",
  InvalidQuery: "InvalidQuery",
  BackendUnreachable: "BackendUnreachable",
  InvalidCWL: "InvalidCWL",
  CWLNotFound: "CWLNotFound",
  InsufficientCapacity: "InsufficientCapacity",
  EgressRefused: "EgressRefused",
} as const;
export type ResourceReason = (typeof ResourceReason)[keyof typeof ResourceReason];

export interface Verdict {
  ready: boolean;
  reason: ResourceReason;
  message: string;
}

export const notReady = (reason: ResourceReason, message: string): Verdict => ({ ready: false, reason, message });
export const available = (message: string): Verdict => ({ ready: true, reason: ResourceReason.Available, message });

/** Conditions carry a human message, not a backend's whole stack: keep the head of it. */
export function trimMessage(message: string, max = 1024): string {
  const oneSpace = message.replace(/\s+\n/g, "\n").trim();
  return oneSpace.length <= max ? oneSpace : `${oneSpace.slice(0, max - 1)}…`;
}

function readyOf(conditions: readonly Condition[] | undefined): Condition | undefined {
  return conditions?.find((c) => c.type === "Ready");
}

/** The data source or storage backend a Resource's spec selects ("url", "s3", …), if any. */
export function selectedBlock(resource: Resource): string | undefined {
  const spec = resource.spec;
  const block = spec.type === "data" ? spec.data : spec.type === "storage" ? spec.storage : undefined;
  if (!block) return undefined;
  return ["url", "s3", "stac", "postgres"].find((k) => (block as Record<string, unknown>)[k] !== undefined);
}

/** What the provider's configuration offers for the same type ("url", "s3", …). */
function providerBlock(provider: Provider): string | undefined {
  if (provider.spec.type === "data") return provider.spec.data?.source;
  if (provider.spec.type === "storage") return provider.spec.storage?.backend;
  return undefined;
}

/**
 * The gate every Resource passes before its backend is asked anything: the Provider named by
 * spec.providerRef exists in the namespace, is Ready, offers the same type and the same source.
 */
export function providerGate(resource: Resource, provider: Provider | undefined): Verdict | undefined {
  const name = resource.spec.providerRef.name;
  if (!provider) {
    return notReady(ResourceReason.ProviderNotFound, `spec.providerRef.name: Provider "${name}" does not exist in this namespace; create it or name another`);
  }
  if (provider.spec.type !== resource.spec.type) {
    return notReady(
      ResourceReason.ProviderTypeMismatch,
      `spec.type is "${resource.spec.type}" but Provider "${name}" offers "${provider.spec.type}"; point spec.providerRef at a ${resource.spec.type} provider`,
    );
  }
  return providerReadyGate(name, provider) ?? sourceGate(resource, provider);
}

/**
 * The Provider's last Ready verdict stands while its controller catches up with a new
 * generation (a displayName edit must not flap every Resource); the catch-up is a relevant
 * change that wakes the Resources again.
 */
function providerReadyGate(name: string, provider: Provider): Verdict | undefined {
  const ready = readyOf(provider.status?.conditions);
  if (ready?.status === "True") return undefined;
  const why = ready ? `${ready.reason}: ${ready.message}` : "its controller has not validated it yet";
  return notReady(ResourceReason.ProviderNotReady, `Provider "${name}" is not Ready (${why})`);
}

function sourceGate(resource: Resource, provider: Provider): Verdict | undefined {
  const name = resource.spec.providerRef.name;
  const wanted = selectedBlock(resource);
  const offered = providerBlock(provider);
  if (wanted !== undefined && offered !== undefined && wanted !== offered) {
    const field = `spec.${resource.spec.type}.${wanted}`;
    return notReady(ResourceReason.SourceMismatch, `${field} is set but Provider "${name}" serves ${resource.spec.type} from "${offered}"; use spec.${resource.spec.type}.${offered} or another Provider`);
  }
  return undefined;
}

/**
 * What a Provider's Resources depend on, as one comparable string: its spec (generation), its
 * deletion and its Ready condition. Status-only changes of other fields (resourceCount, compute
 * figures) leave it unchanged, so they do not wake every Resource of a large Provider.
 */
export function providerRelevance(provider: Provider): string {
  const ready = readyOf(provider.status?.conditions);
  return JSON.stringify([provider.metadata?.generation, provider.metadata?.deletionTimestamp ?? null, ready?.status, ready?.reason, ready?.message, ready?.observedGeneration]);
}

/**
 * The inputs a backend check depends on: the Resource's spec and, of its Provider, only the type
 * and the block of that type (a displayName edit re-checks nothing).
 */
export function checkInputs(resource: Resource, provider: Provider, configMapVersion: string | undefined): unknown[] {
  const spec = provider.spec;
  return [resource.metadata?.generation, resource.spec, spec.type, spec[spec.type], configMapVersion];
}

/** What a backend told about one file or object. */
export interface ObservedFile {
  sizeBytes?: number;
  /** Hex digest, computed with the declared checksum's algorithm. */
  digest?: string;
}

/** Checks the declared sizeBytes and checksum against what was observed; `at` is the spec block's path. */
export function verifyFileFacts(at: string, declared: { sizeBytes?: number; checksum?: Checksum }, observed: ObservedFile): Verdict | undefined {
  if (declared.sizeBytes !== undefined && observed.sizeBytes !== undefined && declared.sizeBytes !== observed.sizeBytes) {
    return notReady(ResourceReason.SizeMismatch, `${at}.sizeBytes is ${declared.sizeBytes} but the source has ${observed.sizeBytes} bytes; correct the field or the source`);
  }
  if (declared.checksum && observed.digest !== undefined && declared.checksum.value !== observed.digest) {
    return notReady(
      ResourceReason.ChecksumMismatch,
      `${at}.checksum.value does not match: the content's ${declared.checksum.algorithm} is ${observed.digest}, the spec declares ${declared.checksum.value}`,
    );
  }
  return undefined;
}

/** How often backends are asked again. */
export interface RecheckPolicy {
  /** A Ready Resource's backend is checked again after this long. */
  readyIntervalMs: number;
  /** First retry of a failure (a retryable one: unreachable backends). */
  minRetryMs: number;
  /** Longest wait between retries. */
  maxRetryMs: number;
}

export const defaultRecheckPolicy: RecheckPolicy = { readyIntervalMs: 5 * 60_000, minRetryMs: 5_000, maxRetryMs: 5 * 60_000 };

/** Reasons a backend can fix by itself (a retry may succeed without any spec edit). */
const transient = new Set<ResourceReason>([ResourceReason.SourceUnreachable, ResourceReason.BackendUnreachable, ResourceReason.CredentialsNotFound]);

/** The last backend check of one Resource, remembered in memory between reconciles. */
export interface CheckRecord {
  /** What the check depended on: the Resource's and Provider's specs and generations. */
  fingerprint: string;
  checkedAt: number;
  verdict: Verdict;
  /** When the current run of failures began (for back-off), if failing. */
  failingSince?: number;
}

/** How long after `record.checkedAt` the next check of the backend is due. */
export function recheckDelay(record: CheckRecord, policy: RecheckPolicy = defaultRecheckPolicy): number {
  if (record.verdict.ready) return policy.readyIntervalMs;
  if (!transient.has(record.verdict.reason)) return policy.maxRetryMs;
  // Back-off grows with how long the backend has been failing: 5 s, then about doubling.
  const failingFor = record.checkedAt - (record.failingSince ?? record.checkedAt);
  return Math.min(policy.maxRetryMs, Math.max(policy.minRetryMs, failingFor));
}

/** True when the remembered check still stands: same inputs, and not yet due again. */
export function checkStillValid(record: CheckRecord | undefined, fingerprint: string, now: number, policy: RecheckPolicy = defaultRecheckPolicy): record is CheckRecord {
  return record !== undefined && record.fingerprint === fingerprint && now < record.checkedAt + recheckDelay(record, policy);
}

/** The record after a new check at `now`. */
export function nextRecord(previous: CheckRecord | undefined, fingerprint: string, verdict: Verdict, now: number): CheckRecord {
  if (verdict.ready) return { fingerprint, checkedAt: now, verdict };
  const failingSince = previous && !previous.verdict.ready ? (previous.failingSince ?? previous.checkedAt) : now;
  return { fingerprint, checkedAt: now, verdict, failingSince };
}

/**
 * A re-check that observes the same size and count keeps the stored checkedAt, so a healthy
 * Resource costs no status write per re-check (10,000 data Resources every 5 min would be
 * 33 writes/s for nothing): checkedAt is when the current observation was first made.
 */
export function dataStatus(resource: Resource, data: NonNullable<NonNullable<Resource["status"]>["data"]>, checkedAt: string): NonNullable<NonNullable<Resource["status"]>["data"]> {
  const previous = resource.status?.data;
  const same = previous?.checkedAt !== undefined && previous.sizeBytes === data.sizeBytes && previous.itemCount === data.itemCount;
  return { ...data, checkedAt: same ? previous.checkedAt : checkedAt };
}
