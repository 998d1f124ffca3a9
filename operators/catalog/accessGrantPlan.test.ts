import assert from "node:assert/strict";
import type { Provider } from "../schema/provider.ts";
import type { Resource } from "../schema/resource.ts";
import { boundedName, credentialsReaderName, credentialsSecretName, decideGrantAction, grantLabelValue, granteeCaller, granteeSubject, grantKey, grantPhase } from "./accessGrantPlan.ts";

const pg = { host: "db", database: "d", credentialsSecretRef: { name: "pg-admin" } };
const s3 = { endpoint: "http://s3", credentialsSecretRef: { name: "s3-admin" } };

function provider(spec: Provider["spec"]): Provider {
  return { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name: "p" }, spec } as Provider;
}
function resource(spec: Partial<Resource["spec"]>): Resource {
  return { apiVersion: "archipel.io/v1alpha1", kind: "Resource", metadata: { name: "r" }, spec: { providerRef: { name: "p" }, title: "r", visibility: "public", ...spec } } as Resource;
}

describe("accessGrantPlan", () => {
  describe("decideGrantAction", () => {
    it("data postgres table + read → a view over the table (schema defaults to public)", () => {
      const d = decideGrantAction("read", resource({ type: "data", data: { postgres: { table: { name: "t", columns: ["a"] } } } }), provider({ type: "data", data: { source: "postgres", postgres: pg } }));
      assert.deepEqual(d, { ok: true, action: { kind: "postgres-read", connection: pg, source: { kind: "table", schema: "public", table: "t", columns: ["a"] } } });
    });
    it("data postgres query + read → a view over the query", () => {
      const d = decideGrantAction("read", resource({ type: "data", data: { postgres: { query: "SELECT 1" } } }), provider({ type: "data", data: { source: "postgres", postgres: pg } }));
      assert.equal(d.ok && d.action.kind === "postgres-read" && d.action.source.kind, "query");
    });
    it("data s3 + read → read on exactly the Resource's object", () => {
      const d = decideGrantAction("read", resource({ type: "data", data: { s3: { bucket: "b", key: "k/" } } }), provider({ type: "data", data: { source: "s3", s3 } }));
      assert.deepEqual(d.ok && d.action, { kind: "s3-read", connection: s3, scope: { kind: "exact", bucket: "b", prefix: "k/" } });
    });
    it("storage s3 + write → a prefix of the grant's own under the Resource's prefix (slash added)", () => {
      const d = decideGrantAction("write", resource({ type: "storage", storage: { s3: { bucket: "b", prefix: "runs" } } }), provider({ type: "storage", storage: { backend: "s3", s3 } }));
      assert.deepEqual(d.ok && d.action, { kind: "s3-write", connection: s3, scope: { kind: "prefix", bucket: "b", under: "runs/" } });
    });
    it("storage postgres + write → the Resource's schema", () => {
      const d = decideGrantAction("write", resource({ type: "storage", storage: { postgres: { schema: "out" } } }), provider({ type: "storage", storage: { backend: "postgres", postgres: pg } }));
      assert.deepEqual(d.ok && d.action, { kind: "postgres-write", connection: pg, schema: "out" });
    });
    it("UnsupportedGrant for read on storage, write on data, compute and url data, naming mode and type", () => {
      const cases: [string, Resource, Provider, RegExp][] = [
        ["read", resource({ type: "storage", storage: { s3: { bucket: "b" } } }), provider({ type: "storage", storage: { backend: "s3", s3 } }), /spec\.mode read .* storage Resource/],
        ["write", resource({ type: "data", data: { postgres: { query: "SELECT 1" } } }), provider({ type: "data", data: { source: "postgres", postgres: pg } }), /spec\.mode write .* data Resource/],
        ["read", resource({ type: "compute" }), provider({ type: "compute" }), /compute Resource/],
        ["read", resource({ type: "data", data: { url: { url: "http://x/f" } } }), provider({ type: "data", data: { source: "url" } }), /source url/],
      ];
      for (const [mode, r, p, message] of cases) {
        const d = decideGrantAction(mode, r, p);
        assert.equal(d.ok, false);
        if (!d.ok) {
          assert.equal(d.reason, "UnsupportedGrant");
          assert.match(d.message, message);
        }
      }
    });
  });

  it("grantPhase: live with the remaining delay, expired at and after expiresAt, expired when unparsable", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    assert.deepEqual(grantPhase("2026-01-01T00:00:10Z", now), { expired: false, remainingMs: 10_000 });
    assert.deepEqual(grantPhase("2026-01-01T00:00:00Z", now), { expired: true });
    assert.deepEqual(grantPhase("not a date", now), { expired: true });
  });

  it("granteeCaller: users and service accounts are local, peers carry their approval", () => {
    const approval = (peer: string): "Accepted" | "Unknown" => (peer === "b" ? "Accepted" : "Unknown");
    assert.deepEqual(granteeCaller({ kind: "User", name: "alice" }, approval), { kind: "local", user: "alice", groups: [], listableNamespaces: "all" });
    assert.deepEqual(granteeCaller({ kind: "Group", name: "team" }, approval), { kind: "local", user: "", groups: ["team"], listableNamespaces: "all" });
    assert.deepEqual(granteeCaller({ kind: "ServiceAccount", name: "sa", namespace: "ns" }, approval), { kind: "local", user: "system:serviceaccount:ns:sa", groups: [], listableNamespaces: "all" });
    assert.deepEqual(granteeCaller({ kind: "Peer", name: "b" }, approval), { kind: "peer", cluster: "b", approval: "Accepted", signature: "Verified" });
    assert.equal((granteeCaller({ kind: "Peer", name: "c" }, approval) as { approval: string }).approval, "Unknown");
    // A Peer object is named apart from its cluster; projects list clusters: the caller is the cluster, acting for the grant's project.
    assert.deepEqual(granteeCaller({ kind: "Peer", name: "b", project: "ocean" }, approval, [], (p) => `cluster-of-${p}`), { kind: "peer", cluster: "cluster-of-b", approval: "Accepted", signature: "Verified", project: "ocean" });
  });

  it("names: Secret from the grant's name, backend key from its UID, RBAC subject per grantee kind", () => {
    assert.equal(credentialsSecretName("g1"), "g1-credentials");
    assert.equal(grantKey({ metadata: { uid: "u-1" } } as never), "g-u-1");
    assert.throws(() => grantKey({ metadata: {} } as never), /metadata\.uid/);
    assert.deepEqual(granteeSubject({ kind: "User", name: "alice" }), { kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" });
    assert.deepEqual(granteeSubject({ kind: "ServiceAccount", name: "sa", namespace: "ns" }), { kind: "ServiceAccount", name: "sa", namespace: "ns" });
    assert.equal(granteeSubject({ kind: "Peer", name: "b" }), undefined);
    assert.deepEqual(granteeSubject({ kind: "Peer", name: "b" }, { namespace: "archipel-system", name: "archipel-api" }), { kind: "ServiceAccount", name: "archipel-api", namespace: "archipel-system" });
  });

  it("child names stay within their limits for long grant names: cut, hash of the whole name, deterministic", () => {
    const long = `${"a".repeat(200)}.${"b".repeat(52)}`;
    assert.equal(long.length, 253);
    const secret = credentialsSecretName(long);
    assert.ok(secret.length <= 253 && secret.endsWith("-credentials"), secret);
    assert.match(secret, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    assert.equal(credentialsSecretName(long), secret, "deterministic");
    assert.notEqual(credentialsSecretName(`${long.slice(0, 252)}c`), secret, "names cut alike still differ");
    assert.ok(credentialsReaderName(long).length <= 253 && credentialsReaderName(long).endsWith("-credentials-reader"));
    assert.equal(credentialsReaderName("g1"), "g1-credentials-reader");
    const label = grantLabelValue(long);
    assert.ok(label.length <= 63, label);
    assert.match(label, /^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/);
    assert.equal(grantLabelValue("short"), "short");
    // A cut that would end in "-" or "." loses it: the hash follows a letter or digit.
    assert.match(boundedName(`${"x".repeat(20)}.-.yyyy`, "-s", 20), /^x+-[0-9a-f]{10}-s$/);
  });
});
