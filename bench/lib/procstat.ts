/**
 * CPU time and resident memory of processes, read from /proc (Linux only), for idle-overhead measurements: sample
 * all pids, let the cluster idle for a while, sample again; CPU % = ΔCPU time / Δwall time.
 *
 * Bytes on the wire are not measured here: /proc's network counters are per namespace, not per process. Count them
 * where the sockets are (e.g. `socket.bytesWritten` summed in the child and reported in an event).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { nowMs } from './clock.ts';
import { delay } from './proc.ts';

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcSample {
  /** Shared monotonic clock, ms. */
  t: number;
  /** User + system CPU time so far, ms (clock-tick resolution, usually 10 ms). */
  cpuMs: number;
  rssBytes: number;
}

/** One reading, or undefined if the process is gone. */
export function readProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields after it start at the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
    return { t: nowMs(), cpuMs: ((utime + stime) * 1000) / ticksPerSecond(), rssBytes: rssKb * 1024 };
  } catch {
    return undefined;
  }
}

export interface ProcUsage {
  pid: number;
  /** Percent of one core over the window. */
  cpuPercent: number;
  /** RSS at the end of the window, MiB. */
  rssMiB: number;
}

/**
 * CPU % and RSS of each pid over a window of `windowMs` (use several seconds: CPU time has 10 ms resolution).
 * Pids that disappear during the window are left out.
 */
export async function measureUsage(pids: readonly number[], windowMs: number): Promise<ProcUsage[]> {
  const before = new Map(pids.map((pid) => [pid, readProc(pid)]));
  await delay(windowMs);
  const out: ProcUsage[] = [];
  for (const pid of pids) {
    const a = before.get(pid);
    const b = readProc(pid);
    if (!a || !b) continue;
    out.push({
      pid,
      cpuPercent: ((b.cpuMs - a.cpuMs) / (b.t - a.t)) * 100,
      rssMiB: b.rssBytes / 2 ** 20,
    });
  }
  return out;
}
