// Test fixture: a small STAC API on loopback (landing page, conformance, /collections,
// /collections/{id}, /collections/{id}/items, GET and POST /search with collections, bbox,
// datetime, limit and the Query extension's eo:cloud_cover) serving a few Sentinel-2-like
// items written here. Tests and demos use it; it records the requests it answered.
// For a demo: `node test/support/stac.ts [PORT]` serves until interrupted.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface StacItem {
  type: "Feature";
  stac_version: string;
  id: string;
  collection: string;
  bbox: [number, number, number, number];
  geometry: { type: "Polygon"; coordinates: number[][][] };
  properties: { datetime: string; "eo:cloud_cover": number; platform: string; "s2:mgrs_tile"?: string };
  assets: Record<string, { href: string; type: string; roles: string[] }>;
  links: { rel: string; href: string }[];
}

export interface StacCollection {
  id: string;
  title: string;
  description: string;
  extent: { spatial: { bbox: number[][] }; temporal: { interval: (string | null)[][] } };
}

function tile(id: string, bbox: [number, number, number, number], datetime: string, cloud: number): StacItem {
  const [w, s, e, n] = bbox;
  const platform = id.startsWith("S2B") ? "sentinel-2b" : "sentinel-2a";
  return {
    type: "Feature",
    stac_version: "1.0.0",
    id,
    collection: "sentinel-2-l2a",
    bbox,
    geometry: { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
    properties: { datetime, "eo:cloud_cover": cloud, platform, "s2:mgrs_tile": id.split("_")[1] ?? "" },
    assets: {
      visual: { href: `https://example.invalid/s2/${id}/TCI.tif`, type: "image/tiff; application=geotiff; profile=cloud-optimized", roles: ["visual"] },
      B04: { href: `https://example.invalid/s2/${id}/B04.tif`, type: "image/tiff; application=geotiff", roles: ["data"] },
    },
    links: [],
  };
}

/** Six L2A tiles over Provence (31TGJ, 32TLP) and one over Brittany, June–July 2026. */
export const sentinelItems: StacItem[] = [
  tile("S2A_31TGJ_20260603_0_L2A", [5.0, 43.2, 6.3, 44.2], "2026-06-03T10:30:21Z", 5),
  tile("S2B_31TGJ_20260608_0_L2A", [5.0, 43.2, 6.3, 44.2], "2026-06-08T10:30:19Z", 62),
  tile("S2A_31TGJ_20260613_0_L2A", [5.0, 43.2, 6.3, 44.2], "2026-06-13T10:30:24Z", 12),
  tile("S2A_32TLP_20260613_0_L2A", [6.2, 43.3, 7.5, 44.3], "2026-06-13T10:30:27Z", 18),
  tile("S2B_32TLP_20260705_0_L2A", [6.2, 43.3, 7.5, 44.3], "2026-07-05T10:30:11Z", 3),
  tile("S2A_31TGJ_20260712_0_L2A", [5.0, 43.2, 6.3, 44.2], "2026-07-12T10:30:18Z", 40),
  tile("S2A_30UVU_20260610_0_L2A", [-4.6, 47.8, -3.2, 48.8], "2026-06-10T11:06:31Z", 25),
];

export const sentinelCollections: StacCollection[] = [
  {
    id: "sentinel-2-l2a",
    title: "Sentinel-2 Level-2A (test copy)",
    description: "Bottom-of-atmosphere reflectance tiles, a handful written for tests",
    extent: { spatial: { bbox: [[-4.6, 43.2, 7.5, 48.8]] }, temporal: { interval: [["2026-06-01T00:00:00Z", null]] } },
  },
  { id: "sentinel-1-grd", title: "Sentinel-1 GRD (empty)", description: "no items", extent: { spatial: { bbox: [[-180, -90, 180, 90]] }, temporal: { interval: [[null, null]] } } },
];

export interface StacSearch {
  collections?: string[];
  bbox?: number[];
  datetime?: string;
  limit?: number;
  query?: Record<string, Record<string, number>>;
}

function intersects(a: number[], b: number[]): boolean {
  const [aw = 0, as = 0, ae = 0, an = 0] = a;
  const [bw = 0, bs = 0, be = 0, bn = 0] = b;
  return aw <= be && bw <= ae && as <= bn && bs <= an;
}

function inInterval(datetime: string, interval: string): boolean {
  const [start = "..", end = ".."] = interval.includes("/") ? interval.split("/") : [interval, interval];
  const t = Date.parse(datetime);
  return (start === ".." || start === "" || t >= Date.parse(start)) && (end === ".." || end === "" || t <= Date.parse(end));
}

function cloudOk(item: StacItem, query: StacSearch["query"]): boolean {
  const rule = query?.["eo:cloud_cover"];
  if (!rule) return true;
  const cc = item.properties["eo:cloud_cover"];
  return (rule.lte === undefined || cc <= rule.lte) && (rule.lt === undefined || cc < rule.lt) && (rule.gte === undefined || cc >= rule.gte);
}

/** The filtering a STAC API does, over `items`. */
export function searchItems(items: readonly StacItem[], search: StacSearch): { matched: StacItem[]; returned: StacItem[] } {
  const matched = items.filter(
    (item) =>
      (!search.collections?.length || search.collections.includes(item.collection)) &&
      (!search.bbox || intersects(item.bbox, search.bbox)) &&
      (!search.datetime || inInterval(item.properties.datetime, search.datetime)) &&
      cloudOk(item, search.query),
  );
  return { matched, returned: matched.slice(0, search.limit ?? 10) };
}

export interface StacServer {
  url: string;
  /** Requests answered, as "METHOD path". */
  requests: string[];
  /** Refuse POST /search with 405 (to exercise a client's GET fallback). */
  refusePost: boolean;
  close(): Promise<void>;
}

function searchFromQuery(params: URLSearchParams): StacSearch {
  const search: StacSearch = {};
  const collections = params.get("collections");
  if (collections) search.collections = collections.split(",");
  const bbox = params.get("bbox");
  if (bbox) search.bbox = bbox.split(",").map(Number);
  const datetime = params.get("datetime");
  if (datetime) search.datetime = datetime;
  const limit = params.get("limit");
  if (limit) search.limit = Number(limit);
  const query = params.get("query");
  if (query) search.query = JSON.parse(query) as StacSearch["query"];
  return search;
}

async function bodyOf(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Starts the STAC API on 127.0.0.1 (a free port). */
export async function startStacServer(items: readonly StacItem[] = sentinelItems, collections: readonly StacCollection[] = sentinelCollections, port = 0): Promise<StacServer> {
  const state = { requests: [] as string[], refusePost: false };
  const send = (res: http.ServerResponse, status: number, body: unknown, type = "application/json"): void => {
    res.writeHead(status, { "content-type": type });
    res.end(JSON.stringify(body));
  };
  const answerSearch = (res: http.ServerResponse, search: StacSearch): void => {
    const { matched, returned } = searchItems(items, search);
    send(res, 200, { type: "FeatureCollection", features: returned, numberMatched: matched.length, numberReturned: returned.length, links: [] }, "application/geo+json");
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://stac.local");
    state.requests.push(`${req.method} ${url.pathname}`);
    void (async () => {
      const parts = url.pathname.split("/").filter(Boolean);
      if (parts.length === 0) return send(res, 200, { type: "Catalog", id: "archipel-test-stac", stac_version: "1.0.0", conformsTo: ["https://api.stacspec.org/v1.0.0/item-search"], links: [] });
      if (parts[0] === "conformance") return send(res, 200, { conformsTo: ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search"] });
      if (parts[0] === "collections" && parts.length === 1) return send(res, 200, { collections, links: [] });
      if (parts[0] === "collections") {
        const collection = collections.find((c) => c.id === decodeURIComponent(parts[1] ?? ""));
        if (!collection) return send(res, 404, { code: "NotFound", description: `collection ${parts[1]} not found` });
        if (parts[2] === "items") return answerSearch(res, { ...searchFromQuery(url.searchParams), collections: [collection.id] });
        return send(res, 200, { type: "Collection", stac_version: "1.0.0", license: "proprietary", links: [], ...collection });
      }
      if (parts[0] === "search" && req.method === "GET") return answerSearch(res, searchFromQuery(url.searchParams));
      if (parts[0] === "search" && req.method === "POST") {
        if (state.refusePost) return send(res, 405, { code: "MethodNotAllowed", description: "use GET" });
        return answerSearch(res, JSON.parse(await bodyOf(req)) as StacSearch);
      }
      return send(res, 404, { code: "NotFound", description: url.pathname });
    })().catch((err: unknown) => send(res, 400, { code: "BadRequest", description: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    requests: state.requests,
    get refusePost() {
      return state.refusePost;
    },
    set refusePost(v: boolean) {
      state.refusePost = v;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (import.meta.main) {
  const server = await startStacServer(sentinelItems, sentinelCollections, Number(process.argv[2] ?? 0));
  process.stdout.write(`STAC API on ${server.url} (collections: ${sentinelCollections.map((c) => c.id).join(", ")})\n`);
}
