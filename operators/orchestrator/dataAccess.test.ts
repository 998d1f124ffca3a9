import assert from "node:assert/strict";
import { podInputsDir } from "../pipeline/argo/translate.ts";
import type { AccessGrant } from "../schema/accessGrant.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { Reservation } from "../schema/reservation.ts";
import type { Resource } from "../schema/resource.ts";
import { dataInputOf, deliveredKey, directoryObjects, outputInRunArea, maxStagedBytes, maxStagedObjects, grantVerdict, storageOutputOf, runGrantBody, runGrantee, runGrantName, servedPeerOf, stagedDataKey, stagedDataValue } from "./dataAccess.ts";

function run(over: { labels?: Record<string, string>; annotations?: Record<string, string>; owner?: { name: string; uid: string }; inputs?: PipelineRun["spec"]["inputs"]; serviceAccountName?: string } = {}): PipelineRun {
  return {
    apiVersion: "archipel.io/v1alpha1",
    kind: "PipelineRun",
    metadata: {
      name: "run-1",
      namespace: "team-a",
      uid: "u-run",
      ...(over.labels ? { labels: over.labels } : {}),
      ...(over.annotations ? { annotations: over.annotations } : {}),
      ...(over.owner ? { ownerReferences: [{ apiVersion: "archipel.io/v1alpha1", kind: "Reservation", name: over.owner.name, uid: over.owner.uid }] } : {}),
    },
    spec: { steps: [{ name: "a", serviceRef: { name: "tool" } }], inputs: over.inputs ?? [{ name: "scenes", resourceRef: { name: "s2" } }], ...(over.serviceAccountName ? { serviceAccountName: over.serviceAccountName } : {}) },
  };
}

const reservation = (peer: string, uid = "u-res"): Reservation =>
  ({ apiVersion: "archipel.io/v1alpha1", kind: "Reservation", metadata: { name: "hold", namespace: "team-a", uid }, spec: { providerRef: { name: "nodes" }, cpu: "1", memory: "1Gi", start: "2026-01-01T00:00:00Z", end: "2026-01-02T00:00:00Z", requester: { peer } } }) as Reservation;

const data = (spec: Partial<Resource["spec"]>): Resource => ({ apiVersion: "archipel.io/v1alpha1", kind: "Resource", metadata: { name: "s2", namespace: "team-a" }, spec: { providerRef: { name: "lake" }, type: "data", title: "t", visibility: "private", ...spec } as Resource["spec"] });

const reasonOf = (x: object): string | undefined => ("reason" in x ? (x.reason as string) : undefined);

describe("dataAccess", () => {
  it("names a run's grants as DNS names, distinct for CWL names that differ only in case", () => {
    assert.equal(runGrantName(run(), "in", "scenes"), "run-1-in-scenes");
    assert.notEqual(runGrantName(run(), "in", "Scenes"), runGrantName(run(), "in", "scenes"));
    assert.match(runGrantName(run(), "in", "my_input"), /^run-1-in-my-input-[0-9a-f]{6}$/);
    assert.ok(runGrantName({ ...run(), metadata: { ...run().metadata, name: "x".repeat(250) } }, "in", "scenes").length <= 253);
  });

  it("grants a served run's data to the Peer only when the owning Reservation was made for that same peer, with the claimed project", () => {
    const served = run({ labels: { "archipel.io/requester-peer": "lyon" }, annotations: { "archipel.io/requester-project": "ocean" }, owner: { name: "hold", uid: "u-res" } });
    assert.equal(servedPeerOf(served, () => reservation("lyon")), "lyon");
    assert.deepEqual(runGrantee(served, servedPeerOf(served, () => reservation("lyon"))), { kind: "Peer", name: "lyon", project: "ocean" });
    // A label alone claims nothing: a user's run labelled by hand reads as its own ServiceAccount.
    assert.equal(servedPeerOf(served, () => reservation("paris")), undefined);
    assert.equal(servedPeerOf(served, () => reservation("lyon", "other-uid")), undefined);
    assert.equal(servedPeerOf(run({ labels: { "archipel.io/requester-peer": "lyon" } }), () => reservation("lyon")), undefined);
    assert.deepEqual(runGrantee(run({ serviceAccountName: "pipelines" }), undefined), { kind: "ServiceAccount", name: "pipelines", namespace: "team-a" });
    assert.deepEqual(runGrantee(run(), undefined), { kind: "ServiceAccount", name: "default", namespace: "team-a" });
  });

  it("builds the grant owned by the run, for reading, expiring a day later at most", () => {
    const body = runGrantBody(run(), { name: "run-1-in-scenes", resource: "s2", mode: "read", grantee: { kind: "Peer", name: "lyon" }, now: new Date("2026-12-02T10:00:00.123Z") });
    assert.deepEqual(body.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, (r as { controller?: boolean }).controller]), [["PipelineRun", "run-1", "u-run", true]]);
    assert.deepEqual([body.spec.resourceRef.name, body.spec.mode, body.spec.expiresAt, body.spec.pipelineRunRef?.name], ["s2", "read", "2026-12-03T10:00:00Z", "run-1"]);
  });

  it("reads S3 objects (Files) and prefixes (Directories) of this namespace; names the field for anything else", () => {
    const ok = dataInputOf(run(), 0, data({ data: { s3: { bucket: "datasets", key: "a/b.txt" } } }));
    assert.deepEqual(ok, { input: "scenes", at: "spec.inputs[0].resourceRef", resource: "s2", bucket: "datasets", key: "a/b.txt", kind: "File", grant: "run-1-in-scenes", mode: "read" });
    assert.deepEqual(dataInputOf(run(), 0, undefined), { reason: "DataNotFound", message: "spec.inputs[0].resourceRef: no Resource s2 in namespace team-a" });
    assert.equal(reasonOf(dataInputOf(run(), 0, data({ type: "service" }))), "NotData");
    assert.equal(reasonOf(dataInputOf(run(), 0, data({ data: { url: { url: "https://x.example/a" } } }))), "DataInputsNotSupported");
    const other = run({ inputs: [{ name: "scenes", resourceRef: { name: "s2", namespace: "team-b" } }] });
    assert.equal(reasonOf(dataInputOf(other, 0, data({}))), "CrossNamespaceNotSupported");
    assert.ok("key" in ok);
    assert.equal(stagedDataKey("pipelineruns/run-1/inputs", ok), "pipelineruns/run-1/inputs/data.scenes/b.txt");
    assert.deepEqual(stagedDataValue(ok), { class: "File", location: `file://${podInputsDir}/data.scenes/b.txt` });
    const prefix = dataInputOf(run(), 0, data({ data: { s3: { bucket: "datasets", key: "tiles/2026/" } } }));
    assert.ok("key" in prefix);
    assert.equal(prefix.kind, "Directory");
    assert.equal(stagedDataKey("pipelineruns/run-1/inputs", prefix), "pipelineruns/run-1/inputs/data.scenes/2026");
    assert.deepEqual(stagedDataValue(prefix), { class: "Directory", location: `file://${podInputsDir}/data.scenes/2026` });
  });

  it("stages a Directory as the objects under its prefix, at their paths below it; refuses paths that would leave it, an empty prefix, and too much", () => {
    const input = dataInputOf(run(), 0, data({ data: { s3: { bucket: "datasets", key: "tiles/" } } }));
    assert.ok("key" in input);
    const base = "pipelineruns/run-1/inputs";
    assert.deepEqual(directoryObjects(base, input, [{ key: "tiles/", size: 0 }, { key: "tiles/a.tif", size: 3 }, { key: "tiles/sub/", size: 0 }, { key: "tiles/sub/b.tif", size: 4 }]), [
      { source: "tiles/a.tif", target: `${base}/data.scenes/tiles/a.tif`, size: 3 },
      { source: "tiles/sub/b.tif", target: `${base}/data.scenes/tiles/sub/b.tif`, size: 4 },
    ]);
    const problem = (listed: { key: string; size: number }[]): string => {
      const result = directoryObjects(base, input, listed);
      return "problem" in result ? result.problem : "";
    };
    for (const key of ["tiles/../../etc/x", "tiles/./a", "tiles//a", "tiles/a/.."]) assert.match(problem([{ key, size: 1 }]), /has an empty, "\." or "\.\." path segment/, key);
    assert.match(problem([{ key: "other/a", size: 1 }]), /path segment/);
    assert.equal(problem([{ key: "tiles/", size: 0 }]), "no object under s3://datasets/tiles/ (an empty Directory is not copied)");
    assert.match(problem([{ key: "tiles/a", size: maxStagedBytes }, { key: "tiles/b", size: 1 }]), /hold 268435457 bytes; at most 268435456 are copied/);
    assert.match(problem(Array.from({ length: maxStagedObjects + 1 }, (_, i) => ({ key: `tiles/${i}`, size: 0 }))), /over 10000 objects under s3:\/\/datasets\/tiles\/; at most 10000 are copied/);
  });

  it("copies an output to storage only from the run's own area of the repository", () => {
    const area = { bucket: "argo-artifacts", prefix: "pipelineruns/team-a/wf-1/" };
    assert.deepEqual(outputInRunArea("s3://argo-artifacts/pipelineruns/team-a/wf-1/main/split/parts", area), { bucket: "argo-artifacts", key: "pipelineruns/team-a/wf-1/main/split/parts" });
    assert.ok("key" in outputInRunArea("s3://argo-artifacts/pipelineruns/team-a/wf-1/main/split/parts/", area));
    for (const elsewhere of [
      "s3://argo-artifacts/pipelineruns/team-a/wf-10/main/a.txt",
      "s3://argo-artifacts/pipelineruns/team-a/wf-1/../wf-2/main/a.txt",
      "s3://argo-artifacts/pipelineruns/team-a/wf-1/main//a.txt",
      "s3://other/pipelineruns/team-a/wf-1/main/a.txt",
      "file:///cwl/out/a.txt",
    ]) assert.match((outputInRunArea(elsewhere, area) as { problem: string }).problem ?? "", /is not in the run's area of the artifact repository \(s3:\/\/argo-artifacts\/pipelineruns\/team-a\/wf-1\/\)/, elsewhere);
  });

  it("uses a grant once issued for its generation; waits while undecided; reports a refusal with the grant's reason", () => {
    const input = { input: "scenes", at: "spec.inputs[0].resourceRef", resource: "s2", bucket: "b", key: "k", grant: "run-1-in-scenes", mode: "read" } as const;
    const grant = (status: AccessGrant["status"], generation = 1): AccessGrant => ({ apiVersion: "archipel.io/v1alpha1", kind: "AccessGrant", metadata: { name: "g", generation }, spec: {} as AccessGrant["spec"], ...(status ? { status } : {}) });
    const cond = (s: "True" | "False" | "Unknown", reason: string): NonNullable<AccessGrant["status"]>["conditions"] => [{ type: "Ready", status: s, reason, message: "m", lastTransitionTime: "2026-01-01T00:00:00Z" }];
    assert.equal(grantVerdict(grant({ observedGeneration: 1, conditions: cond("True", "Issued"), secretRef: { name: "s" } }), true, input), undefined);
    assert.equal(grantVerdict(grant({ observedGeneration: 1, conditions: cond("True", "Issued"), secretRef: { name: "s" } }), false, input)?.reason, "NameTaken");
    assert.equal(grantVerdict(grant(undefined), true, input)?.reason, "GrantPending");
    assert.equal(grantVerdict(grant({ observedGeneration: 1, conditions: cond("False", "NotVisible") }, 2), true, input)?.reason, "GrantPending");
    assert.deepEqual(grantVerdict(grant({ observedGeneration: 1, conditions: cond("False", "NotVisible") }), true, input), { reason: "GrantRefused", message: "spec.inputs[0].resourceRef: AccessGrant run-1-in-scenes on Resource s2: NotVisible: m" });
  });

  it("sends an output to S3 storage of this namespace under the write grant's area and the output's prefix", () => {
    const withOutput = (storageRef: NonNullable<PipelineRun["spec"]["outputs"]>[0]["storageRef"]): PipelineRun => ({ ...run(), spec: { ...run().spec, outputs: [{ name: "Result", source: "a/out", storageRef, prefix: "daily/" }] } });
    const bucket = { ...data({ type: "storage", storage: { s3: { bucket: "results", prefix: "runs/" } } }), metadata: { name: "results", namespace: "team-a" } };
    const out = storageOutputOf(withOutput({ name: "results" }), 0, bucket);
    assert.ok("output" in out);
    assert.deepEqual([out.output, out.at, out.resource, out.mode, out.prefix], ["Result", "spec.outputs[0].storageRef", "results", "write", "daily/"]);
    assert.match(out.grant, /^run-1-out-result-[0-9a-f]{6}$/);
    assert.equal(deliveredKey("runs/g-1/", out, "s3://argo/pipelineruns/run-1/a/out/stamped.txt"), "runs/g-1/daily/stamped.txt");
    assert.equal(reasonOf(storageOutputOf(withOutput({ name: "results" }), 0, undefined)), "StorageNotFound");
    assert.equal(reasonOf(storageOutputOf(withOutput({ name: "results" }), 0, data({ data: { s3: { bucket: "b", key: "k" } } }))), "NotStorage");
    assert.equal(reasonOf(storageOutputOf(withOutput({ name: "results", peer: "lyon" }), 0, bucket)), "StorageOutputsNotSupported");
    assert.equal(reasonOf(storageOutputOf(withOutput({ name: "results", namespace: "team-b" }), 0, bucket)), "CrossNamespaceNotSupported");
  });
});
