import assert from "node:assert/strict";
import { discoveryPhases } from "../../../bench/discoveryPhases.ts";

const line = (timestamp: string, message: string, fields: Record<string, string>): string => JSON.stringify({ network: "science", ...fields, level: "info", message, timestamp });

describe("bench/discovery's phases, read from the managers' logs", () => {
  const since = Date.parse("2026-12-03T10:00:00.000Z");
  const a = {
    peerId: "12D3A",
    text: [
      line("2026-12-03T10:00:01.500Z", "network readiness changed", { status: "False" }),
      line("2026-12-03T10:00:02.000Z", "network readiness changed", { status: "True" }),
      line("2026-12-03T10:00:03.250Z", "descriptor published", { peerId: "12D3A" }),
      line("2026-12-03T10:00:04.000Z", "peer discovered", { peerId: "12D3B" }),
      line("2026-12-03T10:00:04.500Z", "peer discovered", { peerId: "12D3C", network: "other" }),
      "not json",
    ].join("\n"),
  };
  const b = {
    peerId: "12D3B",
    text: [line("2026-12-03T10:00:01.000Z", "network readiness changed", { status: "True" }), line("2026-12-03T10:00:02.000Z", "descriptor published", { peerId: "12D3B" }), line("2026-12-03T10:00:05.250Z", "peer discovered", { peerId: "12D3A" })].join("\n"),
  };
  const c = { peerId: "12D3C", text: line("2026-12-03T10:00:06.250Z", "peer discovered", { peerId: "12D3A" }) };

  it("times each member's node, publication and discovery by the first and the last of the others, in its network only", () => {
    const [pa, pb, pc] = discoveryPhases([a, b, c], "science", since);
    assert.deepEqual(pa, { peerId: "12D3A", nodeReady: 2, publish: 1.25, firstFound: 2, lastFound: 3 });
    // B was found by A only (C's line is of another network): no "last found" until every other member found it.
    assert.deepEqual(pb, { peerId: "12D3B", nodeReady: 1, publish: 1, firstFound: 2 });
    assert.deepEqual(pc, { peerId: "12D3C" });
  });
});
