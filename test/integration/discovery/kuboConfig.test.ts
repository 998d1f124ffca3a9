// The managed-mode init script (kuboConfig.containerInitScript) run by the real kubo CLI on a
// fresh repo yields exactly the config hack/kubo writes with applySettings — so the settings
// the integration tests exercise are the ones a managed StatefulSet gets.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { applySettings, containerInitScript, privateNetworkSettings } from "../../../operators/discovery/kuboConfig.ts";
import { repoRoot } from "../../support/cluster.ts";

const run = promisify(execFile);

describe("discovery: kubo settings through the real ipfs CLI", function () {
  this.timeout(60_000);
  let dir = "";

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "archipel-kubo-config-"));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("the container init script and applySettings produce the same config", async () => {
    const env = { ...process.env, IPFS_PATH: path.join(dir, "repo"), IPFS_TELEMETRY: "off", PATH: `${path.join(repoRoot, "bin")}:${process.env.PATH ?? ""}` };
    await run("ipfs", ["init", "--empty-repo"], { env });
    const initial = JSON.parse(await readFile(path.join(dir, "repo/config"), "utf8")) as Record<string, unknown>;
    const settings = privateNetworkSettings({ apiAddr: "/ip4/0.0.0.0/tcp/5001", swarmAddrs: ["/ip4/0.0.0.0/tcp/4001"], pubsub: true });
    const script = path.join(dir, "init.sh");
    await writeFile(script, containerInitScript(settings), { mode: 0o755 });
    await run("sh", [script], { env, timeout: 50_000 });
    const viaCli = JSON.parse(await readFile(path.join(dir, "repo/config"), "utf8")) as Record<string, unknown>;
    assert.deepEqual(viaCli, applySettings(initial, settings));
  });
});
