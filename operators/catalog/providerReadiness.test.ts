import assert from "node:assert/strict";
import type { ProviderSpec } from "../schema/provider.ts";
import { deletionBlockedMessage, ProviderReason, providerReadiness } from "./providerReadiness.ts";

const secret = { name: "creds" };
const pg = { host: "db.example", database: "catalog", credentialsSecretRef: secret };
const s3 = { endpoint: "https://s3.example", credentialsSecretRef: secret };

function expectFailure(spec: unknown, reason: string, field: string): void {
  const r = providerReadiness(spec as ProviderSpec);
  assert.equal(r.ready, false, JSON.stringify(spec));
  assert.equal(r.reason, reason, r.message);
  assert.ok(r.message.includes(field), `message "${r.message}" names ${field}`);
}

describe("catalog/providerReadiness", () => {
  it("accepts a complete provider of every type", () => {
    const valid: ProviderSpec[] = [
      { type: "data", data: { source: "postgres", postgres: pg } },
      { type: "data", data: { source: "s3", s3 } },
      { type: "data", data: { source: "stac", stac: { apiURL: "https://stac.example/api" } } },
      { type: "data", data: { source: "url", url: {} } },
      { type: "storage", storage: { backend: "s3", s3 } },
      { type: "storage", storage: { backend: "postgres", postgres: pg } },
      { type: "compute", compute: {} },
      { type: "compute", compute: { capacity: { cpu: "4", memory: "8Gi" }, overcommit: { cpu: "1", memory: "2.5" } } },
      { type: "service", service: { defaultImage: "ghcr.io/x/y:1" } },
      { type: "service", service: { registry: { server: "registry.example" } } },
    ];
    for (const spec of valid) {
      const r = providerReadiness(spec);
      assert.deepEqual({ ready: r.ready, reason: r.reason }, { ready: true, reason: ProviderReason.Valid }, `${JSON.stringify(spec)}: ${r.message}`);
    }
  });

  it("needs the block that matches spec.type", () => {
    expectFailure({ type: "storage" }, ProviderReason.MissingTypeBlock, "spec.storage");
    expectFailure({ type: "gpu" }, ProviderReason.InvalidSpec, "spec.type");
    expectFailure(undefined, ProviderReason.InvalidSpec, "spec");
  });

  it("refuses blocks of another type", () => {
    expectFailure({ type: "compute", compute: {}, service: { defaultImage: "x" } }, ProviderReason.ExtraTypeBlock, "spec.service");
  });

  it("needs the selected source or backend block", () => {
    expectFailure({ type: "data", data: { source: "postgres" } }, ProviderReason.MissingSourceBlock, "spec.data.postgres");
    expectFailure({ type: "storage", storage: { backend: "s3" } }, ProviderReason.MissingSourceBlock, "spec.storage.s3");
  });

  it("names each missing connection field", () => {
    expectFailure({ type: "data", data: { source: "postgres", postgres: { ...pg, host: "" } } }, ProviderReason.MissingField, "spec.data.postgres.host");
    expectFailure({ type: "data", data: { source: "postgres", postgres: { ...pg, database: " " } } }, ProviderReason.MissingField, "spec.data.postgres.database");
    expectFailure({ type: "storage", storage: { backend: "postgres", postgres: { ...pg, credentialsSecretRef: undefined } } }, ProviderReason.MissingField, "spec.storage.postgres.credentialsSecretRef.name");
    expectFailure({ type: "storage", storage: { backend: "s3", s3: { ...s3, endpoint: "" } } }, ProviderReason.MissingField, "spec.storage.s3.endpoint");
    expectFailure({ type: "data", data: { source: "s3", s3: { endpoint: "https://x" } } }, ProviderReason.MissingField, "spec.data.s3.credentialsSecretRef.name");
    expectFailure({ type: "data", data: { source: "stac", stac: {} } }, ProviderReason.MissingField, "spec.data.stac.apiURL");
    expectFailure({ type: "service", service: {} }, ProviderReason.MissingField, "spec.service.defaultImage");
    expectFailure({ type: "compute", compute: { capacity: { cpu: "4" } } }, ProviderReason.MissingField, "spec.compute.capacity.memory");
  });

  it("wants overcommit ratios to be decimal strings of at least 1", () => {
    expectFailure({ type: "compute", compute: { overcommit: { cpu: "0.5" } } }, ProviderReason.InvalidSpec, "spec.compute.overcommit.cpu");
    expectFailure({ type: "compute", compute: { overcommit: { memory: "0" } } }, ProviderReason.InvalidSpec, "spec.compute.overcommit.memory");
    expectFailure({ type: "compute", compute: { overcommit: { cpu: "1e3" } } }, ProviderReason.InvalidSpec, "spec.compute.overcommit.cpu");
    expectFailure({ type: "compute", compute: { overcommit: { cpu: "-2" } } }, ProviderReason.InvalidSpec, "spec.compute.overcommit.cpu");
    assert.equal(providerReadiness({ type: "compute", compute: { overcommit: { cpu: "1.000000001", memory: "10" } } }).ready, true);
  });

  it("reports the first failing check by name", () => {
    const r = providerReadiness({ type: "compute", compute: { overcommit: { cpu: "0.9" } } });
    assert.equal(r.failedCheck, "computeRatios");
  });

  it("lists the Resources that block deletion, with a cap", () => {
    assert.match(deletionBlockedMessage(["a"]), /1 Resource still references this Provider \(a\)/);
    const many = Array.from({ length: 13 }, (_, i) => `r${i}`);
    assert.match(deletionBlockedMessage(many), /13 Resources .*r9 and 3 more/);
  });
});
