import assert from "node:assert/strict";
import { generateIdentityKey, isPublicKey, publicKeyOf, signBytes, verifyBytes } from "./keys.ts";

describe("federation keys", () => {
  const key = generateIdentityKey();
  const data = Buffer.from("hello");

  it("generates a PKCS#8 PEM private key and a 43-character base64url public key", () => {
    assert.match(key.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(isPublicKey(key.publicKey), true);
    assert.equal(publicKeyOf(key.privateKeyPem), key.publicKey);
  });

  it("signs and verifies; refuses other data, other keys and malformed input without throwing", () => {
    const sig = signBytes(key.privateKeyPem, data);
    assert.equal(verifyBytes(key.publicKey, data, sig), true);
    assert.equal(verifyBytes(key.publicKey, Buffer.from("hellO"), sig), false);
    assert.equal(verifyBytes(generateIdentityKey().publicKey, data, sig), false);
    assert.equal(verifyBytes("not-a-key", data, sig), false);
    assert.equal(verifyBytes(key.publicKey, data, "short"), false);
  });

  it("publicKeyOf refuses a non-Ed25519 key", () => {
    assert.throws(() => publicKeyOf("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  });
});
