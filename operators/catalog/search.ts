// Catalog search, pure: filters (text over title/description/tags, type, tags, provider),
// a stable order (namespace/name), pagination with an opaque continue token, and visibility
// decided by decideVisibility for every item — the search never has its own rules.
// The HTTP layer feeds it candidates from the informer cache, already in key order from after
// the continue key (an index narrows them first: candidatesFor): a page reads only the
// candidates up to its last item plus one, sorts nothing, and costs the same whatever its page
// number. Text is narrowed by a trigram index, so a rare word does not scan the whole catalog.
import { type Cache, mergeScans } from "../runtime/cache.ts";
import type { Project } from "../schema/project.ts";
import type { Resource } from "../schema/resource.ts";
import { type Caller, decideVisibility, type ProjectMemberships } from "./visibility.ts";

export const defaultPageSize = 50;
export const maxPageSize = 500;

export interface CatalogQuery {
  /** Case-insensitive substring of title, description or a tag. */
  text?: string;
  type?: string;
  /** Every listed tag must be present (case-insensitive). */
  tags?: readonly string[];
  /** Provider name (in the Resource's namespace). */
  provider?: string;
  limit?: number;
  /** The opaque token of the previous page. */
  continueToken?: string;
}

export interface CatalogItem {
  /** The cluster the Resource lives in (set by the federated search; local search sets this cluster's name). */
  origin?: string;
  namespace: string;
  name: string;
  type: string;
  title: string;
  description?: string;
  tags: string[];
  provider: string;
  visibility: string;
  projects?: string[];
  ready: boolean;
}

export interface CatalogPage {
  items: CatalogItem[];
  /** Present when more items follow: pass it back as `continue`. */
  continue?: string;
}

/** A query the search cannot run; `field` names the query parameter. */
export class CatalogQueryError extends Error {
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.name = "CatalogQueryError";
    this.field = field;
  }
}

/**
 * A Resource whose searchable text is longer than this is not split into trigrams (a 4 KiB
 * description would add thousands of index entries): it sits in one bucket every text query reads.
 */
export const maxTrigramText = 1024;
export const longTextBucket = "\u0000long";

/** The distinct 3-character substrings of a lower-cased text (UTF-16 units, as `includes` compares). */
export function trigramsOf(lowered: string): string[] {
  const grams = new Set<string>();
  for (let i = 0; i + 3 <= lowered.length; i++) grams.add(lowered.slice(i, i + 3));
  return [...grams];
}

function searchableText(r: Resource): string[] {
  return [r.spec.title, r.spec.description ?? "", ...(r.spec.tags ?? [])];
}

/**
 * The text index's values of a Resource: the trigrams of each field on its own (a match never
 * spans two fields), so every Resource whose text contains a query holds all the query's trigrams.
 */
function textIndexValues(r: Resource): string[] {
  const fields = searchableText(r);
  if (fields.reduce((n, f) => n + f.length, 0) > maxTrigramText) return [longTextBucket];
  return [...new Set(fields.flatMap((f) => trigramsOf(f.toLowerCase())))];
}

/** Index functions for an informer cache of Resources (values are lower-cased). */
export const catalogIndexes = {
  text: textIndexValues,
  type: (r: Resource): string[] => [r.spec.type],
  tag: (r: Resource): string[] => (r.spec.tags ?? []).map((t) => t.toLowerCase()),
  provider: (r: Resource): string[] => [r.spec.providerRef.name],
  /** Namespaces holding a private Resource: the only ones whose list right a search asks about. */
  privateNamespace: (r: Resource): string[] => (r.spec.visibility === "private" && r.metadata.namespace ? [r.metadata.namespace] : []),
} as const;

/** Project objects → the memberships decideVisibility reads. */
export function projectMemberships(projects: readonly Project[]): ProjectMemberships {
  return new Map(
    projects.map((p) => [
      p.metadata.name ?? "",
      { users: p.spec.members.users ?? [], groups: p.spec.members.groups ?? [], clusters: p.spec.members.clusters ?? [] },
    ]),
  );
}

function keyOf(r: { namespace?: string; name?: string }): string {
  return `${r.namespace ?? ""}/${r.name ?? ""}`;
}

export function encodeContinue(afterKey: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after: afterKey })).toString("base64url");
}

export function decodeContinue(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { v?: unknown; after?: unknown };
    if (parsed.v === 1 && typeof parsed.after === "string") return parsed.after;
  } catch {
    // fall through: a token we did not issue
  }
  throw new CatalogQueryError("continue", "continue is not a token this server issued; start again without it");
}

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return defaultPageSize;
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPageSize) {
    throw new CatalogQueryError("limit", `limit must be an integer between 1 and ${maxPageSize}`);
  }
  return limit;
}

function matchesText(r: Resource, text: string | undefined): boolean {
  if (!text) return true;
  const needle = text.toLowerCase();
  return searchableText(r).some((s) => s.toLowerCase().includes(needle));
}

function matchesFilters(r: Resource, q: CatalogQuery): boolean {
  if (q.type && r.spec.type !== q.type) return false;
  if (q.provider && r.spec.providerRef.name !== q.provider) return false;
  const tags = (r.spec.tags ?? []).map((t) => t.toLowerCase());
  if (q.tags && !q.tags.every((t) => tags.includes(t.toLowerCase()))) return false;
  return matchesText(r, q.text);
}

function isReady(r: Resource): boolean {
  return (r.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

/** The catalog view of a Resource: spec facts only, never status details or backend config. */
export function catalogItem(r: Resource, origin?: string): CatalogItem {
  return {
    ...(origin ? { origin } : {}),
    namespace: r.metadata.namespace ?? "",
    name: r.metadata.name ?? "",
    type: r.spec.type,
    title: r.spec.title,
    ...(r.spec.description ? { description: r.spec.description } : {}),
    tags: [...(r.spec.tags ?? [])],
    provider: r.spec.providerRef.name,
    visibility: r.spec.visibility,
    ...(r.spec.projects ? { projects: [...r.spec.projects] } : {}),
    ready: isReady(r),
  };
}

/**
 * One page of the Resources `caller` may see that match `query`, in namespace/name order.
 * `candidates` may be any superset of the matches (e.g. one index bucket).
 */
export interface SearchViewer {
  caller: Caller;
  memberships: ProjectMemberships;
  /** This cluster's name, set as each item's origin when given. */
  origin?: string;
}

/** Resources in key order (namespace/name), starting after a key when one is given. */
export type OrderedResources = (after: string | undefined) => Iterable<Resource>;

function visibleTo(r: Resource, viewer: SearchViewer): boolean {
  const target = { visibility: r.spec.visibility, ...(r.spec.projects ? { projects: r.spec.projects } : {}), ...(r.metadata.namespace ? { namespace: r.metadata.namespace } : {}) };
  return decideVisibility(target, viewer.caller, viewer.memberships).visible;
}

/** One page from candidates already in key order: reads up to the page's last match plus one. */
export function searchOrdered(ordered: OrderedResources, query: CatalogQuery, viewer: SearchViewer): CatalogPage {
  const limit = pageLimit(query.limit);
  const after = query.continueToken === undefined ? undefined : decodeContinue(query.continueToken);
  const page: Resource[] = [];
  let more = false;
  for (const r of ordered(after)) {
    if (!matchesFilters(r, query) || !visibleTo(r, viewer)) continue;
    if (page.length === limit) {
      more = true;
      break;
    }
    page.push(r);
  }
  const last = page[page.length - 1];
  return {
    items: page.map((r) => catalogItem(r, viewer.origin)),
    ...(more && last ? { continue: encodeContinue(keyOf(last.metadata)) } : {}),
  };
}

type Bucket = { index: keyof typeof catalogIndexes; value: string };

/**
 * The Resources a query can match, in key order from after a key: the smallest index bucket among
 * its type, provider, first tag and text trigrams (counted, not listed), else every Resource. A
 * trigram bucket is read together with the long-text bucket, which no trigram covers.
 */
export function candidatesFor(resources: Cache<Resource>, query: CatalogQuery): OrderedResources {
  const buckets: Bucket[] = [];
  if (query.type) buckets.push({ index: "type", value: query.type });
  if (query.provider) buckets.push({ index: "provider", value: query.provider });
  const firstTag = query.tags?.[0];
  if (firstTag) buckets.push({ index: "tag", value: firstTag.toLowerCase() });
  for (const gram of trigramsOf(query.text?.toLowerCase() ?? "")) buckets.push({ index: "text", value: gram });
  const size = (b: Bucket): number => resources.indexCount(b.index, b.value) + (b.index === "text" ? resources.indexCount("text", longTextBucket) : 0);
  const smallest = buckets.reduce<Bucket | undefined>((a, b) => (a === undefined || size(b) < size(a) ? b : a), undefined);
  const from = (after: string | undefined): { after?: string } => (after !== undefined ? { after } : {});
  if (smallest?.index !== "text") return (after) => resources.scan({ ...smallest, ...from(after) });
  return (after) => mergeScans(resources.scan({ ...smallest, ...from(after) }), resources.scan({ index: "text", value: longTextBucket, ...from(after) }));
}

/** searchOrdered over candidates in any order (sorted here: for callers without an ordered cache). */
export function searchCatalog(candidates: readonly Resource[], query: CatalogQuery, viewer: SearchViewer): CatalogPage {
  const sorted = [...candidates].sort((a, b) => (keyOf(a.metadata) < keyOf(b.metadata) ? -1 : keyOf(a.metadata) > keyOf(b.metadata) ? 1 : 0));
  return searchOrdered((after) => (after === undefined ? sorted : sorted.filter((r) => keyOf(r.metadata) > after)), query, viewer);
}

export interface PeerOutcome {
  cluster: string;
  items?: readonly CatalogItem[];
  error?: { code: string; message: string };
}

export interface FederatedResult {
  items: CatalogItem[];
  errors: { cluster: string; code: string; message: string }[];
}

/**
 * Local items plus every peer's, each tagged with its origin, de-duplicated by
 * origin/namespace/name (first wins: local before peers), ordered by origin then key.
 */
export function mergeFederated(localCluster: string, local: readonly CatalogItem[], peers: readonly PeerOutcome[]): FederatedResult {
  const seen = new Map<string, CatalogItem>();
  const add = (origin: string, item: CatalogItem): void => {
    const tagged = { ...item, origin };
    const key = `${origin}/${keyOf(tagged)}`;
    if (!seen.has(key)) seen.set(key, tagged);
  };
  for (const item of local) add(localCluster, item);
  for (const p of peers) for (const item of p.items ?? []) add(p.cluster, item);
  const items = [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, item]) => item);
  const errors = peers.filter((p) => p.error).map((p) => ({ cluster: p.cluster, code: p.error?.code ?? "Error", message: p.error?.message ?? "" }));
  return { items, errors };
}
