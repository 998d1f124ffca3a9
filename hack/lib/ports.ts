// Listening ports for servers the scripts and tests start on loopback. They come from below the
// kernel's ephemeral range: a port the kernel picks (listen on 0) is in that range, and so is every
// outgoing connection's own port, so in the time between choosing a port and the server binding it
// one of the parallel test streams' connections can take it and the server fails with "address
// already in use". A port is handed out only if it is free on every address (the managers listen
// on 0.0.0.0, the clusters' servers on their own loopback IPs), and only once in ten minutes on
// this machine: each is claimed by a file in a directory every picker shares, so two test streams
// choosing at the same moment never get the same one. hack/lib/ports.sh follows the same rules for
// the shell scripts (same directory, same claims).
import { mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const lowestNonEphemeral = 15000;
/** How long a port handed out stays claimed: longer than any server takes to bind it. */
const claimMs = 10 * 60_000;

function ephemeralStart(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  } catch {
    return 0;
  }
}

/** [low, high) to draw from: ARCHIPEL_PORT_RANGE ("low-high"), else 15000 up to the ephemeral range. */
function candidateRange(): [number, number] | undefined {
  const [low, high] = (process.env.ARCHIPEL_PORT_RANGE ?? "").split("-").map(Number);
  if (low && high && high > low) return [low, high];
  const below = ephemeralStart();
  return below > lowestNonEphemeral + 1000 ? [lowestNonEphemeral, below] : undefined;
}

const claimsDir = (): string => process.env.ARCHIPEL_PORT_CLAIMS ?? path.join(tmpdir(), "archipel-port-claims");

/** Claims `port` for this picker; false when another picker claimed it less than claimMs ago. */
function claim(port: number, again = true): boolean {
  const file = path.join(claimsDir(), String(port));
  try {
    mkdirSync(claimsDir(), { recursive: true });
    writeFileSync(file, String(process.pid), { flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") return true; // claims help; a directory that cannot be written blocks no port
    const claimed = statSync(file, { throwIfNoEntry: false });
    if (!again || (claimed && Date.now() - claimed.mtimeMs < claimMs)) return false;
    // A stale claim: taken over (once).
    try {
      unlinkSync(file);
    } catch {
      // another picker took it over first
    }
    return claim(port, false);
  }
}

function listenOnce(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(undefined));
    srv.listen(port, host, () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : undefined));
    });
  });
}

/**
 * A TCP port free now on `host` and on every other address, claimed for this picker, below the
 * ephemeral range when the range leaves room.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const range = candidateRange();
  for (let attempt = 0; range && attempt < 200; attempt++) {
    const candidate = range[0] + Math.floor(Math.random() * (range[1] - range[0]));
    const free = (await listenOnce(candidate, host)) !== undefined && (await listenOnce(candidate, "0.0.0.0")) !== undefined;
    if (free && claim(candidate)) return candidate;
  }
  const port = await listenOnce(0, host);
  if (port === undefined) throw new Error(`no free port on ${host}`);
  return port;
}
