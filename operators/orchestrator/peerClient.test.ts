import assert from "node:assert/strict";
import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { loopbackEgress } from "../../test/support/egress.ts";
import { testApp } from "../../test/support/fastifyApp.ts";
import { captureRawBody, peerFinder, requirePeer } from "../api/federationAuth.ts";
import { ApiError } from "../api/errors.ts";
import { generateIdentityKey } from "../federation/keys.ts";
import { basenameProblem, listingProblem, outputAnnouncementProblem, outputPathProblem, peerOutputBasenameHeader, peerRunOutputPath } from "../federation/peerRuns.ts";
import { MemoryNonceCache } from "../federation/requestSigning.ts";
import type { Peer } from "../schema/peer.ts";
import { PeerRefusal, PeerRunsClient } from "./peerClient.ts";

const alpha = generateIdentityKey();
const requester: Peer = {
  apiVersion: "archipel.io/v1alpha1",
  kind: "Peer",
  metadata: { name: "peer-alpha" },
  spec: { peerId: "12D3KooWtest", networkRef: { name: "net" }, approval: "Accepted" },
  status: {
    descriptor: { cid: "cid", clusterName: "alpha", apiEndpoint: "http://127.0.0.1:1", publicKey: alpha.publicKey, issuedAt: "2026-01-01T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z" },
    conditions: [{ type: "DescriptorVerified", status: "True", reason: "Verified", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }],
  },
} as Peer;

const MiB = 1024 * 1024;

/** `size` bytes of a repeating pattern, produced as read (never held whole). */
function pattern(size: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      const n = Math.min(MiB, size - sent);
      if (n === 0) return void this.push(null);
      this.push(Buffer.alloc(n, sent % 251));
      sent += n;
    },
  });
}

describe("peer outputs streamed through the signed federation API (PeerRunsClient.output)", () => {
  let app: FastifyInstance;
  let client: PeerRunsClient;
  let ep: { peer: string; cluster: string; endpoint: string };
  const served: { output: string; basename: string; size: number; stallAfter?: number }[] = [
    { output: "big", basename: "big.bin", size: 40 * MiB },
    { output: "sneaky", basename: "../../var/run/secrets/token", size: 10 },
    { output: "stalls", basename: "s.txt", size: 4 * MiB, stallAfter: MiB },
  ];

  const listings: Record<string, { name: string; files: { path: string; size: number }[] }> = {
    tree: { name: "parts", files: [{ path: "1/line.txt", size: 5 }, { path: "2/line.txt", size: 7 }] },
    climbing: { name: "parts", files: [{ path: "1/../../../etc/passwd", size: 5 }] },
    dotted: { name: "..", files: [{ path: "a", size: 1 }] },
  };

  before(async () => {
    app = testApp();
    await app.register(async (scope) => {
      captureRawBody(scope);
      scope.get("/federation/v1/runs/:namespace/:name/outputs/:output", async (request, reply) => {
        requirePeer(request, { audience: () => "beta", peerByCluster: peerFinder(() => [requester]), nonces: new MemoryNonceCache() });
        const listing = listings[(request.params as { output: string }).output];
        const path = (request.query as { path?: string }).path;
        if (listing && path === undefined) return reply.header("content-type", "application/json").send(listing);
        if (listing) {
          const file = listing.files.find((f) => f.path === path);
          if (!file) throw new ApiError(404, "NotFound", "no such file", { field: "query.path" });
          return reply.header("content-type", "application/octet-stream").header("content-length", file.size).header(peerOutputBasenameHeader, encodeURIComponent(path?.split("/").pop() ?? "")).send(pattern(file.size));
        }
        const o = served.find((x) => x.output === (request.params as { output: string }).output);
        if (!o) throw new ApiError(404, "NotFound", "no such output", { field: "output" });
        const body = o.stallAfter === undefined ? pattern(o.size) : Readable.from((async function* () {
          yield Buffer.alloc(o.stallAfter ?? 0);
          await new Promise((r) => setTimeout(r, 5_000));
        })());
        void reply.header("content-type", "application/octet-stream").header("content-length", o.size).header(peerOutputBasenameHeader, encodeURIComponent(o.basename));
        return reply.send(body);
      });
    });
    const endpoint = await app.listen({ port: 0, host: "127.0.0.1" });
    ep = { peer: "peer-beta", cluster: "beta", endpoint };
    client = new PeerRunsClient({ identity: () => Promise.resolve({ clusterName: "alpha", privateKeyPem: alpha.privateKeyPem }), egress: loopbackEgress, deadlineMs: 500 });
  });

  after(async () => app.close());

  const fileOf = async (output: string): Promise<{ basename: string; size: number; stream: ReadableStream<Uint8Array> }> => {
    const out = await client.output(ep, { namespace: "default", name: "run-1", output });
    assert.equal(out.kind, "File");
    return out as { kind: "File"; basename: string; size: number; stream: ReadableStream<Uint8Array> };
  };

  it("streams an output larger than a whole answer could hold (40 MiB), signed, with its name and size", async () => {
    const out = await fileOf("big");
    assert.equal(out.basename, "big.bin");
    assert.equal(out.size, 40 * MiB);
    let read = 0;
    let first: number | undefined;
    for await (const chunk of out.stream) {
      first ??= chunk[0];
      read += chunk.byteLength;
    }
    assert.equal(read, 40 * MiB);
    assert.equal(first, 0);
  });

  it("refuses a file name that would leave the inputs directory, before reading the bytes", async () => {
    await assert.rejects(client.output(ep, { namespace: "default", name: "run-1", output: "sneaky" }), (err: Error & { code?: string }) => err.code === "BadResponse" && /named the file "\.\.\/\.\.\/var\/run\/secrets\/token", which must not contain a path separator/.test(err.message));
  });

  it("a transfer that stalls fails with a Timeout once nothing came for the deadline", async () => {
    const out = await fileOf("stalls");
    const started = Date.now();
    await assert.rejects(
      (async () => {
        for await (const _ of out.stream) void _;
      })(),
      (err: Error & { code?: string }) => err.code === "Timeout" && /sent nothing for 500 ms/.test(err.message),
    );
    assert.ok(Date.now() - started < 3_000, "cut at the stall, not when the server gives up");
  });

  it("a peer's refusal is a PeerRefusal with its code and message", async () => {
    await assert.rejects(client.output(ep, { namespace: "default", name: "run-1", output: "missing" }), (err: unknown) => err instanceof PeerRefusal && err.status === 404 && err.code === "NotFound" && /peer beta: no such output/.test(err.message));
  });

  it("reads a Directory output's listing, then each of its files by path", async () => {
    const out = await client.output(ep, { namespace: "default", name: "run-1", output: "tree" });
    assert.deepEqual(out.kind === "Directory" ? out.listing : undefined, listings.tree);
    const file = await client.outputFile(ep, { namespace: "default", name: "run-1", output: "tree" }, "2/line.txt");
    assert.deepEqual([file.basename, file.size], ["line.txt", 7]);
    let read = 0;
    for await (const chunk of file.stream) read += chunk.byteLength;
    assert.equal(read, 7);
  });

  it("refuses a listing whose path climbs out of the Directory, or whose name is not a plain name, before asking for any file", async () => {
    await assert.rejects(client.output(ep, { namespace: "default", name: "run-1", output: "climbing" }), (err: Error & { code?: string }) => err.code === "BadResponse" && /listed the path "1\/\.\.\/\.\.\/\.\.\/etc\/passwd", which must not have an empty, "\." or "\.\." segment/.test(err.message));
    await assert.rejects(client.output(ep, { namespace: "default", name: "run-1", output: "dotted" }), /named the Directory "\.\.", which must not be \. or \.\./);
    assert.equal(outputPathProblem("a/b.txt"), undefined);
    for (const bad of ["", "/a", "a/", "a//b", "./a", "a/../b", "a\\b", "a\0b"]) assert.ok(outputPathProblem(bad), JSON.stringify(bad));
    assert.match(listingProblem({ name: "d", files: [{ path: "a", size: 6 }] }, 5) ?? "", /listed 6 bytes, more than the 5 that cross/);
    assert.match(listingProblem({ name: "d", files: [] }, 5) ?? "", /listed no file/);
  });

  it("names what is wrong with an announcement: no size, too large, a name that is not a file's", () => {
    assert.equal(outputAnnouncementProblem(Number.NaN, "a.txt"), "announced no size (Content-Length)");
    assert.match(outputAnnouncementProblem(6 * 1024 ** 3, "a.txt") ?? "", /announced 6442450944 bytes, more than the 5368709120/);
    for (const bad of ["", ".", "..", "a/b", "a\\b", "a\0b", "x".repeat(256)]) assert.ok(basenameProblem(bad), JSON.stringify(bad));
    assert.equal(outputAnnouncementProblem(0, "out put.txt"), undefined);
    assert.equal(peerRunOutputPath("ns", "r", "a b"), "/federation/v1/runs/ns/r/outputs/a%20b");
  });
});
