import { strict as assert } from "node:assert";
import { s3PolicyDocument } from "../catalog/backends/s3Grant.ts";
import { runCredentialNames, runCredentialsSecretName, withRunCredentials } from "./runCredentials.ts";

const repository = { endpoint: "s3.argo:9000", bucket: "argo-artifacts", keyPrefix: "pipelineruns", insecure: true, accessKeySecret: { name: "argo-artifacts-s3", key: "accessKey" }, secretKeySecret: { name: "argo-artifacts-s3", key: "secretKey" } };

describe("a run's own artifact credentials (names and policy)", () => {
  it("confine the run's user to its Workflow's prefix, read and write", () => {
    const names = runCredentialNames(repository, "lab", "assemble");
    assert.equal(names.bucket, "argo-artifacts");
    assert.equal(names.prefix, "pipelineruns/lab/assemble/");
    assert.equal(names.owned, false, "the bucket is the repository's: revoking never deletes data");
    const policy = s3PolicyDocument(names, "write");
    assert.deepEqual(policy.Statement[0]?.Resource, ["arn:aws:s3:::argo-artifacts/pipelineruns/lab/assemble/*"]);
    assert.ok(policy.Statement[0]?.Action.includes("s3:PutObject"));
    assert.deepEqual(policy.Statement[1]?.Condition, { StringLike: { "s3:prefix": ["pipelineruns/lab/assemble/*"] } });
  });

  it("give each namespace/run its own user, the same on every pass, within IAM's 64 characters", () => {
    const a = runCredentialNames(repository, "lab", "assemble").user;
    assert.equal(runCredentialNames(repository, "lab", "assemble").user, a);
    assert.notEqual(runCredentialNames(repository, "lab2", "assemble").user, a);
    // Same slug, different pair: the hash tells them apart.
    assert.notEqual(runCredentialNames(repository, "a-b", "c").user, runCredentialNames(repository, "a", "b-c").user);
    const long = runCredentialNames(repository, "n".repeat(63), "w".repeat(63)).user;
    assert.ok(long.length <= 64, `${long} is ${long.length} characters`);
    assert.match(long, /^archipel-run-[a-z0-9-]+-[0-9a-f]{16}$/);
  });

  it("name the Secret as a DNS label of at most 63 characters (Argo names the pods' volume after it), telling cut names apart", () => {
    const long = "e2e-peerrun-20472-cbce4c08622d0bce-to-store-mixed-346b658a";
    const cut = runCredentialsSecretName(long);
    assert.ok(cut.length <= 63, `${cut} is ${cut.length} characters`);
    assert.match(cut, /^e2e-peerrun-20472-cbce4c08622d0bce-to-st[a-z0-9-]*-[0-9a-f]{8}-artifacts$/);
    assert.notEqual(runCredentialsSecretName(`${long}x`), cut);
    for (const name of [long, "a.b.c", "x".repeat(253), "run.v2-final"]) {
      assert.match(runCredentialsSecretName(name), /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, name);
    }
    assert.notEqual(runCredentialsSecretName("a.b"), runCredentialsSecretName("a-b"), "a dotted name and its dashed look-alike");
    assert.equal(runCredentialsSecretName("a-b"), "a-b-artifacts");
  });

  it("point the Workflow's artifacts at the run's Secret, keeping the repository's bucket and endpoint", () => {
    const scoped = withRunCredentials(repository, "assemble");
    assert.equal(runCredentialsSecretName("assemble"), "assemble-artifacts");
    assert.deepEqual(scoped.accessKeySecret, { name: "assemble-artifacts", key: "accessKey" });
    assert.deepEqual(scoped.secretKeySecret, { name: "assemble-artifacts", key: "secretKey" });
    assert.equal(scoped.endpoint, repository.endpoint);
    assert.equal(scoped.bucket, repository.bucket);
    assert.equal(repository.accessKeySecret.name, "argo-artifacts-s3", "the configured repository is not changed");
  });
});
