import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { DescriptorCheck } from "./peerStatus.ts";
import { HANDOFF_TTL_MS, VerifiedHandoff } from "./verifiedHandoff.ts";

const verified = (cid: string): Extract<DescriptorCheck, { kind: "verified" }> => ({ kind: "verified", cid, descriptor: { clusterName: "lyon" } as never });

describe("VerifiedHandoff", () => {
  it("hands a verified descriptor over once, for its network and peer", () => {
    const h = new VerifiedHandoff();
    h.put("net", "peer-a", verified("c1"), 1_000);
    assert.equal(h.take("other-net", "peer-a", 1_500), undefined);
    assert.equal(h.take("net", "peer-a", 1_500)?.cid, "c1");
    assert.equal(h.take("net", "peer-a", 1_600), undefined, "taken once");
  });

  it("an old hand-off is not used (the Peer controller looks the descriptor up itself)", () => {
    const h = new VerifiedHandoff();
    h.put("net", "peer-a", verified("c1"), 1_000);
    assert.equal(h.take("net", "peer-a", 1_000 + HANDOFF_TTL_MS + 1), undefined);
  });

  it("the latest verification wins, and memory stays bounded", () => {
    const h = new VerifiedHandoff();
    h.put("net", "peer-a", verified("c1"), 1_000);
    h.put("net", "peer-a", verified("c2"), 2_000);
    assert.equal(h.take("net", "peer-a", 2_500)?.cid, "c2");
    h.put("net", "peer-a", verified("c3"), 2_000);
    for (let i = 0; i < 2_000; i++) h.put("net", `flood-${i}`, verified("x"), 2_000);
    assert.equal(h.take("net", "peer-a", 2_500), undefined, "the oldest entries went first");
    assert.equal(h.take("net", "flood-1999", 2_500)?.cid, "x");
  });
});
