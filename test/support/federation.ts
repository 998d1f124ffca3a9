// Test fixture: a local federation started and stopped through hack/federation (the script a
// newcomer runs), so e2e tests and benchmarks never re-implement it. Each test prefix gets its
// own state directory (.federation/test-<prefix>-<pid>/) and cluster names, so a developer's
// demo federation in .federation/ and a concurrent test run on the same machine are left alone.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { Approval, ComponentName, FederationState, MemberState } from "../../hack/federation-plan.ts";
import { attachCluster, repoRoot, type TestCluster } from "./cluster.ts";

export type { Approval, ComponentName, FederationState, MemberState } from "../../hack/federation-plan.ts";

const run = promisify(execFile);
const script = path.join(repoRoot, "hack/federation");

export interface FederationOptions {
  clusters: number;
  /** The Networks' approvalPolicy (default auto). */
  approval?: Approval;
  /**
   * Unique per test file; this process's pid is appended (clusters are <namePrefix>-<pid>-1..N,
   * the Network is <namePrefix>-<pid>), so two runs on one machine never touch each other's.
   */
  namePrefix: string;
  /** A real node for every member (hack/cluster --node), and Argo Workflows on it (--argo). */
  node?: boolean;
  argo?: boolean;
  /** Managers and APIs as their Deployments run them (hack/federation --as-deployed): the benchmarks' figures. */
  asDeployed?: boolean;
  /** State directory; default .federation/test-<namePrefix>. */
  dir?: string;
}

export interface FederationMember extends MemberState {
  apiUrl: string;
  kuboApi: string;
  kuboPeerId: string;
  /** The member's control plane, as the admin or a test user. */
  cluster: TestCluster;
}

export interface Federation {
  dir: string;
  state: FederationState;
  members: FederationMember[];
  member(name: string): FederationMember;
  /** `hack/federation stop|start CLUSTER COMPONENT`, then the state is read again. */
  stopComponent(cluster: string, component: ComponentName): Promise<void>;
  startComponent(cluster: string, component: ComponentName): Promise<void>;
  /** `hack/federation down`: stops everything up started. */
  stop(): Promise<void>;
}

async function federation(dir: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(script, args, { env: { ...process.env, FEDERATION_DIR: dir }, maxBuffer: 4 << 20, timeout: 600_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`hack/federation ${args.join(" ")} failed: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}

/** The state hack/federation wrote in `dir` (default .federation/). */
export async function readFederationState(dir = path.join(repoRoot, ".federation")): Promise<FederationState> {
  return JSON.parse(await readFile(path.join(dir, "state.json"), "utf8")) as FederationState;
}

async function membersOf(state: FederationState): Promise<FederationMember[]> {
  return Promise.all(
    state.clusters.map(async (m) => {
      if (!m.apiUrl || !m.kuboApi || !m.kuboPeerId) throw new Error(`federation member ${m.name} is not fully started (see ${state.dir})`);
      return { ...m, apiUrl: m.apiUrl, kuboApi: m.kuboApi, kuboPeerId: m.kuboPeerId, cluster: await attachCluster(m.name) };
    }),
  );
}

/** A Federation handle over the state in `dir` (one that is already up). */
export async function attachFederation(dir: string): Promise<Federation> {
  const fed: Federation = {
    dir,
    state: await readFederationState(dir),
    members: [],
    member: (name) => {
      const m = fed.members.find((x) => x.name === name);
      if (!m) throw new Error(`no member ${name} in the federation`);
      return m;
    },
    stopComponent: async (cluster, component) => {
      await federation(dir, ["stop", cluster, component]);
      fed.state = await readFederationState(dir);
      fed.members = await membersOf(fed.state);
    },
    startComponent: async (cluster, component) => {
      await federation(dir, ["start", cluster, component]);
      fed.state = await readFederationState(dir);
      fed.members = await membersOf(fed.state);
    },
    stop: async () => {
      await federation(dir, ["down"]);
    },
  };
  fed.members = await membersOf(fed.state);
  return fed;
}

/**
 * `hack/federation up N` in the test's own state directory; resolves when every member's
 * control plane, kubo, manager and API answer and each has its Identity and Network.
 * A failed start is stopped again before the error is thrown.
 */
export async function startFederation(options: FederationOptions): Promise<Federation> {
  const prefix = `${options.namePrefix}-${process.pid}`;
  const dir = options.dir ?? path.join(repoRoot, ".federation", `test-${prefix}`);
  if (existsSync(path.join(dir, "state.json"))) await federation(dir, ["down"]);
  const args = ["up", String(options.clusters), "--approval", options.approval ?? "auto", "--name-prefix", prefix, ...(options.node || options.argo ? ["--node"] : []), ...(options.argo ? ["--argo"] : []), ...(options.asDeployed ? ["--as-deployed"] : [])];
  try {
    await federation(dir, args);
    return await attachFederation(dir);
  } catch (err) {
    await federation(dir, ["down"]).catch(() => undefined);
    throw err;
  }
}
