// `make demo-pipeline`: a pipeline across two clusters, on a local federation of two members with
// real nodes and Argo (hack/federation up 2 --node --argo, started unless it is up). Member 2 opens
// its `default` namespace to peers' runs and offers compute capacity and a public service; member 1
// runs a PipelineRun whose first step uses that service and whose second step is its own: member
// 1's orchestrator reserves capacity on member 2 (signed, two-phase), member 2's own Argo runs the
// first step, its output is brought to member 1, whose Argo runs the second step on it. The
// federation is left up; `hack/federation down` stops it. Progress goes to stderr, the final
// status to stdout.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import type { Peer } from "../operators/schema/peer.ts";
import type { PipelineRun } from "../operators/schema/pipelineRun.ts";
import type { Reservation } from "../operators/schema/reservation.ts";

const root = path.resolve(import.meta.dirname, "..");
const federationDir = path.resolve(process.env.FEDERATION_DIR ?? path.join(root, ".federation"));
const archipel = { group: "archipel.io", version: "v1alpha1" } as const;
const namespace = "default";
const image = "archipel.local/cwl-step:dev";
const log = (message: string): void => void process.stderr.write(`demo-pipeline: ${message}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const greeter = {
  cwlVersion: "v1.2",
  class: "CommandLineTool",
  doc: "writes a greeting into a file",
  baseCommand: ["bash", "-c", 'printf "%s, written on $(hostname)\\n" "$0" > greeting.txt'],
  inputs: { message: { type: "string", inputBinding: { position: 1 } } },
  outputs: { out: { type: "File", outputBinding: { glob: "greeting.txt" } } },
};

interface Member {
  name: string;
  kubeconfig: string;
}

function members(): Member[] {
  const file = path.join(federationDir, "state.json");
  if (!existsSync(file)) {
    log("starting a federation of 2 members with nodes and Argo (hack/federation up 2 --node --argo; a few minutes the first time)");
    execFileSync(path.join(root, "hack/federation"), ["up", "2", "--node", "--argo", "--name-prefix", "demo"], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, FEDERATION_DIR: federationDir } });
  }
  const state = JSON.parse(readFileSync(file, "utf8")) as { clusters: Member[]; clusterFlags?: string[] };
  if (!state.clusterFlags?.includes("--argo")) throw new Error(`the federation in ${federationDir} runs without Argo; stop it (hack/federation down) and run make demo-pipeline again`);
  if (state.clusters.length < 2) throw new Error(`the federation in ${federationDir} has ${state.clusters.length} member; 2 are needed`);
  return state.clusters;
}

function clients(m: Member): { objects: CustomObjectsApi; core: CoreV1Api } {
  const kc = new KubeConfig();
  kc.loadFromFile(m.kubeconfig);
  return { objects: kc.makeApiClient(CustomObjectsApi), core: kc.makeApiClient(CoreV1Api) };
}

/** Creates, or leaves alone what a previous demo created. */
async function ensure(create: () => Promise<unknown>): Promise<void> {
  await create().catch((err: { code?: number }) => {
    if (err.code !== 409) throw err;
  });
}

async function offer(m: Member): Promise<void> {
  const { objects, core } = clients(m);
  log(`${m.name}: opening namespace ${namespace} to peers' runs, offering compute capacity and the service "greeter"`);
  await core.patchNamespace({ name: namespace, body: [{ op: "add", path: "/metadata/labels/archipel.io~1peer-runs", value: "true" }] });
  // A reservation's ResourceQuota counts requests: containers that name none (Argo's own) get these.
  await ensure(() => core.createNamespacedLimitRange({ namespace, body: { metadata: { name: "defaults" }, spec: { limits: [{ type: "Container", defaultRequest: { cpu: "50m", memory: "64Mi" }, _default: { cpu: "1", memory: "512Mi" } }] } } }));
  const create = (plural: string, kind: string, name: string, spec: unknown): Promise<void> =>
    ensure(() => objects.createNamespacedCustomObject({ ...archipel, plural, namespace, body: { apiVersion: "archipel.io/v1alpha1", kind, metadata: { name }, spec } }));
  await create("providers", "Provider", "nodes", { type: "compute", compute: { capacity: { cpu: "4", memory: "8Gi" } } });
  await create("providers", "Provider", "tools", { type: "service", service: { defaultImage: image } });
  await create("resources", "Resource", "greeter", { providerRef: { name: "tools" }, type: "service", title: "Greeter", visibility: "public", service: { image, cwl: { document: greeter } } });
  // Its rates: the step it runs for a peer is metered there at them (a UsageRecord for the requester).
  await create("prices", "Price", "tools", { targetRef: { kind: "Provider", name: "tools" }, currency: "EUR", rates: { cpuCoreHour: "0.90", memoryGiBHour: "0.10", perRun: "0.01" }, validFrom: "2026-01-01T00:00:00Z" });
}

const shouter = {
  cwlVersion: "v1.2",
  class: "CommandLineTool",
  doc: "upper-cases a text file",
  baseCommand: ["tr", "a-z", "A-Z"],
  stdin: "$(inputs.text.path)",
  stdout: "shouted.txt",
  inputs: { text: "File" },
  outputs: { shouted: "stdout" },
};

/** Member 1 runs a service of its own on what member 2's step wrote. */
async function offerHere(m: Member): Promise<void> {
  const { objects } = clients(m);
  const create = (plural: string, kind: string, name: string, spec: unknown): Promise<void> =>
    ensure(() => objects.createNamespacedCustomObject({ ...archipel, plural, namespace, body: { apiVersion: "archipel.io/v1alpha1", kind, metadata: { name }, spec } }));
  await create("providers", "Provider", "tools", { type: "service", service: { defaultImage: image } });
  await create("resources", "Resource", "shouter", { providerRef: { name: "tools" }, type: "service", title: "Shouter", visibility: "private", service: { image, cwl: { document: shouter } } });
  // Its rates: the run is quoted for its step here before it starts, and metered after.
  await create("prices", "Price", "tools", { targetRef: { kind: "Provider", name: "tools" }, currency: "EUR", rates: { cpuCoreHour: "1.20", memoryGiBHour: "0.10", perRun: "0.01" }, validFrom: "2026-01-01T00:00:00Z" });
}

type UsageRecordView = { metadata: { name: string }; spec: { pipelineRunRef: { name: string }; step: string; cluster: string; peer?: string; signature?: unknown; received?: { name: string }; cost?: { amount: string; currency: string } }; status?: { conditions?: { type: string; status: string; reason: string }[] } };

/** Who made the record, and whether both sides agree on it (a copy of a peer's record, or one signed for a peer). */
function provenance(u: UsageRecordView): string {
  const agreed = u.status?.conditions?.find((c) => c.type === "Agreed");
  const verdict = agreed ? `, Agreed ${agreed.status} (${agreed.reason})` : "";
  if (u.spec.received) return ` — metered and signed by ${u.spec.cluster}, copy of its record ${u.spec.received.name}${verdict}`;
  return u.spec.signature ? ` — signed for the requester${verdict}` : ` — metered here`;
}

/** The UsageRecords of a member for runs of `run` (here) or made for it (on the peer, by name prefix). */
async function usageLines(m: Member, match: (run: string) => boolean): Promise<string[]> {
  const list = (await clients(m).objects.listNamespacedCustomObject({ ...archipel, plural: "usagerecords", namespace })) as { items: UsageRecordView[] };
  return list.items.filter((u) => match(u.spec.pipelineRunRef.name)).map((u) => `  usage on ${m.name}: step ${u.spec.step}: ${u.spec.cost ? `${u.spec.cost.amount} ${u.spec.cost.currency}` : "not priced"}${provenance(u)}`);
}

async function trustedPeer(from: Member, to: Member): Promise<string> {
  const { objects } = clients(from);
  for (let i = 0; i < 240; i++) {
    const peers = (await objects.listClusterCustomObject({ ...archipel, plural: "peers" })) as { items: Peer[] };
    const p = peers.items.find((x) => x.status?.descriptor?.clusterName === to.name && x.spec.approval === "Accepted" && x.status.conditions?.some((c) => c.type === "DescriptorVerified" && c.status === "True"));
    if (p?.metadata.name) return p.metadata.name;
    await sleep(500);
  }
  throw new Error(`${from.name} does not trust ${to.name} after 2 minutes (kubectl get peers on ${from.name})`);
}

function conditionText(run: PipelineRun, type: string): string {
  const x = run.status?.conditions?.find((k) => k.type === type);
  return x ? `${x.status} (${x.reason}) ${x.message}` : "-";
}

type PeerRunEntry = NonNullable<NonNullable<PipelineRun["status"]>["peerRuns"]>[number];

/** Where the peer ran its part: its run, its Reservation, and the namespace it made for that reservation. */
interface PeerSide {
  reservation?: Reservation;
  workspace?: string;
  workspaceLeft?: boolean;
}

function peerLines(peerRun: PeerRunEntry | undefined, side: PeerSide): string[] {
  if (!peerRun) return [];
  const where = side.workspace ? `  the peer ran its Workflow in ${side.workspace}, the namespace it made for that Reservation (${side.workspaceLeft ? "still there" : "deleted with the reservation"})` : "";
  return [`  on the peer: PipelineRun ${peerRun.namespace}/${peerRun.name ?? "-"}, Reservation ${peerRun.reservation} ${side.reservation?.status?.state ?? ""}`, where];
}

/** The peer's side of the run, as the peer's own API shows it. */
async function peerSide(b: Member, peerRun: PeerRunEntry | undefined): Promise<PeerSide> {
  if (!peerRun) return {};
  const { objects, core } = clients(b);
  const read = (plural: string, name: string | undefined): Promise<unknown> => objects.getNamespacedCustomObject({ ...archipel, plural, namespace: peerRun.namespace, name: name ?? "" }).catch(() => undefined);
  const reservation = (await read("reservations", peerRun.reservation)) as Reservation | undefined;
  const workspace = ((await read("pipelineruns", peerRun.name)) as PipelineRun | undefined)?.status?.workflowRef?.namespace;
  const workspaceLeft = workspace ? (await core.readNamespace({ name: workspace }).catch(() => undefined)) !== undefined : undefined;
  return { ...(reservation ? { reservation } : {}), ...(workspace ? { workspace, workspaceLeft: workspaceLeft === true } : {}) };
}

function quoteLine(s: NonNullable<PipelineRun["status"]>, peerRun: PeerRunEntry | undefined): string {
  if (!s.quote) return "-";
  const peerPart = peerRun?.quote ? `; the peer's part at its rates for us: ${peerRun.quote.amount} ${peerRun.quote.currency}` : "";
  return `${s.quote.amount} ${s.quote.currency} (the whole run, before it started${peerPart})`;
}

function summary(run: PipelineRun, side: PeerSide, cluster: string): string {
  const s = run.status ?? {};
  const peerRun = s.peerRuns?.[0];
  const lines = [
    `PipelineRun ${namespace}/${run.metadata.name} on cluster ${cluster}`,
    `  phase:     ${s.phase ?? "-"}   steps: ${s.progress ?? "-"}`,
    `  Succeeded: ${conditionText(run, "Succeeded")}`,
    `  quote:     ${quoteLine(s, peerRun)}`,
    `  cost:      ${s.cost ? `${s.cost.amount} ${s.cost.currency} (the sum of its UsageRecords here, the peer's copied)` : "-"}`,
    ...(s.steps ?? []).map((x) => `  step ${x.name}: ${x.phase} on cluster ${x.cluster ?? "?"}${x.peer ? ` (Peer ${x.peer})` : ""}; placement: ${x.placement ?? "-"}`),
    ...(s.outputs ?? []).map((o) => `  output ${o.name}: ${o.location ?? o.value ?? ""}`),
    ...peerLines(peerRun, side),
  ];
  return lines.filter((l) => l !== "").join("\n");
}

const succeeded = (run: PipelineRun): string | undefined => run.status?.conditions?.find((c) => c.type === "Succeeded")?.status;

function readyLine(run: PipelineRun): string {
  const ready = run.status?.conditions?.find((c) => c.type === "Ready");
  return `${run.status?.phase ?? "-"} ${ready?.reason ?? ""}: ${ready?.message ?? ""}`;
}

/** Follows the run, printing each change of its Ready condition, until it has ended. */
async function follow(objects: CustomObjectsApi, name: string): Promise<PipelineRun> {
  let last = "";
  for (let i = 0; i < 600; i++) {
    const run = (await objects.getNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name })) as PipelineRun;
    const now = readyLine(run);
    if (now !== last && run.status?.conditions) log(`${name}: ${now}`);
    last = now;
    if (["True", "False"].includes(succeeded(run) ?? "")) return run;
    await sleep(1000);
  }
  throw new Error(`${name} has not ended after 10 minutes`);
}

async function main(): Promise<void> {
  const [a, b] = members() as [Member, Member];
  await offer(b);
  await offerHere(a);
  const peer = await trustedPeer(a, b);
  const name = `demo-${Date.now().toString(36)}`;
  const { objects } = clients(a);
  log(`${a.name}: PipelineRun ${name}: step "greet" placed on ${b.name} (Peer ${peer}), step "shout" here; the greeting crosses`);
  const spec = {
    job: { greeting: "Hello from the federation" },
    steps: [
      { name: "greet", serviceRef: { name: "greeter", peer }, in: { message: "greeting" } },
      { name: "shout", serviceRef: { name: "shouter" }, in: { text: "greet/out" } },
    ],
    outputs: [{ name: "greeting", source: "greet/out" }, { name: "shouted", source: "shout/shouted" }],
  };
  await objects.createNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, body: { apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { name }, spec } });
  const run = await follow(objects, name);
  await sleep(2000);
  const peerRun = run.status?.peerRuns?.[0];
  // The usage controllers meter a step a few seconds after it has finished; A then fetches B's signed record.
  log("waiting for the UsageRecords on both clusters (B's signed record, A's copy and its verdict)");
  let usage: string[] = [];
  for (let i = 0; i < 60; i++) {
    usage = [...(await usageLines(a, (r) => r === name)), ...(await usageLines(b, (r) => r === peerRun?.name))];
    if (usage.filter((l) => l.includes("Agreed True")).length >= 2) break;
    await sleep(1000);
  }
  // Read again: status.cost is written once the records exist.
  const latest = (await objects.getNamespacedCustomObject({ ...archipel, plural: "pipelineruns", namespace, name })) as PipelineRun;
  process.stdout.write(`${[summary(latest, await peerSide(b, peerRun), a.name), ...usage].join("\n")}\n`);
  log(`the federation stays up: KUBECONFIG=${a.kubeconfig} kubectl get pipelineruns.archipel.io -o wide; hack/federation down stops it`);
  process.exitCode = succeeded(run) === "True" ? 0 : 1;
}

main().catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
