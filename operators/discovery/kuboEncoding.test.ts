import assert from "node:assert/strict";
import { lines, multibaseDecode, multibaseEncode, pubsubMessage, rpcErrorMessage, rpcQuery } from "./kuboEncoding.ts";

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* chunked(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

describe("kubo's RPC encodings", () => {
  it("repeats arg for each value and leaves out undefined options", () => {
    assert.equal(rpcQuery({ arg: ["/ip4/10.0.0.1/ipcidr/32", "/ip4/10.0.0.2/ipcidr/32"], nocache: false, key: undefined, count: 3 }), "?arg=%2Fip4%2F10.0.0.1%2Fipcidr%2F32&arg=%2Fip4%2F10.0.0.2%2Fipcidr%2F32&nocache=false&count=3");
    assert.equal(rpcQuery({}), "");
  });

  it("names kubo's own message in an error, or its text when it is not JSON", () => {
    assert.equal(rpcErrorMessage(500, '{"Message":"experimental pubsub feature not enabled","Code":0,"Type":"error"}\n'), "HTTP 500: experimental pubsub feature not enabled");
    assert.equal(rpcErrorMessage(404, "404 page not found\n"), "HTTP 404: 404 page not found");
    assert.equal(rpcErrorMessage(502, ""), "HTTP 502: no message");
  });

  it("splits a stream into lines wherever its chunks break, multi-byte characters included", async () => {
    const euro = new TextEncoder().encode("€");
    async function* split(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode('{"Path":"/ipfs/a"}\n{"Te');
      yield new Uint8Array([...new TextEncoder().encode('xt":"'), euro[0] ?? 0]);
      yield new Uint8Array([...euro.slice(1), ...new TextEncoder().encode('"}\n\n{"Path":"/ipfs/b"}')]);
    }
    assert.deepEqual(await collect(lines(split())), ['{"Path":"/ipfs/a"}', '{"Text":"€"}', '{"Path":"/ipfs/b"}']);
    assert.deepEqual(await collect(lines(chunked())), []);
  });

  it("encodes pubsub topics and data as base64url multibase, and refuses another base", () => {
    assert.equal(multibaseEncode("archipel/announce"), "uYXJjaGlwZWwvYW5ub3VuY2U");
    assert.equal(new TextDecoder().decode(multibaseDecode("uYXJjaGlwZWwvYW5ub3VuY2U")), "archipel/announce");
    assert.throws(() => multibaseDecode("mYXJj"), /not base64url multibase/);
  });

  it("reads a pubsub message's sender and data, and skips a line that is not one", () => {
    const m = pubsubMessage(JSON.stringify({ from: "12D3KooWA", data: multibaseEncode("hello"), seqno: "uAQ", topicIDs: ["uYQ"] }));
    assert.equal(m?.from, "12D3KooWA");
    assert.equal(new TextDecoder().decode(m?.data), "hello");
    assert.equal(pubsubMessage(JSON.stringify({ data: multibaseEncode("x") }))?.from, undefined);
    assert.equal(pubsubMessage("not json"), undefined);
    assert.equal(pubsubMessage(JSON.stringify({ from: "12D3KooWA", data: "zNotBase64url" })), undefined);
    assert.equal(pubsubMessage(JSON.stringify({ from: "12D3KooWA" })), undefined);
  });
});
