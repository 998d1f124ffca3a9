// The Resource controller's backend probes called directly (no API server): limits that the
// manager process does not expose as flags — the checksum size cap and the deadline.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { defaultProbeEnv, type ProbeEnv, probeFor, runProbe } from "../../../operators/catalog/resourceProbes.ts";
import type { Provider } from "../../../operators/schema/provider.ts";
import type { Resource } from "../../../operators/schema/resource.ts";
import { loopbackEgress } from "../../support/egress.ts";
import { type FileServer, sha256, startFileServer } from "./resourceFixtures.ts";

const provider: Provider = { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name: "files", namespace: "ns" }, spec: { type: "data", data: { source: "url", url: {} } } };

const urlResource = (url: string, checksum?: string): Resource => ({
  apiVersion: "archipel.io/v1alpha1",
  kind: "Resource",
  metadata: { name: "r", namespace: "ns" },
  spec: { providerRef: { name: "files" }, type: "data", title: "r", visibility: "public", data: { url: { url, ...(checksum ? { checksum: { algorithm: "sha256" as const, value: checksum } } : {}) } } },
});

describe("Resource probes (loopback backends, no API server)", () => {
  let files: FileServer;
  let slow: http.Server;
  let slowUrl: string;
  const big = Buffer.alloc(5000, 1);
  const env = (over: Partial<ProbeEnv> = {}): ProbeEnv => ({ ...defaultProbeEnv, egress: loopbackEgress, secret: async () => undefined, configMap: () => undefined, ...over });

  before(async () => {
    files = await startFileServer({ "/big.bin": big });
    slow = http.createServer(() => undefined); // accepts and never answers
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/file`;
  });

  after(async () => {
    await files.close();
    slow.closeAllConnections();
    await new Promise((resolve) => slow.close(resolve));
  });

  it("refuses to download more than the cap to verify a checksum (ContentTooLarge, naming the field)", async () => {
    const r = await runProbe(probeFor(provider)!, urlResource(`${files.url}/big.bin`, sha256(big)), provider, env({ maxChecksumBytes: 1000 }));
    assert.equal(r.verdict.reason, "ContentTooLarge");
    assert.match(r.verdict.message, /spec\.data\.url: content is 5000 bytes, more than the 1000 bytes verified for spec\.data\.url\.checksum/);
    assert.ok(!files.requests.includes("GET /big.bin"), "the content was not downloaded");
    const ok = await runProbe(probeFor(provider)!, urlResource(`${files.url}/big.bin`, sha256(big)), provider, env({ maxChecksumBytes: 10_000 }));
    assert.equal(ok.verdict.reason, "Available");
  });

  it("gives up on a source that never answers after the deadline (SourceUnreachable)", async () => {
    const started = Date.now();
    const r = await runProbe(probeFor(provider)!, urlResource(slowUrl), provider, env({ timeoutMs: 500 }));
    assert.equal(r.verdict.reason, "SourceUnreachable");
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  });
});
