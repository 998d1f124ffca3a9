// Memory of a running process from /proc (benchmarks only): resident now and its peak.
import { readFileSync } from "node:fs";

function statusField(pid: number | undefined, field: "VmRSS" | "VmHWM"): number {
  if (pid === undefined) return Number.NaN;
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? Number.NaN : Number(kb) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size in MiB (NaN when the process is gone). */
export function rssMiB(pid: number | undefined): number {
  return statusField(pid, "VmRSS");
}

/** Peak resident set size in MiB since the process started. */
export function peakRssMiB(pid: number | undefined): number {
  return statusField(pid, "VmHWM");
}
