// What an audit of the manifests against the upstream sources found would stop the stack on a real
// cluster (issue "The stack must start for real"), each checked on the rendered manifests; the two
// shell scripts the kumomta pod runs are executed here with bash against local stand-ins.
// Upstream paths: KumoCorp/kumomta at the pinned tag, maxking/docker-mailman v0.5.2.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IContainer } from './lib/k8s.js';
import { containers, podSpec, type K8sObject } from './lib/k8s.js';
import { findRenderer, render } from './lib/render.js';
import { skipWithout } from '../helpers/prerequisites.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const renderer = findRenderer(ROOT);
const skip = skipWithout(
  'skip' in renderer ? { what: 'test/manifests/kumomta-start.test.ts', reason: renderer.skip, fix: 'bash scripts/provision/kubernetes.sh (or install kubectl)' } : undefined,
);

function workload(objects: K8sObject[], ref: string): K8sObject {
  const found = objects.find((o) => `${o.kind}/${o.metadata.name}` === ref);
  if (!found) throw new Error(`${ref} not rendered`);
  return found;
}

function container(o: K8sObject, name: string): IContainer {
  const found = containers(o).find((c) => c.container.name === name);
  if (!found) throw new Error(`${o.metadata.name} has no container ${name}`);
  return found.container;
}

function env(c: IContainer): Record<string, string | undefined> {
  return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
}

/** The script of a `bash -c SCRIPT` container. */
function script(c: IContainer): string {
  const cmd = c.command ?? [];
  expect(cmd.slice(0, 2)).toEqual(['/bin/bash', '-c']);
  return cmd[2] ?? '';
}

async function until(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skip)('the KumoMTA, TSA and Mailman pods can start on a real cluster', () => {
  let objects: K8sObject[] = [];
  let dir: string;
  beforeAll(async () => {
    if (!('file' in renderer)) return;
    objects = await render(renderer, join(ROOT, 'manifests'));
    dir = mkdtempSync(join(tmpdir(), 'mailkind-kumomta-start-'));
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('kumod and tsa-daemon persist their node id on a writable volume (EROFS panics: crates/kumo-server-common/src/nodeid.rs)', () => {
    for (const [ref, name] of [
      ['StatefulSet/kumomta', 'kumod'],
      ['StatefulSet/kumomta-tsa', 'tsa'],
    ] as const) {
      const c = container(workload(objects, ref), name);
      const vars = env(c);
      if (vars.KUMO_NODE_ID !== undefined) continue;
      const path = vars.KUMO_NODE_ID_PATH;
      expect(path, `${ref} ${name}: set KUMO_NODE_ID_PATH (its root filesystem is read-only)`).toBeDefined();
      const mount = (c.volumeMounts ?? []).find((m) => path?.startsWith(`${m.mountPath}/`));
      expect(mount, `${ref} ${name}: ${String(path)} is on no volume`).toBeDefined();
      expect(mount?.readOnly ?? false).toBe(false);
    }
  });

  it('starts kumod without --user: any non-root uid works, and the image does not pin the kumod uid (crates/kumod/src/main.rs drop_privs)', () => {
    for (const ref of ['StatefulSet/kumomta', 'StatefulSet/kumomta-tsa']) {
      const o = workload(objects, ref);
      for (const { container: c } of containers(o)) expect(c.command ?? [], `${ref} ${c.name}`).not.toContain('--user');
      expect(podSpec(o)?.securityContext?.runAsNonRoot).toBe(true);
    }
  });

  describe('kumod waits for Dragonfly before it starts (configure_redis_throttles PINGs it inside init)', () => {
    let server: Server | undefined;
    afterAll(() => server?.close());

    it('an init container of the kumomta pod probes the Dragonfly name init.lua uses', () => {
      const o = workload(objects, 'StatefulSet/kumomta');
      const init = podSpec(o)?.initContainers ?? [];
      const wait = init.find((c) => c.name === 'wait-for-dragonfly');
      expect(wait, 'kumomta needs the wait-for-dragonfly init container').toBeDefined();
      expect(wait?.image).toBe(container(o, 'kumod').image);
      expect(env(wait as IContainer).DRAGONFLY_HOST).toBe('dragonfly.$(POD_NAMESPACE).svc.cluster.local');
      expect(readFileSync(join(ROOT, 'manifests/base/policy/kumomta/init.lua'), 'utf8')).toContain("'redis://' .. fqdn('dragonfly') .. ':6379/'");
      expect(env(wait as IContainer).DRAGONFLY_PORT).toBe('6379');
    });

    it('its script waits while nothing answers, and exits 0 once a server replies +PONG to PING', async () => {
      const wait = podSpec(workload(objects, 'StatefulSet/kumomta'))?.initContainers?.find((c) => c.name === 'wait-for-dragonfly') as IContainer;
      // a free port with nothing listening yet
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const port = (probe.address() as AddressInfo).port;
      await new Promise<void>((r) => probe.close(() => r()));

      let stdout = '';
      const child = spawn('bash', ['-c', script(wait)], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', POD_NAMESPACE: 'mailkind', DRAGONFLY_HOST: '127.0.0.1', DRAGONFLY_PORT: String(port), WAIT_ATTEMPTS: '30' },
      });
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        await until(() => stdout.includes('waiting for dragonfly at 127.0.0.1'), 'a first failed attempt');
        let pings = '';
        server = createServer((socket) => {
          // the client closes once it read "+PONG" (head -c 5): a reset is expected
          socket.on('error', () => undefined);
          socket.on('data', (d: Buffer) => {
            pings += d.toString();
            if (pings.includes('PING\r\n')) socket.end('+PONG\r\n');
          });
        });
        await new Promise<void>((r) => server?.listen(port, '127.0.0.1', r));
        expect(await exited).toBe(0);
        expect(stdout).toMatch(/dragonfly answers PING \(attempt \d+\)/);
        expect(pings).toContain('PING\r\n');
      } finally {
        child.kill();
      }
    }, 30_000);

    it('its script gives up with a message after WAIT_ATTEMPTS (the pod then restarts the wait)', () => {
      const wait = podSpec(workload(objects, 'StatefulSet/kumomta'))?.initContainers?.find((c) => c.name === 'wait-for-dragonfly') as IContainer;
      const r = spawnSync('bash', ['-c', script(wait)], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', POD_NAMESPACE: 'mailkind', DRAGONFLY_HOST: '127.0.0.1', DRAGONFLY_PORT: '1', WAIT_ATTEMPTS: '1' },
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('dragonfly did not answer PING');
    }, 30_000);
  });

  describe('kumod log segments stay within the logs volume for a days-long run', () => {
    it('the log-pruner budget and the segment size cap fit the emptyDir', () => {
      const o = workload(objects, 'StatefulSet/kumomta');
      const pruner = container(o, 'log-pruner');
      expect(pruner.volumeMounts?.map((m) => m.mountPath)).toEqual(['/var/log/kumomta']);
      const budget = Number(env(pruner).LOG_BUDGET_BYTES);
      const limit = podSpec(o)?.volumes?.find((v) => v.name === 'logs')?.emptyDir?.sizeLimit;
      expect(limit).toBe('256Mi');
      const policy = readFileSync(join(ROOT, 'manifests/base/policy/kumomta/init.lua'), 'utf8');
      const segment = /max_file_size = (\d+) \* (\d+) \* (\d+)/.exec(policy);
      expect(segment, 'init.lua caps max_file_size').not.toBeNull();
      const segmentBytes = segment ? Number(segment[1]) * Number(segment[2]) * Number(segment[3]) : Infinity;
      // the budget, plus one open segment and one interval of closed ones, stays below the cap
      expect(budget + 2 * segmentBytes).toBeLessThan(256 * 1024 * 1024);
    });

    it('the pruner deletes the oldest segments beyond the budget and never the newest', async () => {
      const pruner = container(workload(objects, 'StatefulSet/kumomta'), 'log-pruner');
      const logs = join(dir, 'logs');
      const names = ['20260101-000000', '20260101-000010', '20260101-000020', '20260101-000030'];
      spawnSync('mkdir', ['-p', logs]);
      for (const n of names) writeFileSync(join(logs, n), Buffer.alloc(1000));
      // the script cds into /var/log/kumomta: run it on the temporary directory instead
      const body = script(pruner).replace('cd /var/log/kumomta', `cd ${JSON.stringify(logs)}`);
      expect(body).not.toContain('/var/log/kumomta');
      const child = spawn('bash', ['-c', body], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LOG_BUDGET_BYTES: '2500', PRUNE_INTERVAL_SECONDS: '1' } });
      try {
        await until(() => readdirSync(logs).length === 2, 'the pruner to bring 4000 bytes under 2500');
        expect(readdirSync(logs).sort()).toEqual(names.slice(2));
        // over budget with a single (newest) file: it stays
        writeFileSync(join(logs, names[3] ?? ''), Buffer.alloc(5000));
        rmSync(join(logs, names[2] ?? ''));
        await new Promise((r) => setTimeout(r, 1500));
        expect(existsSync(join(logs, names[3] ?? ''))).toBe(true);
      } finally {
        child.kill();
      }
    }, 30_000);
  });

  it('HyperKitty accepts archive POSTs from the mailman-core pod IP (MAILMAN_HOST_IP "*"; the API key is still checked)', () => {
    const web = container(workload(objects, 'Deployment/mailman-web'), 'mailman-web');
    expect(env(web).MAILMAN_HOST_IP).toBe('*');
    expect((web.env ?? []).find((e) => e.name === 'HYPERKITTY_API_KEY')?.valueFrom?.secretKeyRef).toBeDefined();
  });

  it('django-q runs a fixed number of workers (settings_local.py mounted beside settings.py, outside the chowned data dir)', () => {
    const o = workload(objects, 'Deployment/mailman-web');
    const web = container(o, 'mailman-web');
    const mount = (web.volumeMounts ?? []).find((m) => m.mountPath === '/opt/mailman-web/settings_local.py');
    expect(mount, 'mount settings_local.py at /opt/mailman-web/settings_local.py').toBeDefined();
    expect(mount?.readOnly).toBe(true);
    for (const m of web.volumeMounts ?? []) if (m.readOnly) expect(m.mountPath.startsWith('/opt/mailman-web-data')).toBe(false);
    const volume = podSpec(o)?.volumes?.find((v) => v.name === mount?.name);
    const cm: K8sObject & { data?: Record<string, string> } = objects.find((x) => x.kind === 'ConfigMap' && x.metadata.name === volume?.configMap?.name) ?? { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'missing' } };
    const source = cm.data?.['settings_local.py'];
    expect(source, 'the ConfigMap carries settings_local.py').toBeDefined();
    // evaluate it as Python does (python3 is on every machine this tier runs on)
    writeFileSync(join(dir, 'settings_local.py'), source ?? '');
    const again = spawnSync('python3', ['-c', `exec(open(${JSON.stringify(join(dir, 'settings_local.py'))}).read()); print(Q_CLUSTER['workers'], Q_CLUSTER['orm'])`], { encoding: 'utf8' });
    expect(again.stdout.trim()).toBe('1 default');
  });
});
