// Root filesystems from Debian packages: resolve a package request to a fixed list of
// name=version (apt's own resolver, against an empty dpkg status so nothing the host has
// installed is left out), download those .debs once into the cache, `dpkg -x` them, and turn
// the result into what an installed system would hold (merged /usr, CA bundle, no docs).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface PackageRequest {
  packages: string[];
  /** false: only the named packages (data files such as ca-certificates, without their tools) */
  withDependencies: boolean;
}

export interface ResolvedPackage { name: string; version: string }

/** `Inst name (version …)` lines of `apt-get -s install` → name=version, sorted by name. */
export function parseSimulation(output: string): ResolvedPackage[] {
  const resolved: ResolvedPackage[] = [];
  for (const line of output.split("\n")) {
    const m = /^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) /.exec(line);
    if (m) resolved.push({ name: m[1] ?? "", version: m[2] ?? "" });
  }
  return resolved.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The file name `apt-get download` gives a package (an epoch's ':' is written %3a). */
export function debFileName(p: ResolvedPackage, arch: string): string {
  return `${p.name}_${p.version.replace(/:/g, "%3a")}_${arch}.deb`;
}

/** Paths a slim Debian image leaves out (its dpkg path-exclude list), copyright files kept. */
export function excludedFromSlim(path: string): boolean {
  if (/^usr\/share\/doc\/[^/]+\/copyright$/.test(path)) return false;
  return /^usr\/share\/(doc|man|info|groff|linda|lintian|locale)(\/|$)/.test(path);
}

function aptListsFingerprint(): string {
  const dir = "/var/lib/apt/lists";
  const hash = createHash("sha256");
  for (const name of readdirSync(dir).sort()) {
    if (!name.includes("Packages")) continue;
    const st = statSync(join(dir, name));
    hash.update(`${name} ${st.size} ${st.mtimeMs}\n`);
  }
  return hash.digest("hex");
}

function aptGet(args: string[], cwd?: string): string {
  return execFileSync("apt-get", ["-q", "-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=1", ...args], { encoding: "utf8", cwd, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
}

/**
 * Resolves a request once against the apt lists the machine has (`apt-get update` refreshes
 * them); cached by request and lists, so a warm build does not run apt's resolver.
 */
export function resolvePackages(request: PackageRequest, cacheDir: string): ResolvedPackage[] {
  if (!readdirSync("/var/lib/apt/lists").some((n) => n.includes("Packages"))) {
    throw new Error("hack/images: apt has no package lists; run `apt-get update` once");
  }
  const key = createHash("sha256").update(JSON.stringify(request)).update(aptListsFingerprint()).digest("hex").slice(0, 24);
  const cached = join(cacheDir, "resolved", `${key}.json`);
  if (existsSync(cached)) return JSON.parse(readFileSync(cached, "utf8")) as ResolvedPackage[];
  let resolved: ResolvedPackage[];
  if (request.withDependencies) {
    const emptyStatus = join(cacheDir, "empty-dpkg-status");
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(emptyStatus, "");
    resolved = parseSimulation(aptGet(["-s", "-o", `Dir::State::status=${emptyStatus}`, "install", "--no-install-recommends", ...request.packages]));
  } else {
    resolved = request.packages.map((name) => {
      const policy = execFileSync("apt-cache", ["policy", name], { encoding: "utf8" });
      const version = /Candidate: (\S+)/.exec(policy)?.[1];
      if (version === undefined || version === "(none)") throw new Error(`hack/images: Debian package '${name}' has no candidate version`);
      return { name, version };
    });
  }
  for (const name of request.packages) {
    if (!resolved.some((p) => p.name === name)) throw new Error(`hack/images: apt did not resolve Debian package '${name}'`);
  }
  mkdirSync(join(cacheDir, "resolved"), { recursive: true });
  writeFileSync(cached, JSON.stringify(resolved));
  return resolved;
}

function findDeb(debDir: string, p: ResolvedPackage): string | undefined {
  for (const arch of ["amd64", "all"]) {
    const file = join(debDir, debFileName(p, arch));
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** The .deb files of `packages`, downloaded once into `debDir` (one apt-get call for all missing). */
export function downloadPackages(packages: readonly ResolvedPackage[], debDir: string, log: (m: string) => void): string[] {
  mkdirSync(debDir, { recursive: true });
  const missing = packages.filter((p) => findDeb(debDir, p) === undefined);
  if (missing.length > 0) {
    log(`downloading ${missing.length} Debian package(s)`);
    aptGet(["download", ...missing.map((p) => `${p.name}=${p.version}`)], debDir);
  }
  return packages.map((p) => {
    const file = findDeb(debDir, p);
    if (file === undefined) throw new Error(`hack/images: apt-get download did not produce ${p.name} ${p.version}`);
    return file;
  });
}

/** Moves everything under `src` into `dst` (directories merged); a file present in both is an error. */
function mergeInto(src: string, dst: string): void {
  mkdirSync(dst, { recursive: true });
  for (const name of readdirSync(src)) {
    const from = join(src, name);
    const to = join(dst, name);
    const target = existsSync(to) || isSymlink(to);
    if (!target) renameSync(from, to);
    else if (lstatSync(from).isDirectory() && lstatSync(to).isDirectory()) mergeInto(from, to);
    else throw new Error(`hack/images: ${from} and ${to} both exist; cannot merge /usr`);
  }
  rmSync(src, { recursive: true });
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Debian 12 is installed with a merged /usr: /bin, /sbin, /lib* are links into /usr. */
function mergeUsr(rootfs: string): void {
  for (const dir of ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]) {
    const path = join(rootfs, dir);
    if (!existsSync(path) || isSymlink(path)) continue;
    mergeInto(path, join(rootfs, "usr", dir));
    symlinkSync(`usr/${dir}`, path);
  }
}

function removeExcluded(rootfs: string, rel = ""): void {
  for (const name of readdirSync(join(rootfs, rel))) {
    const path = rel === "" ? name : `${rel}/${name}`;
    const abs = join(rootfs, path);
    if (excludedFromSlim(path) && !lstatSync(abs).isDirectory()) rmSync(abs);
    else if (lstatSync(abs).isDirectory() && !isSymlink(abs)) {
      removeExcluded(rootfs, path);
      if (excludedFromSlim(path) && readdirSync(abs).length === 0) rmSync(abs, { recursive: true });
    }
  }
}

/**
 * What ca-certificates' postinst (update-ca-certificates) would write: every certificate it
 * ships, in name order, into /etc/ssl/certs/ca-certificates.crt.
 */
function caBundle(rootfs: string): void {
  const dir = join(rootfs, "usr/share/ca-certificates/mozilla");
  if (!existsSync(dir)) return;
  const certs = readdirSync(dir).filter((n) => n.endsWith(".crt")).sort();
  const pem = certs.map((n) => readFileSync(join(dir, n), "utf8").trimEnd() + "\n").join("");
  mkdirSync(join(rootfs, "etc/ssl/certs"), { recursive: true });
  writeFileSync(join(rootfs, "etc/ssl/certs/ca-certificates.crt"), pem);
}

/** Extracts the packages (name order) into a fresh `rootfs` and makes it look installed. */
export function extractRootfs(debs: readonly string[], rootfs: string): void {
  rmSync(rootfs, { recursive: true, force: true });
  mkdirSync(rootfs, { recursive: true });
  for (const deb of debs) execFileSync("dpkg-deb", ["-x", deb, rootfs]);
  mergeUsr(rootfs);
  removeExcluded(rootfs);
  caBundle(rootfs);
}
