// Test fixtures: real kubo daemons in a private network on loopback (hack/kubo), one per name.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { generateSwarmKey } from "../../operators/discovery/swarmKey.ts";
import { repoRoot } from "./cluster.ts";
import { eventually } from "./eventually.ts";

const run = promisify(execFile);
const kuboScript = path.join(repoRoot, "hack/kubo");

export interface TestKubo {
  name: string;
  /** RPC API, e.g. http://127.0.0.1:40123 (always 127.0.0.1). */
  apiURL: string;
  peerId: string;
  /** Full multiaddrs (…/p2p/<peerId>) other nodes dial. */
  swarmAddrs: string[];
  /** The loopback IP the swarm listens on (distinct per node, so address filters can tell nodes apart). */
  host: string;
  /** Milliseconds `hack/kubo up` took, init included (the last start or restart). */
  startMs: number;
  /** Stops the daemon and deletes its state. */
  stop(): Promise<void>;
  /** Stops the daemon, keeping identity, ports, key and data (a node going down). */
  halt(): Promise<void>;
  /** Stops (if running) and starts again with the same identity and addresses. */
  restart(): Promise<void>;
  /**
   * SIGSTOP the daemon (a hung or partitioned node whose connections stay open), resolving once
   * every one of its threads is stopped: the kernel stops them asynchronously, and a CI run saw
   * a frozen node still answer the ping sent right after kill() returned.
   */
  freeze(): Promise<void>;
  thaw(): void;
}

interface KuboJson {
  name: string;
  apiURL: string;
  peerId: string;
  swarmAddrs: string[];
  startMs: number;
  pid: number;
}

let hostCounter = 0;

/** A loopback IP of its own for each node started by this process (127.77.x.y). */
function nextHost(): string {
  const n = ((process.pid % 200) * 250 + hostCounter++) % 62_500;
  return `127.77.${Math.floor(n / 250)}.${(n % 250) + 2}`;
}

async function hackKubo(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(kuboScript, args, { maxBuffer: 1 << 20, timeout: 120_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`hack/kubo ${args.join(" ")} failed: ${e.stderr || e.message}`, { cause: err });
  }
}

/** A new swarm key file's text (the same format hack/kubo swarm-key prints). */
export function newSwarmKey(): string {
  return generateSwarmKey();
}

/** Starts (init + daemon) kubo node `name` in the private network of `swarmKey` (file text). */
export async function startKubo(name: string, swarmKey: string, options: { pubsub?: boolean } = {}): Promise<TestKubo> {
  const dir = await mkdtemp(path.join(tmpdir(), "archipel-swarm-key-"));
  const keyFile = path.join(dir, "swarm.key");
  const host = nextHost();
  let info: KuboJson;
  try {
    await writeFile(keyFile, swarmKey, { mode: 0o600 });
    info = JSON.parse(await hackKubo(["up", name, "--swarm-key", keyFile, "--host", host, "--pubsub", options.pubsub === false ? "off" : "on"])) as KuboJson;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  let pid = info.pid;
  const node: TestKubo = {
    name,
    apiURL: info.apiURL,
    peerId: info.peerId,
    swarmAddrs: info.swarmAddrs,
    host,
    startMs: info.startMs,
    stop: async () => {
      try {
        process.kill(pid, "SIGCONT"); // a frozen daemon cannot handle SIGTERM
      } catch {
        // already gone
      }
      await hackKubo(["down", name]);
    },
    halt: async () => {
      await hackKubo(["stop", name]);
    },
    restart: async () => {
      await hackKubo(["stop", name]);
      const again = JSON.parse(await hackKubo(["up", name])) as KuboJson;
      node.startMs = again.startMs;
      pid = again.pid;
    },
    freeze: async () => {
      process.kill(pid, "SIGSTOP");
      await eventually(`kubo ${name} (pid ${pid}) stopped`, () => allThreadsStopped(pid), 5_000, 20);
    },
    thaw: () => process.kill(pid, "SIGCONT"),
  };
  return node;
}

/** True when every thread of `pid` is in state T (stopped); /proc/PID/task/TID/stat's third field. */
async function allThreadsStopped(pid: number): Promise<boolean> {
  const threads = await readdir(`/proc/${pid}/task`);
  for (const tid of threads) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, "utf8").catch(() => "");
    // "TID (comm) S …": comm may hold spaces or parentheses, so read after the last ")".
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (stat !== "" && state !== "T") return false;
  }
  return true;
}

export { eventually };
