// Listening ports for servers the scripts and tests start on loopback. They come from below the
// kernel's ephemeral range: a port the kernel picks (listen on 0) is in that range, and so is every
// outgoing connection's own port, so in the time between choosing a port and the server binding it
// one of the parallel test streams' connections can take it and the server fails with "address
// already in use". hack/lib/ports.sh follows the same rule for the shell scripts.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const lowestNonEphemeral = 15000;

function ephemeralStart(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  } catch {
    return 0;
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

/** A TCP port free on `host` now, below the ephemeral range when the range leaves room. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const below = ephemeralStart();
  for (let attempt = 0; below > lowestNonEphemeral + 1000 && attempt < 200; attempt++) {
    const candidate = lowestNonEphemeral + Math.floor(Math.random() * (below - lowestNonEphemeral));
    const port = await listenOnce(candidate, host);
    if (port !== undefined) return port;
  }
  const port = await listenOnce(0, host);
  if (port === undefined) throw new Error(`no free port on ${host}`);
  return port;
}
