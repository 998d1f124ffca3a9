import assert from "node:assert/strict";
import type { Provider } from "../schema/provider.ts";
import type { Resource } from "../schema/resource.ts";
import { type CheckRecord, checkInputs, checkStillValid, dataStatus, nextRecord, notReady, providerGate, providerRelevance, recheckDelay, ResourceReason, trimMessage, verifyFileFacts } from "./resourceReadiness.ts";

const readyProvider = (spec: Provider["spec"], generation = 1, status = "True"): Provider => ({
  apiVersion: "archipel.io/v1alpha1",
  kind: "Provider",
  metadata: { name: "p", namespace: "ns", generation },
  spec,
  status: { conditions: [{ type: "Ready", status: status as "True", reason: "Valid", message: "ok", lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: 1 }] },
});

const resource = (spec: Partial<Resource["spec"]>): Resource => ({
  apiVersion: "archipel.io/v1alpha1",
  kind: "Resource",
  metadata: { name: "r", namespace: "ns", generation: 1 },
  spec: { providerRef: { name: "p" }, type: "data", title: "t", visibility: "public", ...spec } as Resource["spec"],
});

const urlProvider = readyProvider({ type: "data", data: { source: "url", url: {} } });
const urlResource = resource({ data: { url: { url: "http://x/f" } } });

describe("resourceReadiness", () => {
  describe("providerGate", () => {
    it("passes a Resource whose Provider is Ready with the same type and source", () => {
      assert.equal(providerGate(urlResource, urlProvider), undefined);
    });
    it("names spec.providerRef.name when the Provider is missing", () => {
      const v = providerGate(urlResource, undefined);
      assert.equal(v?.reason, ResourceReason.ProviderNotFound);
      assert.match(v?.message ?? "", /spec\.providerRef\.name: Provider "p" does not exist/);
    });
    it("refuses another type before looking at readiness", () => {
      const v = providerGate(urlResource, readyProvider({ type: "compute", compute: {} }, 1, "False"));
      assert.equal(v?.reason, ResourceReason.ProviderTypeMismatch);
      assert.match(v?.message ?? "", /spec\.type is "data" but Provider "p" offers "compute"/);
    });
    it("waits for a Provider that is not Ready or not yet validated, but keeps its last verdict during a spec edit", () => {
      assert.equal(providerGate(urlResource, readyProvider(urlProvider.spec, 1, "False"))?.reason, ResourceReason.ProviderNotReady);
      const fresh = providerGate(urlResource, { ...urlProvider, status: {} });
      assert.equal(fresh?.reason, ResourceReason.ProviderNotReady);
      assert.match(fresh?.message ?? "", /not validated it yet/);
      assert.equal(providerGate(urlResource, readyProvider(urlProvider.spec, 2)), undefined, "no flap while the Provider controller catches up");
    });
    it("refuses a data block the provider does not serve, naming both", () => {
      const v = providerGate(resource({ data: { s3: { bucket: "bkt", key: "k" } } }), urlProvider);
      assert.equal(v?.reason, ResourceReason.SourceMismatch);
      assert.match(v?.message ?? "", /spec\.data\.s3 is set but Provider "p" serves data from "url"/);
    });
  });

  describe("verifyFileFacts", () => {
    const checksum = { algorithm: "sha256" as const, value: "a".repeat(64) };
    it("accepts matching facts and facts that were not declared", () => {
      assert.equal(verifyFileFacts("spec.data.url", { sizeBytes: 3, checksum }, { sizeBytes: 3, digest: "a".repeat(64) }), undefined);
      assert.equal(verifyFileFacts("spec.data.url", {}, { sizeBytes: 3 }), undefined);
    });
    it("names sizeBytes or checksum.value on a mismatch", () => {
      const size = verifyFileFacts("spec.data.url", { sizeBytes: 4 }, { sizeBytes: 3 });
      assert.equal(size?.reason, ResourceReason.SizeMismatch);
      assert.match(size?.message ?? "", /spec\.data\.url\.sizeBytes is 4 but the source has 3 bytes/);
      const sum = verifyFileFacts("spec.data.s3", { checksum }, { digest: "b".repeat(64) });
      assert.equal(sum?.reason, ResourceReason.ChecksumMismatch);
      assert.match(sum?.message ?? "", /spec\.data\.s3\.checksum\.value does not match/);
    });
  });

  describe("re-check policy", () => {
    const policy = { readyIntervalMs: 300_000, minRetryMs: 5_000, maxRetryMs: 300_000 };
    const ok = { ready: true, reason: ResourceReason.Available, message: "" };
    const down = notReady(ResourceReason.SourceUnreachable, "down");
    it("keeps a success for the ready interval, and only for the same inputs", () => {
      const r = nextRecord(undefined, "f1", ok, 1000);
      assert.ok(checkStillValid(r, "f1", 1000 + 299_999, policy));
      assert.ok(!checkStillValid(r, "f1", 1000 + 300_000, policy));
      assert.ok(!checkStillValid(r, "f2", 1001, policy));
      assert.ok(!checkStillValid(undefined, "f1", 1001, policy));
    });
    it("backs off a transient failure: 5 s first, then as long as it has been failing, capped", () => {
      let r: CheckRecord = nextRecord(undefined, "f", down, 0);
      assert.equal(recheckDelay(r, policy), 5_000);
      r = nextRecord(r, "f", down, 5_000);
      assert.equal(recheckDelay(r, policy), 5_000);
      r = nextRecord(r, "f", down, 10_000);
      assert.equal(recheckDelay(r, policy), 10_000);
      r = nextRecord(r, "f", down, 20_000);
      assert.equal(recheckDelay(r, policy), 20_000);
      r = nextRecord(r, "f", down, 1_000_000);
      assert.equal(recheckDelay(r, policy), 300_000);
      r = nextRecord(r, "f", ok, 1_000_001);
      assert.equal(r.failingSince, undefined);
    });
    it("re-checks a permanent failure (a spec problem) only at the longest interval", () => {
      const r = nextRecord(undefined, "f", notReady(ResourceReason.ChecksumMismatch, "x"), 0);
      assert.equal(recheckDelay(r, policy), 300_000);
    });
  });

  it("trims long backend messages", () => {
    assert.equal(trimMessage("x".repeat(2000), 100).length, 100);
    assert.equal(trimMessage("  short \n"), "short");
  });
});

describe("resourceReadiness: what wakes and what re-checks", () => {
  const base: Provider = {
    apiVersion: "archipel.io/v1alpha1",
    kind: "Provider",
    metadata: { name: "p", namespace: "ns", generation: 1 },
    spec: { type: "data", displayName: "Files", data: { source: "url", url: {} } },
    status: { resourceCount: 1, conditions: [{ type: "Ready", status: "True", reason: "Valid", message: "ok", lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: 1 }] },
  };
  it("providerRelevance ignores status-only figures but not spec, deletion or readiness", () => {
    const r = providerRelevance(base);
    assert.equal(providerRelevance({ ...base, status: { ...base.status, resourceCount: 500 } }), r);
    assert.notEqual(providerRelevance({ ...base, metadata: { ...base.metadata, generation: 2 } }), r);
    assert.notEqual(providerRelevance({ ...base, metadata: { ...base.metadata, deletionTimestamp: "2026-01-02T00:00:00Z" } }), r);
    assert.notEqual(providerRelevance({ ...base, status: { conditions: [{ ...base.status!.conditions![0]!, status: "False" }] } }), r);
  });
  it("checkInputs ignores the provider's displayName but not its backend block", () => {
    const res = resource({ data: { url: { url: "http://x/f" } } });
    const inputs = JSON.stringify(checkInputs(res, base, undefined));
    assert.equal(JSON.stringify(checkInputs(res, { ...base, spec: { ...base.spec, displayName: "Other" } }, undefined)), inputs);
    assert.notEqual(JSON.stringify(checkInputs(res, { ...base, spec: { ...base.spec, data: { source: "url", url: { baseURL: "http://x/" } } } }, undefined)), inputs);
    assert.notEqual(JSON.stringify(checkInputs(res, base, "12")), inputs);
  });
});

describe("resourceReadiness.dataStatus", () => {
  const at = (data?: { sizeBytes?: number; itemCount?: number; checkedAt?: string }): Resource => ({ status: data ? { data } : {} }) as unknown as Resource;

  it("keeps the stored checkedAt when a re-check finds the same size and count (no status write)", () => {
    const stored = at({ sizeBytes: 10, checkedAt: "2026-11-28T10:00:00Z" });
    assert.deepEqual(dataStatus(stored, { sizeBytes: 10 }, "2026-11-28T10:05:00Z"), { sizeBytes: 10, checkedAt: "2026-11-28T10:00:00Z" });
  });

  it("moves checkedAt when the observation changed or was never stored", () => {
    assert.equal(dataStatus(at({ sizeBytes: 10, checkedAt: "2026-11-28T10:00:00Z" }), { sizeBytes: 11 }, "2026-11-28T10:05:00Z").checkedAt, "2026-11-28T10:05:00Z");
    assert.equal(dataStatus(at({ itemCount: 3, checkedAt: "2026-11-28T10:00:00Z" }), { itemCount: 4 }, "2026-11-28T10:05:00Z").checkedAt, "2026-11-28T10:05:00Z");
    assert.equal(dataStatus(at(), { sizeBytes: 10 }, "2026-11-28T10:05:00Z").checkedAt, "2026-11-28T10:05:00Z");
  });
});
