import assert from "node:assert/strict";
import { defaultStacLimit, stacItemCount, stacSearchBody, stacSearchParams, stacUrl } from "./stacSearch.ts";

describe("stacSearch", () => {
  it("turns the Resource's filters into an Item Search body", () => {
    const body = stacSearchBody({
      collection: "sentinel-2-l2a",
      bbox: { west: "5.5", south: "43", east: "7.25", north: "44.5" },
      datetime: { start: "2026-06-01T00:00:00Z", end: "2026-07-01T00:00:00Z" },
      maxCloudCover: 20,
      limit: 50,
    });
    assert.deepEqual(body, {
      collections: ["sentinel-2-l2a"],
      bbox: [5.5, 43, 7.25, 44.5],
      datetime: "2026-06-01T00:00:00Z/2026-07-01T00:00:00Z",
      limit: 50,
      query: { "eo:cloud_cover": { lte: 20 } },
    });
    const params = stacSearchParams(body);
    assert.equal(params.get("bbox"), "5.5,43,7.25,44.5");
    assert.equal(params.get("collections"), "sentinel-2-l2a");
    assert.equal(stacSearchBody({ collection: "c" }).limit, defaultStacLimit);
  });

  it("keeps the API's path prefix", () => {
    assert.equal(stacUrl("http://h/stac/v1", "search").href, "http://h/stac/v1/search");
    assert.equal(stacUrl("http://h/stac/v1/", "/collections/x").href, "http://h/stac/v1/collections/x");
  });

  it("counts numberMatched, context.matched or the features, at most the limit", () => {
    assert.equal(stacItemCount({ type: "FeatureCollection", features: [{}, {}], numberMatched: 7 }, 100), 7);
    assert.equal(stacItemCount({ features: [{}], context: { matched: 3 } }, 100), 3);
    assert.equal(stacItemCount({ features: [{}, {}] }, 100), 2);
    assert.equal(stacItemCount({ features: [], numberMatched: 500 }, 10), 10);
    assert.equal(stacItemCount({ error: "x" }, 10), undefined);
  });
});
