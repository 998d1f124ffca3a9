// S3 and IAM calls of the grant executor (s3Client.ts) are bounded: an endpoint on loopback that
// accepts connections and never answers fails the call instead of holding a controller worker.
import assert from "node:assert/strict";
import net from "node:net";
import { BackendError, BackendReason } from "../../../operators/catalog/backends/postgresErrors.ts";
import { applyS3Grant, issueS3AccessKey, revokeS3Grant, type S3Admin } from "../../../operators/catalog/backends/s3Client.ts";
import { s3GrantNames } from "../../../operators/catalog/backends/s3Grant.ts";

describe("S3 and IAM calls against a silent endpoint", function () {
  this.timeout(30_000);
  const sockets: net.Socket[] = [];
  let silent: net.Server;
  let admin: S3Admin;

  before(async () => {
    silent = net.createServer((s) => sockets.push(s)); // accepts, reads, never writes
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as net.AddressInfo).port;
    admin = {
      endpoint: `http://127.0.0.1:${port}`,
      region: "us-east-1",
      accessKeyId: "admin",
      secretAccessKey: "admin-secret",
      timeouts: { connectionTimeoutMs: 200, requestTimeoutMs: 300 },
    };
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  const timedOut = (err: unknown): boolean => {
    assert.ok(err instanceof BackendError, String(err));
    assert.equal(err.reason, BackendReason.BackendTimeout, err.message);
    assert.match(err.message, /the S3\/IAM server did not answer in time/);
    return true;
  };

  it("applying a grant (S3 HeadBucket/CreateBucket) times out", async () => {
    const names = s3GrantNames("ns/g-silent", { kind: "prefix", bucket: "results" });
    await assert.rejects(applyS3Grant(admin, names, "write"), timedOut);
    assert.ok(sockets.length >= 1, "the client did reach the silent listener");
  });

  it("issuing a key and revoking (IAM calls) time out", async () => {
    const names = s3GrantNames("ns/g-silent", { kind: "prefix", bucket: "results" });
    await assert.rejects(issueS3AccessKey(admin, names), timedOut);
    await assert.rejects(revokeS3Grant(admin, names), timedOut);
  });
});
