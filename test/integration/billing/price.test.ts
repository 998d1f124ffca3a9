// The Price controller against a real API server, run by the manager as a ServiceAccount bound to
// nothing but config/rbac/billing_role.yaml (so the role is proven to hold every verb it uses):
// Ready with Valid, TargetNotFound (then Valid once the target exists), Conflict naming the other
// Price (and cleared when it goes), NotYetValid then Valid, Valid then Expired, on time.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { CustomObjectsApi, EventsV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { Condition } from "../../../operators/schema/common.ts";
import type { Price, PriceSpec } from "../../../operators/schema/price.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { type ComponentProcess, startManager } from "../../support/processes.ts";
import { boundOnlyTo, type SingleRoleIdentity } from "../../support/rbac.ts";
import { deleteNamespaceAndWait, logDir } from "../provider/fixtures.ts";

const group = "archipel.io";
const version = "v1alpha1";

/** RFC 3339 at second precision, `seconds` from now (what a user writes). */
const inSeconds = (seconds: number): string => new Date(Math.floor(Date.now() / 1000) * 1000 + seconds * 1000).toISOString().replace(".000Z", "Z");

describe("Price controller", function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  let identity: SingleRoleIdentity | undefined;
  let manager: ComponentProcess | undefined;
  let api: CustomObjectsApi;

  const create = async (plural: string, kind: string, name: string, spec: object): Promise<void> => {
    await api.createNamespacedCustomObject({ group, version, namespace: ns.name, plural, body: { apiVersion: `${group}/${version}`, kind, metadata: { name }, spec } });
  };
  const createPrice = (name: string, spec: Partial<PriceSpec>): Promise<void> =>
    create("prices", "Price", name, { targetRef: { kind: "Provider", name: "cpus" }, currency: "EUR", rates: { cpuCoreHour: "0.05" }, validFrom: "2026-01-01T00:00:00Z", ...spec });
  const getPrice = async (name: string): Promise<Price> => (await api.getNamespacedCustomObject({ group, version, namespace: ns.name, plural: "prices", name })) as Price;
  const ready = (p: Price): Condition | undefined => p.status?.conditions?.find((c) => c.type === "Ready");

  /** Waits until Ready has this reason for the Price's current generation. */
  async function readyWith(name: string, reason: string, timeoutMs = 20_000): Promise<Condition> {
    return eventually(
      `Price ${name} Ready reason ${reason}`,
      async () => {
        const p = await getPrice(name);
        const c = ready(p);
        return c?.reason === reason && p.status?.observedGeneration === p.metadata.generation && c.observedGeneration === p.metadata.generation ? c : undefined;
      },
      timeoutMs,
      200,
    );
  }

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    ns = await freshNamespace(cluster, "price");
    identity = await boundOnlyTo(cluster, ns.name, "config/rbac/billing_role.yaml", "billing");
    manager = await startManager(`price-it-${ns.name}`, { controllers: "price", namespace: ns.name, kubeconfigPath: identity.kubeconfigPath, logDir });
    await create("providers", "Provider", "cpus", { type: "compute", compute: { capacity: { cpu: "4", memory: "8Gi" } } });
  });

  after(async function () {
    this.timeout(90_000);
    if (manager) assert.doesNotMatch(await readFile(manager.logFile, "utf8"), /forbidden/i, `the billing role lacks a verb; see ${manager.logFile}`);
    await manager?.stop();
    if (ns) await deleteNamespaceAndWait(cluster, ns);
    await identity?.cleanup();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(`    manager log: ${manager?.logFile}`);
  });

  it("marks a Price on an existing Provider Valid, with observedGeneration, and follows spec changes", async () => {
    await createPrice("valid", { audience: { projects: ["valid-only"] } });
    const c = await readyWith("valid", "Valid");
    assert.equal(c.status, "True");
    assert.equal(c.message, "in force, with no end");
    await api.patchNamespacedCustomObject(
      { group, version, namespace: ns.name, plural: "prices", name: "valid", body: { spec: { targetRef: { kind: "Provider", name: "nothing-here" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const gone = await readyWith("valid", "TargetNotFound");
    assert.equal(gone.observedGeneration, 2, "the condition describes the new generation");
  });

  it("reports TargetNotFound for a missing Resource, then Valid once it is created", async () => {
    await createPrice("later", { targetRef: { kind: "Resource", name: "later-vm" }, audience: { projects: ["later-only"] } });
    const missing = await readyWith("later", "TargetNotFound");
    assert.equal(missing.status, "False");
    assert.equal(missing.message, `spec.targetRef: Resource "later-vm" does not exist in namespace ${ns.name}; create it or fix the reference`);
    await create("resources", "Resource", "later-vm", { providerRef: { name: "cpus" }, type: "compute", title: "later", visibility: "private", compute: { cpu: "1", memory: "1Gi" } });
    await readyWith("later", "Valid");
  });

  it("refuses both of two overlapping Prices for the same target and audience, naming each other, until one goes", async () => {
    await createPrice("first", { audience: { peers: ["fed-2"] } });
    await createPrice("second", { audience: { peers: ["fed-3", "fed-2"] }, validFrom: "2026-06-01T00:00:00Z" });
    await createPrice("other-audience", { audience: { peers: ["fed-4"] } });
    const first = await readyWith("first", "Conflict");
    assert.equal(first.status, "False");
    assert.match(first.message, /^conflicts with Price "second": same spec\.targetRef, overlapping spec\.audience and validity/);
    assert.match((await readyWith("second", "Conflict")).message, /^conflicts with Price "first":/);
    await readyWith("other-audience", "Valid");
    // The Event is written after the status (best effort): it may land a moment later.
    const eventsApi = cluster.kubeConfig().makeApiClient(EventsV1Api);
    await eventually("a Conflict Event for first", async () => (await eventsApi.listNamespacedEvent({ namespace: ns.name })).items.some((e) => e.regarding?.name === "first" && e.reason === "Conflict"), 10_000, 200);
    await api.deleteNamespacedCustomObject({ group, version, namespace: ns.name, plural: "prices", name: "second" });
    await readyWith("first", "Valid");
  });

  it("turns NotYetValid into Valid at validFrom, and Valid into Expired at validUntil", async () => {
    await createPrice("soon", { targetRef: { kind: "Provider", name: "cpus" }, audience: { projects: ["soon-only"] }, validFrom: inSeconds(4) });
    await createPrice("ending", { audience: { projects: ["ending-only"] }, validFrom: "2026-01-01T00:00:00Z", validUntil: inSeconds(4) });
    const notYet = await readyWith("soon", "NotYetValid");
    assert.match(notYet.message, /^not in force before spec\.validFrom /);
    assert.equal((await readyWith("ending", "Valid")).status, "True");
    // No event wakes the controller at those instants: only its own requeue can.
    await readyWith("soon", "Valid", 15_000);
    const expired = await readyWith("ending", "Expired", 15_000);
    assert.equal(expired.status, "False");
  });

  it("the API refuses an empty audience (minProperties), naming the field", async () => {
    await assert.rejects(createPrice("empty-audience", { audience: {} }), (err: { body?: string }) => /spec\.audience/.test(String(err.body)));
  });
});
