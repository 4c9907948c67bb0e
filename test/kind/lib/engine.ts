// A Docker engine of the kind tier's own: dockerd (with its own containerd) from the binaries
// scripts/provision/docker-engine.sh builds, on its own socket, data root and network bridge, so
// it neither sees nor disturbs another engine on the machine. stop() removes what it made:
// containers (kind nodes, the registry), networks, its bridge, its iptables rules, and restores
// ip_forward.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

export interface EngineOptions {
  /** a short name: the bridge is `mk<name>0`, the run folder /run/mailkind-<name> */
  name: string;
  /** the folder with dockerd, containerd, runc, docker-proxy, ... */
  binDir: string;
  /** where its data root lives (removed by stop unless keepData) */
  dataRoot: string;
  /** the engine's bridge network (docker0's role), e.g. 10.213.0.1/24 */
  bridgeCidr: string;
  /** address pool for user-defined networks (kind's network), e.g. 10.214.0.0/16 */
  pool: string;
}

export interface Engine {
  /** DOCKER_HOST and PATH for commands that talk to this engine */
  env: Record<string, string>;
  socket: string;
  log(lines?: number): string;
  /** stops dockerd (containers are stopped by it), as a machine reboot would */
  stopDaemon(): Promise<void>;
  /** starts dockerd again on the same data root */
  startDaemon(): Promise<void>;
  /** removes everything: containers, networks, daemon, bridge, rules, data */
  stop(): Promise<void>;
}

const run = (cmd: string, args: string[], env?: Record<string, string>) => execa(cmd, args, { reject: false, env, extendEnv: true });

/**
 * What a run that never reached stop() left (its test process was killed): the daemon (a spawned
 * child outlives a killed parent; on SIGTERM it stops its containers), then the same clean-up as
 * stop(). The run folder records the daemon's pid and data root.
 */
async function sweepStale(runDir: string, bridge: string, o: EngineOptions): Promise<void> {
  if (!existsSync(runDir)) return;
  const read = (f: string) => (existsSync(join(runDir, f)) ? readFileSync(join(runDir, f), 'utf8').trim() : '');
  const pid = Number(read('dockerd.pid'));
  const alive = (p: number) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (pid > 0 && alive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dockerd')) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 600 && alive(pid); i++) await sleep(100);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  const dataRoot = read('data-root');
  await removeRules(bridge, o);
  await run('ip', ['link', 'del', bridge]);
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(runDir) || (dataRoot && m.startsWith(dataRoot)));
  for (const m of mounts.reverse()) await run('umount', ['-l', m]);
  const ipForward = read('ip-forward');
  if (ipForward) writeFileSync('/proc/sys/net/ipv4/ip_forward', ipForward);
  if (dataRoot) rmSync(dataRoot, { recursive: true, force: true });
  rmSync(runDir, { recursive: true, force: true });
}

export async function startEngine(o: EngineOptions): Promise<Engine> {
  const runDir = `/run/mailkind-${o.name}`;
  const bridge = `mk${o.name}0`;
  await sweepStale(runDir, bridge, o);
  mkdirSync(runDir, { recursive: true });
  mkdirSync(o.dataRoot, { recursive: true });
  writeFileSync(join(runDir, 'data-root'), o.dataRoot);
  const socket = join(runDir, 'docker.sock');
  const logFile = join(runDir, 'dockerd.log');
  const ipForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  writeFileSync(join(runDir, 'ip-forward'), ipForward);
  const env = { DOCKER_HOST: `unix://${socket}`, PATH: `${o.binDir}:${process.env.PATH ?? ''}` };

  // our own bridge: dockerd would otherwise take docker0, which another engine may own
  if ((await run('ip', ['link', 'show', bridge])).exitCode !== 0) {
    await execa('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await execa('ip', ['addr', 'add', o.bridgeCidr, 'dev', bridge]);
    await execa('ip', ['link', 'set', bridge, 'up']);
  }
  const config = join(runDir, 'daemon.json');
  writeFileSync(
    config,
    JSON.stringify({
      'data-root': o.dataRoot,
      'exec-root': join(runDir, 'exec'),
      pidfile: join(runDir, 'dockerd.pid'),
      hosts: [`unix://${socket}`],
      bridge,
      'default-address-pools': [{ base: o.pool, size: 24 }],
      'storage-driver': 'overlay2',
      features: { 'containerd-snapshotter': false },
      // the node containers' restart policy would otherwise let a stopped dockerd keep them
      'live-restore': false,
    }),
  );

  let daemon: ChildProcess | undefined;
  const startDaemon = async () => {
    const fd = openSync(logFile, 'a');
    daemon = spawn(join(o.binDir, 'dockerd'), ['--config-file', config], { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const started = Date.now();
    for (;;) {
      if (daemon.exitCode !== null) throw new Error(`dockerd exited (${daemon.exitCode}):\n${tail(logFile, 20)}`);
      if ((await run('docker', ['version', '--format', '{{.Server.Version}}'], env)).exitCode === 0) return;
      if (Date.now() - started > 60_000) throw new Error(`dockerd did not answer in 60 s:\n${tail(logFile, 20)}`);
      await sleep(200);
    }
  };
  const stopDaemon = async () => {
    const d = daemon;
    if (!d || d.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => d.once('exit', () => resolve()));
    d.kill('SIGTERM');
    await Promise.race([exited, sleep(60_000)]);
    if (d.exitCode === null && d.signalCode === null) {
      d.kill('SIGKILL');
      await exited;
    }
  };

  await startDaemon();

  return {
    env,
    socket,
    log: (lines = 40) => tail(logFile, lines),
    stopDaemon,
    startDaemon,
    async stop() {
      if (daemon && daemon.exitCode === null) {
        const ids = (await run('docker', ['ps', '-aq'], env)).stdout.split('\n').filter(Boolean);
        if (ids.length) await run('docker', ['rm', '-f', '-v', ...ids], env);
        const nets = (await run('docker', ['network', 'ls', '--filter', 'type=custom', '-q'], env)).stdout.split('\n').filter(Boolean);
        if (nets.length) await run('docker', ['network', 'rm', ...nets], env);
      }
      await stopDaemon();
      await removeRules(bridge, o);
      await run('ip', ['link', 'del', bridge]);
      writeFileSync('/proc/sys/net/ipv4/ip_forward', ipForward);
      // overlay mounts dockerd may have left (it unmounts them itself on a clean stop)
      const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(o.dataRoot) || m.startsWith(runDir));
      for (const m of mounts.reverse()) await run('umount', ['-l', m]);
      rmSync(o.dataRoot, { recursive: true, force: true });
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

/** Deletes the iptables rules that mention our bridge, kind's bridges of our pool, or our subnets. */
async function removeRules(bridge: string, o: EngineOptions): Promise<void> {
  const prefixes = [o.bridgeCidr.replace(/\.\d+\/\d+$/, '.'), o.pool.replace(/\.0\.0\/\d+$/, '.')];
  for (const table of ['filter', 'nat', 'raw', 'mangle']) {
    const rules = (await run('iptables', ['-t', table, '-S'])).stdout.split('\n');
    for (const rule of rules) {
      if (!rule.startsWith('-A ')) continue;
      if (!rule.includes(bridge) && !prefixes.some((p) => rule.includes(p))) continue;
      await run('sh', ['-c', `iptables -t ${table} ${rule.replace(/^-A /, '-D ')}`]);
    }
  }
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
