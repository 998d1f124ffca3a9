// hack/federation: N local member clusters on loopback, each with its own control plane
// (hack/cluster), kubo node (hack/kubo, all in ONE private network), manager and API server,
// plus each cluster's Identity and Network. The newcomer's demo and the e2e tests' fixture.
// Run through the hack/federation launcher (it picks Node >= 22.19); see `hack/federation help`.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { defaultSystemNamespace } from "../operators/discovery/contracts.ts";
import { present } from "../operators/runtime/present.ts";
import { freePort } from "./lib/ports.ts";
import { deployedApi, deployedManager, emittedAsInTheImage } from "../images/deployedProcess.ts";
import { generateSwarmKey } from "../operators/discovery/swarmKey.ts";
import type { Peer } from "../operators/schema/peer.ts";
import {
  bootstrapFor,
  type Command,
  type ComponentCommand,
  describeMember,
  type FederationState,
  identityObject,
  initialState,
  type MemberState,
  networkObject,
  parseCommand,
  type ProcessInfo,
  swarmKeySecret,
  type UpOptions,
  usage,
  UsageError,
} from "./federation-plan.ts";

const root = path.resolve(import.meta.dirname, "..");
const federationDir = path.resolve(process.env.FEDERATION_DIR ?? path.join(root, ".federation"));
const clustersDir = path.resolve(process.env.CLUSTERS_DIR ?? path.join(root, ".clusters"));
const stateFile = path.join(federationDir, "state.json");
const exec = promisify(execFile);
/** How many members start at once: the machine may have 2 cores shared with others. */
const START_CONCURRENCY = 3;
const STOP_GRACE_MS = 10_000;

class FederationError extends Error {
  override name = "FederationError";
}

const progress = (message: string): void => {
  process.stderr.write(`hack/federation: ${message}\n`);
};

// ---------------------------------------------------------------------------------------------
// Small I/O helpers

/** hack scripts running now: an interrupted `up` stops them before it exits, so none finishes after `down`. */
const running = new Set<ChildProcess>();

async function hack(script: "cluster" | "kubo", args: string[]): Promise<string> {
  const pending = exec(path.join(root, "hack", script), args, { maxBuffer: 1 << 20, timeout: 180_000 });
  running.add(pending.child);
  try {
    return (await pending).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new FederationError(`hack/${script} ${args.join(" ")} failed: ${(e.stderr || e.message).trim()}`, { cause: err });
  } finally {
    running.delete(pending.child);
  }
}

async function stopRunningScripts(): Promise<void> {
  await Promise.all(
    [...running].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(STOP_GRACE_MS)]);
    }),
  );
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after the grace period. */
async function stopPid(pid: number | undefined): Promise<void> {
  if (!alive(pid) || pid === undefined) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + STOP_GRACE_MS;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) process.kill(pid, "SIGKILL");
}

/** Starts a process that outlives this one (own session), output appended to `log`. */
function startDetached(info: Omit<ProcessInfo, "pid">, env: Record<string, string>): number {
  const fd = openSync(info.log, "a");
  try {
    const [command, ...args] = info.argv;
    const child = spawn(command ?? process.execPath, args, { cwd: root, detached: true, stdio: ["ignore", fd, fd], env: { ...process.env, ...env } });
    child.unref();
    if (child.pid === undefined) throw new FederationError(`could not start ${info.argv.join(" ")}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

async function answers(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(2_000) })
    .then((r) => r.ok)
    .catch(() => false);
}

/**
 * A component found its port taken. Ports come from the kernel's ephemeral range (bound to 0, then
 * released), which outbound connections draw from too: with ten clusters starting, one of them
 * sometimes takes a port between its choice and the component's bind. Seen once in a benchmark
 * run of `up 10`; the member's components are started again on other ports.
 */
class PortTaken extends FederationError {}

async function waitHealthy(what: string, url: string, pid: number, log: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!(await answers(url))) {
    const tail = (): string => readFileSync(log, "utf8").split("\n").slice(-15).join("\n");
    if (!alive(pid)) {
      const text = tail();
      throw new (/EADDRINUSE/.test(text) ? PortTaken : FederationError)(`${what} exited before answering ${url}; log ${log}:\n${text}`);
    }
    if (Date.now() > deadline) throw new FederationError(`${what} did not answer ${url} within 90 s; log ${log}:\n${tail()}`);
    await sleep(200);
  }
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i).catch((err: unknown) => errors.push(err));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

// ---------------------------------------------------------------------------------------------
// State

function readState(): FederationState | undefined {
  if (!existsSync(stateFile)) return undefined;
  return JSON.parse(readFileSync(stateFile, "utf8")) as FederationState;
}

function saveState(state: FederationState): void {
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

function requireState(): FederationState {
  const state = readState();
  if (!state) throw new FederationError(`no federation in ${federationDir} (start one with: hack/federation up N)`);
  return state;
}

function memberOf(state: FederationState, name: string): MemberState {
  const m = state.clusters.find((c) => c.name === name);
  if (!m) throw new FederationError(`no member "${name}" in this federation; members: ${state.clusters.map((c) => c.name).join(", ")}`);
  return m;
}

// ---------------------------------------------------------------------------------------------
// up

async function checkNothingRunning(opts: UpOptions, state: FederationState): Promise<void> {
  if (readState()) {
    throw new FederationError(`a federation is already up (or partly up) in ${federationDir}: see 'hack/federation status', or stop it with 'hack/federation down'`);
  }
  for (const m of state.clusters) {
    if (existsSync(path.join(clustersDir, m.name, "cluster.json"))) {
      throw new FederationError(`cluster "${m.name}" already exists and is not part of a federation: 'hack/cluster down ${m.name}' or choose another --name-prefix than "${opts.namePrefix}"`);
    }
  }
}

async function startKubo(state: FederationState, m: MemberState): Promise<void> {
  const out = await hack("kubo", ["up", m.name, "--swarm-key", state.swarmKeyFile, "--host", m.kuboHost]);
  const info = JSON.parse(out) as { apiURL: string; peerId: string; swarmAddrs: string[]; pid: number; repo: string };
  Object.assign(m, { kuboApi: info.apiURL, kuboPeerId: info.peerId, kuboAddrs: info.swarmAddrs });
  m.pids.kubo = info.pid;
  m.logs.kubo = path.join(path.dirname(info.repo), "daemon.log");
  saveState(state);
}

async function startCluster(state: FederationState, m: MemberState): Promise<void> {
  progress(`${m.name}: starting control plane and kubo`);
  await hack("cluster", ["up", m.name, ...(state.clusterFlags ?? [])]);
  await startKubo(state, m);
  progress(`${m.name}: control plane up, kubo ${m.kuboPeerId} at ${m.kuboApi}`);
}

/**
 * With --argo, the manager and API reach the member's artifact repository on loopback, where
 * hack/cluster serves it (pods reach it inside the node's namespace at another address).
 */
function artifactsEndpoint(m: MemberState): Record<string, string> {
  const file = path.join(process.env.S3_DIR ?? path.join(root, ".s3"), `argo-${m.name}`, "s3.json");
  if (!existsSync(file)) return {};
  const { endpoint } = JSON.parse(readFileSync(file, "utf8")) as { endpoint?: string };
  return endpoint ? { ARCHIPEL_ARTIFACTS_S3_ENDPOINT: endpoint } : {};
}

async function launch(state: FederationState, m: MemberState, which: "manager" | "api"): Promise<void> {
  const info = m.processes[which];
  if (!info) throw new FederationError(`${m.name}: no ${which} command recorded`);
  const pid = startDetached(info, { KUBECONFIG: m.kubeconfig, ...artifactsEndpoint(m), ...info.env });
  m.processes[which] = { ...info, pid };
  m.pids[which] = pid;
  saveState(state);
  const url = which === "api" ? `${m.apiUrl}/healthz` : `http://127.0.0.1:${m.ports.health}/readyz`;
  await waitHealthy(`${m.name}'s ${which}`, url, pid, info.log);
}

/**
 * The manager's and the API's scripts: the sources, or with --as-deployed the JavaScript the image
 * holds (emitted once into <dir>/js, beside the checkout's node_modules linked as the image has
 * them) with the Deployments' process tuning.
 */
interface ComponentScript {
  script: string;
  env?: Record<string, string>;
}

interface ComponentScripts {
  manager: ComponentScript;
  api: ComponentScript;
}

async function componentScripts(state: FederationState): Promise<ComponentScripts> {
  if (!state.asDeployed) return { manager: { script: path.join(root, "operators/manager/main.ts") }, api: { script: path.join(root, "operators/api/main.ts") } };
  progress("emitting operators/ as the image holds it (type-stripped JavaScript, the Kubernetes client bundled)");
  const inImage = await emittedAsInTheImage(path.join(state.dir, "js"));
  const [manager, api] = [deployedManager(), deployedApi()];
  return { manager: { script: inImage(manager.script), env: manager.tuning }, api: { script: inImage(api.script), env: api.tuning } };
}

/** Tries for a member's components before a taken port fails `up`. */
const PORT_ATTEMPTS = 3;

async function startComponents(state: FederationState, m: MemberState, scripts: ComponentScripts): Promise<void> {
  mkdirSync(m.dir, { recursive: true, mode: 0o700 });
  for (let attempt = 1; ; attempt++) {
    await recordComponents(m, scripts);
    progress(`${m.name}: starting manager (health :${m.ports.health}) and API (${m.apiUrl})`);
    const started = await Promise.allSettled([launch(state, m, "manager"), launch(state, m, "api")]);
    const failed = started.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    if (failed.length === 0) return;
    if (attempt >= PORT_ATTEMPTS || !failed.every((err) => err instanceof PortTaken)) throw failed[0];
    progress(`${m.name}: a port was taken before the manager or API bound it; starting both again on other ports`);
    await Promise.all([stopPid(m.pids.manager), stopPid(m.pids.api)]);
  }
}

/** Chooses the member's ports and records the manager's and API's command lines. */
async function recordComponents(m: MemberState, { manager, api: apiScript }: ComponentScripts): Promise<void> {
  const [api, metrics, health] = [await freePort(), await freePort(), await freePort()];
  m.ports = { api, metrics, health };
  m.apiUrl = `http://127.0.0.1:${api}`;
  const node = process.execPath;
  // Every member, kubo and backend of a local federation is on loopback over plain HTTP, which
  // the egress policy refuses by default: allow exactly that, as an administrator would.
  const egress = ["--egress-allow-cidrs=127.0.0.0/8,::1/128", "--egress-allow-http-peers=true"];
  const managerArgv = [node, manager.script, "--leader-elect=false", `--metrics-port=${metrics}`, `--health-port=${health}`, ...egress];
  const apiArgv = [node, apiScript.script, "--port", String(api), "--host", "127.0.0.1", "--kubeconfig", m.kubeconfig, ...egress];
  m.logs.manager = path.join(m.dir, "manager.log");
  m.logs.api = path.join(m.dir, "api.log");
  m.processes = { manager: { pid: 0, log: m.logs.manager, argv: managerArgv, ...present({ env: manager.env }) }, api: { pid: 0, log: m.logs.api, argv: apiArgv, ...present({ env: apiScript.env }) } };
}

function isConflict(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === 409;
}

async function createMemberObjects(state: FederationState, m: MemberState, swarmKey: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(m.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  await core.createNamespace({ body: { metadata: { name: defaultSystemNamespace } } }).catch((err: unknown) => {
    if (!isConflict(err)) throw err;
  });
  await core.createNamespacedSecret({ namespace: defaultSystemNamespace, body: swarmKeySecret(state.network, swarmKey) });
  const base = { group: "archipel.io", version: "v1alpha1" };
  await custom.createClusterCustomObject({ ...base, plural: "identities", body: identityObject({ name: m.name, apiUrl: m.apiUrl ?? "" }) });
  const index = state.clusters.indexOf(m);
  const addrs = state.clusters.map((c) => c.kuboAddrs?.[0] ?? "");
  const network = networkObject({ network: state.network, kuboApi: m.kuboApi ?? "", bootstrap: bootstrapFor(index, addrs), approval: state.approval });
  await custom.createClusterCustomObject({ ...base, plural: "networks", body: network });
}

async function up(opts: UpOptions): Promise<void> {
  const started = Date.now();
  const state = initialState(opts, federationDir, clustersDir, new Date(started));
  await checkNothingRunning(opts, state);
  mkdirSync(federationDir, { recursive: true, mode: 0o700 });
  const swarmKey = generateSwarmKey();
  writeFileSync(state.swarmKeyFile, swarmKey, { mode: 0o600 });
  saveState(state); // from here on, `down` knows what to stop
  const interrupted = (): void => {
    progress(`interrupted; stopping the scripts in progress. What started is recorded in ${stateFile}: stop it with 'hack/federation down'`);
    void stopRunningScripts().finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    progress(`starting ${opts.clusters} member(s) ${state.clusters.map((c) => c.name).join(", ")} in private network "${state.network}" (approval ${opts.approval})`);
    await mapLimit(state.clusters, START_CONCURRENCY, (m) => startCluster(state, m));
    const scripts = await componentScripts(state);
    await mapLimit(state.clusters, START_CONCURRENCY, (m) => startComponents(state, m, scripts));
    progress("creating each cluster's Identity and Network");
    await mapLimit(state.clusters, START_CONCURRENCY, (m) => createMemberObjects(state, m, swarmKey));
  } catch (err) {
    saveState(state);
    const message = err instanceof Error ? err.message : String(err);
    throw new FederationError(`up failed: ${message}\nWhat started is recorded in ${stateFile}; stop it with 'hack/federation down'.`, { cause: err });
  }
  state.networksCreatedAt = new Date().toISOString();
  state.phase = "up";
  saveState(state);
  progress(`federation up in ${((Date.now() - started) / 1000).toFixed(1)} s; state in ${stateFile}`);
  for (const m of state.clusters) process.stdout.write(`${describeMember(m)}\n`);
}

// ---------------------------------------------------------------------------------------------
// down, status, stop/start one component

async function down(): Promise<void> {
  const state = readState();
  if (!state) {
    progress(`no federation in ${federationDir}; nothing to stop`);
    return;
  }
  progress(`stopping ${state.clusters.map((c) => c.name).join(", ")}`);
  await Promise.all(state.clusters.flatMap((m) => [stopPid(m.pids.manager), stopPid(m.pids.api)]));
  // Every member at once: each hack script waits for its own processes to exit (up to 10 s).
  const report = (m: MemberState) => (err: unknown) => progress(`${m.name}: ${(err as Error).message}`);
  await Promise.all(
    state.clusters.map(async (m) => {
      await hack("kubo", ["down", m.name]).catch(report(m));
      await hack("cluster", ["down", m.name]).catch(report(m));
    }),
  );
  // Only what up wrote: test fixtures keep their own federations in subdirectories.
  for (const m of state.clusters) rmSync(m.dir, { recursive: true, force: true });
  rmSync(state.swarmKeyFile, { force: true });
  rmSync(path.join(state.dir, "js"), { recursive: true, force: true });
  rmSync(stateFile, { force: true });
  if (readdirSync(federationDir).length === 0) rmSync(federationDir, { recursive: true, force: true });
  progress("federation stopped and its state deleted");
}

async function memberHealth(m: MemberState): Promise<{ line: string; ok: boolean }> {
  const cluster = await hack("cluster", ["status", m.name]).then(() => true, () => false);
  const kubo = m.kuboApi !== undefined && (await fetch(`${m.kuboApi}/api/v0/id`, { method: "POST", signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false));
  const manager = alive(m.pids.manager) && (await answers(`http://127.0.0.1:${m.ports.health}/readyz`));
  const api = alive(m.pids.api) && (await answers(`${m.apiUrl}/healthz`));
  const word = (ok: boolean): string => (ok ? "up" : "DOWN");
  return {
    ok: cluster && kubo && manager && api,
    line: `  control plane ${word(cluster)}, kubo ${word(kubo)}, manager ${word(manager)}, API ${word(api)}`,
  };
}

/** "fed-2 Connected/Accepted, …": what this member's Peers of the federation's network say. */
async function peerSummary(state: FederationState, m: MemberState): Promise<string> {
  const kc = new KubeConfig();
  kc.loadFromFile(m.kubeconfig);
  const list = (await kc
    .makeApiClient(CustomObjectsApi)
    .listClusterCustomObject({ group: "archipel.io", version: "v1alpha1", plural: "peers" })) as { items: Peer[] };
  const peers = list.items.filter((p) => p.spec?.networkRef?.name === state.network);
  if (peers.length === 0) return "  peers: none yet";
  const describe = (p: Peer): string => `${p.status?.descriptor?.clusterName ?? p.spec.peerId} ${p.status?.reachability ?? "?"}/${p.spec.approval}`;
  return `  peers: ${peers.map(describe).join(", ")}`;
}

async function status(): Promise<number> {
  const state = requireState();
  process.stdout.write(`federation "${state.network}" (${state.phase}, approval ${state.approval}) in ${state.dir}\n`);
  let allUp = state.phase === "up";
  for (const m of state.clusters) {
    const health = await memberHealth(m);
    allUp &&= health.ok;
    const peers = await peerSummary(state, m).catch((err: unknown) => `  peers: cannot be listed (${(err as Error).message})`);
    process.stdout.write(`${describeMember(m)}\n${health.line}\n${peers}\n`);
  }
  return allUp ? 0 : 1;
}

async function component(cmd: ComponentCommand): Promise<void> {
  const state = requireState();
  const m = memberOf(state, cmd.cluster);
  if (cmd.component === "kubo") {
    if (cmd.command === "stop") {
      await hack("kubo", ["stop", m.name]);
      delete m.pids.kubo;
      saveState(state);
    } else await startKubo(state, m);
  } else if (cmd.command === "stop") {
    await stopPid(m.pids[cmd.component]);
    delete m.pids[cmd.component];
    saveState(state);
  } else {
    if (alive(m.pids[cmd.component])) throw new FederationError(`${m.name}'s ${cmd.component} is already running (pid ${m.pids[cmd.component]})`);
    await launch(state, m, cmd.component);
  }
  progress(`${m.name}: ${cmd.component} ${cmd.command === "stop" ? "stopped" : "started"}`);
}

async function main(command: Command): Promise<number> {
  switch (command.command) {
    case "up":
      await up(command);
      return 0;
    case "down":
      await down();
      return 0;
    case "status":
      return status();
    case "stop":
    case "start":
      await component(command);
      return 0;
    case "help":
      process.stdout.write(`${usage}\n`);
      return 0;
  }
}

function fail(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`hack/federation: ${err.message}\n`);
    return 2;
  }
  process.stderr.write(`hack/federation: ${err instanceof FederationError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}

try {
  process.exitCode = await main(parseCommand(process.argv.slice(2)));
} catch (err) {
  process.exitCode = fail(err);
}
