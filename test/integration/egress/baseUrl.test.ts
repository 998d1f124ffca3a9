// A Provider's baseURL bounds what its Resources make the operator fetch, by parsed origin and
// whole path segments (probes called in-process against a loopback file server of this test's own).
import assert from "node:assert/strict";
import { defaultProbeEnv, type ProbeEnv, probeFor, runProbe } from "../../../operators/catalog/resourceProbes.ts";
import type { Provider } from "../../../operators/schema/provider.ts";
import type { Resource } from "../../../operators/schema/resource.ts";
import { loopbackEgress } from "../../support/egress.ts";
import { type FileServer, startFileServer } from "../catalog/resourceFixtures.ts";

describe("Provider baseURL: origin and path segments, not a string prefix (in-process probes, loopback server)", () => {
  let files: FileServer;
  const env: ProbeEnv = { ...defaultProbeEnv, egress: loopbackEgress, secret: async () => ({ authorization: "Bearer provider-secret" }), configMap: () => undefined };

  before(async () => {
    files = await startFileServer({ "/data/a.txt": "public\n", "/data-private/b.txt": "private\n" });
  });
  after(async () => files?.close());

  const provider = (): Provider => ({
    apiVersion: "archipel.io/v1alpha1",
    kind: "Provider",
    metadata: { name: "files", namespace: "ns" },
    spec: { type: "data", data: { source: "url", url: { baseURL: `${files.url}/data`, headersSecretRef: { name: "headers" } } } },
  });
  const resource = (url: string): Resource => ({
    apiVersion: "archipel.io/v1alpha1",
    kind: "Resource",
    metadata: { name: "r", namespace: "ns" },
    spec: { providerRef: { name: "files" }, type: "data", title: "r", visibility: "public", data: { url: { url } } },
  });
  const probe = async (url: string): Promise<{ reason: string; message: string }> => (await runProbe(probeFor(provider())!, resource(url), provider(), env)).verdict;

  it("admits a file under the base path", async () => {
    const v = await probe(`${files.url}/data/a.txt`);
    assert.equal(v.reason, "Available", v.message);
  });

  it("refuses a sibling path sharing the prefix, and a host that only starts like the base; the server sees nothing", async () => {
    const seen = files.requests.length;
    const sibling = await probe(`${files.url}/data-private/b.txt`);
    assert.equal(sibling.reason, "InvalidSpec");
    assert.match(sibling.message, /spec\.data\.url\.url must start with the Provider's baseURL .*whole path segments/);
    const port = new URL(files.url).port;
    const otherHost = await probe(`http://127.0.0.1:${port}0/data/a.txt`);
    assert.equal(otherHost.reason, "InvalidSpec");
    const dots = await probe(`${files.url}/data/../data-private/b.txt`);
    assert.equal(dots.reason, "InvalidSpec");
    assert.equal(files.requests.length, seen);
    assert.equal(files.headers.get("/data-private/b.txt"), undefined);
  });
});
