// Every child the benchmark starts is tracked here and killed when the benchmark ends,
// however it ends: normal exit, error, Ctrl-C (SIGINT), SIGTERM or SIGHUP.
import { readFileSync, rmSync } from 'node:fs';

interface Killable {
  readonly pid?: number | undefined;
  kill(signal?: NodeJS.Signals): boolean;
}

const live = new Set<Killable>();
const tempDirs = new Set<string>();

/** Tracks a child until it settles; returns it unchanged. */
export function track<T extends Killable & PromiseLike<unknown>>(child: T): T {
  live.add(child);
  const forget = () => {
    live.delete(child);
  };
  child.then(forget, forget);
  return child;
}

/** A directory removed at exit (or earlier, by the caller, with removeTempDir). */
export function registerTempDir(dir: string): void {
  tempDirs.add(dir);
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Synchronous last resort: SIGKILL whatever is still running, delete temp dirs. */
export function killAllNow(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  tempDirs.clear();
}

export function liveChildren(): number {
  return live.size;
}

let installed = false;

/** Kill children on exit and on the usual terminal signals (exit code 128 + signal number). */
export function installCleanup(onSignal: (signal: NodeJS.Signals) => void = () => {}): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  const codes: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  for (const [signal, code] of Object.entries(codes) as [NodeJS.Signals, number][]) {
    process.once(signal, () => {
      onSignal(signal);
      killAllNow();
      process.exit(code);
    });
  }
}

export interface ProcMemory {
  /** Peak resident set size (VmHWM), bytes. */
  vmHwmBytes: number;
  /** Current resident set size (VmRSS), bytes. */
  vmRssBytes: number;
}

/** VmHWM and VmRSS of a live process from /proc/<pid>/status (Linux). */
export function readProcMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field} line`);
    return Number(m[1]) * 1024;
  };
  return { vmHwmBytes: kib('VmHWM'), vmRssBytes: kib('VmRSS') };
}

/** argv of a live process, from /proc/<pid>/cmdline. */
export function readCmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

function statFields(pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the fields after "(comm)", which may itself hold spaces: [0] is field 3 (state)
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time (user + system) a live process has used, in USER_HZ ticks, from /proc/<pid>/stat. */
export function readProcCpuTicks(pid: number | 'self'): number {
  const f = statFields(pid);
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

/** CPU time of this process' children that have been waited for (cutime + cstime): finished smtp-source runs. */
export function readReapedChildrenCpuTicks(): number {
  const f = statFields('self');
  return Number(f[13]) + Number(f[14]); // cutime, cstime (fields 16, 17)
}

/** Whole-machine CPU ticks from /proc/stat: busy (all but idle, iowait and steal), steal (taken by the hypervisor) and total. */
export function readMachineTicks(): { busy: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu  user nice system idle iowait irq softirq steal (guest time is already inside user)
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const steal = ticks[7] ?? 0;
  return { busy: total - idle - steal, steal, total };
}

export interface CpuSample {
  server: number;
  /** This benchmark process. */
  self: number;
  /** Its finished children: the smtp-source run, once it has exited. */
  reaped: number;
  machine: { busy: number; steal: number; total: number };
}

export function sampleCpu(serverPid: number): CpuSample {
  return { server: readProcCpuTicks(serverPid), self: readProcCpuTicks('self'), reaped: readReapedChildrenCpuTicks(), machine: readMachineTicks() };
}

export interface CpuUse {
  /** Cores the server kept busy during the run (1 = one core all the time). */
  serverCores: number;
  /** Cores smtp-source used (it has exited and been reaped by the end sample). */
  sourceCores: number;
  /** Cores busy machine-wide: the server, smtp-source, this benchmark, the kernel and anything else. */
  machineCores: number;
  /** machine - server - smtp-source - this benchmark: kernel threads and other processes. */
  otherCores: number;
  /** Cores' worth of time the hypervisor took away (noisy neighbours on a VM). */
  stealCores: number;
}

/** CPU use between two samples, in cores (a process' ticks over the ticks of one CPU). */
export function cpuBetween(a: CpuSample, b: CpuSample, cores: number): CpuUse {
  const total = b.machine.total - a.machine.total;
  if (total <= 0) return { serverCores: 0, sourceCores: 0, machineCores: 0, otherCores: 0, stealCores: 0 };
  const perCore = total / cores;
  const c = (ticks: number) => Math.round((ticks / perCore) * 100) / 100;
  const server = b.server - a.server;
  const source = b.reaped - a.reaped;
  const machine = b.machine.busy - a.machine.busy;
  return {
    serverCores: c(server),
    sourceCores: c(source),
    machineCores: c(machine),
    otherCores: c(Math.max(0, machine - server - source - (b.self - a.self))),
    stealCores: c(b.machine.steal - a.machine.steal),
  };
}
