// hack/federation itself, as a newcomer uses it: a second `up` is refused with a clear error,
// `status` tells a stopped component, and `down` stops everything — also after an `up` that was
// interrupted half-way.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";
import { readFederationState } from "../support/federation.ts";

const run = promisify(execFile);
const script = path.join(repoRoot, "hack/federation");
const dir = path.join(repoRoot, ".federation", `test-script-${process.pid}`);
const env = { ...process.env, FEDERATION_DIR: dir };

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function federation(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(script, args, { env, timeout: 300_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
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

describe("hack/federation (the local federation script)", function () {
  this.timeout(240_000);
  after(async function () {
    this.timeout(120_000);
    await federation("down");
  });

  it("refuses a second up, reports a stopped component in status, and stops everything on down", async () => {
    const up = await federation("up", "1", "--name-prefix", `fscript-${process.pid}`);
    assert.equal(up.code, 0, up.stderr);
    const name = `fscript-${process.pid}-1`;
    assert.ok(up.stdout.startsWith(`${name}\n  kubeconfig: ${path.join(repoRoot, ".clusters", name, "kubeconfig")}\n  API:        http://127.0.0.1:`), up.stdout);
    assert.match(up.stderr, /federation up in/);
    const state = await readFederationState(dir);
    const member = state.clusters[0]!;
    assert.equal(state.phase, "up");
    assert.ok(member.apiUrl && member.kuboApi && member.pids.manager && member.pids.api && member.pids.kubo);

    const again = await federation("up", "2", "--name-prefix", `fscript-${process.pid}`);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /a federation is already up .*hack\/federation down/);

    assert.equal((await federation("status")).code, 0);
    assert.equal((await federation("stop", name, "api")).code, 0);
    const degraded = await federation("status");
    assert.equal(degraded.code, 1);
    assert.match(degraded.stdout, /API DOWN/);
    assert.equal((await federation("start", name, "api")).code, 0);
    assert.equal((await federation("status")).code, 0);

    const pids = (await readFederationState(dir)).clusters[0]!.pids;
    const down = await federation("down");
    assert.equal(down.code, 0, down.stderr);
    for (const pid of [pids.manager, pids.api, pids.kubo]) assert.ok(!alive(pid), `pid ${pid} still runs`);
    assert.ok(!existsSync(path.join(repoRoot, ".clusters", name)));
    assert.ok(!existsSync(path.join(dir, "state.json")));
  });

  it("down after an interrupted up stops what had started", async () => {
    const child = spawn(script, ["up", "2", "--name-prefix", `fpart-${process.pid}`], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    // Interrupt once some control plane is up (its kubo is being started).
    await eventually("a member's control plane up", async () => /control plane up/.test(stderr), 120_000, 100);
    child.kill("SIGINT");
    await exited;
    const state = await readFederationState(dir);
    assert.equal(state.phase, "starting");
    const down = await federation("down");
    assert.equal(down.code, 0, down.stderr);
    for (const name of [`fpart-${process.pid}-1`, `fpart-${process.pid}-2`]) {
      assert.ok(!existsSync(path.join(repoRoot, ".clusters", name)), `${name} left behind`);
      assert.ok(!existsSync(path.join(repoRoot, ".kubo", name)), `${name}'s kubo left behind`);
    }
    for (const m of state.clusters) for (const pid of Object.values(m.pids)) assert.ok(!alive(pid), `pid ${pid} still runs`);
  });
});
