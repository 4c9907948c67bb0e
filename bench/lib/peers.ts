// The servers under test, one start function each. Each returns a Peer on free loopback ports;
// stop() ends the process (SIGTERM, SIGKILL after 5 s) and removes whatever it left behind.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type Result } from 'execa';
import { freePorts, HOST, waitForSmtpGreeting } from './net.js';
import { readCmdline, readProcMemory, registerTempDir, removeTempDir, sampleCpu, track, type CpuSample, type ProcMemory } from './procs.js';
import type { PeerId } from './verdicts.js';

export interface Peer {
  id: PeerId;
  name: string;
  smtpPort: number;
  /** pid of the server process itself (never a wrapper): /proc/<pid>/status is read for memory. */
  pid: number;
  /** Ours only: the sink's `accepted` counter (GET /api/stats). */
  accepted?: () => Promise<number>;
  /** Ours only: the whole GET /api/stats body. */
  stats?: () => Promise<SinkStats>;
  /** Ours only: http://127.0.0.1:PORT of its API. */
  apiUrl?: string;
  memory(): ProcMemory;
  /** CPU ticks of the server and of the machine, for cpuBetween(). */
  cpu(): CpuSample;
  stop(): Promise<void>;
}

export interface SinkStats {
  accepted: number;
  memory: { rss: number; heapUsed?: number };
  [key: string]: unknown;
}

const START_TIMEOUT_MS = 30_000;
const TAIL_BYTES = 4096;

/** Environment without variables that would change a server's settings behind our back. */
function cleanEnv(dropPrefixes: string[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || dropPrefixes.some((p) => k.startsWith(p))) continue;
    env[k] = v;
  }
  return env;
}

interface Server {
  pid: number;
  /** Why the process is gone, or undefined while it runs. */
  gone: () => string | undefined;
  stop: () => Promise<void>;
  /** Reads /proc for the server's pid; a server that is gone gets an error saying why. */
  proc: <T>(read: (pid: number) => T) => T;
}

/** Spawns a long-running server without a shell, keeping the last few KB of its output for errors. */
function spawnServer(label: string, file: string, args: string[], env: NodeJS.ProcessEnv): Server {
  const child = track(
    execa(file, args, {
      stdin: 'ignore',
      buffer: false,
      reject: false,
      extendEnv: false,
      env,
      forceKillAfterDelay: 5_000,
      cleanup: true,
    }),
  );
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let ended: Result | undefined;
  let spawnError: string | undefined;
  child.then(
    (r) => {
      ended = r;
    },
    (e: unknown) => {
      spawnError = e instanceof Error ? e.message : String(e);
    },
  );
  const gone = () => {
    if (spawnError !== undefined) return `${label} could not start: ${spawnError}`;
    if (ended === undefined) return undefined;
    const how = ended.signal ? `killed by ${ended.signal}` : `exited with ${ended.exitCode ?? '?'}`;
    return `${label} ${how}${tail.trim() ? `; its output:\n${tail.trim()}` : ''}`;
  };
  if (child.pid === undefined) throw new Error(`${label} could not start (${file})`);
  const pid = child.pid;
  return {
    pid,
    gone,
    proc: (read) => {
      try {
        return read(pid);
      } catch (e) {
        throw new Error(`${label}: cannot read /proc/${pid}: ${gone() ?? (e instanceof Error ? e.message : String(e))}`, { cause: e });
      }
    },
    stop: async () => {
      if (ended !== undefined || spawnError !== undefined) return;
      child.kill('SIGTERM'); // execa sends SIGKILL after forceKillAfterDelay
      await Promise.race([child, sleep(10_000)]);
    },
  };
}

/** Starts a server and waits for it; if that fails, the process is stopped before the error is thrown. */
async function started<T>(server: Server, ready: () => Promise<T>): Promise<T> {
  try {
    return await ready();
  } catch (e) {
    await server.stop();
    throw e;
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Ours: the built bundle run by plain node, default settings (ring buffer included) except ports. */
export async function startOurs(opts: { bundle: string; name?: string }): Promise<Peer> {
  const bundle = resolve(opts.bundle);
  const [smtpPort = 0, httpPort = 0] = await freePorts(2);
  const label = 'our sink (node dist/sink.mjs)';
  const server = spawnServer(label, process.execPath, [bundle, '--host', HOST, '--smtp-port', String(smtpPort), '--http-port', String(httpPort)], cleanEnv(['SINK_']));
  const base = `http://${HOST}:${httpPort}`;
  const stats = async () => {
    try {
      return await getJson<SinkStats>(`${base}/api/stats`);
    } catch (e) {
      const cause = e instanceof Error ? e.message : String(e);
      throw new Error(`GET ${base}/api/stats: ${cause}${server.gone() ? ` (${server.gone()})` : ''}`, { cause: e });
    }
  };
  await started(server, async () => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const why = server.gone();
      if (why !== undefined) throw new Error(why);
      try {
        const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${label}: /readyz not 200 within ${START_TIMEOUT_MS} ms`);
      await sleep(100);
    }
    // the pid we read /proc of must be node running the bundle, not a wrapper
    const argv = readCmdline(server.pid);
    if (argv[1] !== bundle) throw new Error(`${label}: pid ${server.pid} runs "${argv.join(' ')}", not node ${bundle}`);
  });
  return {
    id: 'ours',
    name: opts.name ?? 'ours (mailkind smtp-sink)',
    smtpPort,
    pid: server.pid,
    stats,
    apiUrl: base,
    accepted: async () => {
      const s = await stats();
      if (typeof s.accepted !== 'number') throw new Error(`${base}/api/stats has no numeric "accepted"`);
      return s.accepted;
    },
    memory: () => server.proc(readProcMemory),
    cpu: () => server.proc(sampleCpu),
    stop: () => server.stop(),
  };
}

/**
 * postfix's smtp-sink: `smtp-sink [-u nobody] [flags] 127.0.0.1:PORT 1000` (root must drop
 * privileges). `flags` make it misbehave on purpose (tests): -f/-r refuse commands, -q drops the
 * connection, -Q answers 421, -e speaks plain SMTP.
 */
export async function startPostfixSink(opts: { bin: string; flags?: readonly string[] }): Promise<Peer> {
  const [smtpPort = 0] = await freePorts(1);
  const asRoot = process.getuid?.() === 0;
  const args = [...(asRoot ? ['-u', 'nobody'] : []), ...(opts.flags ?? []), `${HOST}:${smtpPort}`, '1000'];
  const label = `postfix smtp-sink (${opts.bin} ${args.join(' ')})`;
  const server = spawnServer(label, opts.bin, args, cleanEnv([]));
  await started(server, () => waitForSmtpGreeting(smtpPort, START_TIMEOUT_MS, server.gone));
  return {
    id: 'postfix',
    name: 'postfix smtp-sink',
    smtpPort,
    pid: server.pid,
    memory: () => server.proc(readProcMemory),
    cpu: () => server.proc(sampleCpu),
    stop: () => server.stop(),
  };
}

/**
 * maildev, SMTP side only: web UI off, quiet, its mails in a temp dir of its own that stop()
 * (or the exit hook) deletes.
 */
export async function startMaildev(opts: { bin: string; version: string }): Promise<Peer> {
  const [smtpPort = 0, webPort = 0] = await freePorts(2);
  const mailDir = mkdtempSync(join(tmpdir(), 'mailkind-bench-maildev-'));
  registerTempDir(mailDir);
  const args = [opts.bin, '--smtp', String(smtpPort), '--web', String(webPort), '--ip', HOST, '--web-ip', HOST, '--disable-web', '--silent', '--mail-directory', mailDir];
  const label = `maildev (node ${opts.bin})`;
  const server = spawnServer(label, process.execPath, args, cleanEnv(['MAILDEV_']));
  try {
    await started(server, () => waitForSmtpGreeting(smtpPort, START_TIMEOUT_MS, server.gone));
  } catch (e) {
    removeTempDir(mailDir);
    throw e;
  }
  return {
    id: 'maildev',
    name: `maildev ${opts.version}`,
    smtpPort,
    pid: server.pid,
    memory: () => server.proc(readProcMemory),
    cpu: () => server.proc(sampleCpu),
    async stop() {
      await server.stop();
      removeTempDir(mailDir);
    },
  };
}
