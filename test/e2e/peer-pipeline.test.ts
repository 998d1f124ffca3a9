// Steps placed on a peer run on the peer's own Argo (hack/federation up 3 --node --argo): a
// PipelineRun on member A names a service of member B; A's orchestrator holds capacity on B
// (signed /federation/v1/reservations: Tentative, then confirmed), asks B to run the steps (signed
// /federation/v1/runs), follows them into its own status with B's cluster name on each step, and
// releases the hold when they end. B's own controllers admit the Reservation, make it a workspace
// (a namespace with the reservation's quota alone) while it holds, and run B's PipelineRun's
// Workflow there; A never holds credentials to B's API server.
// Member C offers compute and one service of a name neither A nor B offers (tagger): a run may
// use B and C at once (status.peerRuns, one entry each), its holds confirmed only once both peers
// admitted theirs, and released on both when one does not.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { eventually, repoRoot } from "../support/cluster.ts";
import { appenderTool, byteCounterTool, cwlStepImage, failingTool, fillerTool, joinerTool, shouterTool, splitterTool, treeListerTool, writerTool } from "../support/cwlTools.ts";
import { startS3, type TestS3 } from "../support/s3.ts";
import type { AccessGrant } from "../../operators/schema/accessGrant.ts";
import { type Federation, type FederationMember, startFederation } from "../support/federation.ts";
import type { Peer } from "../../operators/schema/peer.ts";
import type { PipelineRun, StepStatus } from "../../operators/schema/pipelineRun.ts";
import type { Reservation } from "../../operators/schema/reservation.ts";
import { workspaceName } from "../../operators/compute/reservationWorkspace.ts";
import { meteringHold } from "../../operators/billing/meteringHold.ts";
import type { Resource } from "../../operators/schema/resource.ts";
import type { UsageRecord } from "../../operators/schema/usageRecord.ts";
import { signedOriginal, usageDigest } from "../../operators/billing/peerUsage.ts";
import { verifyUsageRecord } from "../../operators/billing/usageSignature.ts";
import { availabilityOf, outcomesOf, trustScore } from "../../operators/discovery/peerTrust.ts";

const archipel = { group: "archipel.io", version: "v1alpha1" } as const;
const namespace = "default"; // readied for Workflows on every member by hack/cluster --argo
const image = cwlStepImage;

type PeerRunEntry = NonNullable<NonNullable<PipelineRun["status"]>["peerRuns"]>[number];
/** The run's part on `peer` (its entry of status.peerRuns), if it has one. */
const peerRunOf = (run: PipelineRun, peer: string): PeerRunEntry | undefined => run.status?.peerRuns?.find((r) => r.peer === peer);

describe("steps placed on peers (hack/federation up 3 --node --argo)", function () {
  this.timeout(600_000);
  let fed: Federation;
  let a: FederationMember;
  let b: FederationMember;
  let c: FederationMember;
  let peerB: string;
  let peerC: string;
  let lake: TestS3 | undefined;
  let store: TestS3 | undefined;
  const project = "ocean";

  const objects = (m: FederationMember): CustomObjectsApi => m.cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  const create = (m: FederationMember, plural: string, object: { kind: string; name: string; spec: unknown }): Promise<unknown> =>
    objects(m).createNamespacedCustomObject({ ...archipel, plural, namespace, body: { apiVersion: "archipel.io/v1alpha1", kind: object.kind, metadata: { name: object.name }, spec: object.spec } });
  const runOn = async (m: FederationMember, name: string): Promise<PipelineRun> => (await objects(m).getNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name })) as PipelineRun;
  const condition = (run: PipelineRun, type: string): { status: string; reason: string; message: string } | undefined => run.status?.conditions?.find((c) => c.type === type);

  /** Storage Resource results (bucket "results", A's store) read as its owner: where runs copy their outputs. */
  async function inResults<T>(read: (s3: S3Client) => Promise<T>): Promise<T> {
    assert.ok(store);
    const s3 = new S3Client({ endpoint: store.endpoint, region: store.region, forcePathStyle: true, credentials: { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey } });
    try {
      return await read(s3);
    } finally {
      s3.destroy();
    }
  }
  const resultsText = (key: string): Promise<string | undefined> => inResults(async (s3) => (await s3.send(new GetObjectCommand({ Bucket: "results", Key: key }))).Body?.transformToString());
  const resultsKeys = (prefix: string): Promise<string[]> => inResults(async (s3) => ((await s3.send(new ListObjectsV2Command({ Bucket: "results", Prefix: prefix }))).Contents ?? []).map((o) => o.Key ?? "").sort());

  /** The text of an object of member `m`'s artifact repository, by its s3:// location. */
  async function objectText(m: FederationMember, location: string): Promise<string | undefined> {
    const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(location) ?? [];
    assert.ok(bucket && key, `output location ${location}`);
    const info = JSON.parse(await readFile(path.join(repoRoot, ".s3", `argo-${m.name}`, "s3.json"), "utf8")) as { endpoint: string; credentialsFile: string };
    const s3 = new S3Client({ endpoint: info.endpoint, region: "us-east-1", forcePathStyle: true, credentials: JSON.parse(await readFile(info.credentialsFile, "utf8")) as { accessKeyId: string; secretAccessKey: string } });
    try {
      return await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString();
    } finally {
      s3.destroy();
    }
  }

  /** A member opens its default namespace to peers' runs and offers compute capacity (Provider nodes: 4 cpu, 8Gi) and services (Provider tools). */
  async function openToPeers(m: FederationMember): Promise<void> {
    const core = m.cluster.kubeConfig().makeApiClient(CoreV1Api);
    await core.patchNamespace({ name: namespace, body: [{ op: "add", path: "/metadata/labels/archipel.io~1peer-runs", value: "true" }] });
    // A reservation's ResourceQuota counts requests: pods that name none get these (Argo's own containers among them).
    await core.createNamespacedLimitRange({ namespace, body: { metadata: { name: "defaults" }, spec: { limits: [{ type: "Container", defaultRequest: { cpu: "50m", memory: "64Mi" }, _default: { cpu: "1", memory: "512Mi" } }] } } });
    await create(m, "providers", { kind: "Provider", name: "nodes", spec: { type: "compute", compute: { capacity: { cpu: "4", memory: "8Gi" } } } });
    await create(m, "providers", { kind: "Provider", name: "tools", spec: { type: "service", service: { defaultImage: image } } });
  }

  /** B opens its default namespace to peers' runs and offers capacity and public services. */
  async function offer(m: FederationMember): Promise<void> {
    await openToPeers(m);
    await create(m, "resources", { kind: "Resource", name: "writer", spec: { providerRef: { name: "tools" }, type: "service", title: "writer", visibility: "public", service: { image, cwl: { document: writerTool({ suffix: " from the peer" }) } } } });
    await create(m, "resources", { kind: "Resource", name: "upper", spec: { providerRef: { name: "tools" }, type: "service", title: "upper", visibility: "public", service: { image, cwl: { document: shouterTool } } } });
    await create(m, "resources", { kind: "Resource", name: "filler", spec: { providerRef: { name: "tools" }, type: "service", title: "filler", visibility: "public", service: { image, cwl: { document: fillerTool } } } });
    await create(m, "resources", { kind: "Resource", name: "lister", spec: { providerRef: { name: "tools" }, type: "service", title: "lister", visibility: "public", service: { image, cwl: { document: treeListerTool } } } });
    await create(m, "resources", { kind: "Resource", name: "splitter", spec: { providerRef: { name: "tools" }, type: "service", title: "splitter", visibility: "public", service: { image, cwl: { document: splitterTool } } } });
    // B prices its writer: the records B signs for A carry a cost.
    await create(m, "prices", { kind: "Price", name: "writer-rates", spec: { targetRef: { kind: "Resource", name: "writer" }, currency: "EUR", rates: { cpuCoreHour: "0.50", memoryGiBHour: "0.10", perRun: "0.10" }, validFrom: "2026-01-01T00:00:00Z" } });
  }

  /**
   * C offers capacity and one public service, tagger, a name neither A nor B offers: the Auto runs
   * (which rank the clusters offering a service of the step's name) leave C out, as not offering it.
   */
  async function offerTagger(m: FederationMember): Promise<void> {
    await openToPeers(m);
    await create(m, "resources", { kind: "Resource", name: "tagger", spec: { providerRef: { name: "tools" }, type: "service", title: "tagger", visibility: "public", service: { image, cwl: { document: writerTool({ suffix: " (tagged on C)" }) } } } });
    // A File in, a File out: what a step on C reads of a step on B (relayed by A).
    await create(m, "resources", { kind: "Resource", name: "checker", spec: { providerRef: { name: "tools" }, type: "service", title: "checker", visibility: "public", service: { image, cwl: { document: appenderTool(" (checked on C)") } } } });
  }

  /** A's Peer object for member `m`, once A trusts it. */
  const peerOf = (m: FederationMember): Promise<string> =>
    eventually(
      `member ${a.name} trusts ${m.name}`,
      async () => {
        const peers = (await objects(a).listClusterCustomObject({ ...archipel, plural: "peers" })) as { items: Peer[] };
        const p = peers.items.find((x) => x.status?.descriptor?.clusterName === m.name && x.spec.approval === "Accepted" && x.status.conditions?.some((k) => k.type === "DescriptorVerified" && k.status === "True"));
        return p?.metadata.name;
      },
      120_000,
      500,
    );

  /** A offers a storage Resource: bucket results (created by the first grant), writes under runs/. */
  async function storage(m: FederationMember, s3: TestS3): Promise<void> {
    await m.cluster.kubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace, body: { metadata: { name: "store-admin" }, stringData: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } });
    await create(m, "providers", { kind: "Provider", name: "buckets", spec: { type: "storage", storage: { backend: "s3", s3: { endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentialsSecretRef: { name: "store-admin" } } } } });
    await create(m, "resources", { kind: "Resource", name: "results", spec: { providerRef: { name: "buckets" }, type: "storage", title: "results", visibility: "private", storage: { s3: { bucket: "results", prefix: "runs/" } } } });
  }

  /** B holds a data set restricted to project ocean, whose members are A's cluster: an object in an S3 server of B's (a data Provider with admin credentials). */
  async function restrictedData(m: FederationMember, s3: TestS3, member: string): Promise<void> {
    const admin = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    try {
      await admin.send(new CreateBucketCommand({ Bucket: "datasets" }));
      await admin.send(new PutObjectCommand({ Bucket: "datasets", Key: "samples/greeting.txt", Body: "hello from the data" }));
      // A data set that is a prefix (a CWL Directory), and a look-alike prefix beside it.
      await admin.send(new PutObjectCommand({ Bucket: "datasets", Key: "scenes/north.txt", Body: "cold" }));
      await admin.send(new PutObjectCommand({ Bucket: "datasets", Key: "scenes/deep/south.txt", Body: "warm" }));
      await admin.send(new PutObjectCommand({ Bucket: "datasets", Key: "scenes-old/east.txt", Body: "not part of it" }));
    } finally {
      admin.destroy();
    }
    await m.cluster.kubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace, body: { metadata: { name: "lake-admin" }, stringData: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } });
    await objects(m).createClusterCustomObject({ ...archipel, plural: "projects", body: { apiVersion: "archipel.io/v1alpha1", kind: "Project", metadata: { name: project }, spec: { displayName: project, members: { users: [], clusters: [member] } } } });
    await create(m, "providers", { kind: "Provider", name: "lake", spec: { type: "data", data: { source: "s3", s3: { endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentialsSecretRef: { name: "lake-admin" } } } } });
    await create(m, "resources", { kind: "Resource", name: "samples", spec: { providerRef: { name: "lake" }, type: "data", title: "samples", visibility: "restricted", projects: [project], data: { s3: { bucket: "datasets", key: "samples/greeting.txt" } } } });
    await create(m, "resources", { kind: "Resource", name: "scenes", spec: { providerRef: { name: "lake" }, type: "data", title: "scenes", visibility: "restricted", projects: [project], data: { s3: { bucket: "datasets", key: "scenes/" } } } });
  }

  before(async function () {
    fed = await startFederation({ clusters: 3, namePrefix: "e2e-peerrun", node: true, argo: true });
    [a, b, c] = fed.members as [FederationMember, FederationMember, FederationMember];
    await Promise.all([offer(b), offerTagger(c)]);
    lake = await startS3(`e2e-peerrun-lake-${process.pid}`);
    await restrictedData(b, lake, a.name);
    store = await startS3(`e2e-peerrun-store-${process.pid}`);
    await storage(a, store);
    // A runs a service of its own after B's step.
    await create(a, "providers", { kind: "Provider", name: "tools", spec: { type: "service", service: { defaultImage: image } } });
    await create(a, "resources", { kind: "Resource", name: "stamper", spec: { providerRef: { name: "tools" }, type: "service", title: "stamper", visibility: "private", service: { image, cwl: { document: appenderTool(" (checked on A)") } } } });
    await create(a, "resources", { kind: "Resource", name: "shouter", spec: { providerRef: { name: "tools" }, type: "service", title: "shouter", visibility: "private", service: { image, cwl: { document: shouterTool } } } });
    await create(a, "resources", { kind: "Resource", name: "splitter", spec: { providerRef: { name: "tools" }, type: "service", title: "splitter", visibility: "private", service: { image, cwl: { document: splitterTool } } } });
    await create(a, "resources", { kind: "Resource", name: "filler", spec: { providerRef: { name: "tools" }, type: "service", title: "filler", visibility: "private", service: { image, cwl: { document: fillerTool } } } });
    await create(a, "resources", { kind: "Resource", name: "relister", spec: { providerRef: { name: "tools" }, type: "service", title: "relister", visibility: "private", service: { image, cwl: { document: treeListerTool } } } });
    await create(a, "resources", { kind: "Resource", name: "merger", spec: { providerRef: { name: "tools" }, type: "service", title: "merger", visibility: "private", service: { image, cwl: { document: joinerTool } } } });
    await create(a, "resources", { kind: "Resource", name: "scribe", spec: { providerRef: { name: "tools" }, type: "service", title: "scribe", visibility: "private", service: { image, cwl: { document: writerTool({ suffix: " (written on A)" }) } } } });
    await create(a, "resources", { kind: "Resource", name: "counter", spec: { providerRef: { name: "tools" }, type: "service", title: "counter", visibility: "private", service: { image, cwl: { document: byteCounterTool } } } });
    [peerB, peerC] = await Promise.all([peerOf(b), peerOf(c)]);
  });

  after(async function () {
    this.timeout(180_000);
    await fed?.stop();
    await lake?.stop();
    await store?.stop();
  });

  /** The peer's Reservation of the run is Released (A asks when the peer's part ends; the peer acts a moment later). By default B's. */
  const released = (run: PipelineRun, m: FederationMember = b, peer: string = peerB): Promise<Reservation> =>
    eventually(
      `${m.name}'s reservation is Released`,
      async () => {
        const r = (await objects(m).getNamespacedCustomObject({ ...archipel, plural: "reservations", namespace, name: peerRunOf(run, peer)?.reservation ?? "" })) as Reservation;
        return r.status?.state === "Released" ? r : undefined;
      },
      60_000,
      500,
    );

  const peerOnA = async (): Promise<Peer> => (await objects(a).getClusterCustomObject({ ...archipel, plural: "peers", name: peerB })) as Peer;

  const serviceReady = (m: FederationMember, name: string): Promise<unknown> =>
    eventually(`${m.name}'s ${name} is Ready`, async () => ((await objects(m).getNamespacedCustomObject({ ...archipel, plural: "resources", namespace, name })) as Resource).status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"), 60_000, 500);

  /** The run once it has ended (Succeeded True or False). */
  const ended = async (m: FederationMember, name: string): Promise<PipelineRun> => {
    try {
      return await eventually(
        `the run ${name} on ${m.name} ends`,
        async () => {
          const r = await runOn(m, name);
          return ["True", "False"].includes(condition(r, "Succeeded")?.status ?? "") ? r : undefined;
        },
        420_000,
        1000,
      );
    } catch (err) {
      // What each side says, so that a failure on CI explains itself.
      const mine = (await runOn(m, name)).status;
      const served = await Promise.all(
        (mine?.peerRuns ?? []).map(async (p) => {
          const member = fed.members.find((x) => x.name === p.cluster);
          const status = member && p.name ? (await runOn(member, p.name).catch(() => undefined))?.status : undefined;
          return `\nserved run on ${p.cluster}: ${JSON.stringify(status)}`;
        }),
      );
      const grants = (await objects(b).listNamespacedCustomObject({ ...archipel, plural: "accessgrants", namespace })) as { items: AccessGrant[] };
      throw new Error(`${(err as Error).message}\nrun: ${JSON.stringify(mine)}${served.join("")}\ngrants on B: ${JSON.stringify(grants.items.map((g) => [g.metadata.name, g.spec.grantee, g.status?.conditions]))}`, { cause: err });
    }
  };

  it("runs the step on B's Argo, shows B on the step, and releases B's reservation; the same run sent through A's REST API behaves the same", async () => {
    const spec = {
      job: { greeting: "hello" },
      steps: [{ name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } }],
      outputs: [{ name: "result", source: "write/out" }],
      budget: { amount: "1.00", currency: "EUR" },
    };
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "greet", spec });
    // The REST API is a thin view: a run it creates (as the caller) is the same object, run the same way.
    const posted = await fetch(`${a.apiUrl}/api/v1/namespaces/${namespace}/pipelineruns`, {
      method: "POST",
      headers: { authorization: `Bearer ${a.cluster.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ metadata: { name: "greet-api" }, spec }),
    });
    assert.equal(posted.status, 201, await posted.text());
    const run = await ended(a, "greet");
    const viaApi = await ended(a, "greet-api");
    const shape = (r: PipelineRun): unknown => [condition(r, "Succeeded")?.status, r.status?.progress, r.status?.steps?.map((s) => [s.name, s.phase, s.cluster, s.peer]), r.status?.outputs?.map((o) => o.name)];
    assert.deepEqual(shape(viaApi), shape(run));
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
    const step = run.status?.steps?.[0];
    assert.deepEqual([step?.name, step?.phase, step?.cluster, step?.peer], ["write", "Succeeded", b.name, peerB]);
    assert.match(step?.placement ?? "", new RegExp(`the service writer is on peer ${peerB}`));
    assert.deepEqual(run.status?.peerRuns?.map((r) => [r.peer, r.cluster]), [[peerB, b.name]], "one peer: B");
    const peerRun = peerRunOf(run, peerB);
    assert.ok(peerRun?.name && peerRun.reservation, `status.peerRuns names B's run and reservation: ${JSON.stringify(run.status?.peerRuns)}`);

    // B's own objects: its PipelineRun succeeded, its Reservation is Released (asked by A when the run ended).
    const served = await runOn(b, peerRun.name);
    assert.equal(condition(served, "Succeeded")?.status, "True");
    assert.deepEqual(served.spec.budget, { amount: "1.00", currency: "EUR" }, "B's run may spend the budget A left for it (all of it: every step is on B), and B stops it there");
    const reservation = await eventually(
      "B's reservation is Released",
      async () => {
        const r = (await objects(b).getNamespacedCustomObject({ ...archipel, plural: "reservations", namespace, name: peerRun.reservation })) as Reservation;
        return r.status?.state === "Released" ? r : undefined;
      },
      60_000,
      500,
    );
    assert.equal(reservation.spec.requester?.peer !== undefined, true, "B's Reservation names the requesting peer");
    // B ran A's steps in the namespace it made for that reservation (its quota alone), deleted once released.
    const workspace = served.status?.workflowRef?.namespace ?? "";
    assert.equal(workspace, workspaceName(reservation), `B's Workflow ran in the reservation's workspace: ${JSON.stringify(served.status?.workflowRef)}`);
    assert.equal(reservation.status?.workspace, undefined, "a released reservation has no workspace");
    const bCore = b.cluster.kubeConfig().makeApiClient(CoreV1Api);
    await eventually("B deleted the workspace", async () => (await bCore.readNamespace({ name: workspace }).catch(() => undefined)) === undefined, 120_000, 1000);
    // Its Workflow went with it, and only once B's usage controller had metered the step (the metering hold).
    const metered = (await objects(b).listNamespacedCustomObject({ ...archipel, plural: "usagerecords", namespace, labelSelector: `archipel.io/pipelinerun=${peerRun.name}` })) as { items: UsageRecord[] };
    assert.deepEqual(metered.items.map((r) => r.spec.step), ["write"], "B metered the step it ran before its Workflow was deleted");
    assert.equal((await bCore.listNamespacedResourceQuota({ namespace })).items.some((q) => q.metadata?.name === `reservation-${peerRun.reservation}`), false, "nothing of the peer's reservation is enforced in the namespace B opened");
    // Sized from B's quote: the writer's requests (Argo's defaults, 100m and 100Mi) plus 1 cpu and 1Gi of room.
    assert.deepEqual([reservation.spec.cpu, reservation.spec.memory], ["1100m", "1124Mi"]);

    // The output is in B's artifact repository, with the content B's pod wrote.
    const location = run.status?.outputs?.find((o) => o.name === "result")?.location ?? "";
    assert.equal(await objectText(b, location), "hello from the peer");
  });

  it("runs a step on B, brings its output to A, and runs the next step on A's Argo with it", async () => {
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "relay", spec: {
      job: { greeting: "hello" },
      steps: [
        { name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } },
        { name: "shout", serviceRef: { name: "shouter" }, in: { text: "write/out" } },
      ],
      outputs: [{ name: "result", source: "shout/shouted" }],
    } });
    const run = await ended(a, "relay");
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
    assert.deepEqual(run.status?.steps?.map((s) => [s.name, s.phase, s.cluster]), [["write", "Succeeded", b.name], ["shout", "Succeeded", a.name]]);
    assert.equal(run.status?.progress, "2/2");
    const location = run.status?.outputs?.find((o) => o.name === "result")?.location ?? "";
    assert.equal(await objectText(a, location), "HELLO FROM THE PEER");
    await released(run);
  });

  it("an output of B larger than one answer could hold (40 MB) is streamed to A and read whole by A's step", async () => {
    const size = 40_000_000;
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "bulk", spec: {
      job: { size },
      steps: [
        { name: "fill", serviceRef: { name: "filler", peer: peerB }, in: { size: "size" } },
        { name: "count", serviceRef: { name: "counter" }, in: { data: "fill/big" } },
      ],
      outputs: [{ name: "count", source: "count/count" }],
    } });
    const run = await ended(a, "bulk");
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
    assert.deepEqual(run.status?.steps?.map((s) => [s.name, s.phase, s.cluster]), [["fill", "Succeeded", b.name], ["count", "Succeeded", a.name]]);
    // Every byte arrived, and every one is B's ("x"): the count of others is 0.
    assert.equal(await objectText(a, run.status?.outputs?.find((o) => o.name === "count")?.location ?? ""), `${size} 0`);
    await released(run);
  });

  /** One step whose writer A and B both offer (A's from the first Auto test): Auto decides where it runs. */
  const autoWriter = {
    job: { greeting: "hello" },
    placement: { strategy: "Auto" },
    steps: [{ name: "write", serviceRef: { name: "writer" }, in: { message: "greeting" } }],
    outputs: [{ name: "result", source: "write/out" }],
  };

  it("Auto: A and B both offer the writer, B for less: the step runs on B, and status says how each cluster ranked; a service only A has stays on A", async () => {
    // A's own writer, at a higher rate than B asks of A.
    await create(a, "resources", { kind: "Resource", name: "writer", spec: { providerRef: { name: "tools" }, type: "service", title: "writer", visibility: "private", service: { image, cwl: { document: writerTool({ suffix: " from A" }) } } } });
    await create(a, "prices", { kind: "Price", name: "writer-rates", spec: { targetRef: { kind: "Resource", name: "writer" }, currency: "EUR", rates: { cpuCoreHour: "0.50", memoryGiBHour: "0.10", perRun: "5.00" }, validFrom: "2026-01-01T00:00:00Z" } });
    await serviceReady(a, "writer");
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "auto", spec: autoWriter });
    const run = await ended(a, "auto");
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
    assert.deepEqual(run.status?.autoPlacement?.map((p) => [p.step, p.peer]), [["write", peerB]]);
    const step = run.status?.steps?.[0];
    assert.deepEqual([step?.name, step?.phase, step?.cluster], ["write", "Succeeded", b.name]);
    // B's quote (its perRun 0.10 EUR, plus 10 minutes of Argo's default requests) against A's 5.00 EUR; B's free capacity as its compute Provider says.
    const ranking = new RegExp(`^Auto: peer ${peerB} \\(${b.name}\\): 0\\.\\d+ EUR, [0-9.]+m? cpu and \\S+ free, trust (\\d+|unknown); ranked over this cluster: 5\\.\\d+ EUR`);
    assert.match(step?.placement ?? "", ranking);
    assert.equal(await objectText(b, run.status?.outputs?.find((o) => o.name === "result")?.location ?? ""), "hello from the peer");
    await released(run);

    // Neither B nor C has a "greeter": A is the only cluster that can run it.
    await create(a, "resources", { kind: "Resource", name: "greeter", spec: { providerRef: { name: "tools" }, type: "service", title: "greeter", visibility: "private", service: { image, cwl: { document: writerTool({ suffix: " from A" }) } } } });
    await serviceReady(a, "greeter");
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "auto-here", spec: { job: { greeting: "hello" }, placement: { strategy: "Auto" }, steps: [{ name: "greet", serviceRef: { name: "greeter" }, in: { message: "greeting" } }] } });
    const here = await eventually("A pins the greet step", async () => (await runOn(a, "auto-here")).status?.autoPlacement, 60_000, 500);
    assert.equal(here[0]?.peer, undefined, JSON.stringify(here));
    // Every peer asked is left out, the most trusted first (in whichever order their trust puts them).
    const [, leftOut] = /^Auto: this cluster: not priced; left out (.*)$/.exec(here[0]?.reason ?? "") ?? [];
    assert.deepEqual(leftOut?.split("; ").sort(), [`peer ${peerB} (${b.name}): does not offer us greeter`, `peer ${peerC} (${c.name}): does not offer us greeter`].sort(), here[0]?.reason);
    await objects(a).deleteNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name: "auto-here" });
  });

  it("Auto: B ranks first but rejects the hold (its room is promised to a later window): the step is ranked again without B and runs on A; status says why, and B's trust counts the failure", async () => {
    // Admitted for a window that opens in 5 minutes: B's free capacity now does not show it, its admission does.
    const start = new Date(Date.now() + 5 * 60_000);
    const blocker = { kind: "Reservation", name: "promised", spec: { providerRef: { name: "nodes" }, cpu: "3500m", memory: "1Gi", start: start.toISOString().replace(/\.\d+Z$/, "Z"), end: new Date(start.getTime() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z"), confirmed: true } };
    await create(b, "reservations", blocker);
    try {
      await eventually("B admits the promised reservation", async () => ((await objects(b).getNamespacedCustomObject({ ...archipel, plural: "reservations", namespace, name: "promised" })) as Reservation).status?.state === "Confirmed", 60_000, 500);
      const failedBefore = (await peerOnA()).status?.trust?.runsFailed ?? 0;
      await create(a, "pipelineruns", { kind: "PipelineRun", name: "auto-moved", spec: autoWriter });
      const run = await ended(a, "auto-moved");
      assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
      assert.deepEqual(run.status?.autoRefused?.map((r) => [r.peer, r.state]), [[peerB, "Rejected"]]);
      assert.match(run.status?.autoRefused?.[0]?.message ?? "", /cpu/);
      assert.deepEqual(run.status?.peerRuns ?? [], [], "no record of B's hold is left as if the steps ran there");
      assert.deepEqual(run.status?.autoPlacement?.map((p) => [p.step, p.peer]), [["write", undefined]]);
      const step = run.status?.steps?.[0];
      assert.deepEqual([step?.name, step?.phase, step?.cluster], ["write", "Succeeded", a.name]);
      // Left out: B for the hold it did not keep, C for not offering the writer (in the order of their trust).
      const placement = step?.placement ?? "";
      assert.match(placement, /^Auto: this cluster: 5\.\d+ EUR.*; left out peer /);
      assert.match(placement, new RegExp(`; (left out )?peer ${peerB} \\(${b.name}\\): its hold \\S+ for these steps ended Rejected \\(.*\\) before they were sent(; |$)`));
      assert.match(placement, new RegExp(`; (left out )?peer ${peerC} \\(${c.name}\\): does not offer us writer(; |$)`));
      assert.equal(await objectText(a, run.status?.outputs?.find((o) => o.name === "result")?.location ?? ""), "hello from A");
      const events = await a.cluster.kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace, fieldSelector: "involvedObject.name=auto-moved,reason=PeerHoldEnded" });
      assert.equal(events.items.length, 1, "the move is told once");
      await eventually("A's trust in B counts the hold B did not keep", async () => ((await peerOnA()).status?.trust?.runsFailed ?? 0) === failedBefore + 1, 60_000, 1000);
    } finally {
      await objects(b).deleteNamespacedCustomObject({ ...archipel, plural: "reservations", namespace, name: "promised" });
    }
  });

  it("an output of a step on B goes to A's storage: copied through the federation API once B's run succeeded, the run succeeding only then; B holds a chain's widest moment", async () => {
    // Two steps on B, one after the other: B holds room for one at a time (the widest moment), not both.
    const whole = {
      job: { greeting: "hello" },
      steps: [
        { name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } },
        { name: "up", serviceRef: { name: "upper", peer: peerB }, in: { text: "write/out" } },
      ],
      outputs: [{ name: "raw", source: "up/shouted", storageRef: { name: "results" }, prefix: "from-peer/" }],
    };
    const mixed = {
      job: { greeting: "hello" },
      steps: [
        { name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } },
        { name: "shout", serviceRef: { name: "shouter" }, in: { text: "write/out" } },
      ],
      outputs: [{ name: "raw", source: "write/out", storageRef: { name: "results" }, prefix: "mixed-raw/" }, { name: "result", source: "shout/shouted", storageRef: { name: "results" }, prefix: "mixed/" }],
    };
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "to-store", spec: whole });
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "to-store-mixed", spec: mixed });
    const stored = async (run: PipelineRun, output: string, prefix: string): Promise<string | undefined> => {
      const location = run.status?.outputs?.find((o) => o.name === output)?.location ?? "";
      const [, key] = new RegExp(`^s3://results/(runs/.*${prefix}[^/]+)$`).exec(location) ?? [];
      assert.ok(key, `output ${output} of ${run.metadata.name} is in storage Resource results under ${prefix}: ${location}`);
      return resultsText(key);
    };
    const run = await ended(a, "to-store");
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
    assert.match(condition(run, "Succeeded")?.message ?? "", /outputs copied to storage/);
    assert.equal(await stored(run, "raw", "from-peer/"), "HELLO FROM THE PEER");
    const hold = (await objects(b).getNamespacedCustomObject({ ...archipel, plural: "reservations", namespace, name: peerRunOf(run, peerB)?.reservation ?? "" })) as Reservation;
    // Each step requests Argo's defaults (100m, 100Mi); summed they would be 1200m / 1224Mi with the room.
    assert.deepEqual([hold.spec.cpu, hold.spec.memory], ["1100m", "1124Mi"]);
    const both = await ended(a, "to-store-mixed");
    assert.equal(condition(both, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(both.status?.conditions)}`);
    assert.equal(await stored(both, "raw", "mixed-raw/"), "hello from the peer");
    assert.equal(await stored(both, "result", "mixed/"), "HELLO FROM THE PEER");
    // The write grants the runs obtained on A are given back once they have ended.
    const grantsOf = async (name: string): Promise<number> => ((await objects(a).listNamespacedCustomObject({ ...archipel, plural: "accessgrants", namespace, labelSelector: `archipel.io/pipelinerun=${name}` })) as { items: unknown[] }).items.length;
    await eventually("A's write grants for the runs are released", async () => (await grantsOf("to-store")) + (await grantsOf("to-store-mixed")) === 0, 60_000, 500);
    await released(run);
  });

  it("B meters and signs the step it ran for A; A keeps a copy bound to its run, and both sides say they agree (condition Agreed)", async () => {
    const run = await runOn(a, "relay");
    const peerRun = peerRunOf(run, peerB);
    assert.ok(peerRun?.name);
    const records = async (m: FederationMember, runName: string): Promise<UsageRecord[]> =>
      ((await objects(m).listNamespacedCustomObject({ ...archipel, plural: "usagerecords", namespace, labelSelector: `archipel.io/pipelinerun=${runName}` })) as { items: UsageRecord[] }).items;
    const agreed = (r: UsageRecord | undefined): boolean => r?.status?.conditions?.some((c) => c.type === "Agreed" && c.status === "True") ?? false;
    const copy = await eventually("A holds B's record of step write, agreed", async () => (await records(a, "relay")).find((r) => r.spec.step === "write" && agreed(r)), 120_000, 1000).catch(async (err: Error) => {
      throw new Error(`${err.message}: on A ${JSON.stringify(await records(a, "relay"))}; on B ${JSON.stringify(await records(b, peerRun.name ?? ""))}`, { cause: err });
    });
    const original = await eventually("B's record shows A's agreement", async () => (await records(b, peerRun.name ?? "")).find((r) => r.spec.step === "write" && agreed(r)), 60_000, 1000);

    // B's record: metered and signed by B, for A (its Peer name for A), priced at B's rates.
    assert.equal(original.spec.cluster, b.name);
    assert.ok(original.spec.requester?.peer && original.spec.signature?.cluster === b.name, JSON.stringify(original.spec));
    assert.ok(original.spec.cost && Number(original.spec.cost.amount) >= 0.1, `priced with B's per-run rate: ${JSON.stringify(original.spec.cost)}`);
    // A's copy: B's figures and signature, bound to A's run and Peer; what was B's is in spec.received.
    assert.deepEqual([copy.spec.pipelineRunRef, copy.spec.peer, copy.spec.cluster, copy.spec.requester], [{ name: "relay", uid: run.metadata.uid }, peerB, b.name, undefined]);
    assert.deepEqual([copy.spec.usage, copy.spec.lines, copy.spec.cost, copy.spec.signature, copy.spec.startedAt, copy.spec.finishedAt], [original.spec.usage, original.spec.lines, original.spec.cost, original.spec.signature, original.spec.startedAt, original.spec.finishedAt]);
    assert.deepEqual(copy.spec.received, { name: original.metadata.name, pipelineRunRef: original.spec.pipelineRunRef, requester: original.spec.requester });
    // Anyone on A can check the copy against B's published key.
    const peer = (await objects(a).getClusterCustomObject({ ...archipel, plural: "peers", name: peerB })) as Peer;
    const signed = signedOriginal(copy.spec);
    assert.ok(signed);
    assert.deepEqual(verifyUsageRecord(signed, b.name, peer.status?.descriptor?.publicKey ?? ""), { ok: true });
    assert.equal(JSON.parse(original.metadata.annotations?.["archipel.io/requester-receipt"] ?? "{}").digest, usageDigest(signed));
    // The dashboards' counters: on A the copy counts as consumed from B, on B as provided to A.
    const metricsOf = async (m: FederationMember): Promise<string> => (await fetch(`http://127.0.0.1:${m.ports.metrics}/metrics`)).text();
    assert.match(await metricsOf(a), new RegExp(`^archipel_usage_records_total\\{project="",peer="${peerB}",role="consumer",priced="true"\\} [1-9]`, "m"));
    assert.match(await metricsOf(b), new RegExp(`^archipel_usage_records_total\\{project="",peer="${original.spec.requester?.peer ?? ""}",role="provider",priced="true"\\} [1-9]`, "m"));
    // A's own step is A's record: unsigned, metered here.
    const shout = (await records(a, "relay")).find((r) => r.spec.step === "shout");
    assert.deepEqual([shout?.spec.cluster, shout?.spec.peer, shout?.spec.signature], [a.name, undefined, undefined]);
  });

  it("holds no credentials to B's API server on A", async () => {
    const kubeconfig = await readFile(b.kubeconfig, "utf8");
    const tokens = [...kubeconfig.matchAll(/(?:token|client-key-data|client-certificate-data):\s*(\S+)/g)].map((m) => m[1] ?? "").filter((t) => t.length > 16);
    assert.ok(tokens.length > 0, "B's kubeconfig has credentials to look for");
    const secrets = await a.cluster.kubeConfig().makeApiClient(CoreV1Api).listSecretForAllNamespaces();
    for (const s of secrets.items) {
      const text = Object.values(s.data ?? {}).map((v) => Buffer.from(v, "base64").toString("utf8") + v).join("\n");
      for (const t of tokens) assert.ok(!text.includes(t), `Secret ${s.metadata?.namespace}/${s.metadata?.name} on A holds a credential of B's API server`);
    }
  });

  it("a run refused by the peer fails naming the field the peer named", async () => {
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "missing", spec: { job: {}, steps: [{ name: "x", serviceRef: { name: "nosuch", peer: peerB } }] } });
    const run = await eventually(
      "the run on A fails",
      async () => {
        const r = await runOn(a, "missing");
        return condition(r, "Succeeded")?.status === "False" ? r : undefined;
      },
      120_000,
      500,
    );
    assert.equal(condition(run, "Succeeded")?.reason, "PeerRefused");
    assert.match(condition(run, "Succeeded")?.message ?? "", /body\.steps\[0\]\.service: no service nosuch in namespace default is visible to peer/);
    // B refused the quote, asked before any hold: nothing was held on B.
    assert.equal(peerRunOf(run, peerB)?.reservation ?? "", "");
    const held = (await objects(b).listNamespacedCustomObject({ ...archipel, plural: "reservations", namespace })) as { items: Reservation[] };
    assert.deepEqual(held.items.filter((r) => r.metadata.name?.includes("-missing-")).map((r) => r.metadata.name), []);
  });

  it("quotes the steps on B at B's rates for A before holding anything, and a budget below that quote holds nothing on B", async () => {
    const greet = await runOn(a, "greet");
    // writer: 100m and 100Mi (Argo's defaults) for 10 minutes at 0.50/core-hour and 0.10/GiB-hour, plus 0.10 per run.
    assert.deepEqual(peerRunOf(greet, peerB)?.quote, { amount: "0.11", currency: "EUR" });
    assert.deepEqual(greet.status?.quote, peerRunOf(greet, peerB)?.quote, "the whole run is on B: its quote is B's");
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "thrifty", spec: { job: { greeting: "hello" }, budget: { amount: "0.05", currency: "EUR" }, steps: [{ name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } }] } });
    const run = await eventually("the run on A is refused by its budget", async () => {
      const r = await runOn(a, "thrifty");
      return condition(r, "Ready")?.reason === "RunBudgetExceeded" ? r : undefined;
    }, 60_000, 500);
    assert.equal(condition(run, "Succeeded")?.status, "Unknown", "not failed: a larger budget or a cheaper Price lets it run");
    assert.match(condition(run, "Ready")?.message ?? "", /the quote \(0\.11 EUR\) exceeds the PipelineRun's spec\.budget \(0\.05 EUR\) by 0\.06 EUR/);
    assert.deepEqual(run.status?.quote, { amount: "0.11", currency: "EUR" });
    const held = (await objects(b).listNamespacedCustomObject({ ...archipel, plural: "reservations", namespace })) as { items: Reservation[] };
    assert.deepEqual(held.items.filter((r) => r.metadata.name?.includes("-thrifty-")).map((r) => r.metadata.name), []);
    // The step ran for seconds, not the 10 minutes quoted: its metered cost is within the quote, and at least its per-run part.
    const copy = await eventually("A's copy of B's record of greet", async () => {
      const list = (await objects(a).listNamespacedCustomObject({ ...archipel, plural: "usagerecords", namespace, labelSelector: "archipel.io/pipelinerun=greet" })) as { items: UsageRecord[] };
      return list.items.find((r) => r.spec.peer !== undefined);
    }, 60_000, 1000);
    const cost = Number(copy.spec.cost?.amount ?? "NaN");
    assert.ok(cost >= 0.1 && cost <= 0.11, `greet cost ${cost} EUR, quoted 0.11 EUR`);
    // The run's status.cost is what its records add up to: here, B's record of its one step.
    const costed = await eventually("greet's status.cost", async () => (await runOn(a, "greet")).status?.cost, 60_000, 1000);
    assert.deepEqual(costed, copy.spec.cost);
  });

  it("ComputeToData: a step reads B's restricted data on B through B's grant for A's project, the next step runs on A; the grant and the hold are given back", async () => {
    const spec = {
      projectRef: { name: project },
      inputs: [{ name: "sample", resourceRef: { name: "samples", peer: peerB } }],
      steps: [
        { name: "read", serviceRef: { name: "upper", peer: peerB }, in: { text: "sample" }, placement: { strategy: "ComputeToData" } },
        { name: "stamp", serviceRef: { name: "stamper" }, in: { text: "read/shouted" } },
      ],
      outputs: [{ name: "result", source: "stamp/stamped", storageRef: { name: "results" }, prefix: "to-data/" }],
    };
    await objects(a).createClusterCustomObject({ ...archipel, plural: "projects", body: { apiVersion: "archipel.io/v1alpha1", kind: "Project", metadata: { name: project }, spec: { displayName: project, members: { users: [], clusters: [a.name] } } } });
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "to-data", spec });
    const run = await ended(a, "to-data");
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
    assert.deepEqual(run.status?.steps?.map((s) => [s.name, s.phase, s.cluster]), [["read", "Succeeded", b.name], ["stamp", "Succeeded", a.name]]);
    assert.match(run.status?.steps?.[0]?.placement ?? "", /ComputeToData: reads input sample, data Resource samples on peer/);
    // The output went to A's storage Resource, under the write grant's area and the output's prefix.
    const location = run.status?.outputs?.find((o) => o.name === "result")?.location ?? "";
    const [, key] = /^s3:\/\/results\/(runs\/.*to-data\/stamped\.txt)$/.exec(location) ?? [];
    assert.ok(key, `the output is in storage Resource results: ${location}`);
    assert.equal(await resultsText(key), "HELLO FROM THE DATA (checked on A)");
    const grantsOnA = async (): Promise<number> => ((await objects(a).listNamespacedCustomObject({ ...archipel, plural: "accessgrants", namespace, labelSelector: "archipel.io/pipelinerun=to-data" })) as { items: unknown[] }).items.length;
    await eventually("A's write grant for the run is released", async () => (await grantsOnA()) === 0, 60_000, 500);

    // On B: its run read the data through an AccessGrant for peer A acting for the project, owned by the run and deleted once it ended.
    const served = peerRunOf(run, peerB)?.name ?? "";
    const grants = async (): Promise<AccessGrant[]> => ((await objects(b).listNamespacedCustomObject({ ...archipel, plural: "accessgrants", namespace, labelSelector: `archipel.io/pipelinerun=${served.slice(0, 63)}` })) as { items: AccessGrant[] }).items;
    await eventually("B's grant for the run is released", async () => (await grants()).length === 0, 60_000, 500);
    const events = await b.cluster.kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace, fieldSelector: "involvedObject.kind=AccessGrant" });
    assert.ok(events.items.some((e) => e.involvedObject.name?.startsWith(`${served}-in-sample`)), `B issued a grant for the run: ${events.items.map((e) => e.involvedObject.name).join(", ")}`);
    await released(run);
  });

  it("ComputeToData on a prefix: B stages every object under it as a CWL Directory for its step (nested paths kept, nothing of a look-alike prefix); A's step splits the listing into a Directory, copied to A's storage object by object", async () => {
    await serviceReady(b, "lister");
    await serviceReady(a, "splitter");
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "to-tree", spec: {
      projectRef: { name: project },
      inputs: [{ name: "scenes", resourceRef: { name: "scenes", peer: peerB } }],
      steps: [
        { name: "list", serviceRef: { name: "lister", peer: peerB }, in: { tree: "scenes" }, placement: { strategy: "ComputeToData" } },
        { name: "split", serviceRef: { name: "splitter" }, in: { text: "list/listing" } },
      ],
      outputs: [{ name: "lines", source: "split/parts", storageRef: { name: "results" }, prefix: "trees/" }],
    } });
    const run = await ended(a, "to-tree");
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
    assert.deepEqual(run.status?.steps?.map((s) => [s.name, s.cluster]), [["list", b.name], ["split", a.name]]);
    const output = run.status?.outputs?.find((o) => o.name === "lines");
    assert.equal(output?.class, "Directory");
    const [, prefix] = /^s3:\/\/results\/(runs\/.*trees\/parts\/)$/.exec(output?.location ?? "") ?? [];
    assert.ok(prefix, `the Directory is in storage Resource results: ${output?.location}`);
    const keys = await resultsKeys(prefix);
    assert.deepEqual(keys, [`${prefix}1/line.txt`, `${prefix}2/line.txt`]);
    assert.deepEqual([await resultsText(keys[0]!), await resultsText(keys[1]!)], ["./deep/south.txt=warm", "./north.txt=cold"]);
    await released(run);
  });

  it("a Directory made on B crosses to A file by file: A's step reads it, and A's storage gets it", async () => {
    await serviceReady(b, "splitter");
    await serviceReady(a, "relister");
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "tree-across", spec: {
      projectRef: { name: project },
      inputs: [{ name: "scenes", resourceRef: { name: "scenes", peer: peerB } }],
      steps: [
        { name: "list", serviceRef: { name: "lister", peer: peerB }, in: { tree: "scenes" }, placement: { strategy: "ComputeToData" } },
        { name: "split", serviceRef: { name: "splitter", peer: peerB }, in: { text: "list/listing" } },
        { name: "relist", serviceRef: { name: "relister" }, in: { tree: "split/parts" } },
      ],
      outputs: [{ name: "parts", source: "split/parts", storageRef: { name: "results" }, prefix: "across/" }, { name: "relisted", source: "relist/listing" }],
    } });
    const run = await ended(a, "tree-across");
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
    assert.deepEqual(run.status?.steps?.map((s) => [s.name, s.cluster]), [["list", b.name], ["split", b.name], ["relist", a.name]]);
    const relisted = run.status?.outputs?.find((o) => o.name === "relisted")?.location ?? "";
    assert.equal(await objectText(a, relisted), "./1/line.txt=./deep/south.txt=warm\n./2/line.txt=./north.txt=cold\n");
    const parts = run.status?.outputs?.find((o) => o.name === "parts");
    const [, prefix] = /^s3:\/\/results\/(runs\/.*across\/parts\/)$/.exec(parts?.location ?? "") ?? [];
    assert.ok(prefix, `B's Directory is in A's storage Resource results: ${JSON.stringify(parts)}`);
    assert.deepEqual(await resultsKeys(prefix), [`${prefix}1/line.txt`, `${prefix}2/line.txt`]);
    await released(run);
  });

  it("an output over the storage copy's limit fails the run naming the output and the limit, instead of trying for ever; the write grant is given back", async () => {
    await serviceReady(a, "filler");
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "too-big", spec: {
      steps: [{ name: "fill", serviceRef: { name: "filler" }, in: { size: "size" } }],
      outputs: [{ name: "big", source: "fill/big", storageRef: { name: "results" }, prefix: "big/" }],
      job: { size: 256 * 1024 * 1024 + 1 },
    } });
    const run = await ended(a, "too-big");
    const succeeded = condition(run, "Succeeded");
    assert.deepEqual([run.status?.phase, succeeded?.status, succeeded?.reason], ["Failed", "False", "OutputsRefused"], JSON.stringify(run.status?.conditions));
    assert.match(succeeded?.message ?? "", /^spec\.outputs\[0\]\.storageRef: copying output big to storage Resource results: s3:\/\/.*\/big\.txt is 268435457 bytes; at most 268435456 are copied$/);
    assert.deepEqual(run.status?.steps?.map((s) => [s.name, s.phase]), [["fill", "Succeeded"]]);
    const grants = async (): Promise<number> => ((await objects(a).listNamespacedCustomObject({ ...archipel, plural: "accessgrants", namespace, labelSelector: "archipel.io/pipelinerun=too-big" })) as { items: unknown[] }).items.length;
    await eventually("A's write grant for the run is released", async () => (await grants()) === 0, 60_000, 500);
    // The record stands: the Workflow's own success does not turn it back.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(condition(await runOn(a, "too-big"), "Succeeded")?.reason, "OutputsRefused");
  });

  it("B's restricted data is refused to a run that does not act for its project, naming the field", async () => {
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "no-project", spec: {
      inputs: [{ name: "sample", resourceRef: { name: "samples", peer: peerB } }],
      steps: [{ name: "read", serviceRef: { name: "upper", peer: peerB }, in: { text: "sample" }, placement: { strategy: "ComputeToData" } }],
    } });
    const run = await ended(a, "no-project");
    assert.equal(condition(run, "Succeeded")?.reason, "PeerRefused");
    assert.match(condition(run, "Succeeded")?.message ?? "", /body\.inputs\[0\]\.resource: no data samples in namespace default is visible to peer/);
  });

  // Runs over B and C at once: here, before B's kubelet is stopped (below); the trust test counts them on B.
  it("a run over two peers and this cluster: B's and C's parts each run on their own Argo in their own hold, confirmed once both were admitted; A's step joins both outputs into A's storage; both holds are given back", async () => {
    await create(a, "resources", { kind: "Resource", name: "joiner", spec: { providerRef: { name: "tools" }, type: "service", title: "joiner", visibility: "private", service: { image, cwl: { document: joinerTool } } } });
    await Promise.all([serviceReady(c, "tagger"), serviceReady(a, "joiner")]);
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "two-peers", spec: {
      job: { greeting: "hello" },
      steps: [
        { name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } },
        { name: "tag", serviceRef: { name: "tagger", peer: peerC }, in: { message: "greeting" }, placement: { strategy: "Explicit", peer: peerC } },
        // Both files are named greeting.txt: each peer's output arrives apart from the other's.
        { name: "join", serviceRef: { name: "joiner" }, in: { first: "write/out", second: "tag/out" } },
      ],
      outputs: [{ name: "joined", source: "join/joined", storageRef: { name: "results" }, prefix: "two-peers/" }],
    } });
    const run = await ended(a, "two-peers");
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
    // (status.steps is a list-map: read by name, whatever the order of the parts)
    const stepOf = (name: string): StepStatus | undefined => run.status?.steps?.find((s) => s.name === name);
    const [write, tag, join] = ["write", "tag", "join"].map(stepOf);
    assert.equal(run.status?.steps?.length, 3, JSON.stringify(run.status?.steps));
    assert.deepEqual([write, tag, join].map((s) => [s?.name, s?.phase, s?.cluster, s?.peer]), [["write", "Succeeded", b.name, peerB], ["tag", "Succeeded", c.name, peerC], ["join", "Succeeded", a.name, undefined]]);
    assert.match(tag?.placement ?? "", new RegExp(`^Explicit: placement\\.peer ${peerC}$`));
    assert.equal(run.status?.progress, "3/3");
    // A's step ran once both peers' parts had ended (their outputs brought here).
    const at = (t: string | undefined): number => Date.parse(t ?? "");
    assert.ok(at(join?.startedAt) >= at(write?.finishedAt) && at(join?.startedAt) >= at(tag?.finishedAt), `join started after write and tag ended: ${JSON.stringify(run.status?.steps)}`);
    // The output went to A's storage Resource, with what each peer's step wrote.
    const location = run.status?.outputs?.find((o) => o.name === "joined")?.location ?? "";
    const [, key] = /^s3:\/\/results\/(runs\/.*two-peers\/joined\.txt)$/.exec(location) ?? [];
    assert.ok(key, `the output is in storage Resource results: ${location}`);
    assert.equal(await resultsText(key), "hello from the peer\nhello (tagged on C)");

    // One entry per peer, each naming the peer's own run (which ran that peer's step only) and hold.
    assert.deepEqual(run.status?.peerRuns?.map((p) => p.peer).sort(), [peerB, peerC].sort(), JSON.stringify(run.status?.peerRuns));
    for (const [m, peer, step] of [[b, peerB, "write"], [c, peerC, "tag"]] as const) {
      const part = peerRunOf(run, peer);
      assert.deepEqual([part?.cluster, part?.phase, part?.namespace], [m.name, "Succeeded", namespace], JSON.stringify(part));
      assert.ok(part?.name && part.reservation, `status.peerRuns names ${m.name}'s run and reservation: ${JSON.stringify(part)}`);
      const served = await runOn(m, part.name);
      assert.equal(condition(served, "Succeeded")?.status, "True", `${m.name}'s run: ${JSON.stringify(served.status?.conditions)}`);
      assert.deepEqual(served.spec.steps.map((s) => s.name), [step], `${m.name} runs its own part only`);
    }
    const settled = await eventually(
      "A records both holds Released",
      async () => {
        const r = await runOn(a, "two-peers");
        return r.status?.peerRuns?.length === 2 && r.status.peerRuns.every((p) => p.reservationState === "Released") ? r : undefined;
      },
      60_000,
      500,
    );
    const [onB, onC] = await Promise.all([released(settled, b, peerB), released(settled, c, peerC)]);
    // Each was confirmed (the second phase) before its part was sent.
    assert.deepEqual([onB.spec.confirmed, onC.spec.confirmed], [true, true]);
    assert.ok(onB.spec.requester?.peer && onC.spec.requester?.peer, "each Reservation names the requesting peer");
  });

  it("a hold one peer does not admit releases the other's: C rejects its hold, B's is released without ever being confirmed, nothing is sent to either peer, and the run fails naming C", async () => {
    // C's whole capacity is promised to a window that opens in 5 minutes: C's free capacity now does not show it, its admission of the run's hold (the next hour) does.
    const start = new Date(Date.now() + 5 * 60_000);
    const second = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, "Z");
    await create(c, "reservations", { kind: "Reservation", name: "promised", spec: { providerRef: { name: "nodes" }, cpu: "4", memory: "8Gi", start: second(start), end: second(new Date(start.getTime() + 3600_000)), confirmed: true } });
    try {
      await eventually("C admits the promised reservation", async () => ((await objects(c).getNamespacedCustomObject({ ...archipel, plural: "reservations", namespace, name: "promised" })) as Reservation).status?.state === "Confirmed", 60_000, 500);
      await create(a, "pipelineruns", { kind: "PipelineRun", name: "held-apart", spec: {
        job: { greeting: "hello" },
        steps: [
          { name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } },
          { name: "tag", serviceRef: { name: "tagger", peer: peerC }, in: { message: "greeting" }, placement: { strategy: "Explicit", peer: peerC } },
        ],
      } });
      const run = await ended(a, "held-apart");
      const succeeded = condition(run, "Succeeded");
      assert.deepEqual([succeeded?.status, succeeded?.reason], ["False", "ReservationRejected"], JSON.stringify(run.status));
      assert.ok(succeeded?.message.includes(c.name), `the message names C's cluster ${c.name}: ${succeeded?.message}`);
      assert.deepEqual(run.status?.peerRuns?.map((p) => p.peer).sort(), [peerB, peerC].sort(), JSON.stringify(run.status?.peerRuns));
      const onB = peerRunOf(run, peerB);
      const onC = peerRunOf(run, peerC);
      assert.ok(onB?.reservation && onC?.reservation, `status.peerRuns names each peer's hold: ${JSON.stringify(run.status?.peerRuns)}`);
      assert.equal(onC.reservationState, "Rejected", JSON.stringify(onC));
      assert.deepEqual([onB.name, onC.name], [undefined, undefined], "no run was sent to either peer");

      // B's hold: given back, never confirmed (spec.confirmed is a one-way switch: it would still say so).
      const heldOnB = await released(run, b, peerB);
      assert.notEqual(heldOnB.spec.confirmed, true, `B's hold was never confirmed: ${JSON.stringify(heldOnB.spec)}`);
      // A served run bears the name of the hold it runs in (both: the requesting Peer's name, then the run's requested name).
      const servedRuns = async (m: FederationMember, hold: string): Promise<string[]> =>
        ((await objects(m).listNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace })) as { items: PipelineRun[] }).items.map((r) => r.metadata.name ?? "").filter((n) => n === hold || n.includes("-held-apart-"));
      assert.deepEqual(await servedRuns(b, onB.reservation), [], "no PipelineRun was created on B for the run");
      assert.deepEqual(await servedRuns(c, onC.reservation), [], "no PipelineRun was created on C for the run");
      // Nothing on C is held for the run: its one Reservation there is the rejected one.
      const onCNow = (await objects(c).listNamespacedCustomObject({ ...archipel, plural: "reservations", namespace })) as { items: Reservation[] };
      assert.deepEqual(onCNow.items.filter((r) => r.metadata.name === onC.reservation || r.metadata.name?.includes("-held-apart-")).map((r) => [r.metadata.name, r.status?.state]), [[onC.reservation, "Rejected"]]);
    } finally {
      await objects(c).deleteNamespacedCustomObject({ ...archipel, plural: "reservations", namespace, name: "promised" });
    }
  });

  it("a step on C reads B's output: C's run waits for it, A relays it once B's part has succeeded (C checks what it got), C's step runs on C's Argo, its output goes to A's storage; both holds are given back", async () => {
    await serviceReady(c, "checker");
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "relayed", spec: {
      job: { greeting: "hello" },
      steps: [
        { name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } },
        { name: "check", serviceRef: { name: "checker", peer: peerC }, in: { text: "write/out" } },
      ],
      outputs: [{ name: "checked", source: "check/stamped", storageRef: { name: "results" }, prefix: "relayed/" }],
    } });
    const run = await ended(a, "relayed");
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
    const stepOf = (name: string): StepStatus | undefined => run.status?.steps?.find((s) => s.name === name);
    const [write, check] = ["write", "check"].map(stepOf);
    assert.deepEqual([write, check].map((s) => [s?.name, s?.phase, s?.cluster]), [["write", "Succeeded", b.name], ["check", "Succeeded", c.name]]);
    const at = (t: string | undefined): number => Date.parse(t ?? "");
    assert.ok(at(check?.startedAt) >= at(write?.finishedAt), `C's step started once B's had ended: ${JSON.stringify(run.status?.steps)}`);
    // What C's step read is what B's wrote, byte for byte: it crossed B → A → C.
    const location = run.status?.outputs?.find((o) => o.name === "checked")?.location ?? "";
    const [, key] = /^s3:\/\/results\/(runs\/.*relayed\/stamped\.txt)$/.exec(location) ?? [];
    assert.ok(key, `the output is in storage Resource results: ${location}`);
    assert.equal(await resultsText(key), "hello from the peer (checked on C)");

    // C's own run: created with B's run, it awaited the input, got it from A (checked), and read it as a pipeline input.
    const onC = peerRunOf(run, peerC);
    assert.ok(onC?.name, JSON.stringify(run.status?.peerRuns));
    const served = await runOn(c, onC.name);
    assert.deepEqual(served.spec.steps.map((s) => [s.name, s.in]), [["check", { text: "peer_write_out" }]]);
    assert.equal(served.metadata.annotations?.["archipel.io/awaited-inputs"], "peer_write_out");
    assert.deepEqual(JSON.parse(served.metadata.annotations?.["archipel.io/sent-inputs"] ?? "{}"), { peer_write_out: { class: "File", name: "greeting.txt" } });
    const onB = await runOn(b, peerRunOf(run, peerB)?.name ?? "");
    assert.deepEqual(onB.spec.outputs, [{ name: "write_out", source: "write/out" }], "B's run sends out what C reads");
    await Promise.all([released(run, b, peerB), released(run, c, peerC)]);
  });

  it("a step on C reads a step here: that step runs first, as a run of its own that the run owns; its output is sent to C's run, and the step here after C's reads both", async () => {
    await Promise.all([serviceReady(a, "scribe"), serviceReady(a, "merger"), serviceReady(c, "checker")]);
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "here-first", spec: {
      job: { greeting: "hello" },
      steps: [
        { name: "scribe", serviceRef: { name: "scribe" }, in: { message: "greeting" } },
        { name: "check", serviceRef: { name: "checker", peer: peerC }, in: { text: "scribe/out" } },
        { name: "join", serviceRef: { name: "merger" }, in: { first: "scribe/out", second: "check/stamped" } },
      ],
      outputs: [{ name: "final", source: "join/joined", storageRef: { name: "results" }, prefix: "here-first/" }],
    } });
    const run = await ended(a, "here-first");
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status)}`);
    const stepOf = (name: string): StepStatus | undefined => run.status?.steps?.find((s) => s.name === name);
    const [scribe, check, join] = ["scribe", "check", "join"].map(stepOf);
    assert.deepEqual([scribe, check, join].map((s) => [s?.name, s?.phase, s?.cluster]), [["scribe", "Succeeded", a.name], ["check", "Succeeded", c.name], ["join", "Succeeded", a.name]], JSON.stringify(run.status?.steps));
    assert.equal(run.status?.progress, "3/3");
    const at = (t: string | undefined): number => Date.parse(t ?? "");
    assert.ok(at(check?.startedAt) >= at(scribe?.finishedAt) && at(join?.startedAt) >= at(check?.finishedAt), `each step started once the one it reads had ended: ${JSON.stringify(run.status?.steps)}`);
    const location = run.status?.outputs?.find((o) => o.name === "final")?.location ?? "";
    const [, key] = /^s3:\/\/results\/(runs\/.*here-first\/joined\.txt)$/.exec(location) ?? [];
    assert.ok(key, `the output is in storage Resource results: ${location}`);
    // The step after C's read the prelude's output (copied here) and C's (brought from C).
    assert.equal(await resultsText(key), "hello (written on A)\nhello (written on A) (checked on C)");

    // The step here that C read ran in a run of its own, owned by this one.
    const first = await runOn(a, "here-first-first");
    assert.equal(condition(first, "Succeeded")?.status, "True", JSON.stringify(first.status?.conditions));
    assert.deepEqual(first.spec.steps.map((s) => s.name), ["scribe"]);
    assert.deepEqual(first.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, (r as { controller?: boolean }).controller]), [["PipelineRun", "here-first", run.metadata.uid, true]]);
    // C's run awaited it and got it from A, checked.
    const served = await runOn(c, peerRunOf(run, peerC)?.name ?? "");
    assert.deepEqual(served.spec.steps.map((s) => [s.name, s.in]), [["check", { text: "here_scribe_out" }]]);
    assert.deepEqual(JSON.parse(served.metadata.annotations?.["archipel.io/sent-inputs"] ?? "{}"), { here_scribe_out: { class: "File", name: "greeting.txt" } });
    await released(run, c, peerC);

    // The run has ended: its prelude run deleted by hand is not made again (its steps would run again), and the run still shows its steps.
    await objects(a).deleteNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name: "here-first-first" });
    await eventually("the prelude run is gone", async () => (await runOn(a, "here-first-first").catch(() => undefined)) === undefined, 60_000, 500);
    await objects(a).patchNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name: "here-first", body: [{ op: "add", path: "/metadata/annotations", value: { "archipel.io/test-poke": "1" } }] });
    const until = Date.now() + 8_000;
    while (Date.now() < until) {
      assert.equal(await runOn(a, "here-first-first").catch(() => undefined), undefined, "the prelude run of an ended run was made again");
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const after = await runOn(a, "here-first");
    assert.deepEqual([after.status?.steps?.map((s) => s.name).sort(), after.status?.progress, condition(after, "Succeeded")?.status], [["check", "join", "scribe"], "3/3", "True"]);
  });

  it("a step here that reads a peer's step and is read by another peer's step is refused (InvalidSpec), naming the field, before anything is held", async () => {
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "crossed", spec: {
      job: { greeting: "hello" },
      steps: [
        { name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } },
        { name: "stamp", serviceRef: { name: "stamper" }, in: { text: "write/out" } },
        { name: "check", serviceRef: { name: "checker", peer: peerC }, in: { text: "stamp/stamped" } },
      ],
    } });
    const run = await eventually("the run on A is refused", async () => {
      const r = await runOn(a, "crossed");
      return condition(r, "Ready")?.reason === "InvalidSpec" ? r : undefined;
    }, 60_000, 500);
    assert.match(condition(run, "Ready")?.message ?? "", /^spec\.steps\[1\]\.in\.text: step stamp runs here and reads write\/out of step write on peer .*, and a step on a peer reads what stamp makes/);
    assert.deepEqual(run.status?.peerRuns ?? [], [], "nothing asked of the peers");
    for (const m of [b, c]) {
      const held = (await objects(m).listNamespacedCustomObject({ ...archipel, plural: "reservations", namespace })) as { items: Reservation[] };
      assert.deepEqual(held.items.filter((r) => r.metadata.name?.includes("-crossed-")).map((r) => r.metadata.name), [], `nothing held on ${m.name}`);
    }
    await assert.rejects(runOn(a, "crossed-first"), "no run of the steps here was made");
    await objects(a).deleteNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name: "crossed" });
  });

  it("Auto ranks a run's branches apart: the writer goes to B (cheaper than A's), the tagger to C (the only one offering it); both parts run side by side, each output staying on its peer", async () => {
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "auto-branches", spec: {
      job: { greeting: "hello" },
      placement: { strategy: "Auto" },
      steps: [
        { name: "write", serviceRef: { name: "writer" }, in: { message: "greeting" } },
        { name: "tag", serviceRef: { name: "tagger" }, in: { message: "greeting" } },
      ],
      outputs: [{ name: "written", source: "write/out" }, { name: "tagged", source: "tag/out" }],
    } });
    const run = await ended(a, "auto-branches");
    assert.equal(condition(run, "Succeeded")?.status, "True", `the run failed: ${JSON.stringify(run.status?.conditions)}`);
    assert.deepEqual(run.status?.autoPlacement?.map((p) => [p.step, p.peer]), [["write", peerB], ["tag", peerC]]);
    const clusterOf = (name: string): string | undefined => run.status?.steps?.find((s) => s.name === name)?.cluster;
    assert.deepEqual([clusterOf("write"), clusterOf("tag")], [b.name, c.name]);
    assert.match(run.status?.steps?.find((s) => s.name === "tag")?.placement ?? "", new RegExp(`^Auto: peer ${peerC} \\(${c.name}\\): not priced`));
    assert.deepEqual(run.status?.peerRuns?.map((p) => [p.peer, p.phase]).sort(), [[peerB, "Succeeded"], [peerC, "Succeeded"]].sort(), JSON.stringify(run.status?.peerRuns));
    const locationOf = (name: string): string => run.status?.outputs?.find((o) => o.name === name)?.location ?? "";
    assert.equal(await objectText(b, locationOf("written")), "hello from the peer");
    assert.equal(await objectText(c, locationOf("tagged")), "hello (tagged on C)");
    await Promise.all([released(run, b, peerB), released(run, c, peerC)]);
  });

  it("one peer's part fails, the other's is cancelled: B's step fails, C's long step is stopped (and metered by C until then) and its hold given back, the run fails naming the step and B", async () => {
    await Promise.all([
      create(b, "resources", { kind: "Resource", name: "crasher", spec: { providerRef: { name: "tools" }, type: "service", title: "crasher", visibility: "public", service: { image, cwl: { document: failingTool } } } }),
      create(c, "resources", { kind: "Resource", name: "napper", spec: { providerRef: { name: "tools" }, type: "service", title: "napper", visibility: "public", service: { image, cwl: { document: writerTool({ sleepSeconds: 600 }) } } } }),
    ]);
    await Promise.all([serviceReady(b, "crasher"), serviceReady(c, "napper")]);
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "one-fails", spec: {
      job: { greeting: "hello" },
      steps: [
        { name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } },
        { name: "crash", serviceRef: { name: "crasher", peer: peerB }, in: { text: "write/out" } },
        { name: "nap", serviceRef: { name: "napper", peer: peerC }, in: { message: "greeting" } },
      ],
    } });
    const run = await ended(a, "one-fails");
    const succeeded = condition(run, "Succeeded");
    assert.deepEqual([succeeded?.status, succeeded?.reason], ["False", "StepFailed"], JSON.stringify(run.status));
    assert.match(succeeded?.message ?? "", new RegExp(`^step "crash" failed on cluster ${b.name}: `));
    const onC = peerRunOf(run, peerC);
    assert.ok(onC?.name, `C was sent its part: ${JSON.stringify(onC)}`);
    // C's part is recorded as cancelled (not failed: C's trust does not count it), and C no longer
    // runs it: its step sleeps 600 s, so without the cancellation its run would still be there.
    const cancelled = await eventually("A records C's part Cancelled and its hold Released", async () => {
      const part = peerRunOf(await runOn(a, "one-fails"), peerC);
      return part?.phase === "Cancelled" && part.reservationState === "Released" ? part : undefined;
    }, 60_000, 500);
    await eventually("C's run of the nap is gone", async () => (await runOn(c, cancelled.name ?? "").catch(() => undefined)) === undefined || undefined, 60_000, 500);
    // C metered the nap it ran until A cancelled it (its record outlives the run A deleted there).
    const napped = ((await objects(c).listNamespacedCustomObject({ ...archipel, plural: "usagerecords", namespace, labelSelector: `archipel.io/pipelinerun=${cancelled.name ?? ""}` })) as { items: UsageRecord[] }).items;
    assert.deepEqual(napped.map((r) => r.spec.step), ["nap"], "C metered the step it ran for A until the cancellation");
    assert.ok(["RunDeleted", "WorkflowDeleted"].includes(napped[0]?.spec.stopped?.reason ?? ""), `metered as cut short: ${JSON.stringify(napped[0]?.spec.stopped)}`);
    await released(run, c, peerC);
    await released(run);
  });

  // Last: it stops B's kubelet for good.
  it("spec.retry reaches B: B's own Argo runs a failing step's pod again, then the run fails naming the step and B; B's hold is given back", async () => {
    await create(b, "resources", { kind: "Resource", name: "breaker", spec: { providerRef: { name: "tools" }, type: "service", title: "breaker", visibility: "public", service: { image, cwl: { document: failingTool } } } });
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "retried-on-b", spec: {
      retry: { limit: 1, policy: "OnFailure" },
      job: { greeting: "hello" },
      steps: [
        { name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } },
        { name: "fail", serviceRef: { name: "breaker", peer: peerB }, in: { text: "write/out" } },
      ],
    } });
    // B's Workflow runs in the reservation's workspace, which goes with the hold: it is looked at while it runs.
    const seen = { fail: 0, write: 0, workspace: "", held: false };
    let watching = true;
    const watcher = (async (): Promise<void> => {
      while (watching) {
        const ref = await runOn(a, "retried-on-b")
          .then((r) => peerRunOf(r, peerB)?.name)
          .then((name) => (name ? runOn(b, name) : undefined))
          .then((served) => served?.status?.workflowRef)
          .catch(() => undefined);
        const wf = ref?.namespace
          ? ((await objects(b).getNamespacedCustomObject({ group: "argoproj.io", version: "v1alpha1", plural: "workflows", namespace: ref.namespace, name: ref.name }).catch(() => undefined)) as { metadata?: { finalizers?: string[] }; status?: { nodes?: Record<string, { type: string; templateName?: string }> } } | undefined)
          : undefined;
        const pods = (template: string): number => Object.values(wf?.status?.nodes ?? {}).filter((n) => n.type === "Pod" && n.templateName === template).length;
        if (wf) Object.assign(seen, { fail: Math.max(seen.fail, pods("main-fail")), write: Math.max(seen.write, pods("main-write")), workspace: ref?.namespace ?? "", held: seen.held || (wf.metadata?.finalizers ?? []).includes(meteringHold) });
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    const run = await ended(a, "retried-on-b").finally(() => (watching = false));
    await watcher;
    assert.equal(condition(run, "Succeeded")?.status, "False", JSON.stringify(run.status));
    assert.match(condition(run, "Succeeded")?.message ?? "", new RegExp(`step "fail" failed on cluster ${b.name}: .*the disk is full`));
    // B ran the run it served on its own Argo, with the retry A asked for.
    assert.match(seen.workspace, /^archipel-rsv-/, "B's Workflow ran in the reservation's workspace");
    assert.equal(seen.held, true, `B's Workflow carried the metering hold (${meteringHold}): the workspace cannot take it before its steps are metered`);
    assert.deepEqual([seen.fail, seen.write], [2, 1], "the failing step ran once and again once; the one that succeeded once");
    await released(run);
  });

  it("B's kubelet stopped mid-run: the run fails when its spec.timeout passes, naming the step and B's cluster; B's hold is given back", async () => {
    await create(b, "resources", { kind: "Resource", name: "sleeper", spec: { providerRef: { name: "tools" }, type: "service", title: "sleeper", visibility: "public", service: { image, cwl: { document: writerTool({ sleepSeconds: 600 }) } } } });
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "stranded", spec: {
      timeout: "90s",
      job: { greeting: "hello" },
      steps: [{ name: "nap", serviceRef: { name: "sleeper", peer: peerB }, in: { message: "greeting" } }],
    } });
    await eventually("the step runs on B", async () => (await runOn(a, "stranded")).status?.steps?.[0]?.phase === "Running" || undefined, 180_000, 1000);
    const kubelet = Number((await readFile(path.join(b.cluster.dir, "pids", "kubelet"), "utf8")).trim());
    assert.ok(kubelet > 1, "B's kubelet pid");
    process.kill(kubelet, "SIGKILL");
    const run = await ended(a, "stranded");
    const succeeded = condition(run, "Succeeded");
    assert.equal(succeeded?.status, "False", JSON.stringify(run.status));
    assert.match(succeeded?.message ?? "", new RegExp(`step "nap" failed on cluster ${b.name}: .*deadline`));
    assert.deepEqual(run.status?.steps?.map((s) => [s.name, s.phase, s.cluster]), [["nap", "Failed", b.name]]);
    await released(run);
  });

  it("A's Peer for B counts how A's runs there ended in its trust score (status.trust)", async () => {
    const ended = (await objects(a).listNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace })) as { items: PipelineRun[] };
    // The stranded run failed there; the runs B refused (a service it does not show, data of a project we do not act for) count neither way.
    // A hold B rejected for steps Auto then moved to A counts as a failure too.
    const refusedHolds = ended.items.flatMap((r) => (r.status?.autoRefused ?? []).filter((h) => h.peer === peerB).map((h) => ({ peerRun: { reservationState: h.state } })));
    assert.ok(refusedHolds.length >= 1, "the auto-moved run's hold on B");
    // What B did for each run with a part on B (its entry of status.peerRuns), the runs across B and C among them.
    const onB = ended.items.flatMap((r) => {
      const part = peerRunOf(r, peerB);
      return part ? [{ peerRun: part, reason: condition(r, "Succeeded")?.reason }] : [];
    });
    const expected = outcomesOf([...onB, ...refusedHolds]);
    assert.ok(expected.succeeded >= 1, `runs that succeeded on B so far: ${expected.succeeded}`);
    assert.ok(ended.items.some((r) => r.metadata.name === "stranded" && peerRunOf(r, peerB)?.phase === "Failed"), "the stranded run failed on B");
    const trust = await eventually(
      "B's trust counts A's runs",
      async () => {
        const peer = (await objects(a).getClusterCustomObject({ ...archipel, plural: "peers", name: peerB })) as Peer;
        const t = peer.status?.trust;
        return t?.runsSucceeded === expected.succeeded && t.runsFailed === expected.failed ? t : undefined;
      },
      30_000,
      500,
    );
    assert.ok(trust.runsFailed >= 1, JSON.stringify(trust));
    assert.ok(trust.observedSeconds > 0 && trust.connectedSeconds <= trust.observedSeconds, JSON.stringify(trust));
    assert.equal(trust.score, trustScore(availabilityOf(trust.connectedSeconds, trust.observedSeconds), { succeeded: trust.runsSucceeded, failed: trust.runsFailed }));
    assert.ok(trust.score > 50 && trust.score < 100, `a reachable peer with mostly good runs: ${trust.score}`);
    // kubectl shows it.
    const { stdout } = await promisify(execFile)(path.join(repoRoot, "bin/kubectl"), ["--kubeconfig", a.kubeconfig, "get", "peer", peerB]);
    const [header, row] = stdout.trim().split("\n").map((line) => line.split(/\s{2,}/));
    // (a pass may have moved the history since: a point either way)
    assert.ok(Math.abs(Number(row?.[header?.indexOf("TRUST") ?? -1]) - trust.score) <= 1, stdout);
  });

  it("a run asking placement.minTrust above B's trust score holds nothing on B and waits, naming the score and the field", async () => {
    const peer = (await objects(a).getClusterCustomObject({ ...archipel, plural: "peers", name: peerB })) as Peer;
    const score = peer.status?.trust?.score ?? 0;
    assert.ok(score < 100, `B's score ${score}: a failed run keeps it below 100`);
    await create(a, "pipelineruns", { kind: "PipelineRun", name: "wary", spec: { job: { greeting: "hello" }, placement: { minTrust: 100 }, steps: [{ name: "write", serviceRef: { name: "writer", peer: peerB }, in: { message: "greeting" } }] } });
    const run = await eventually("the run on A waits for B's trust", async () => {
      const r = await runOn(a, "wary");
      return condition(r, "Ready")?.reason === "PeerUntrusted" ? r : undefined;
    }, 60_000, 500);
    assert.equal(condition(run, "Succeeded")?.status, "Unknown", "waiting, not failed");
    assert.match(condition(run, "Ready")?.message ?? "", new RegExp(`has a trust score of \\d+ \\(Peer ${peerB}, status\\.trust\\), below spec\\.placement\\.minTrust 100: nothing is held there`));
    const held = (await objects(b).listNamespacedCustomObject({ ...archipel, plural: "reservations", namespace })) as { items: Reservation[] };
    assert.deepEqual(held.items.filter((r) => r.metadata.name?.includes("-wary-")).map((r) => r.metadata.name), []);
  });
});
