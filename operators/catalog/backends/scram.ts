// SCRAM-SHA-256 password verifiers (RFC 5802/7677, PostgreSQL's stored format), computed here so
// CREATE ROLE … PASSWORD carries a verifier, never the plain password: the server's statement log
// and pg_stat_activity then hold nothing a reader could log in with.
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";

/** PostgreSQL's default scram_iterations. */
export const defaultScramIterations = 4096;

const verifierPattern = /^SCRAM-SHA-256\$[1-9][0-9]*:[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}$/;

/**
 * The verifier PostgreSQL stores in pg_authid.rolpassword for `password`.
 * Passwords are limited to printable ASCII so that SASLprep (which PostgreSQL applies) is the identity.
 */
export function scramSha256Verifier(password: string, salt: Buffer, iterations = defaultScramIterations): string {
  if (!/^[\x21-\x7e]+$/.test(password)) throw new Error("a generated password must be non-empty printable ASCII without spaces");
  if (salt.length < 16) throw new Error(`a SCRAM salt must have at least 16 bytes (got ${salt.length})`);
  if (!Number.isInteger(iterations) || iterations < 4096) throw new Error(`SCRAM iterations must be an integer >= 4096 (got ${iterations})`);
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** True when `value` has the shape of a SCRAM-SHA-256 verifier (and so is not a plain password). */
export function isScramVerifier(value: string): boolean {
  return verifierPattern.test(value);
}
