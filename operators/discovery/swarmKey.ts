// The libp2p pre-shared key ("swarm key") file that makes an IPFS network private.
// Format (go-libp2p pnet, v1): three lines — the header `/key/swarm/psk/1.0.0/`, an encoding
// line (`/base16/` or `/base64/`), and the 32-byte key in that encoding. Kubo reads
// `$IPFS_PATH/swarm.key`; a malformed file makes the daemon exit with a terse error, so every
// key a user uploads is parsed here first and refused with a message that names the line.
import { createHash, randomBytes } from "node:crypto";

export const SWARM_KEY_HEADER = "/key/swarm/psk/1.0.0/";
export const SWARM_KEY_BYTES = 32;

export type SwarmKeyParse = { ok: true; key: Uint8Array } | { ok: false; message: string };

/** The canonical file text for a 32-byte key (base16, trailing newline) — what kubo expects. */
export function formatSwarmKey(key: Uint8Array): string {
  if (key.length !== SWARM_KEY_BYTES) {
    throw new Error(`swarm key must be ${SWARM_KEY_BYTES} bytes, got ${key.length}`);
  }
  return `${SWARM_KEY_HEADER}\n/base16/\n${Buffer.from(key).toString("hex")}\n`;
}

/** A fresh random swarm key file; `random` is injectable for deterministic tests. */
export function generateSwarmKey(random: (n: number) => Uint8Array = randomBytes): string {
  return formatSwarmKey(random(SWARM_KEY_BYTES));
}

function decodeKeyLine(encoding: string, line: string): SwarmKeyParse {
  if (encoding === "/base16/") {
    if (!/^[0-9a-fA-F]{64}$/.test(line)) {
      return { ok: false, message: "line 3 must be 64 hexadecimal digits (32 bytes) for /base16/" };
    }
    return { ok: true, key: Buffer.from(line, "hex") };
  }
  if (encoding === "/base64/") {
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(line) ? Buffer.from(line, "base64") : Buffer.alloc(0);
    if (key.length !== SWARM_KEY_BYTES) {
      return { ok: false, message: "line 3 must be 32 bytes in standard base64 for /base64/" };
    }
    return { ok: true, key };
  }
  return { ok: false, message: `line 2 must be /base16/ or /base64/, got ${JSON.stringify(encoding.slice(0, 40))}` };
}

/** Parses a swarm key file (CRLF tolerated, surrounding blank lines ignored). */
export function parseSwarmKey(text: string): SwarmKeyParse {
  const lines = text.replace(/\r\n/g, "\n").trim().split("\n").map((l) => l.trim());
  if (lines[0] !== SWARM_KEY_HEADER) {
    return { ok: false, message: `line 1 must be ${SWARM_KEY_HEADER} (is this a libp2p swarm key file?)` };
  }
  if (lines.length !== 3) {
    return { ok: false, message: `a swarm key file has exactly 3 lines, got ${lines.length}` };
  }
  return decodeKeyLine(lines[1] ?? "", lines[2] ?? "");
}

/** Re-encodes any valid key file as the canonical base16 text, or throws with the parse message. */
export function normalizeSwarmKey(text: string): string {
  const parsed = parseSwarmKey(text);
  if (!parsed.ok) throw new Error(`invalid swarm key: ${parsed.message}`);
  return formatSwarmKey(parsed.key);
}

/**
 * A short, non-secret identifier of a network's key (16 hex digits of a domain-separated
 * SHA-256), for status fields and logs: two clusters with the same fingerprint share a network.
 * The key itself never leaves its Secret.
 */
export function swarmKeyFingerprint(key: Uint8Array): string {
  return createHash("sha256").update("archipel-swarm-key-fingerprint\n").update(key).digest("hex").slice(0, 16);
}
