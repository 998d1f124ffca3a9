import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { generateIdentityKey } from "./keys.ts";
import {
  MemoryNonceCache,
  type ReceivedRequest,
  REPLAY_WINDOW_MS,
  RequestRefusal,
  ProjectClaimHeader,
  SignatureHeader,
  signRequest,
  type VerifyContext,
  UNSIGNED_PAYLOAD,
  verifyRequest,
} from "./requestSigning.ts";

const alpha = generateIdentityKey();
const mallory = generateIdentityKey();
const now = 1_790_000_000_000;
const body = JSON.stringify({ query: "sentinel", page: 1 });

function nonce(): string {
  return randomBytes(16).toString("base64url");
}

function signed(overrides: Partial<Parameters<typeof signRequest>[0]> = {}, key = alpha.privateKeyPem): ReceivedRequest {
  const req = { method: "POST", target: "/federation/v1/catalog?limit=10", body, keyId: "alpha", audience: "beta", now, nonce: nonce(), ...overrides };
  return { method: req.method, target: req.target, body: req.body, headers: signRequest(req, key) };
}

function ctx(overrides: Partial<VerifyContext> = {}): VerifyContext {
  return {
    audience: "beta",
    now: now + 1_000,
    lookupKey: (id) => (id === "alpha" ? alpha.publicKey : undefined),
    nonces: new MemoryNonceCache(),
    ...overrides,
  };
}

function reason(req: ReceivedRequest, c = ctx()): string {
  const result = verifyRequest(req, c);
  return result.ok ? "ok" : result.reason;
}

describe("requestSigning", () => {
  it("signs with every header and verifies, returning the sender", () => {
    const req = signed();
    for (const name of Object.values(SignatureHeader)) assert.equal(typeof req.headers[name], "string", name);
    assert.deepEqual(verifyRequest(req, ctx()), { ok: true, keyId: "alpha" });
  });

  it("verifies a request without a body (GET) and with a binary body", () => {
    assert.equal(reason(signed({ method: "GET", body: undefined })), "ok");
    assert.equal(reason(signed({ body: Uint8Array.from([0, 1, 2, 255]) })), "ok");
  });

  it("refuses a tampered method, target, query and body", () => {
    assert.equal(reason({ ...signed(), method: "DELETE" }), RequestRefusal.BadSignature);
    assert.equal(reason({ ...signed(), target: "/federation/v1/grants?limit=10" }), RequestRefusal.BadSignature);
    assert.equal(reason({ ...signed(), target: "/federation/v1/catalog?limit=1000" }), RequestRefusal.BadSignature);
    assert.equal(reason({ ...signed(), body: body.replace("sentinel", "landsat") }), RequestRefusal.DigestMismatch);
  });

  it("takes an unsigned body only on a route that says so, and only when the sender signed it as unsigned", () => {
    const streamed = { ...signed({ method: "PUT", body: undefined, unsignedPayload: true }), body: "any bytes" };
    assert.equal(streamed.headers[SignatureHeader.ContentSha256], UNSIGNED_PAYLOAD);
    assert.equal(reason({ ...streamed, unsignedPayload: true }), "ok");
    assert.equal(reason(streamed), RequestRefusal.DigestMismatch, "a JSON route checks the body against the digest");
    // The marker is signed: a JSON request's digest swapped for it no longer verifies.
    const json = signed();
    json.headers[SignatureHeader.ContentSha256] = UNSIGNED_PAYLOAD;
    assert.equal(reason({ ...json, unsignedPayload: true }), RequestRefusal.BadSignature);
  });

  it("refuses a body swapped together with its digest header", () => {
    const req = signed();
    const other = signed({ body: "{}" });
    req.body = other.body;
    req.headers[SignatureHeader.ContentSha256] = other.headers[SignatureHeader.ContentSha256];
    assert.equal(reason(req), RequestRefusal.BadSignature);
  });

  it("refuses tampered timestamp, nonce, key id, audience and signature headers", () => {
    const tamper = (name: string, value: string): string => {
      const req = signed();
      req.headers[name] = value;
      return reason(req, ctx({ lookupKey: () => alpha.publicKey, audience: name === SignatureHeader.Audience ? value : "beta" }));
    };
    assert.equal(tamper(SignatureHeader.Timestamp, String(now + 1)), RequestRefusal.BadSignature);
    assert.equal(tamper(SignatureHeader.Nonce, nonce()), RequestRefusal.BadSignature);
    assert.equal(tamper(SignatureHeader.KeyId, "gamma"), RequestRefusal.BadSignature);
    assert.equal(tamper(SignatureHeader.Audience, "gamma"), RequestRefusal.BadSignature);
    assert.equal(tamper(SignatureHeader.Signature, signed().headers[SignatureHeader.Signature] as string), RequestRefusal.BadSignature);
  });

  it("signs the project claim: it is returned verified, and adding, changing or dropping it after signing is a bad signature", () => {
    const claimed = signed({ project: "ocean" });
    assert.equal(claimed.headers[ProjectClaimHeader], "ocean");
    assert.deepEqual(verifyRequest(claimed, ctx()), { ok: true, keyId: "alpha", project: "ocean" });
    const added = signed();
    added.headers[ProjectClaimHeader] = "ocean";
    assert.equal(reason(added), RequestRefusal.BadSignature);
    const changed = signed({ project: "ocean" });
    changed.headers[ProjectClaimHeader] = "forest";
    assert.equal(reason(changed), RequestRefusal.BadSignature);
    const dropped = signed({ project: "ocean" });
    delete dropped.headers[ProjectClaimHeader];
    assert.equal(reason(dropped), RequestRefusal.BadSignature);
    const twice = signed({ project: "ocean" });
    twice.headers[ProjectClaimHeader] = ["ocean", "forest"];
    assert.equal(reason(twice), RequestRefusal.MalformedHeader);
    assert.throws(() => signed({ project: "Not A Project" }), /project/);
  });

  it("refuses a request stamped before the nonce cache existed (a restarted server cannot tell a replay)", () => {
    const started = now + 500;
    const c = ctx({ now: now + 1_000, nonces: new MemoryNonceCache({ startedAt: started }) });
    assert.equal(reason(signed({ now }), c), RequestRefusal.BeforeStart);
    assert.equal(reason(signed({ now: started }), c), "ok");
  });

  it("refuses a request addressed to another cluster", () => {
    assert.equal(reason(signed({ audience: "gamma" })), RequestRefusal.WrongAudience);
  });

  it("refuses an unknown (or not accepted) key id", () => {
    assert.equal(reason(signed({ keyId: "gamma" })), RequestRefusal.UnknownKey);
  });

  it("refuses a request signed by another key under a known name", () => {
    assert.equal(reason(signed({}, mallory.privateKeyPem)), RequestRefusal.BadSignature);
  });

  it("refuses timestamps outside the replay window, both ways", () => {
    assert.equal(reason(signed({ now: now - REPLAY_WINDOW_MS }), ctx({ now })), "ok");
    assert.equal(reason(signed({ now: now - REPLAY_WINDOW_MS - 1 }), ctx({ now })), RequestRefusal.Expired);
    assert.equal(reason(signed({ now: now + REPLAY_WINDOW_MS + 1 }), ctx({ now })), RequestRefusal.Expired);
  });

  it("refuses a replayed nonce, but accepts the same nonce from another sender", () => {
    const c = ctx({ lookupKey: (id) => ({ alpha: alpha.publicKey, gamma: mallory.publicKey })[id] });
    const req = signed();
    assert.equal(reason(req, c), "ok");
    assert.equal(reason(req, c), RequestRefusal.Replayed);
    const sameNonce = req.headers[SignatureHeader.Nonce] as string;
    assert.equal(reason(signed({ keyId: "gamma", nonce: sameNonce }, mallory.privateKeyPem), c), "ok");
  });

  it("does not burn a nonce on a forged request", () => {
    const c = ctx();
    const good = signed();
    const forged = { ...good, headers: { ...good.headers, [SignatureHeader.Signature]: signed({}, mallory.privateKeyPem).headers[SignatureHeader.Signature] } };
    assert.equal(reason(forged, c), RequestRefusal.BadSignature);
    assert.equal(reason(good, c), "ok");
  });

  it("refuses missing, duplicated and malformed headers, naming the header", () => {
    for (const name of Object.values(SignatureHeader)) {
      const req = signed();
      delete req.headers[name];
      const result = verifyRequest(req, ctx());
      assert.equal(result.ok ? "ok" : result.reason, RequestRefusal.MissingHeader);
      assert.match(result.ok ? "" : result.message, new RegExp(name));
    }
    const dup = signed();
    dup.headers[SignatureHeader.Nonce] = [nonce(), nonce()];
    assert.equal(reason(dup), RequestRefusal.MalformedHeader);
    const badTime = signed();
    badTime.headers[SignatureHeader.Timestamp] = "yesterday";
    assert.equal(reason(badTime), RequestRefusal.MalformedHeader);
  });

  it("refuses to sign with a weak nonce or a relative target", () => {
    assert.throws(() => signed({ nonce: "abc" }), /nonce/);
    assert.throws(() => signed({ target: "federation/v1" }), /target/);
  });

  it("MemoryNonceCache forgets expired nonces and stays bounded", () => {
    const cache = new MemoryNonceCache({ maxEntries: 2 });
    assert.equal(cache.addIfAbsent("a", 100, 0), true);
    assert.equal(cache.addIfAbsent("a", 100, 50), false);
    assert.equal(cache.addIfAbsent("b", 100, 50), true);
    assert.equal(cache.addIfAbsent("c", 300, 50), false, "full of live nonces: refuse");
    assert.equal(cache.addIfAbsent("c", 300, 150), true, "expired ones swept");
    assert.equal(cache.size, 1);
    assert.equal(cache.addIfAbsent("a", 400, 150), true, "an expired nonce is no replay");
  });
});
