// A real Docker engine for a test file: dockerd (with its own containerd) on its own socket,
// data-root, exec-root and pidfile in a temp folder, with the classic or the containerd image
// store, and a clean-up that leaves nothing behind: containers, networks, bridges, mounts, shims,
// ip_forward, the folder. Built by scripts/provision/docker-engine.sh.
//
//   const engine = await startEngine({ store: 'containerd' });   // in beforeAll
//   await engine.docker(['run', '--rm', image, 'true']);         // or execa('docker', ..., { env: engine.env })
//   await engine.stop();                                         // in afterAll (idempotent)
//
// Isolation from other daemons on the machine (other tests, other helpers): the daemon never
// touches iptables/nftables (`iptables: false`: published ports go through docker-proxy, which is
// what `-p 127.0.0.1:H:C` needs; containers get no NAT to the outside, which no test wants), its
// default bridge is its own interface (not docker0), and its networks come from its own address
// pool. A daemon killed with the test process (SIGKILL) is swept by the next startEngine().
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Miss } from './prerequisites.js';
import { ROOT } from './fake-tools.js';

export type ImageStore = 'classic' | 'containerd';

/** Where provisioning puts the engine (scripts/provision/docker-engine.sh). */
export const ENGINE_CACHE = join(process.env.MAILKIND_CACHE ?? join(process.env.HOME ?? '/root', '.cache/mailkind'), 'docker-engine');
export const ENGINE_BIN = join(ENGINE_CACHE, 'bin');
const PLUGINS = join(ROOT, '.cache/docker-config/cli-plugins');
const PREFIX = '/tmp/mkde-';
const PROVISION = 'bash scripts/provision/docker-engine.sh';

/** What is missing for a real engine here, for skipWithout(); undefined when all is there. */
export function engineMissing(what = 'the docker tier (a real Docker engine)'): Miss | undefined {
  const fix = PROVISION;
  if (process.platform !== 'linux') return { what, reason: 'needs Linux', fix: 'run it on Linux' };
  if (process.getuid?.() !== 0) return { what, reason: 'dockerd needs root', fix: 'run the tests as root (CI does)' };
  if (!existsSync(join(ENGINE_CACHE, '.complete'))) return { what, reason: `no complete engine build in ${ENGINE_CACHE}`, fix };
  if (!existsSync(join(PLUGINS, 'docker-buildx'))) return { what, reason: 'docker-buildx is not linked into .cache/docker-config/cli-plugins', fix };
  if (!findOnPath('docker')) return { what, reason: 'no docker CLI on PATH', fix: 'install the docker CLI (Debian: docker.io or docker-ce-cli)' };
  if (!existsSync('/bin/busybox')) return { what, reason: 'no /bin/busybox (stand-in images are made from it)', fix: 'apt-get install busybox-static' };
  return undefined;
}

function findOnPath(program: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':')) if (d && existsSync(join(d, program))) return join(d, program);
  return undefined;
}

export interface Output {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface Engine {
  store: ImageStore;
  /** the temp folder holding everything of this daemon */
  dir: string;
  /** unix:///…/docker.sock */
  host: string;
  /** for clients: DOCKER_HOST, DOCKER_CONFIG (buildx plugin), PATH with the engine's binaries first */
  env: Record<string, string>;
  /** the default bridge's interface (not docker0) */
  bridge: string;
  /** `docker <args>` against this daemon; rejects on a non-zero exit unless reject: false */
  docker(args: readonly string[], opts?: { input?: string | Uint8Array; reject?: boolean; timeoutMs?: number }): Promise<Output>;
  /** removes every container and network, stops the daemon and removes what it made; idempotent */
  stop(): Promise<void>;
}

export interface EngineOptions {
  store: ImageStore;
  /** extra daemon.json keys (e.g. insecure-registries) */
  config?: Record<string, unknown>;
  /** milliseconds to wait for the API to answer (default 60 s: a loaded 2-core machine is slow) */
  readyTimeoutMs?: number;
}

interface Record_ {
  bridge: string;
  ipForward: string;
}

const live = new Set<Engine>();
let hooked = false;

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

/** Mount points under `dir`, deepest first (from /proc/self/mountinfo). */
function mountsUnder(dir: string): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = lines.map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Processes whose command line mentions `dir` (containerd shims outlive a killed dockerd). */
function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/**
 * Processes of this daemon's containers: after its shims are killed they are re-parented to init
 * and their command line does not name `dir`, but their cgroup path holds the container ID (the
 * IDs are the folders of <data-root>/containers, on both stores).
 */
function containerProcesses(dir: string): number[] {
  let ids: string[];
  try {
    ids = readdirSync(join(dir, 'data', 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n));
  } catch {
    return [];
  }
  if (!ids.length) return [];
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cg = readFileSync(`/proc/${p}/cgroup`, 'utf8');
      if (ids.some((id) => cg.includes(id))) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Synchronous: usable from an exit handler. Removes everything a daemon in `dir` made. */
function sweep(dir: string): void {
  for (const pid of [...containerProcesses(dir), ...processesUnder(dir)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const m of mountsUnder(dir)) sh('umount', ['-l', m]);
  let rec: Record_ | undefined;
  try {
    rec = JSON.parse(readFileSync(join(dir, 'record.json'), 'utf8')) as Record_;
  } catch {
    rec = undefined;
  }
  // the default bridge and each network's br-<id> (listed in networks.txt while the daemon lived)
  const links = rec ? [rec.bridge] : [];
  try {
    links.push(...readFileSync(join(dir, 'networks.txt'), 'utf8').split('\n').filter(Boolean));
  } catch {
    // no networks recorded
  }
  for (const l of links) if (linkExists(l)) sh('ip', ['link', 'delete', l]);
  if (rec && readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() !== rec.ipForward) writeFileSync('/proc/sys/net/ipv4/ip_forward', rec.ipForward);
  rmSync(dir, { recursive: true, force: true });
}

/** Daemons of earlier runs that died with their test process (SIGKILL, a crashed worker). */
function sweepStale(): void {
  for (const name of readdirSync('/tmp')) {
    const dir = `/tmp/${name}`;
    if (!dir.startsWith(PREFIX)) continue;
    let owner = 0;
    try {
      owner = Number(readFileSync(join(dir, 'owner'), 'utf8'));
    } catch {
      // half-made folder
    }
    let alive: boolean;
    try {
      if (owner) process.kill(owner, 0);
      alive = owner > 0;
    } catch {
      alive = false;
    }
    if (!alive) sweep(dir);
  }
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const e of live) sweep(e.dir);
  };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

let counter = 0;

/** A child that ended: by an exit code or by a signal (then exitCode stays null: the registry dies of SIGTERM). */
function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export async function startEngine(opts: EngineOptions): Promise<Engine> {
  sweepStale();
  hookExit();
  const dir = mkdtempSync(PREFIX);
  writeFileSync(join(dir, 'owner'), String(process.pid));
  // interface names: at most 15 characters; unique per process and engine
  const tag = `${(process.pid % 10000).toString(36)}${(counter++).toString(36)}`;
  const bridge = `mkde${tag}`.slice(0, 15);
  // a /24 for the default bridge and a pool for networks (kind's): 10.(200+n).x.0, x from the pid
  const third = (process.pid * 7 + counter * 13) % 250;
  const rec: Record_ = { bridge, ipForward: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() };
  writeFileSync(join(dir, 'record.json'), JSON.stringify(rec));
  sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
  sh('ip', ['addr', 'add', `10.201.${third}.1/24`, 'dev', bridge]);
  sh('ip', ['link', 'set', bridge, 'up']);
  if (!linkExists(bridge)) {
    sweep(dir);
    throw new Error(`cannot create the bridge ${bridge} (ip link add): is iproute2 there and are we root?`);
  }
  const config = {
    'data-root': join(dir, 'data'),
    'exec-root': join(dir, 'exec'),
    pidfile: join(dir, 'docker.pid'),
    hosts: [`unix://${join(dir, 'docker.sock')}`],
    bridge,
    iptables: false,
    ip6tables: false,
    'ip-forward': false,
    'default-address-pools': [{ base: `10.202.${third}.0/24`, size: 28 }],
    'storage-driver': opts.store === 'containerd' ? 'overlayfs' : 'overlay2',
    features: { 'containerd-snapshotter': opts.store === 'containerd' },
    ...opts.config,
  };
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify(config, null, 2));
  const dockerConfig = join(dir, 'docker-config');
  mkdirSync(join(dockerConfig, 'cli-plugins'), { recursive: true });
  execFileSync('ln', ['-s', join(PLUGINS, 'docker-buildx'), join(dockerConfig, 'cli-plugins', 'docker-buildx')]);
  const host = `unix://${join(dir, 'docker.sock')}`;
  const env = { DOCKER_HOST: host, DOCKER_CONFIG: dockerConfig, PATH: `${ENGINE_BIN}:${process.env.PATH ?? ''}` };
  const log = join(dir, 'dockerd.log');
  const out = await import('node:fs').then((fs) => fs.openSync(log, 'a'));
  const child: ChildProcess = spawn(join(ENGINE_BIN, 'dockerd'), ['--config-file', join(dir, 'daemon.json')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
    detached: true,
  });
  child.unref();
  let stopped = false;
  const docker: Engine['docker'] = async (args, o = {}) => {
    const r = await execa('docker', [...args], { env: { ...process.env, ...env }, input: o.input, reject: false, timeout: o.timeoutMs ?? 120_000 });
    const res = { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
    if ((o.reject ?? true) && res.exitCode !== 0) throw new Error(`docker ${args.join(' ')}: exit ${res.exitCode}: ${res.stderr.trim().split('\n').at(-1) ?? ''}`);
    return res;
  };
  const engine: Engine = {
    store: opts.store,
    dir,
    host,
    env,
    bridge,
    docker,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        if (!exited(child)) {
          const ids = (await docker(['ps', '-aq'], { reject: false, timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
          if (ids.length) await docker(['rm', '--force', ...ids], { reject: false, timeoutMs: 60_000 });
          const nets = (await docker(['network', 'ls', '--quiet', '--no-trunc', '--filter', 'type=custom'], { reject: false, timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
          writeFileSync(join(dir, 'networks.txt'), nets.map((n) => `br-${n.slice(0, 12)}`).join('\n'));
          if (nets.length) await docker(['network', 'rm', ...nets], { reject: false, timeoutMs: 30_000 });
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          child.ref();
          child.kill('SIGTERM');
          const timer = new Promise<void>((r) => setTimeout(r, 20_000).unref());
          await Promise.race([exited, timer]);
        }
      } finally {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is gone
        }
        sweep(dir);
        live.delete(engine);
      }
    },
  };
  live.add(engine);
  // ready: the API answers (dockerd writes the socket before it serves; `docker version` proves both)
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    const r = await docker(['version', '--format', '{{.Server.Version}}'], { reject: false, timeoutMs: 10_000 });
    if (r.exitCode === 0 && r.stdout.trim()) break;
    if (exited(child) || Date.now() > deadline) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).slice(-5).join('\n') : '';
      await engine.stop();
      throw new Error(`dockerd (${opts.store}) did not come up${exited(child) ? ` (exit ${child.exitCode ?? child.signalCode})` : ''}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return engine;
}

/** What a test can check was left behind by `engine` after stop(): [] when nothing. */
export function leftovers(engine: Pick<Engine, 'dir' | 'bridge'>): string[] {
  const out: string[] = [];
  if (existsSync(engine.dir)) out.push(`folder ${engine.dir}`);
  if (linkExists(engine.bridge)) out.push(`interface ${engine.bridge}`);
  for (const m of mountsUnder(engine.dir)) out.push(`mount ${m}`);
  for (const p of processesUnder(engine.dir)) out.push(`process ${p}`);
  return out;
}

/**
 * A stand-in base image made without any registry: a rootfs holding Debian's static busybox (and
 * the applets as links), imported as `ref`. It runs `sh`, `nc`, `sleep`; it is not the image it
 * stands for (see docs/testing-docker.md, "Stand-in images").
 */
export async function importStandIn(engine: Engine, ref: string, opts: { files?: Record<string, string | Uint8Array>; changes?: string[] } = {}): Promise<void> {
  const root = mkdtempSync(join(engine.dir, 'rootfs-'));
  try {
    for (const d of ['bin', 'etc', 'tmp']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    // in-process: one `ln` per applet was some 400 processes per image
    for (const applet of applets()) if (applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet));
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');
    for (const [path, content] of Object.entries(opts.files ?? {})) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), content, { mode: 0o755 });
    }
    // through a file, not a pipe: an unread stderr of a `buffer: false` subprocess keeps execa's
    // promise pending for ever (the first run of this tier hung here)
    const archive = `${root}.tar`;
    await execa('tar', ['-C', root, '-cf', archive, '.']);
    const changes = (opts.changes ?? ['CMD ["/bin/sh"]']).flatMap((c) => ['--change', c]);
    await engine.docker(['import', ...changes, archive, ref]);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(`${root}.tar`, { force: true });
  }
}

function applets(): string[] {
  return execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => /^[\w.-]+$/.test(a));
}

export interface LocalRegistry {
  /** 127.0.0.1:<port> */
  host: string;
  stop(): Promise<void>;
}

/** The built distribution registry as a process on 127.0.0.1 (a free port), storage in `dir`. */
export async function startRegistry(dir: string): Promise<LocalRegistry> {
  const { freePorts } = await import('../../bench/lib/net.js');
  const [port] = await freePorts(1);
  const store = mkdtempSync(join(dir, 'registry-'));
  const cfg = join(store, 'config.yml');
  writeFileSync(cfg, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${store}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn(join(ENGINE_BIN, 'registry'), ['serve', cfg], { stdio: 'ignore', detached: true });
  child.unref();
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`http://${host}/v2/`).then((r) => r.ok, () => false);
    if (ok) break;
    if (exited(child) || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the registry on ${host} did not answer`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    async stop() {
      if (exited(child)) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.ref();
      child.kill('SIGTERM');
      await gone;
    },
  };
}
