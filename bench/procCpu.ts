// CPU time from /proc (benchmarks only): what one process, and the whole machine, has used.
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc's counters (USER_HZ: 100 on Linux). */
const HZ = 100;

/** User + system CPU seconds a process has used so far (NaN when it is gone). */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / HZ;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds the whole machine has spent busy (every core, not idle nor waiting on I/O). */
export function machineBusySeconds(): number {
  const [, ...ticks] = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
  return (user + nice + system + irq + softirq + steal) / HZ;
}
