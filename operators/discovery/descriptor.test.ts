import assert from "node:assert/strict";
import { canonicalJson } from "../federation/canonicalJson.ts";
import { generateIdentityKey } from "../federation/keys.ts";
import {
  buildDescriptor,
  CLOCK_SKEW_MS,
  DESCRIPTOR_LIFETIME_MS,
  DESCRIPTOR_REFRESH_REMAINING_MS,
  descriptorNeedsRefresh,
  type DescriptorInput,
  DescriptorReason,
  MAX_DESCRIPTOR_BYTES,
  serializeSignedDescriptor,
  signDescriptor,
  type SignedDescriptor,
  verifyDescriptor,
} from "./descriptor.ts";

const now = Date.parse("2026-11-28T10:00:00.000Z");
const peerA = "12D3KooWMLqUaEiRrCYG44Kb7eVQq2Ki5ciWQrfdwGCMGc5jp1yM";
const peerB = "12D3KooWKq4njFBNWgHTi1qskBCoJntWdLqv62mkGPFxahHYME7j";
const key = generateIdentityKey();
const other = generateIdentityKey();

function input(overrides: Partial<DescriptorInput> = {}): DescriptorInput {
  return {
    clusterName: "alpha",
    displayName: "Alpha — Toulouse",
    apiEndpoint: "https://alpha.example.test:8443",
    publicKey: key.publicKey,
    networks: [{ name: "science", peerId: peerA }],
    ...overrides,
  };
}

function signedText(at = now, overrides: Partial<DescriptorInput> = {}): string {
  return serializeSignedDescriptor(signDescriptor(buildDescriptor(input(overrides), at), key.privateKeyPem));
}

function reasonOf(result: ReturnType<typeof verifyDescriptor>): string {
  return result.ok ? "ok" : result.reason;
}

describe("descriptor", () => {
  it("builds a descriptor with the type, issue and expiry times", () => {
    const d = buildDescriptor(input(), now);
    assert.equal(d.type, "archipel.io/cluster-descriptor/v1");
    assert.equal(d.issuedAt, "2026-11-28T10:00:00.000Z");
    assert.equal(Date.parse(d.expiresAt) - now, DESCRIPTOR_LIFETIME_MS);
  });

  it("refuses to build from invalid input, naming the field", () => {
    assert.throws(() => buildDescriptor(input({ clusterName: "Not A DNS Name" }), now), /\/clusterName/);
    assert.throws(() => buildDescriptor(input({ apiEndpoint: "ftp://x" }), now), /\/apiEndpoint/);
    assert.throws(() => buildDescriptor(input({ publicKey: "short" }), now), /\/publicKey/);
  });

  it("serializes canonically: sorted keys, no whitespace, stable across re-parsing", () => {
    const text = signedText();
    assert.ok(!/\s"|":\s|,\s/.test(text));
    assert.ok(text.startsWith('{"descriptor":{"apiEndpoint":'));
    assert.equal(canonicalJson(JSON.parse(text)), text);
    assert.equal(signedText(), text, "same input, same bytes (same CID)");
  });

  it("refuses to sign with a key that is not the descriptor's", () => {
    assert.throws(() => signDescriptor(buildDescriptor(input(), now), other.privateKeyPem), /not the public half/);
  });

  it("verifies a document as text, bytes and parsed JSON", () => {
    const text = signedText();
    for (const doc of [text, Buffer.from(text), JSON.parse(text) as unknown]) {
      const result = verifyDescriptor(doc, now + 1000);
      assert.equal(reasonOf(result), "ok");
      assert.equal(result.ok && result.descriptor.clusterName, "alpha");
    }
  });

  it("verifies with matching expectations (pinned key, fetched-from peer)", () => {
    assert.equal(reasonOf(verifyDescriptor(signedText(), now, { publicKey: key.publicKey, peerId: peerA })), "ok");
  });

  it("refuses a tampered field, whatever the field", () => {
    const signed = JSON.parse(signedText()) as SignedDescriptor;
    const tampers: Array<(s: SignedDescriptor) => void> = [
      (s) => (s.descriptor.apiEndpoint = "https://evil.example.test"),
      (s) => (s.descriptor.displayName += "!"),
      (s) => (s.descriptor.expiresAt = "2030-01-01T00:00:00.000Z"),
      (s) => s.descriptor.networks.push({ name: "other", peerId: peerB }),
      (s) => (s.descriptor.publicKey = other.publicKey),
    ];
    for (const tamper of tampers) {
      const copy = structuredClone(signed);
      tamper(copy);
      assert.equal(reasonOf(verifyDescriptor(copy, now)), DescriptorReason.BadSignature);
    }
  });

  it("refuses a signature from another key, and a re-signed copy under a pinned key", () => {
    const forged = signDescriptor(buildDescriptor(input({ publicKey: other.publicKey }), now), other.privateKeyPem);
    const stolen = JSON.parse(signedText()) as SignedDescriptor;
    stolen.signature = forged.signature;
    assert.equal(reasonOf(verifyDescriptor(stolen, now)), DescriptorReason.BadSignature);
    const result = verifyDescriptor(forged, now, { publicKey: key.publicKey });
    assert.equal(reasonOf(result), DescriptorReason.KeyMismatch);
    assert.match(result.ok ? "" : result.message, /pinned to key/);
  });

  it("refuses a descriptor fetched from a peer it does not list", () => {
    assert.equal(reasonOf(verifyDescriptor(signedText(), now, { peerId: peerB })), DescriptorReason.PeerIdMismatch);
  });

  it("refuses expired and not-yet-valid documents, with a clock-skew allowance", () => {
    const text = signedText();
    assert.equal(reasonOf(verifyDescriptor(text, now + DESCRIPTOR_LIFETIME_MS)), DescriptorReason.Expired);
    assert.equal(reasonOf(verifyDescriptor(text, now + DESCRIPTOR_LIFETIME_MS - 1)), "ok");
    assert.equal(reasonOf(verifyDescriptor(text, now - CLOCK_SKEW_MS)), "ok");
    assert.equal(reasonOf(verifyDescriptor(text, now - CLOCK_SKEW_MS - 1)), DescriptorReason.NotYetValid);
  });

  it("refuses a validly signed descriptor with an excessive lifetime", () => {
    const long = signDescriptor(buildDescriptor(input(), now, 30 * 24 * 3_600_000), key.privateKeyPem);
    assert.equal(reasonOf(verifyDescriptor(long, now)), DescriptorReason.LifetimeTooLong);
  });

  it("refuses malformed documents with a message naming the problem", () => {
    const cases: Array<[unknown, RegExp]> = [
      ["{not json", /not JSON/],
      ["x".repeat(MAX_DESCRIPTOR_BYTES + 1), /larger than/],
      [{ descriptor: {}, signature: "" }, /\/descriptor|\/signature/],
      [{ ...JSON.parse(signedText()), extra: 1 }, /additional properties/],
      [42, /object/],
    ];
    for (const [doc, message] of cases) {
      const result = verifyDescriptor(doc, now);
      assert.equal(reasonOf(result), DescriptorReason.Malformed);
      assert.match(result.ok ? "" : result.message, message);
    }
  });

  it("needs a refresh when absent, close to expiry, or when its content changed", () => {
    const current = buildDescriptor(input(), now);
    assert.equal(descriptorNeedsRefresh(undefined, input(), now), true);
    assert.equal(descriptorNeedsRefresh(current, input(), now + 1000), false);
    const refreshAt = now + DESCRIPTOR_LIFETIME_MS - DESCRIPTOR_REFRESH_REMAINING_MS;
    assert.equal(descriptorNeedsRefresh(current, input(), refreshAt - 1), false);
    assert.equal(descriptorNeedsRefresh(current, input(), refreshAt + 1), true);
    assert.equal(descriptorNeedsRefresh(current, input({ apiEndpoint: "https://alpha2.example.test" }), now), true);
    assert.equal(descriptorNeedsRefresh(current, input({ networks: [{ name: "science", peerId: peerB }] }), now), true);
  });
});
