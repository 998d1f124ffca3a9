// The Reservation controller against a real API server, run by the manager as a ServiceAccount
// bound to nothing but config/rbac/compute_role.yaml (so the role holds every verb it uses), and
// the Provider controller beside it with the catalog role (status.compute.free): admission and
// the Tentative → Confirmed → Active → Released walk with its ResourceQuota, rejection naming
// the shortfall, expiry of an unconfirmed hold, early release, NameTaken, a peer's reservation's
// workspace (its own namespace and quota), ProviderNotFound, the
// immutable admitted fields, and 100 Reservations created at once against one Provider while two
// replicas of the controller race (no leader election): never more admitted than fits — and the
// same through the federation endpoint (/federation/v1/reservations, signed by a peer), with the
// two phases (confirm, release) asked for by that peer and refused to another.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { CoreV1Api, CustomObjectsApi, NetworkingV1Api, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type V1ResourceQuota } from "@kubernetes/client-node";
import { parseQuantity } from "../../../operators/catalog/quantity.ts";
import { type Claim, peakHeld } from "../../../operators/compute/reservationAdmission.ts";
import { workspaceName } from "../../../operators/compute/reservationWorkspace.ts";
import type { Condition } from "../../../operators/schema/common.ts";
import type { Provider } from "../../../operators/schema/provider.ts";
import type { Reservation, ReservationSpec } from "../../../operators/schema/reservation.ts";
import { eventually, freshNamespace, sharedCluster, type TestCluster, type TestNamespace } from "../../support/cluster.ts";
import { peerFinder } from "../../../operators/api/federationAuth.ts";
import { peerRunsLabel, registerFederationRunsRoutes } from "../../../operators/api/federationRunsRoutes.ts";
import { buildServer } from "../../../operators/api/server.ts";
import { artifactStoreSettingsFrom } from "../../../operators/orchestrator/settings.ts";
import { signedFetch } from "../../../operators/federation/client.ts";
import { generateIdentityKey } from "../../../operators/federation/keys.ts";
import { federationReservationsPath, type PeerReservationAnswer } from "../../../operators/federation/peerRuns.ts";
import { MemoryNonceCache } from "../../../operators/federation/requestSigning.ts";
import type { Cache } from "../../../operators/runtime/index.ts";
import type { Peer } from "../../../operators/schema/peer.ts";
import type { Project } from "../../../operators/schema/project.ts";
import type { Resource } from "../../../operators/schema/resource.ts";
import { loopbackEgress } from "../../support/egress.ts";
import { type ComponentProcess, startManager } from "../../support/processes.ts";
import { boundOnlyTo, type SingleRoleIdentity } from "../../support/rbac.ts";
import { deleteNamespaceAndWait, logDir } from "../provider/fixtures.ts";

const group = "archipel.io";
const version = "v1alpha1";
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** RFC 3339 at second precision, `seconds` from now. */
const inSeconds = (seconds: number): string => new Date(Math.floor(Date.now() / 1000) * 1000 + seconds * 1000).toISOString().replace(".000Z", "Z");

describe("Reservation controller", function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let ns: TestNamespace;
  const identities: SingleRoleIdentity[] = [];
  const managers: ComponentProcess[] = [];
  let api: CustomObjectsApi;
  let core: CoreV1Api;

  const createProvider = (name: string, cpu: string, memory = "16Gi"): Promise<unknown> =>
    api.createNamespacedCustomObject({ group, version, namespace: ns.name, plural: "providers", body: { apiVersion: `${group}/${version}`, kind: "Provider", metadata: { name }, spec: { type: "compute", compute: { capacity: { cpu, memory } } } } });
  const createReservation = (name: string, spec: Partial<ReservationSpec>): Promise<unknown> =>
    api.createNamespacedCustomObject({
      group,
      version,
      namespace: ns.name,
      plural: "reservations",
      body: { apiVersion: `${group}/${version}`, kind: "Reservation", metadata: { name }, spec: { providerRef: { name: "cpus" }, cpu: "1", memory: "1Gi", start: inSeconds(3600), end: inSeconds(7200), ...spec } },
    });
  const getReservation = async (name: string): Promise<Reservation> => (await api.getNamespacedCustomObject({ group, version, namespace: ns.name, plural: "reservations", name })) as Reservation;
  const patchSpec = (name: string, spec: Partial<ReservationSpec>): Promise<unknown> => api.patchNamespacedCustomObject({ group, version, namespace: ns.name, plural: "reservations", name, body: { spec } }, mergePatch);
  const condition = (r: Reservation, type: string): Condition | undefined => r.status?.conditions?.find((c) => c.type === type);
  const quota = (name: string): Promise<V1ResourceQuota | undefined> => core.readNamespacedResourceQuota({ namespace: ns.name, name }).catch(() => undefined);

  /** Waits until the reservation reports `state` for its current generation. */
  async function inState(name: string, state: string, timeoutMs = 30_000): Promise<Reservation> {
    return eventually(
      `Reservation ${name} in state ${state}`,
      async () => {
        const r = await getReservation(name);
        return r.status?.state === state && r.status.observedGeneration === r.metadata.generation ? r : undefined;
      },
      timeoutMs,
      200,
    );
  }

  const identityOf = new Map<string, SingleRoleIdentity>();

  /**
   * A manager process as a ServiceAccount bound to `roleFile` only (a second replica shares the
   * first's). The reservation controller watches every namespace, as deployed: peers' reservations
   * have workspaces of their own.
   */
  async function startBoundManager(name: string, controllers: string, roleFile: string): Promise<void> {
    let identity = identityOf.get(roleFile);
    if (!identity) {
      identity = await boundOnlyTo(cluster, ns.name, roleFile, name);
      identityOf.set(roleFile, identity);
      identities.push(identity);
    }
    managers.push(await startManager(`${name}-${ns.name}`, { controllers, ...(controllers === "reservation" ? {} : { namespace: ns.name }), kubeconfigPath: identity.kubeconfigPath, logDir }));
  }

  before(async function () {
    this.timeout(180_000);
    cluster = await sharedCluster();
    api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
    core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    ns = await freshNamespace(cluster, "reservation");
    await startBoundManager("compute", "reservation", "config/rbac/compute_role.yaml");
    await startBoundManager("catalog", "provider", "config/rbac/catalog_role.yaml");
    await createProvider("cpus", "10");
  });

  /** Deletes every object of `plural` in the namespace and waits until their finalizers let them go. */
  async function deleteAll(plural: string): Promise<void> {
    await api.deleteCollectionNamespacedCustomObject({ group, version, namespace: ns.name, plural });
    await eventually(`every ${plural} gone`, async () => ((await api.listNamespacedCustomObject({ group, version, namespace: ns.name, plural })) as { items: unknown[] }).items.length === 0, 60_000, 500);
  }

  after(async function () {
    this.timeout(180_000);
    // Finalizers: the controllers must still run while Reservations and Providers go.
    if (ns && managers.length > 0) {
      await deleteAll("reservations");
      await deleteAll("providers");
    }
    for (const m of managers) assert.doesNotMatch(await readFile(m.logFile, "utf8"), /forbidden/i, `a role lacks a verb; see ${m.logFile}`);
    await Promise.all(managers.map((m) => m.stop()));
    if (ns) await deleteNamespaceAndWait(cluster, ns);
    await Promise.all(identities.map((i) => i.cleanup()));
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") for (const m of managers) console.log(`    manager log: ${m.logFile}`);
  });

  it("admits (Tentative), confirms, turns Active at the window's start with a ResourceQuota and less free capacity, and Released at its end without it", async () => {
    await createReservation("walk", { cpu: "2", memory: "3Gi", start: inSeconds(6), end: inSeconds(14) });
    const tentative = await inState("walk", "Tentative");
    assert.deepEqual([condition(tentative, "Admitted")?.status, condition(tentative, "Admitted")?.reason], ["True", "Fits"]);
    assert.equal(condition(tentative, "Ready")?.reason, "AwaitingConfirmation");
    assert.ok(tentative.status?.holdUntil, "a Tentative hold says until when");
    assert.equal(await quota("reservation-walk"), undefined, "a Tentative hold is not enforced yet");
    await patchSpec("walk", { confirmed: true });
    const confirmed = await inState("walk", "Confirmed");
    assert.equal(confirmed.status?.quotaRef?.name, "reservation-walk");
    const q = await quota("reservation-walk");
    assert.deepEqual(q?.spec?.hard, { "requests.cpu": "2", "requests.memory": "3Gi" });
    const owner = q?.metadata?.ownerReferences?.[0];
    assert.deepEqual([owner?.kind, owner?.name, owner?.uid, owner?.controller], ["Reservation", "walk", confirmed.metadata.uid, true]);
    await inState("walk", "Active", 20_000);
    const free = await eventually("Provider cpus free cpu 8", async () => {
      const p = (await api.getNamespacedCustomObject({ group, version, namespace: ns.name, plural: "providers", name: "cpus" })) as Provider;
      return p.status?.compute?.free?.cpu === "8" ? p.status.compute : undefined;
    });
    assert.deepEqual(free.reserved, { cpu: "2", memory: "3Gi" });
    const released = await inState("walk", "Released", 20_000);
    assert.equal(condition(released, "Ready")?.reason, "Released");
    await eventually("the quota of walk removed", async () => (await quota("reservation-walk")) === undefined);
  });

  it("rejects what does not fit, naming the resource, the instant and the shortfall; a decision is final", async () => {
    await createProvider("small", "2", "4Gi");
    const start = inSeconds(3600);
    // From the same instant as `start`: a later inSeconds() may fall in the next second on a busy machine.
    const overlapStart = new Date(Date.parse(start) + 1800_000).toISOString();
    await createReservation("fits", { providerRef: { name: "small" }, cpu: "1500m", start, end: inSeconds(7200) });
    await inState("fits", "Tentative");
    await createReservation("too-much", { providerRef: { name: "small" }, cpu: "1", start: overlapStart.replace(".000Z", "Z"), end: inSeconds(9000) });
    const rejected = await inState("too-much", "Rejected");
    const admitted = condition(rejected, "Admitted");
    assert.deepEqual([admitted?.status, admitted?.reason], ["False", "InsufficientCapacity"]);
    assert.equal(
      admitted?.message,
      `spec.cpu 1 does not fit at ${overlapStart}: admitted Reservations hold 1500m of 2 cpu (capacity × overcommit), 500m short; ask for less or another window`,
    );
    // Touching, not overlapping: [end of fits, …) is free again.
    await createReservation("after", { providerRef: { name: "small" }, cpu: "2", start: inSeconds(7200), end: inSeconds(9000) });
    await inState("after", "Tentative");
  });

  it("expires a Tentative hold that is not confirmed in time, and gives its capacity to the next", async () => {
    await createProvider("one", "1", "1Gi");
    await createReservation("brief", { providerRef: { name: "one" }, holdSeconds: 3 });
    await inState("brief", "Tentative");
    const expired = await inState("brief", "Expired", 20_000);
    assert.equal(condition(expired, "Ready")?.reason, "Expired");
    await patchSpec("brief", { confirmed: true });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await getReservation("brief")).status?.state, "Expired", "a late confirmation does not revive it");
    await createReservation("next", { providerRef: { name: "one" } });
    await inState("next", "Tentative");
  });

  it("sizes every quota of a namespace to all its enforced Reservations (Kubernetes applies each to all Pods), and shrinks them when one is released", async () => {
    const hard = async (name: string): Promise<unknown> => (await quota(`reservation-${name}`))?.spec?.hard;
    await createReservation("left", { confirmed: true, cpu: "1", memory: "1Gi", start: inSeconds(-5), end: inSeconds(3600) });
    await createReservation("right", { confirmed: true, cpu: "500m", memory: "512Mi", start: inSeconds(-5), end: inSeconds(3600) });
    await Promise.all([inState("left", "Active"), inState("right", "Active")]);
    const both = { "requests.cpu": "1500m", "requests.memory": "1536Mi" };
    await eventually("both quotas hold 1500m / 1536Mi", async () => JSON.stringify([await hard("left"), await hard("right")]) === JSON.stringify([both, both]));
    await patchSpec("left", { release: true });
    await inState("left", "Released");
    await eventually("right's quota back to its own 500m / 512Mi, left's gone", async () => (await quota("reservation-left")) === undefined && JSON.stringify(await hard("right")) === JSON.stringify({ "requests.cpu": "500m", "requests.memory": "512Mi" }));
    await patchSpec("right", { release: true });
    await inState("right", "Released");
  });

  it("releases on spec.release, removing the ResourceQuota; release cannot be undone", async () => {
    await createReservation("early", { confirmed: true, start: inSeconds(-5), end: inSeconds(3600) });
    await inState("early", "Active");
    assert.ok(await quota("reservation-early"));
    await patchSpec("early", { release: true });
    const released = await inState("early", "Released");
    assert.ok(released.status?.releasedAt);
    await eventually("the quota of early removed", async () => (await quota("reservation-early")) === undefined);
    await assert.rejects(patchSpec("early", { release: false }), (err: { body?: string }) => /spec\.release cannot be unset/.test(String(err.body)));
    await assert.rejects(patchSpec("early", { cpu: "2" }), (err: { body?: string }) => /spec\.cpu is immutable/.test(String(err.body)));
    // Deleting it takes its entry out of the Provider's ledger (finalizer) before it goes.
    await api.deleteNamespacedCustomObject({ group, version, namespace: ns.name, plural: "reservations", name: "early" });
    await eventually("early gone", async () => (await getReservation("early").catch(() => undefined)) === undefined);
    const ledger = await core.readNamespacedConfigMap({ namespace: ns.name, name: "cpus.reservation-ledger" });
    assert.equal(ledger.data?.early, undefined);
    assert.ok(ledger.data?.walk, "the other entries stay");
  });

  it("never touches a same-named ResourceQuota it does not own: Ready=False NameTaken", async () => {
    await core.createNamespacedResourceQuota({ namespace: ns.name, body: { metadata: { name: "reservation-taken" }, spec: { hard: { pods: "7" } } } });
    await createReservation("taken", { confirmed: true });
    const r = await eventually("taken NameTaken", async () => {
      const x = await getReservation("taken");
      return condition(x, "Ready")?.reason === "NameTaken" ? x : undefined;
    });
    assert.equal(r.status?.state, "Confirmed", "admitted all the same");
    assert.match(condition(r, "Ready")?.message ?? "", /ResourceQuota .*\/reservation-taken exists and is not controlled by this Reservation/);
    const foreign = await quota("reservation-taken");
    assert.deepEqual([foreign?.spec?.hard, foreign?.metadata?.ownerReferences], [{ pods: "7" }, undefined]);
  });

  it("gives a peer's reservation a workspace while it holds: its quota alone, the LimitRanges copied and kept in step, Argo's executor Role bound, its pods closed to outside pods; put back when changed or deleted; deleted when released", async () => {
    await core.createNamespacedLimitRange({ namespace: ns.name, body: { metadata: { name: "defaults" }, spec: { limits: [{ type: "Container", defaultRequest: { cpu: "50m", memory: "64Mi" } }] } } });
    await createReservation("served", { confirmed: true, start: inSeconds(-5), end: inSeconds(3600), cpu: "2", memory: "2Gi", requester: { peer: "member-b" } });
    const served = await eventually("served has a workspace", async () => {
      const r = await getReservation("served");
      return r.status?.state === "Active" && r.status.workspace && condition(r, "Ready")?.status === "True" ? r : undefined;
    });
    const workspace = served.status?.workspace ?? "";
    assert.equal(workspace, workspaceName(served));
    const made = await core.readNamespace({ name: workspace });
    assert.equal(made.metadata?.annotations?.["archipel.io/reservation-uid"], served.metadata.uid);
    assert.equal(made.metadata?.labels?.["archipel.io/workspace-of"], ns.name);
    const own = await core.readNamespacedResourceQuota({ namespace: workspace, name: "reservation-served" });
    assert.deepEqual(own.spec?.hard, { "requests.cpu": "2", "requests.memory": "2Gi" });
    assert.equal(served.status?.quotaRef?.name, "reservation-served");
    assert.equal(await quota("reservation-served"), undefined, "not enforced in the reservation's own namespace");
    const limits = await core.readNamespacedLimitRange({ namespace: workspace, name: "defaults" });
    assert.deepEqual(limits.spec?.limits?.[0]?.defaultRequest, { cpu: "50m", memory: "64Mi" });
    // The copies follow the admin's LimitRanges: a change, a new one, one deleted.
    await core.replaceNamespacedLimitRange({ namespace: ns.name, name: "defaults", body: { metadata: { name: "defaults" }, spec: { limits: [{ type: "Container", defaultRequest: { cpu: "75m", memory: "96Mi" } }] } } });
    await core.createNamespacedLimitRange({ namespace: ns.name, body: { metadata: { name: "pods" }, spec: { limits: [{ type: "Container", max: { cpu: "2" } }] } } });
    const copies = async (): Promise<string> => JSON.stringify((await core.listNamespacedLimitRange({ namespace: workspace })).items.map((l) => [l.metadata?.name, l.spec?.limits?.[0]?.defaultRequest ?? l.spec?.limits?.[0]?.max]).sort());
    await eventually("the workspace's LimitRanges follow the namespace's", async () => (await copies()) === JSON.stringify([["defaults", { cpu: "75m", memory: "96Mi" }], ["pods", { cpu: "2" }]]));
    await core.deleteNamespacedLimitRange({ namespace: ns.name, name: "pods" });
    await eventually("a LimitRange deleted from the namespace goes from the workspace", async () => (await copies()) === JSON.stringify([["defaults", { cpu: "75m", memory: "96Mi" }]]));
    // What the workspace holds is put back when someone changes or deletes it: its quota, the namespace itself.
    const ownHard = async (): Promise<string> => JSON.stringify((await core.readNamespacedResourceQuota({ namespace: workspace, name: "reservation-served" }).catch(() => undefined))?.spec?.hard);
    const reserved = JSON.stringify({ "requests.cpu": "2", "requests.memory": "2Gi" });
    await core.patchNamespacedResourceQuota({ namespace: workspace, name: "reservation-served", body: { spec: { hard: { "requests.cpu": "64", "requests.memory": "2Gi" } } } }, mergePatch);
    await eventually("the workspace's quota put back to the reservation's amounts", async () => (await ownHard()) === reserved);
    await core.deleteNamespacedResourceQuota({ namespace: workspace, name: "reservation-served" });
    await eventually("the workspace's quota made again", async () => (await ownHard()) === reserved);
    await core.deleteNamespace({ name: workspace });
    const remade = await eventually("the workspace made again once the deleted one has gone", async () => {
      const n = await core.readNamespace({ name: workspace }).catch(() => undefined);
      return n && n.metadata?.uid !== made.metadata?.uid && !n.metadata?.deletionTimestamp && (await ownHard()) === reserved ? n : undefined;
    }, 60_000, 250);
    assert.equal(remade.metadata?.annotations?.["archipel.io/reservation-uid"], served.metadata.uid);
    await eventually("served Ready again", async () => condition(await getReservation("served"), "Ready")?.status === "True");
    const rbac = cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const role = await rbac.readNamespacedRole({ namespace: workspace, name: "archipel-workflow-executor" });
    assert.deepEqual(role.rules?.map((r) => [r.resources, r.verbs]), [[["workflowtaskresults"], ["create", "patch"]]]);
    const binding = await rbac.readNamespacedRoleBinding({ namespace: workspace, name: "archipel-workflow-executor" });
    assert.deepEqual(binding.subjects?.map((x) => `${x.kind}:${x.namespace}/${x.name}`), [`ServiceAccount:${workspace}/default`]);
    const isolation = await cluster.kubeConfig().makeApiClient(NetworkingV1Api).readNamespacedNetworkPolicy({ namespace: workspace, name: "archipel-workspace-isolation" });
    assert.equal(JSON.stringify([isolation.spec?.podSelector, isolation.spec?.policyTypes, isolation.spec?.ingress?.map((i) => i._from)]), JSON.stringify([{}, ["Ingress"], [[{ podSelector: {} }]]]), "no pod outside the workspace may connect to its pods");

    // A reservation made here shares its namespace's quota with the others made here, not with the peer's.
    await createReservation("solo", { confirmed: true, start: inSeconds(-5), end: inSeconds(3600), cpu: "500m", memory: "512Mi" });
    await inState("solo", "Active");
    const local = ((await api.listNamespacedCustomObject({ group, version, namespace: ns.name, plural: "reservations" })) as { items: Reservation[] }).items.filter(
      (r) => ["Confirmed", "Active"].includes(r.status?.state ?? "") && !r.spec.requester?.peer,
    );
    const localCpu = local.reduce((sum, r) => sum + parseQuantity(r.spec.cpu), 0n);
    assert.ok(local.some((r) => r.metadata.name === "solo"));
    await eventually("solo's quota sums the reservations made here, not the peer's", async () => parseQuantity((await quota("reservation-solo"))?.spec?.hard?.["requests.cpu"] ?? "0") === localCpu);

    await patchSpec("served", { release: true });
    const released = await inState("served", "Released");
    assert.equal(released.status?.workspace, undefined);
    await eventually("the workspace deleted", async () => {
      const left = await core.readNamespace({ name: workspace }).catch(() => undefined);
      return left === undefined || left.metadata?.deletionTimestamp !== undefined;
    });
    await patchSpec("solo", { release: true });
  });

  it("never takes a namespace of the workspace's name it did not make: Ready=False NameTaken, the namespace untouched", async () => {
    await createReservation("squatted", { start: inSeconds(-5), end: inSeconds(3600), requester: { peer: "member-b" } });
    const tentative = await inState("squatted", "Tentative");
    const name = workspaceName(tentative);
    await core.createNamespace({ body: { metadata: { name, labels: { squatter: "yes" } } } });
    try {
      await patchSpec("squatted", { confirmed: true });
      const r = await eventually("squatted NameTaken", async () => {
        const x = await getReservation("squatted");
        return condition(x, "Ready")?.reason === "NameTaken" ? x : undefined;
      });
      assert.match(condition(r, "Ready")?.message ?? "", new RegExp(`Namespace ${name} exists and was not made for this Reservation`));
      assert.equal(r.status?.workspace, undefined);
      await patchSpec("squatted", { release: true });
      await inState("squatted", "Released");
      const kept = await core.readNamespace({ name });
      assert.deepEqual([kept.metadata?.deletionTimestamp, kept.metadata?.labels?.squatter], [undefined, "yes"], "release does not delete a namespace it did not make");
    } finally {
      await core.deleteNamespace({ name }).catch(() => undefined);
    }
  });

  it("stays Pending with ProviderNotFound until the Provider exists, then decides", async () => {
    await createReservation("early-bird", { providerRef: { name: "later" } });
    const pending = await inState("early-bird", "Pending");
    assert.equal(condition(pending, "Admitted")?.reason, "ProviderNotFound");
    assert.match(condition(pending, "Admitted")?.message ?? "", /^spec\.providerRef: Provider "later" does not exist in namespace /);
    await createProvider("later", "4");
    await inState("early-bird", "Tentative");
  });

  it("admits exactly 10 of 100 one-cpu Reservations created at once on a 10-cpu Provider, with two replicas racing", async () => {
    await startBoundManager("compute-b", "reservation", "config/rbac/compute_role.yaml");
    await createProvider("hundred", "10", "1Ti");
    const window = { start: inSeconds(3600), end: inSeconds(7200) };
    const names = Array.from({ length: 100 }, (_, i) => `burst-${i}`);
    await Promise.all(names.map((name) => createReservation(name, { providerRef: { name: "hundred" }, cpu: "1", holdSeconds: 3600, ...window })));
    const decided = await eventually(
      "all 100 decided",
      async () => {
        const list = (await api.listNamespacedCustomObject({ group, version, namespace: ns.name, plural: "reservations" })) as { items: Reservation[] };
        const burst = list.items.filter((r) => r.spec.providerRef.name === "hundred");
        return burst.length === 100 && burst.every((r) => r.status?.state === "Tentative" || r.status?.state === "Rejected") ? burst : undefined;
      },
      150_000,
      500,
    );
    const admitted = decided.filter((r) => r.status?.state === "Tentative");
    assert.equal(admitted.length, 10);
    assert.ok(decided.filter((r) => r.status?.state === "Rejected").every((r) => condition(r, "Admitted")?.reason === "InsufficientCapacity"));
    // The ledger is the record of admission: its admitted entries never exceed capacity at any instant.
    const ledger = await core.readNamespacedConfigMap({ namespace: ns.name, name: "hundred.reservation-ledger" });
    const entries = Object.entries(ledger.data ?? {}).map(([name, text]) => ({ name, ...(JSON.parse(text) as { outcome: string; cpu: string; memory: string; start: string; end: string }) }));
    const claims: Claim[] = entries
      .filter((e) => e.outcome === "Admitted")
      .map((e) => ({ name: e.name, amounts: { cpu: parseQuantity(e.cpu), memory: parseQuantity(e.memory) }, start: Date.parse(e.start), end: Date.parse(e.end) }));
    assert.deepEqual(claims.map((c) => c.name).sort(), admitted.map((r) => r.metadata.name).sort(), "status and ledger agree");
    assert.ok(peakHeld(claims).cpu <= parseQuantity("10"), `peak ${peakHeld(claims).cpu} nano-cpu`);
  });

  /** The peers the federation API knows: two Accepted clusters with verified descriptors. */
  function acceptedPeers(names: string[]): { peers: Peer[]; keys: Map<string, ReturnType<typeof generateIdentityKey>> } {
    const keys = new Map(names.map((n) => [n, generateIdentityKey()]));
    const verified = { type: "DescriptorVerified", status: "True", reason: "Verified", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" };
    const peers = names.map(
      (n) =>
        ({
          metadata: { name: `${n}-peer` },
          spec: { approval: "Accepted" },
          status: { descriptor: { cid: "cid", clusterName: n, apiEndpoint: "http://127.0.0.1:1", publicKey: keys.get(n)?.publicKey, issuedAt: "2026-01-01T00:00:00Z", expiresAt: "2030-01-01T00:00:00Z" }, conditions: [verified] },
        }) as unknown as Peer,
    );
    return { peers, keys };
  }

  it("admits exactly 10 of 100 Reservations asked at once by a peer through /federation/v1/reservations; only that peer confirms or releases them", async () => {
    const { peers, keys } = acceptedPeers(["gamma", "delta"]);
    const kubeConfig = cluster.kubeConfig("admin");
    const noCache = { get: () => undefined, list: () => [] } as unknown as Cache<Resource> & Cache<Project>;
    const app = buildServer({
      kubeConfig,
      kinds: [],
      routes: [(a) => registerFederationRunsRoutes(a, { kubeConfig, peers: () => peers, auth: { audience: () => "beta", peerByCluster: peerFinder(() => peers), nonces: new MemoryNonceCache() }, resources: noCache, projects: noCache, artifacts: artifactStoreSettingsFrom({}) })],
    });
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    const as = (peer: string, method: "GET" | "POST", target: string, body?: unknown): ReturnType<typeof signedFetch> =>
      signedFetch({ clusterName: peer, privateKeyPem: keys.get(peer)?.privateKeyPem ?? "" }, { endpoint: url, audience: "beta", method, target, ...(body ? { body } : {}), deadlineMs: 30_000, egress: loopbackEgress });
    try {
      await createProvider("federated", "10", "1Ti");
      const window = { start: inSeconds(3600), end: inSeconds(7200) };
      const ask = (name: string): ReturnType<typeof signedFetch> => as("gamma", "POST", federationReservationsPath, { namespace: ns.name, name, provider: "federated", cpu: "1", memory: "1Gi", holdSeconds: 3600, ...window });
      const closed = await ask("closed");
      assert.equal(closed.status, 403, "a namespace not opened to peers' runs refuses");
      await core.patchNamespace({ name: ns.name, body: { metadata: { labels: { [peerRunsLabel]: "true" } } } }, mergePatch);
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => ask(`fed-${i}`)));
      assert.deepEqual([...new Set(answers.map((a) => a.status))], [201], JSON.stringify(answers.find((a) => a.status !== 201)?.body));
      const names = answers.map((a) => (a.body as PeerReservationAnswer).name);
      assert.ok(names.every((n) => n.startsWith("gamma-peer-fed-")), "named after the asking Peer");
      await eventually(
        "all 100 decided",
        async () => {
          const list = (await api.listNamespacedCustomObject({ group, version, namespace: ns.name, plural: "reservations" })) as { items: Reservation[] };
          const burst = list.items.filter((r) => r.spec.providerRef.name === "federated");
          return burst.length === 100 && burst.every((r) => r.status?.state === "Tentative" || r.status?.state === "Rejected");
        },
        150_000,
        500,
      );
      // What the peer is told is what the Reservations say.
      const decided = await Promise.all(names.map(async (n) => ((await as("gamma", "GET", `${federationReservationsPath}/${ns.name}/${n}`)).body as PeerReservationAnswer).state));
      assert.equal(decided.filter((st) => st === "Tentative").length, 10);
      assert.equal(decided.filter((st) => st === "Rejected").length, 90);
      const held = names[decided.indexOf("Tentative")] ?? "";
      // Another peer learns nothing of gamma's reservation and cannot act on it.
      assert.equal((await as("delta", "GET", `${federationReservationsPath}/${ns.name}/${held}`)).status, 404);
      assert.equal((await as("delta", "POST", `${federationReservationsPath}/${ns.name}/${held}/release`)).status, 404);
      assert.equal((await as("gamma", "POST", `${federationReservationsPath}/${ns.name}/${held}/confirm`)).status, 200);
      await inState(held, "Confirmed");
      const r = await getReservation(held);
      assert.deepEqual(r.spec.requester, { peer: "gamma-peer" });
      assert.equal((await as("gamma", "POST", `${federationReservationsPath}/${ns.name}/${held}/release`)).status, 200);
      await inState(held, "Released");
    } finally {
      await app.close();
    }
  });
});
