// hack/images end to end: reproducible builds, and the images imported into (and run by) the
// containerd hack/build-tools builds, started with a private root, state and socket inside a
// private mount + network namespace (docs/decisions/node-runtime.md), as a node would run it.
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "../../support/cluster.ts";
import { eventually } from "../../support/eventually.ts";
import { translate } from "../../../operators/pipeline/argo/translate.ts";
import { loadProcess } from "../../../operators/pipeline/cwl/load.ts";

const images = path.join(repoRoot, "hack", "images");
const bin = (name: string): string => path.join(repoRoot, "bin", name);

function hackImages(args: string[], env: Record<string, string> = {}): void {
  try {
    execFileSync(images, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8", maxBuffer: 16 << 20 });
  } catch (err) {
    throw new Error(`hack/images ${args.join(" ")} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`, { cause: err });
  }
}

/** hack/images' progress lines (it prints them on stderr). */
function progressOf(args: string[], env: Record<string, string>): string {
  return execFileSync("bash", ["-c", `"$0" "$@" 2>&1 >/dev/null`, images, ...args], { env: { ...process.env, ...env }, encoding: "utf8" });
}

function sha256File(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

function manifestDigest(out: string, name: string): string {
  return (JSON.parse(readFileSync(path.join(out, `${name}.json`), "utf8")) as { manifestDigest: string }).manifestDigest;
}

describe("hack/images", function () {
  this.timeout(600_000);
  const scratch = mkdtempSync(path.join(tmpdir(), "archipel-images-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("builds pause twice from empty caches into byte-identical layouts, and a new SOURCE_DATE_EPOCH into another digest", () => {
    const run = (n: string, epoch = "0"): string => {
      const out = path.join(scratch, `out-${n}`);
      hackImages(["build", "pause"], { ARCHIPEL_IMAGES_CACHE: path.join(scratch, `cache-${n}`), ARCHIPEL_IMAGES_OUT: out, SOURCE_DATE_EPOCH: epoch });
      return out;
    };
    const [a, b, c] = [run("a"), run("b"), run("c", "1700000000")];
    assert.equal(manifestDigest(a, "pause"), manifestDigest(b, "pause"));
    assert.equal(sha256File(path.join(a, "pause.tar")), sha256File(path.join(b, "pause.tar")));
    assert.notEqual(manifestDigest(a, "pause"), manifestDigest(c, "pause"));
  });

  it("rebuilds nothing when no input changed", () => {
    const env = { ARCHIPEL_IMAGES_CACHE: path.join(scratch, "cache-a"), ARCHIPEL_IMAGES_OUT: path.join(scratch, "out-a") };
    const before = sha256File(path.join(scratch, "out-a", "pause.tar"));
    const progress = progressOf(["build", "pause"], env);
    assert.doesNotMatch(progress, /layer pause: building/);
    assert.match(progress, /pause: archipel\.local\/pause:3\.10\.\d+, archipel\.local\/pause:3\.10 sha256:[0-9a-f]{64} .*\(unchanged\)/);
    assert.equal(sha256File(path.join(scratch, "out-a", "pause.tar")), before);
  });

  describe("in a node's containerd", () => {
    let dir = "";
    let containerd: ChildProcess | undefined;
    let socket = "";
    const ctr = (args: string[]): string => execFileSync(bin("ctr"), ["-a", socket, "-n", "k8s.io", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const cgroupsBefore = cgroupNames();

    before(async function () {
      this.timeout(900_000);
      execFileSync(path.join(repoRoot, "hack", "build-tools"), ["containerd"], { stdio: "inherit" });
      // every image into .images/ with the shared cache: warm after the first run on a machine
      execFileSync(images, ["build"], { stdio: "inherit" });
      dir = mkdtempSync(path.join(tmpdir(), "archipel-containerd-"));
      socket = path.join(dir, "containerd.sock");
      writeFileSync(path.join(dir, "config.toml"), containerdConfig(dir));
      // /run inside the namespace is a fresh tmpfs: shims put their sockets under /run/containerd
      mkdirSync(path.join(dir, "fifo"));
      // ctr makes a task's stdio FIFOs on its side (default /run/containerd/fifo, which the
      // namespace's /run hides): --fifo-dir puts them where both sides see them
      containerd = spawn("unshare", ["--mount", "--net", "--propagation", "private", "--fork", "--kill-child=SIGTERM", "sh", "-c", `mount -t tmpfs tmpfs /run && exec "$0" --config "$1"`, bin("containerd"), path.join(dir, "config.toml")], {
        env: { ...process.env, PATH: `${path.join(repoRoot, "bin")}:${process.env.PATH ?? ""}` },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let log = "";
      containerd.stderr?.on("data", (d: Buffer) => (log += d.toString()));
      await eventually(`containerd to answer on ${socket} (${log.slice(-2000)})`, async () => existsSync(socket) && ctr(["version"]) !== "");
    });

    after(async function () {
      this.timeout(60_000);
      await stopProcessesOf(dir);
      if (dir !== "") rmSync(dir, { recursive: true, force: true });
    });

    it("imports every image built and lists it under its archipel.local names", () => {
      hackImages(["load", "--address", socket]);
      const listed = ctr(["images", "ls", "-q"]).split("\n").filter(Boolean);
      const expected = readdirSync(path.join(repoRoot, ".images"))
        .filter((f) => f.endsWith(".json"))
        .flatMap((f) => (JSON.parse(readFileSync(path.join(repoRoot, ".images", f), "utf8")) as { references: string[] }).references);
      assert.ok(expected.some((r) => r.startsWith("archipel.local/cwl-step:")) && expected.includes("archipel.local/archipel:dev") && expected.includes("archipel.local/pause:3.10"), expected.join(" "));
      for (const ref of expected) assert.ok(listed.includes(ref), `${ref} not in ${listed.join(" ")}`);
    });

    const run = (image: string, name: string, args: string[], extra: string[] = []): string =>
      ctr(["run", "--rm", "--cgroup", "", "--fifo-dir", path.join(dir, "fifo"), ...extra, image, `images-test-${name}-${process.pid}`, ...args]);

    it("runs the CWL step image: bash, coreutils, python3, Node 24 and the entrypoint on PATH", () => {
      const out = run("archipel.local/cwl-step:dev", "cwl", ["bash", "-c", 'python3 -c "print(6*7)"; node -p process.versions.node; command -v archipel-cwl-entrypoint; echo a b | wc -w; ls /app/operators/pipeline/entrypoint/main.js']);
      const [python, node, entrypoint, words, built] = out.trim().split("\n");
      assert.equal(python, "42");
      assert.match(node ?? "", /^24\./);
      assert.equal(entrypoint, "/usr/local/bin/archipel-cwl-entrypoint");
      assert.equal(words?.trim(), "2");
      // the launcher runs the entrypoint's JavaScript, without Node's type stripper in each step's pod
      assert.equal(built, "/app/operators/pipeline/entrypoint/main.js");
    });

    it("runs a CWL tool through the in-pod entrypoint, as an Argo step would (a JS expression, python3 writes the output file)", async () => {
      const cwl = path.join(dir, "tool.cwl");
      // a JavaScript expression too: the expression sandbox (QuickJS, WebAssembly) must load in the image
      writeFileSync(cwl, [
        "cwlVersion: v1.2",
        "class: CommandLineTool",
        "requirements: [{class: InlineJavascriptRequirement}]",
        `baseCommand: [python3, -c, "import sys; open('out.txt', 'w').write(sys.argv[1] * 2)"]`,
        "inputs:",
        "  word: {type: string, inputBinding: {position: 1, valueFrom: $(self.toUpperCase())}}",
        "outputs:",
        "  out: {type: File, outputBinding: {glob: out.txt}}",
        "",
      ].join("\n"));
      const job = { word: "ab" };
      const workflow = translate(await loadProcess(cwl), job, { name: "images-test", defaultImage: "archipel.local/cwl-step:dev", entrypoint: ["archipel-cwl-entrypoint"], artifacts: { endpoint: "127.0.0.1:1", bucket: "b", keyPrefix: "k", accessKeySecret: { name: "s", key: "a" }, secretKeySecret: { name: "s", key: "s" } } });
      const main = workflow.spec.templates?.find((t) => t.name === workflow.spec.entrypoint);
      const spec = main?.inputs?.parameters?.find((p) => p.name === "spec")?.value;
      assert.equal(main?.container?.image, "archipel.local/cwl-step:dev");
      const script = 'archipel-cwl-entrypoint tool --spec "$1" --job "$2" --outdir /cwl/out >&2 && cat /cwl/out/cwl.output.json && echo && cat /cwl/out/out.txt';
      const out = run("archipel.local/cwl-step:dev", "cwl-tool", ["bash", "-c", script, "step", String(spec), JSON.stringify(job)]).trim().split("\n");
      const outputs = JSON.parse(out.slice(0, -1).join("\n")) as { out: { path: string; size: number } };
      assert.deepEqual([outputs.out.path, outputs.out.size, out.at(-1)], ["/cwl/out/out.txt", 4, "ABAB"]);
    });

    it("runs the project image as uid 1000 from /app with its production dependencies", () => {
      const out = run("archipel.local/archipel:dev", "app", ["node", "--input-type=module", "-e", 'await import("@kubernetes/client-node"); console.log(process.getuid(), process.cwd(), process.env.NODE_ENV)']);
      assert.equal(out.trim(), "1000 /app production");
      // The image runs the JavaScript its build writes beside the sources, without Node's type stripper.
      assert.match(run("archipel.local/archipel:dev", "app2", ["node", "--no-experimental-strip-types", "operators/manager/main.js", "--help"]), /Usage: node operators\/manager\/main/);
    });

    it("runs pause until it is told to stop", () => {
      const id = `images-test-pause-${process.pid}`;
      ctr(["run", "-d", "--cgroup", "", "--fifo-dir", path.join(dir, "fifo"), "archipel.local/pause:3.10", id]);
      try {
        assert.match(ctr(["tasks", "ls"]), new RegExp(`${id}\\s+\\d+\\s+RUNNING`));
      } finally {
        ctr(["tasks", "kill", "-s", "SIGTERM", id]);
        execFileSync("sleep", ["0.5"]);
        ctr(["tasks", "delete", "-f", id]);
        ctr(["containers", "delete", id]);
      }
    });

    it("runs argoexec when bin/argoexec was built", function () {
      if (!existsSync(bin("argoexec"))) this.skip();
      assert.match(run("archipel.local/argoexec:v3.7.15", "argo", ["argoexec", "version"]), /v3\.7\.15/);
    });

    it("leaves no cgroup behind on the host", () => {
      assert.deepEqual(cgroupNames(), cgroupsBefore);
    });
  });
});

/** containerd 2.x: every path private to `dir`, and the two host workarounds of the facts file. */
export function containerdConfig(dir: string): string {
  return `version = 3
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.nri.v1.nri"]
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[plugins.'io.containerd.internal.v1.opt']
  path = "${dir}/opt"
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["${path.join(repoRoot, "bin", "cni")}"]
    conf_dir = "${dir}/cni"
`;
}

/**
 * Top-level cgroup directories of every v1 controller and of the unified hierarchy, but for the
 * local clusters' nodes (`archipel-<cluster>`, hack/lib/node.sh), which come and go with clusters
 * other tests or a developer start meanwhile.
 */
function cgroupNames(): string[] {
  const names: string[] = [];
  for (const controller of readdirSync("/sys/fs/cgroup")) {
    const dir = path.join("/sys/fs/cgroup", controller);
    try {
      for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory() && !d.name.startsWith("archipel-")) names.push(`${controller}/${d.name}`);
    } catch {
      // not a directory (a file of the unified hierarchy)
    }
  }
  return names.sort();
}

/** The processes whose command line names `dir`: unshare, containerd, and shims a failed run left. */
function processesOf(dir: string): number[] {
  if (dir === "") return [];
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(dir);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/** SIGTERM, then SIGKILL after 10 s, to exactly those processes; returns when they are gone. */
async function stopProcessesOf(dir: string): Promise<void> {
  const signal = (pids: number[], sig: NodeJS.Signals): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal(processesOf(dir), "SIGTERM");
  try {
    await eventually(`processes of ${dir} to exit`, async () => processesOf(dir).length === 0, 10_000);
  } catch {
    signal(processesOf(dir), "SIGKILL");
    await eventually(`processes of ${dir} to die`, async () => processesOf(dir).length === 0, 10_000);
  }
}
