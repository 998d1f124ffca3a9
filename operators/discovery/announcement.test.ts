import assert from "node:assert/strict";
import { announcementTopic, encodeAnnouncement, MAX_ANNOUNCEMENT_BYTES, parseAnnouncement } from "./announcement.ts";

const A = "12D3KooWMLqUaEiRrCYG44Kb7eVQq2Ki5ciWQrfdwGCMGc5jp1yM";
const B = "12D3KooWKq4njFBNWgHTi1qskBCoJntWdLqv62mkGPFxahHYME7j";
const cid = "bafkreiacjmyins4dfokzqganb6w4w3lyvtfpnnhyy5bk5i3bbcq3vtiqhi";

function parse(text: string, from: string | undefined = A): string {
  const r = parseAnnouncement(Buffer.from(text), from);
  return r.ok ? "ok" : r.message;
}

describe("announcement", () => {
  it("names one topic per network fingerprint", () => {
    assert.equal(announcementTopic("0123456789abcdef"), "archipel/discovery/v1/0123456789abcdef");
    assert.throws(() => announcementTopic("not-a-fingerprint"), /16 hex digits/);
  });

  it("round-trips an announcement from its sender", () => {
    const r = parseAnnouncement(Buffer.from(encodeAnnouncement(A, cid)), A);
    assert.deepEqual(r, { ok: true, announcement: { type: "archipel.io/announcement/v1", peerId: A, descriptorCid: cid } });
  });

  it("refuses an announcement for another peer than its sender, or unsigned", () => {
    assert.match(parse(encodeAnnouncement(A, cid), B), /announces .* but was sent by 12D3KooWKq/);
    const unsigned = parseAnnouncement(Buffer.from(encodeAnnouncement(A, cid)), undefined);
    assert.match(unsigned.ok ? "ok" : unsigned.message, /unsigned sender/);
  });

  it("refuses malformed messages", () => {
    assert.match(parse("{"), /not JSON/);
    assert.match(parse("null"), /type must be/);
    assert.match(parse(JSON.stringify({ type: "archipel.io/announcement/v1", peerId: "x", descriptorCid: cid })), /peerId/);
    assert.match(parse(JSON.stringify({ type: "archipel.io/announcement/v1", peerId: A, descriptorCid: "/ipfs/x" })), /descriptorCid/);
    assert.match(parse("x".repeat(MAX_ANNOUNCEMENT_BYTES + 1)), /larger than/);
  });
});
