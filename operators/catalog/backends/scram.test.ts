import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { isScramVerifier, scramSha256Verifier } from "./scram.ts";

describe("scramSha256Verifier", () => {
  it("matches RFC 7677's example exchange (the server signature computed from the stored keys)", () => {
    const salt = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
    const verifier = scramSha256Verifier("pencil", salt, 4096);
    const match = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(verifier);
    assert.ok(match, verifier);
    assert.equal(match[1], "W22ZaJ0SNY7soEsUEjb6gQ==");
    const serverKey = Buffer.from(match[3] ?? "", "base64");
    const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    const serverSignature = createHmac("sha256", serverKey).update(authMessage).digest("base64");
    assert.equal(serverSignature, "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  });

  it("refuses inputs that would make a weak or ambiguous verifier", () => {
    const salt = Buffer.alloc(16, 1);
    assert.throws(() => scramSha256Verifier("", salt), /printable ASCII/);
    assert.throws(() => scramSha256Verifier("has space", salt), /printable ASCII/);
    assert.throws(() => scramSha256Verifier("pässword", salt), /printable ASCII/);
    assert.throws(() => scramSha256Verifier("ok", Buffer.alloc(8)), /at least 16 bytes/);
    assert.throws(() => scramSha256Verifier("ok", salt, 1000), />= 4096/);
  });

  it("tells verifiers from plain passwords", () => {
    assert.equal(isScramVerifier(scramSha256Verifier("secret", Buffer.alloc(16, 7))), true);
    assert.equal(isScramVerifier("secret"), false);
    assert.equal(isScramVerifier("SCRAM-SHA-256$4096:abc$def"), false);
    assert.equal(isScramVerifier("md5" + "0".repeat(32)), false);
  });
});
