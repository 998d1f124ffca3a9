// The servers' ports come from below the ephemeral range, where no outgoing connection's own port
// (and no listen on port 0) can take them between choosing and binding; see hack/lib/ports.ts.
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import path from "node:path";
import { freePort } from "../../../hack/lib/ports.ts";

const ephemeralStart = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
const repo = path.resolve(import.meta.dirname, "../../..");

function shellFreePort(): number {
  return Number(execFileSync("bash", ["-c", `source ${repo}/hack/lib/ports.sh && free_port`], { encoding: "utf8" }).trim());
}

describe("free ports for local servers", () => {
  it("are below the kernel's ephemeral range, from TypeScript and from the shell scripts", async () => {
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      assert.ok(port >= 15000 && port < ephemeralStart, `port ${port} is not in [15000, ${ephemeralStart})`);
    }
    for (let i = 0; i < 5; i++) {
      const port = shellFreePort();
      assert.ok(port >= 15000 && port < ephemeralStart, `port ${port} is not in [15000, ${ephemeralStart})`);
    }
  });

  it("can be listened on at once", async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });

  it("skip a port already in use", async () => {
    const taken: ReturnType<typeof createServer>[] = [];
    try {
      // Every port handed out stays listened on, so none may be handed out twice.
      const seen = new Set<number>();
      for (let i = 0; i < 30; i++) {
        const port = await freePort();
        assert.ok(!seen.has(port), `port ${port} was handed out while still listened on`);
        const server = createServer();
        await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
        taken.push(server);
        seen.add(port);
      }
    } finally {
      await Promise.all(taken.map((s) => new Promise((resolve) => s.close(resolve))));
    }
  });

  it("hands a port out once, whether to TypeScript or to the shell scripts, until the range is used up", async () => {
    const claims = mkdtempSync(path.join(tmpdir(), "port-claims-"));
    const saved = { range: process.env.ARCHIPEL_PORT_RANGE, claims: process.env.ARCHIPEL_PORT_CLAIMS };
    // Three candidates, none listened on: without the claims, picks would repeat (random draws).
    const free = await freePort();
    Object.assign(process.env, { ARCHIPEL_PORT_RANGE: `${free}-${free + 3}`, ARCHIPEL_PORT_CLAIMS: claims });
    try {
      const picked = [await freePort(), shellFreePort(), await freePort()];
      assert.deepEqual([...picked].sort(), [free, free + 1, free + 2], `each candidate once: ${picked.join(", ")}`);
      assert.throws(() => shellFreePort(), /no free port in ARCHIPEL_PORT_RANGE/);
      const fallback = await freePort();
      assert.ok(fallback < free || fallback >= free + 3, "a used-up range falls back to a port the kernel picks");
    } finally {
      for (const [key, value] of [["ARCHIPEL_PORT_RANGE", saved.range], ["ARCHIPEL_PORT_CLAIMS", saved.claims]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      rmSync(claims, { recursive: true, force: true });
    }
  });

  it("skips a port another address listens on: the managers listen on every address", async () => {
    const claims = mkdtempSync(path.join(tmpdir(), "port-claims-"));
    const busy = await freePort();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(busy, "127.0.0.2", resolve));
    Object.assign(process.env, { ARCHIPEL_PORT_RANGE: `${busy}-${busy + 1}`, ARCHIPEL_PORT_CLAIMS: claims });
    try {
      // Free on 127.0.0.1, taken on 127.0.0.2: not handed out.
      assert.notEqual(await freePort("127.0.0.1"), busy);
      assert.throws(() => shellFreePort(), /no free port/);
    } finally {
      delete process.env.ARCHIPEL_PORT_RANGE;
      delete process.env.ARCHIPEL_PORT_CLAIMS;
      await new Promise((resolve) => server.close(resolve));
      rmSync(claims, { recursive: true, force: true });
    }
  });
});
