/**
 * CPU time, for the CPU per task the bench reports beside every rate: a Node process's own
 * (`process.cpuUsage`, in µs) and a local PostgreSQL server's (from /proc, in clock ticks): the
 * postmaster's own time and that of the children it reaped, plus its live children's (backends,
 * autovacuum, WAL writer, checkpointer). Linux only; elsewhere the server part is unknown (null).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The part of a CPU figure: the process doing the work, the database server, their sum. */
export type CpuPart = 'worker' | 'server' | 'total';

let ticksPerSecond: number | null = null;

/** `getconf CLK_TCK` (the unit of /proc/PID/stat times), 100 if it cannot be read. */
export function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** µs of CPU this process has used (all threads, user + system) since `from` (or since it started). */
export function ownCpuMicros(from?: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return u.user + u.system;
}

interface ProcTimes {
  ppid: number;
  /** utime + stime, in clock ticks. */
  own: number;
  /** cutime + cstime: children it waited for, in clock ticks. */
  reaped: number;
}

function procTimes(pid: number | string): ProcTimes | null {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // gone, or not Linux
  }
  // "pid (comm) state ppid ..." where comm may hold spaces and parentheses: fields count from the last ')'.
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
}

/**
 * µs of CPU a PostgreSQL server has used since it started: its postmaster `pid` (utime + stime +
 * cutime + cstime) plus every live child of it; null when the postmaster cannot be read. A backend
 * that exits between the two reads is missed (connections live through a drain, so this is rare).
 */
export function serverCpuMicros(pid: number): number | null {
  const root = procTimes(pid);
  if (!root) return null;
  let ticks = root.own + root.reaped;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || d === String(pid)) continue;
    const p = procTimes(d);
    if (p && p.ppid === pid) ticks += p.own + p.reaped;
  }
  return (ticks * 1e6) / clockTicks();
}

/** A measured stretch of work: wall time, this process's CPU, and the server's (null: none, or not readable). */
export interface Measured {
  ms: number;
  ownMicros: number;
  serverMicros: number | null;
}

/** Runs `work` and measures it; `serverCpu` reads the database server's CPU (µs), or null. */
export async function measured(serverCpu: () => number | null, work: () => unknown): Promise<Measured> {
  const s0 = serverCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  const ownMicros = ownCpuMicros(c0);
  const s1 = serverCpu();
  return { ms, ownMicros, serverMicros: s0 === null || s1 === null ? null : s1 - s0 };
}
