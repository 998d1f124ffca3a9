// The STAC API request a data/stac Resource stands for, and how its answer is read. Pure.
// Item search (POST /search, STAC API - Item Search) with collections, bbox, datetime, limit,
// and the Query extension for cloud cover; GET /search with the same parameters as fallback.
import type { DataResource } from "../schema/resource.ts";

export type StacSpec = NonNullable<DataResource["stac"]>;

export interface StacSearchBody {
  collections: string[];
  bbox?: [number, number, number, number];
  datetime?: string;
  limit: number;
  query?: Record<string, Record<string, number>>;
}

/** Items asked for when the Resource sets no limit (the count then saturates at this figure). */
export const defaultStacLimit = 1000;

export function stacSearchBody(spec: StacSpec): StacSearchBody {
  const body: StacSearchBody = { collections: [spec.collection], limit: spec.limit ?? defaultStacLimit };
  if (spec.bbox) body.bbox = [Number(spec.bbox.west), Number(spec.bbox.south), Number(spec.bbox.east), Number(spec.bbox.north)];
  if (spec.datetime) body.datetime = `${spec.datetime.start}/${spec.datetime.end}`;
  if (spec.maxCloudCover !== undefined) body.query = { "eo:cloud_cover": { lte: spec.maxCloudCover } };
  return body;
}

/** The same search as GET query parameters. */
export function stacSearchParams(body: StacSearchBody): URLSearchParams {
  const params = new URLSearchParams({ collections: body.collections.join(","), limit: String(body.limit) });
  if (body.bbox) params.set("bbox", body.bbox.join(","));
  if (body.datetime) params.set("datetime", body.datetime);
  if (body.query) params.set("query", JSON.stringify(body.query));
  return params;
}

/** apiURL + path, keeping any path prefix of apiURL ("https://host/stac/v1" + "search"). */
export function stacUrl(apiURL: string, path: string): URL {
  const base = apiURL.endsWith("/") ? apiURL : `${apiURL}/`;
  return new URL(path.replace(/^\//, ""), base);
}

/**
 * Matching items, at most the limit: the server's numberMatched (or context.matched) when it
 * counts, else the features it returned. Undefined when the answer is not an ItemCollection.
 */
export function stacItemCount(answer: unknown, limit: number): number | undefined {
  if (typeof answer !== "object" || answer === null) return undefined;
  const a = answer as { type?: unknown; features?: unknown; numberMatched?: unknown; context?: { matched?: unknown } };
  if (!Array.isArray(a.features)) return undefined;
  const matched = typeof a.numberMatched === "number" ? a.numberMatched : typeof a.context?.matched === "number" ? a.context.matched : a.features.length;
  return Math.min(matched, limit);
}
