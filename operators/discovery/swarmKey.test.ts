import assert from "node:assert/strict";
import {
  formatSwarmKey,
  generateSwarmKey,
  normalizeSwarmKey,
  parseSwarmKey,
  swarmKeyFingerprint,
} from "./swarmKey.ts";

const key = Uint8Array.from({ length: 32 }, (_, i) => i);
const hex = Buffer.from(key).toString("hex");

describe("swarmKey", () => {
  it("formats the base16 file kubo reads", () => {
    assert.equal(formatSwarmKey(key), `/key/swarm/psk/1.0.0/\n/base16/\n${hex}\n`);
  });

  it("refuses to format a key of the wrong size", () => {
    assert.throws(() => formatSwarmKey(new Uint8Array(16)), /32 bytes, got 16/);
  });

  it("generates distinct parseable keys", () => {
    const a = generateSwarmKey();
    const b = generateSwarmKey();
    assert.notEqual(a, b);
    assert.equal(parseSwarmKey(a).ok, true);
  });

  it("round-trips base16 and accepts base64, CRLF and surrounding blank lines", () => {
    const p16 = parseSwarmKey(formatSwarmKey(key));
    assert.deepEqual(p16.ok && Buffer.from(p16.key), Buffer.from(key));
    const b64 = `\r\n/key/swarm/psk/1.0.0/\r\n/base64/\r\n${Buffer.from(key).toString("base64")}\r\n\r\n`;
    const p64 = parseSwarmKey(b64);
    assert.deepEqual(p64.ok && Buffer.from(p64.key), Buffer.from(key));
    assert.equal(normalizeSwarmKey(b64), formatSwarmKey(key));
  });

  const bad: Array<[string, string, RegExp]> = [
    ["empty file", "", /line 1 must be \/key\/swarm\/psk\/1.0.0\//],
    ["wrong header", `/key/swarm/psk/2.0.0/\n/base16/\n${hex}`, /line 1/],
    ["missing key line", "/key/swarm/psk/1.0.0/\n/base16/", /exactly 3 lines, got 2/],
    ["extra line", `/key/swarm/psk/1.0.0/\n/base16/\n${hex}\nmore`, /exactly 3 lines, got 4/],
    ["unknown encoding", `/key/swarm/psk/1.0.0/\n/bin/\n${hex}`, /line 2 must be \/base16\/ or \/base64\//],
    ["short hex", `/key/swarm/psk/1.0.0/\n/base16/\n${hex.slice(2)}`, /line 3 must be 64 hexadecimal digits/],
    ["non-hex", `/key/swarm/psk/1.0.0/\n/base16/\n${"zz".repeat(32)}`, /line 3 must be 64 hexadecimal/],
    ["short base64", `/key/swarm/psk/1.0.0/\n/base64/\n${Buffer.alloc(31).toString("base64")}`, /32 bytes in standard base64/],
  ];
  for (const [what, text, message] of bad) {
    it(`refuses a key file with ${what}, naming the line`, () => {
      const parsed = parseSwarmKey(text);
      assert.equal(parsed.ok, false);
      assert.match(parsed.ok ? "" : parsed.message, message);
    });
  }

  it("normalizeSwarmKey throws with the parse message", () => {
    assert.throws(() => normalizeSwarmKey("nope"), /invalid swarm key: line 1/);
  });

  it("fingerprints are stable, short and differ per key, without containing the key", () => {
    const other = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    assert.match(swarmKeyFingerprint(key), /^[0-9a-f]{16}$/);
    assert.equal(swarmKeyFingerprint(key), swarmKeyFingerprint(Uint8Array.from(key)));
    assert.notEqual(swarmKeyFingerprint(key), swarmKeyFingerprint(other));
    assert.ok(!hex.includes(swarmKeyFingerprint(key)));
  });
});
