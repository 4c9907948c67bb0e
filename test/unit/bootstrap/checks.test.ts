import { describe, expect, it } from 'vitest';
import { allChecks, blockers, checkTable, dockerChecks, inotifyCheck, diskCheck, portChecks, toolChecks, type Facts } from '../../../scripts/lib/lifecycle/checks.js';
import type { DockerInfo } from '../../../scripts/lib/tools/docker.js';
import { parseDockerInfo } from '../../../scripts/lib/tools/docker.js';

const pins = { kind: { version: 'v0.32.0', minimum: 'v0.27.0' }, kubectl: { version: 'v1.36.1', minimum: 'v1.30.0' }, tilt: { version: 'v0.37.6', minimum: 'v0.37.0' }, registry: { image: 'registry:3.0.0' } };
const GiB = 1024 ** 3;
const docker = (mem: number, cpus = 4): DockerInfo => ({ reachable: true, serverVersion: '28.2.2', memTotalBytes: mem, cpus, architecture: 'aarch64', osType: 'linux', operatingSystem: 'Docker Desktop', rootDir: '/var/lib/docker', clientVersion: '28.2.2', imageStore: 'containerd', storageDriver: 'overlayfs' });

describe('doctor checks', () => {
  it('Docker down is a blocker with its own words and a fix; missing docker says install', () => {
    const down = parseDockerInfo('{"ServerVersion":"","ServerErrors":["Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"]}', 1, '');
    const [c] = dockerChecks(down, 'full');
    expect(c).toMatchObject({ level: 'fail', detail: expect.stringContaining('Cannot connect to the Docker daemon') as string, fix: expect.stringContaining('start Docker') as string });
    const missing = dockerChecks({ ...down, error: 'docker: not found on PATH' }, 'full')[0]!;
    expect(missing.fix).toContain('install Docker');
  });

  it('memory: blocks under 4 GiB for full, warns under 6 and suggests the minimal profile; minimal needs less', () => {
    expect(dockerChecks(docker(3 * GiB), 'full').find((c) => c.id === 'docker-memory')?.level).toBe('fail');
    const warn = dockerChecks(docker(5 * GiB), 'full').find((c) => c.id === 'docker-memory')!;
    expect(warn.level).toBe('warn');
    expect(warn.fix).toContain('--profile minimal');
    expect(dockerChecks(docker(3 * GiB), 'minimal').find((c) => c.id === 'docker-memory')?.level).toBe('ok');
    expect(dockerChecks(docker(8 * GiB, 1), 'full').find((c) => c.id === 'docker-cpus')?.level).toBe('warn');
  });

  it('kind and kubectl: missing or too old is a blocker pointing at --install-tools; tilt is optional', () => {
    const checks = toolChecks({ kind: 'kind v0.20.0 go1.20 linux/amd64', kubectl: undefined, tilt: undefined }, pins, true);
    expect(checks.map((c) => [c.id, c.level])).toEqual([['kind', 'fail'], ['kubectl', 'fail'], ['tilt', 'info']]);
    expect(checks[0]!.detail).toContain('older than v0.27.0');
    expect(checks[1]!.fix).toContain('npm run doctor -- --install-tools');
    expect(toolChecks({ kind: 'kind v0.32.0', kubectl: 'v1.32.4-dispatcher', tilt: 'v0.37.6, built 2026-07-28' }, pins, true).every((c) => c.level === 'ok')).toBe(true);
    expect(toolChecks({ kubectl: 'v1.36.1' }, pins, false).map((c) => c.id)).toEqual(['kubectl', 'tilt']);
    // tilt: missing or older than the Tiltfile's minimum points at the official release --install-tools installs
    expect(checks[2]!.fix).toBe('`npm run doctor -- --install-tools` (the official v0.37.6 into .mailkind/bin)');
    const old = toolChecks({ kubectl: 'v1.36.1', tilt: 'v0.36.3, built 2025-11-02' }, pins, false).find((c) => c.id === 'tilt')!;
    expect(old).toMatchObject({ level: 'warn', detail: "v0.36.3, built 2025-11-02 is older than v0.37.0 (the Tiltfile's minimum)" });
    expect(old.fix).toContain('--install-tools');
  });

  it('a taken port blocks unless this toolkit publishes it', () => {
    const checks = portChecks([
      { port: 8000, what: 'kumomta HTTP', env: 'MAILKIND_PORT_KUMO_HTTP', free: false, ours: false },
      { port: 8025, what: 'sink', free: false, ours: true },
      { port: 2525, what: 'inbound', free: true, ours: false },
    ]);
    expect(checks.map((c) => c.level)).toEqual(['fail', 'ok', 'ok']);
    expect(checks[0]!.fix).toContain('lsof -nP -iTCP:8000 -sTCP:LISTEN');
    // the fix names the variable that moves the port, not a README section
    expect(checks[0]!.fix).toContain('`MAILKIND_PORT_KUMO_HTTP=<free port> npm run up`');
    expect(checks[0]!.fix).not.toContain('README');
  });

  it('inotify limits only on Linux; disk thresholds', () => {
    expect(inotifyCheck('darwin', { maxUserWatches: 1, maxUserInstances: 1 })).toEqual([]);
    expect(inotifyCheck('linux', { maxUserWatches: 8192, maxUserInstances: 128 })[0]).toMatchObject({ level: 'warn', fix: expect.stringContaining('fs.inotify.max_user_watches=524288') as string });
    expect(inotifyCheck('linux', { maxUserWatches: 524288, maxUserInstances: 512 })[0]!.level).toBe('ok');
    expect(diskCheck(2 * GiB)[0]!.level).toBe('fail');
    expect(diskCheck(5 * GiB)[0]!.level).toBe('warn');
    expect(diskCheck(50 * GiB)[0]!.level).toBe('ok');
  });

  it('an external cluster skips kind and port checks; the table puts each fix under its problem', () => {
    const facts: Facts = { platform: 'linux', docker: docker(8 * GiB), kubectl: 'v1.36.1', ports: [{ port: 8000, what: 'x', free: false, ours: false }] };
    const external = allChecks(facts, pins, { profile: 'full', external: true });
    expect(external.map((c) => c.id)).not.toContain('kind');
    expect(blockers(external)).toEqual([]);
    const local = allChecks(facts, pins, { profile: 'full', external: false });
    expect(blockers(local).map((c) => c.id)).toEqual(['kind', 'port-8000']);
    const rows = checkTable(local);
    const i = rows.findIndex((r) => r.text.includes('port 8000'));
    expect(rows[i]!.level).toBe('fail');
    expect(rows[i + 1]).toEqual({ text: expect.stringMatching(/^\s+fix: stop what listens there/) as string });
  });
});
