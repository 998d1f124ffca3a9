// The pure half of hack/federation: command-line parsing, names, the state file's shape, and the
// Identity / Network / Secret objects each member cluster gets. No I/O: hack/federation.ts does
// the starting and stopping, test/support/federation.ts reads the state this describes.
import { createHash } from "node:crypto";
import { defaultSystemNamespace, swarmKeyField } from "../operators/discovery/contracts.ts";

export const approvalChoices = ["auto", "manual"] as const;
export type Approval = (typeof approvalChoices)[number];

export const MAX_CLUSTERS = 20;
/** The one Identity per cluster is named like config/samples' (cluster-scoped singleton by convention). */
export const identityObjectName = "self";

export class UsageError extends Error {
  override name = "UsageError";
}

export interface UpOptions {
  command: "up";
  clusters: number;
  approval: Approval;
  namePrefix: string;
  /** hack/cluster flags for every member: a real node, Argo Workflows on it. */
  clusterFlags: ("--node" | "--argo")[];
  /** Run each manager and API as its Deployment does: the image's JavaScript, the container's V8 and malloc settings. */
  asDeployed: boolean;
}

export type Command = UpOptions | { command: "down" } | { command: "status" } | ComponentCommand | { command: "help" };

export const componentNames = ["manager", "api", "kubo"] as const;
export type ComponentName = (typeof componentNames)[number];

/** `stop|start CLUSTER COMPONENT`: what e2e tests use to take one member's part down and up. */
export interface ComponentCommand {
  command: "stop" | "start";
  cluster: string;
  component: ComponentName;
}

export const usage = `usage:
  hack/federation up N [--approval auto|manual] [--name-prefix fed] [--node] [--argo] [--as-deployed]
                               start N local clusters <prefix>-1..N, one kubo each in ONE private
                               network, each cluster's manager and API; create each cluster's
                               Identity and Network; print name, kubeconfig, API and kubo URLs;
                               --node gives each cluster a real node, --argo Argo Workflows too;
                               --as-deployed runs managers and APIs as their Deployments do (the
                               image's JavaScript, its NODE_OPTIONS and MALLOC_ARENA_MAX)
  hack/federation down         stop everything 'up' started (also after a partial 'up')
  hack/federation status       what runs; exit 1 when a part of the federation is down
  hack/federation stop CLUSTER manager|api|kubo
  hack/federation start CLUSTER manager|api|kubo
                               stop / start again one member's component (same ports, identity)
State: FEDERATION_DIR (default .federation/): state.json, swarm.key, <cluster>/ logs and pids.`;

const prefixPattern = /^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$/;

function parseCount(text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || n < 1 || n > MAX_CLUSTERS) {
    throw new UsageError(`up: N must be a whole number from 1 to ${MAX_CLUSTERS}, got ${JSON.stringify(text ?? "")}\n${usage}`);
  }
  return n;
}

function flagValue(args: string[], i: number, flag: string): string {
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
  return v;
}

const clusterFlagChoices = new Set<string>(["--node", "--argo"]);

/** Applies one flag at args[i]; returns how many extra arguments it took (0 or 1). */
function applyUpFlag(options: UpOptions, args: string[], i: number): number {
  const arg = args[i] ?? "";
  const [flag, inline] = arg.split("=", 2) as [string, string | undefined];
  if (flag === "--approval" || flag === "--name-prefix") {
    const value = inline ?? flagValue(args, i, flag);
    if (flag === "--approval") options.approval = parseApproval(value);
    else options.namePrefix = parsePrefix(value);
    return inline === undefined ? 1 : 0;
  }
  if (arg === "--as-deployed") {
    options.asDeployed = true;
    return 0;
  }
  if (!clusterFlagChoices.has(arg)) throw new UsageError(`up: unknown flag ${arg}\n${usage}`);
  const clusterFlag = arg as "--node" | "--argo";
  if (!options.clusterFlags.includes(clusterFlag)) options.clusterFlags.push(clusterFlag);
  return 0;
}

function parseUp(args: string[]): UpOptions {
  const options: UpOptions = { command: "up", clusters: 0, approval: "auto", namePrefix: "fed", clusterFlags: [], asDeployed: false };
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg.startsWith("--")) i += applyUpFlag(options, args, i);
    else positionals.push(arg);
  }
  if (positionals.length !== 1) throw new UsageError(`up takes exactly one N (number of clusters)\n${usage}`);
  options.clusters = parseCount(positionals[0]);
  return options;
}

function parseApproval(value: string): Approval {
  if (!(approvalChoices as readonly string[]).includes(value)) throw new UsageError(`--approval must be auto or manual, got "${value}"`);
  return value as Approval;
}

function parsePrefix(value: string): string {
  if (!prefixPattern.test(value)) {
    throw new UsageError(`--name-prefix "${value}" must be 1-30 lower-case letters, digits and '-', starting with a letter`);
  }
  return value;
}

function parseComponent(command: "stop" | "start", args: string[]): ComponentCommand {
  const [cluster, component] = args;
  if (args.length !== 2 || cluster === undefined || !(componentNames as readonly string[]).includes(component ?? "")) {
    throw new UsageError(`${command} takes CLUSTER and one of ${componentNames.join(", ")}\n${usage}`);
  }
  return { command, cluster, component: component as ComponentName };
}

const helpWords = new Set(["help", "--help", "-h"]);

export function parseCommand(argv: string[]): Command {
  const [command, ...rest] = argv;
  if (command === "up") return parseUp(rest);
  if (command === "stop" || command === "start") return parseComponent(command, rest);
  if (command === "down" || command === "status") {
    if (rest.length > 0) throw new UsageError(`${command} takes no arguments (it acts on FEDERATION_DIR's state)`);
    return { command };
  }
  if (helpWords.has(command ?? "help")) return { command: "help" };
  throw new UsageError(`unknown command "${command}"\n${usage}`);
}

export function clusterNames(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);
}

/**
 * Each member's kubo listens on a loopback IP of its own (127.88.X.i), so that address filters
 * (a Rejected peer) can tell the nodes apart; X comes from the prefix so two federations with
 * different prefixes do not share IPs.
 */
export function kuboHost(prefix: string, index: number): string {
  const x = createHash("sha256").update(prefix).digest()[0] ?? 0;
  return `127.88.${x}.${index + 1}`;
}

/** Bootstrap of member `index`: the first node's address; the first node itself joins through the second. */
export function bootstrapFor(index: number, multiaddrs: readonly string[]): string[] {
  const via = index === 0 ? multiaddrs[1] : multiaddrs[0];
  return via === undefined ? [] : [via];
}

export interface ProcessInfo {
  pid: number;
  log: string;
  /** The command line that started it (node + script + args), so `start` can run it again. */
  argv: string[];
  /** Variables it was started with besides the cluster's (--as-deployed: the container's process tuning). */
  env?: Record<string, string>;
}

export interface MemberState {
  name: string;
  kubeconfig: string;
  /** The member's own directory under FEDERATION_DIR (logs, pids). */
  dir: string;
  apiUrl?: string;
  kuboApi?: string;
  kuboPeerId?: string;
  /** Full multiaddrs (…/p2p/<peer ID>) of the member's kubo swarm. */
  kuboAddrs?: string[];
  kuboHost: string;
  ports: { api?: number; metrics?: number; health?: number };
  pids: { manager?: number; api?: number; kubo?: number };
  logs: { manager?: string; api?: string; kubo?: string; cluster?: string };
  processes: { manager?: ProcessInfo; api?: ProcessInfo };
}

export interface FederationState {
  version: 1;
  dir: string;
  namePrefix: string;
  /** The Network's object name in every member cluster. */
  network: string;
  approval: Approval;
  clusterFlags: ("--node" | "--argo")[];
  /** Managers and APIs run as deployed (up --as-deployed), from the JavaScript emitted in <dir>/js. */
  asDeployed?: boolean;
  swarmKeyFile: string;
  /** "starting" while up runs; "up" once every member answered and has its Identity and Network. */
  phase: "starting" | "up";
  startedAt: string;
  /** When the last Network object was created (peers may only be found after it). */
  networksCreatedAt?: string;
  clusters: MemberState[];
}

export function initialState(opts: UpOptions, dir: string, clustersDir: string, now: Date): FederationState {
  return {
    version: 1,
    dir,
    namePrefix: opts.namePrefix,
    network: opts.namePrefix,
    approval: opts.approval,
    clusterFlags: opts.clusterFlags,
    ...(opts.asDeployed ? { asDeployed: true } : {}),
    swarmKeyFile: `${dir}/swarm.key`,
    phase: "starting",
    startedAt: now.toISOString(),
    clusters: clusterNames(opts.namePrefix, opts.clusters).map((name, i) => ({
      name,
      kubeconfig: `${clustersDir}/${name}/kubeconfig`,
      dir: `${dir}/${name}`,
      kuboHost: kuboHost(opts.namePrefix, i),
      ports: {},
      pids: {},
      logs: { cluster: `${clustersDir}/${name}/logs` },
      processes: {},
    })),
  };
}

const apiVersion = "archipel.io/v1alpha1";

export function swarmKeySecretName(network: string): string {
  return `${network}-swarm-key`.slice(0, 253);
}

export function swarmKeySecret(network: string, swarmKey: string): object {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: swarmKeySecretName(network), namespace: defaultSystemNamespace, labels: { "archipel.io/network": network } },
    type: "Opaque",
    stringData: { [swarmKeyField]: swarmKey },
  };
}

export function identityObject(member: { name: string; apiUrl: string }): object {
  return {
    apiVersion,
    kind: "Identity",
    metadata: { name: identityObjectName },
    spec: { clusterName: member.name, displayName: `Local cluster ${member.name}`, apiEndpoint: member.apiUrl },
  };
}

export function networkObject(input: { network: string; kuboApi: string; bootstrap: string[]; approval: Approval }): object {
  return {
    apiVersion,
    kind: "Network",
    metadata: { name: input.network },
    spec: {
      displayName: `Local federation ${input.network}`,
      swarmKeySecretRef: { namespace: defaultSystemNamespace, name: swarmKeySecretName(input.network) },
      ...(input.bootstrap.length > 0 ? { bootstrap: input.bootstrap } : {}),
      ipfs: { mode: "external", apiURL: input.kuboApi },
      approvalPolicy: input.approval,
    },
  };
}

/** The lines `up` and `status` print per member. */
export function describeMember(m: MemberState): string {
  return [
    `${m.name}`,
    `  kubeconfig: ${m.kubeconfig}`,
    `  API:        ${m.apiUrl ?? "(not started)"}`,
    `  kubo RPC:   ${m.kuboApi ?? "(not started)"}${m.kuboPeerId ? `  peer ${m.kuboPeerId}` : ""}`,
  ].join("\n");
}
