// egressFetch against listeners of its own, on loopback only (127.0.0.1 and 127.0.0.2, both on the
// loopback interface). Refusal of any other range is proven by the pure tests in egress.test.ts.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "mocha";
import { defaultEgressPolicy, type EgressPolicy, parseCidrList } from "./egress.ts";
import { EgressRefused, egressFetch, readCapped, resolveChecked } from "./egressHttp.ts";

interface Listener {
  url: string;
  connections: number;
  requests: { path: string; authorization?: string | undefined }[];
  close(): Promise<void>;
}

async function listen(host: string, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Listener> {
  const server = http.createServer(handler);
  const l: Listener = { url: "", connections: 0, requests: [], close: () => new Promise((r) => server.close(() => r())) };
  server.on("connection", () => l.connections++);
  server.on("request", (req: http.IncomingMessage) => l.requests.push({ path: req.url ?? "", authorization: req.headers.authorization }));
  await new Promise<void>((r) => server.listen(0, host, r));
  l.url = `http://${host}:${(server.address() as AddressInfo).port}`;
  server.closeIdleConnections();
  return l;
}

const refusedWith = (rule: string) => (err: unknown) => err instanceof EgressRefused && err.rule === rule;

describe("runtime/egressHttp: egressFetch on loopback listeners", () => {
  const loopbackOne: EgressPolicy = { ...defaultEgressPolicy, allow: parseCidrList("127.0.0.1/32") };
  let target: Listener; // 127.0.0.1
  let other: Listener; // 127.0.0.2: loopback, but outside loopbackOne's allow-list
  let sameHostOtherPort: Listener;

  before(async () => {
    other = await listen("127.0.0.2", (_req, res) => res.end("other"));
    sameHostOtherPort = await listen("127.0.0.1", (_req, res) => res.end("moved here"));
    target = await listen("127.0.0.1", (req, res) => {
      const path = req.url ?? "/";
      if (path === "/to-other") res.writeHead(302, { location: `${other.url}/x` }).end();
      else if (path === "/to-port") res.writeHead(307, { location: `${sameHostOtherPort.url}/y` }).end();
      else if (path === "/loop") res.writeHead(302, { location: "/loop" }).end();
      else if (path === "/to-file") res.writeHead(302, { location: "file:///etc/passwd" }).end();
      else if (path === "/big") res.end(Buffer.alloc(4096));
      else res.end("ok");
    });
  });

  after(async () => Promise.all([target.close(), other.close(), sameHostOtherPort.close()]));

  it("with the default policy, no connection reaches a loopback listener (by address or by name)", async () => {
    const before = target.connections;
    await assert.rejects(egressFetch(`${target.url}/`, {}, { policy: defaultEgressPolicy, purpose: "data" }), refusedWith("loopback"));
    const port = new URL(target.url).port;
    await assert.rejects(egressFetch(`http://localhost:${port}/`, {}, { policy: defaultEgressPolicy, purpose: "data" }), refusedWith("loopback"));
    await assert.rejects(egressFetch(`http://[::ffff:127.0.0.1]:${port}/`, {}, { policy: defaultEgressPolicy, purpose: "data" }), refusedWith("loopback"));
    assert.equal(target.connections, before);
  });

  it("with loopback allowed, the same listener answers, by address and by name", async () => {
    const res = await egressFetch(`${target.url}/`, {}, { policy: loopbackOne, purpose: "data" });
    assert.equal(await res.text(), "ok");
    const byName = await egressFetch(`http://localhost:${new URL(target.url).port}/`, {}, { policy: loopbackOne, purpose: "data" });
    assert.equal(await byName.text(), "ok");
  });

  it("re-checks every redirect hop: a hop to a refused address never connects", async () => {
    const before = other.connections;
    await assert.rejects(egressFetch(`${target.url}/to-other`, {}, { policy: loopbackOne, purpose: "data" }), refusedWith("loopback"));
    assert.equal(other.connections, before);
  });

  it("follows an allowed hop, without the caller's credentials on another origin", async () => {
    const res = await egressFetch(`${target.url}/to-port`, { headers: { authorization: "Bearer s3cret", range: "bytes=0-0" } }, { policy: loopbackOne, purpose: "data" });
    assert.equal(await res.text(), "moved here");
    assert.deepEqual(sameHostOtherPort.requests.at(-1), { path: "/y", authorization: undefined });
  });

  it("bounds redirects, and refuses a hop to another scheme", async () => {
    await assert.rejects(egressFetch(`${target.url}/loop`, {}, { policy: loopbackOne, purpose: "data", maxRedirects: 3 }), (err: Error) => /more than 3 redirects/.test(err.message));
    await assert.rejects(egressFetch(`${target.url}/to-file`, {}, { policy: loopbackOne, purpose: "data" }), (err: Error) => /file: URL/.test(err.message));
  });

  it("with maxRedirects 0 the redirect is the answer (peers are never followed)", async () => {
    const before = other.connections;
    const res = await egressFetch(`${target.url}/to-other`, {}, { policy: loopbackOne, purpose: "data", maxRedirects: 0 });
    assert.equal(res.status, 302);
    assert.equal(other.connections, before);
  });

  it("refuses a plain-HTTP peer unless configured, before connecting", async () => {
    const before = target.connections;
    await assert.rejects(egressFetch(`${target.url}/`, {}, { policy: loopbackOne, purpose: "peer" }), refusedWith("plain-http-peer"));
    assert.equal(target.connections, before);
    const res = await egressFetch(`${target.url}/`, {}, { policy: { ...loopbackOne, allowHttpPeers: true }, purpose: "peer" });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });

  it("readCapped refuses a body over the cap", async () => {
    const res = await egressFetch(`${target.url}/big`, {}, { policy: loopbackOne, purpose: "data" });
    await assert.rejects(readCapped(res, 1000), /more than the 1000/);
    const ok = await egressFetch(`${target.url}/big`, {}, { policy: loopbackOne, purpose: "data" });
    assert.equal((await readCapped(ok, 4096)).length, 4096);
  });

  it("resolveChecked gives a checked address, or refuses", async () => {
    assert.equal(await resolveChecked("localhost", loopbackOne), "127.0.0.1");
    await assert.rejects(resolveChecked("localhost", defaultEgressPolicy), refusedWith("loopback"));
    await assert.rejects(resolveChecked("127.0.0.2", loopbackOne), refusedWith("loopback"));
  });
});
