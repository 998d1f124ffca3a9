// Component processes (manager, API) started as the user would start them, for e2e and
// integration tests that must kill and restart them.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { repoRoot } from "./cluster.ts";
import { loopbackEgressEnv } from "./egress.ts";

import { freePort } from "../../hack/lib/ports.ts";

export { freePort };

export interface ComponentProcess {
  name: string;
  logFile: string;
  child: ChildProcess;
  /** Sends the signal (default SIGTERM) and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs `node <script> ...args` from the repository root; output goes to logDir/<name>.log.
 * Components may reach loopback (the test servers) unless `opts.env` says otherwise.
 */
export async function startComponent(
  name: string,
  script: string,
  args: string[],
  opts: { env?: Record<string, string>; logDir: string },
): Promise<ComponentProcess> {
  await mkdir(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(process.execPath, [path.join(repoRoot, script), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...loopbackEgressEnv, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    name,
    logFile,
    child,
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Polls an HTTP URL until it answers 2xx. */
export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 2xx within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The manager (operators/manager/main.ts) as a process: `controllers` only, acting as the identity
 * of `kubeconfigPath`, for one namespace or (without `namespace`) all of them; its metrics and
 * health on free ports. Resolves once /readyz answers; otherwise it is stopped and the error names
 * its log.
 */
export async function startManager(name: string, opts: { controllers: string; kubeconfigPath: string; namespace?: string; logDir: string }): Promise<ComponentProcess> {
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const scope = opts.namespace ? [`--namespace=${opts.namespace}`] : [];
  const manager = await startComponent(
    name,
    "operators/manager/main.ts",
    [`--controllers=${opts.controllers}`, ...scope, "--leader-elect=false", `--metrics-port=${metricsPort}`, `--health-port=${healthPort}`],
    { env: { KUBECONFIG: opts.kubeconfigPath, POD_NAME: name, LOG_LEVEL: "debug" }, logDir: opts.logDir },
  );
  try {
    await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, 60_000);
  } catch (err) {
    await manager.stop();
    throw new Error(`${(err as Error).message}; see ${manager.logFile}`, { cause: err });
  }
  return manager;
}
