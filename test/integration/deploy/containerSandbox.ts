// Runs a command with the filesystem a container of a Deployment would see: when its
// securityContext sets readOnlyRootFilesystem, every mount is read-only, and only its emptyDir
// volumeMounts are writable (a tmpfs each); its environment holds only the container's literal
// env values. Done in a user + mount namespace of our own (unshare), so the host's mounts are
// never touched; no kubelet is needed.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { V1Container, V1PodSpec } from "@kubernetes/client-node";

const run = promisify(execFile);

const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** The sh script that prepares the namespace and execs `argv` (pure: tests read it). */
export function sandboxScript(pod: V1PodSpec, container: V1Container, argv: string[], host: { path: string; keep?: string }): string {
  const { path, keep = "" } = host;
  const emptyDirs = new Set((pod.volumes ?? []).filter((v) => v.emptyDir).map((v) => v.name));
  const writable = (container.volumeMounts ?? []).filter((m) => emptyDirs.has(m.name) && !m.readOnly).map((m) => m.mountPath);
  // `keep` (the checkout, with its Node) must stay reachable when a volume is mounted over a folder
  // holding it (a checkout under /tmp): held open now, bound back read-only after the mounts.
  const hidden = keep !== "" && writable.some((dir) => keep === dir || keep.startsWith(`${dir}/`));
  const lines = ["set -eu", ...(hidden ? [`exec 9<${quote(keep)}`] : [])];
  if (container.securityContext?.readOnlyRootFilesystem) {
    lines.push(
      // Innermost first, so a parent's remount does not hide a child's.
      `for m in $(awk '{print $2}' /proc/self/mounts | sort -r); do mount -o remount,bind,ro "$m" 2>/dev/null || true; done`,
      // Prove the sandbox: were / or /tmp still writable, the check would mean nothing.
      `for d in / /tmp; do if touch "$d/.archipel-ro-check" 2>/dev/null; then rm -f "$d/.archipel-ro-check"; echo "sandbox: $d is still writable" >&2; exit 97; fi; done`,
    );
  }
  for (const dir of writable) lines.push(`mount -t tmpfs -o size=64m archipel-emptydir ${quote(dir)}`);
  if (hidden) lines.push(`mkdir -p ${quote(keep)}`, `mount --no-canonicalize --bind /proc/self/fd/9 ${quote(keep)}`, `mount -o remount,bind,ro ${quote(keep)}`, "exec 9<&-");
  const env = (container.env ?? []).filter((e) => e.value !== undefined).map((e) => `${e.name}=${e.value ?? ""}`);
  lines.push(`exec env -i ${["PATH=" + path, ...env].map(quote).join(" ")} ${argv.map(quote).join(" ")}`);
  return lines.join("\n");
}

/** Runs `argv` in the sandbox; resolves with stdout, rejects (with stdout/stderr) on a non-zero exit. */
export async function runInContainerSandbox(pod: V1PodSpec, container: V1Container, argv: string[], cwd: string): Promise<string> {
  const script = sandboxScript(pod, container, argv, { path: process.env.PATH ?? "/usr/bin:/bin", keep: cwd });
  const { stdout } = await run("unshare", ["--user", "--map-root-user", "--mount", "sh", "-c", script], { cwd, timeout: 60_000 });
  return stdout;
}
