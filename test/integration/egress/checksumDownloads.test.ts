// Checksum downloads are bounded per Provider and in all (probes called in-process against a
// loopback file server of this test's own that holds every GET until the test lets it go).
// The order of events decides, not time: the test waits until every probe has had its HEAD
// answered, then makes round trips of its own to the same server, after which any GET issued
// with those HEADs has arrived; only then does it count what is in flight.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { DownloadSlots } from "../../../operators/catalog/downloadSlots.ts";
import { defaultProbeEnv, type ProbeEnv, probeFor, runProbe } from "../../../operators/catalog/resourceProbes.ts";
import type { Provider } from "../../../operators/schema/provider.ts";
import type { Resource } from "../../../operators/schema/resource.ts";
import { eventually } from "../../support/eventually.ts";
import { loopbackEgress } from "../../support/egress.ts";

const body = Buffer.alloc(10_000, 3);
const digest = createHash("sha256").update(body).digest("hex");

interface HoldingServer {
  url: string;
  heads: number;
  held: { provider: string; res: http.ServerResponse }[];
  maxInFlight: { total: number; byProvider: Map<string, number> };
  close(): Promise<void>;
}

async function holdingServer(): Promise<HoldingServer> {
  const s: HoldingServer = { url: "", heads: 0, held: [], maxInFlight: { total: 0, byProvider: new Map() }, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const path = req.url ?? "/";
    if (path === "/ping") return void res.end("pong");
    if (req.method === "HEAD") {
      s.heads++;
      return void res.writeHead(200, { "content-length": body.length }).end();
    }
    const provider = path.split("/")[1] ?? "";
    s.held.push({ provider, res });
    const mine = s.held.filter((h) => h.provider === provider).length;
    s.maxInFlight.total = Math.max(s.maxInFlight.total, s.held.length);
    s.maxInFlight.byProvider.set(provider, Math.max(s.maxInFlight.byProvider.get(provider) ?? 0, mine));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  s.close = () =>
    new Promise((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return s;
}

const providerNamed = (name: string): Provider => ({ apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name, namespace: "ns" }, spec: { type: "data", data: { source: "url", url: {} } } });

const resource = (url: string, provider: string): Resource => ({
  apiVersion: "archipel.io/v1alpha1",
  kind: "Resource",
  metadata: { name: "r", namespace: "ns" },
  spec: { providerRef: { name: provider }, type: "data", title: "r", visibility: "public", data: { url: { url, checksum: { algorithm: "sha256", value: digest } } } },
});

describe("checksum downloads: per-Provider and global slots (in-process probes, loopback server)", function () {
  this.timeout(30_000);
  let server: HoldingServer;

  before(async () => {
    server = await holdingServer();
  });
  after(async () => server?.close());

  it("downloads at most perProvider at once for one Provider and total in all, and verifies every one", async () => {
    const slots = new DownloadSlots({ total: 3, perProvider: 2 });
    const env: ProbeEnv = { ...defaultProbeEnv, egress: loopbackEgress, downloads: slots, secret: async () => undefined, configMap: () => undefined };
    const plan = [...Array.from({ length: 5 }, (_, i) => ["a", i] as const), ...Array.from({ length: 3 }, (_, i) => ["b", i] as const)];
    const probes = plan.map(([p, i]) => {
      const provider = providerNamed(p);
      return runProbe(probeFor(provider)!, resource(`${server.url}/${p}/f${i}`, p), provider, env);
    });
    let done = 0;
    while (done < plan.length) {
      await eventually("every probe's HEAD is answered and a GET is held", async () => (server.heads >= plan.length && server.held.length > 0) || undefined, 10_000);
      // Round trips of our own: a GET issued along with the HEADs above has arrived by now.
      for (let i = 0; i < 3; i++) await (await fetch(`${server.url}/ping`)).text();
      const next = server.held.shift()!;
      next.res.writeHead(200, { "content-length": body.length }).end(body);
      done++;
    }
    const results = await Promise.all(probes);
    for (const r of results) assert.equal(r.verdict.reason, "Available", r.verdict.message);
    assert.equal(server.maxInFlight.byProvider.get("a"), 2);
    assert.ok((server.maxInFlight.byProvider.get("b") ?? 0) <= 2);
    assert.equal(server.maxInFlight.total, 3);
    assert.equal(slots.inFlight(), 0);
  });
});
