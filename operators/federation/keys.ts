// A cluster's Ed25519 identity key: it signs the cluster's IPFS descriptor and every request
// sent to a peer. The public key travels as base64url of its raw 32 bytes (compact, fits a
// header, status field or JSON document); the private key stays PKCS#8 PEM in a Secret.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";

export interface IdentityKeyPair {
  /** PKCS#8 PEM — secret: only ever stored in a Secret. */
  privateKeyPem: string;
  /** base64url of the raw 32-byte Ed25519 public key. */
  publicKey: string;
}

const PUBLIC_KEY_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function generateIdentityKey(): IdentityKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKey: rawPublicKey(publicKey),
  };
}

function rawPublicKey(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" });
  if (jwk.crv !== "Ed25519" || typeof jwk.x !== "string") throw new Error("not an Ed25519 key");
  return jwk.x;
}

/** The base64url public key of a PKCS#8 PEM Ed25519 private key; throws if it is not one. */
export function publicKeyOf(privateKeyPem: string): string {
  return rawPublicKey(createPublicKey(createPrivateKey(privateKeyPem)));
}

/** True when `text` has the shape of an encoded Ed25519 public key (43 base64url characters). */
export function isPublicKey(text: string): boolean {
  return PUBLIC_KEY_PATTERN.test(text);
}

function publicKeyObject(publicKey: string): KeyObject | undefined {
  if (!isPublicKey(publicKey)) return undefined;
  try {
    return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: publicKey }, format: "jwk" });
  } catch {
    return undefined;
  }
}

/** Ed25519 signature of `data`, base64url. */
export function signBytes(privateKeyPem: string, data: Uint8Array): string {
  return sign(null, data, createPrivateKey(privateKeyPem)).toString("base64url");
}

/** False (never a throw) for a malformed key or signature: callers refuse, they do not crash. */
export function verifyBytes(publicKey: string, data: Uint8Array, signature: string): boolean {
  const key = publicKeyObject(publicKey);
  if (!key || !/^[A-Za-z0-9_-]{86}$/.test(signature)) return false;
  return verify(null, data, key, Buffer.from(signature, "base64url"));
}
