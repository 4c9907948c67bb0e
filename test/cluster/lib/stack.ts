// What both cluster-tier files share: a control plane started once per file (test/helpers/
// control-plane.ts), a world where only docker and kind are faked, and the commands and kubectl
// queries the tests make against it. Two files, two control planes: vitest runs them side by side.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { Cluster } from '../../e2e/lib/cluster.js';
import { resolveE2eConfig } from '../../e2e/lib/config.js';
import { preflight, PreflightError } from '../../e2e/lib/preflight.js';
import { binaryPaths, startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../helpers/control-plane.js';
import { fakeWorld, ROOT, runEntry, type EntryResult, type FakeWorld } from '../../helpers/fake-tools.js';
import { startTestSink } from '../../helpers/sink.js';

export const NS = 'mailkind';
export const REGISTRY = 'registry.invalid/mailkind';
export const WORKLOADS_FULL = ['dragonfly', 'kumomta', 'kumomta-tsa', 'mailman-core', 'mailman-web', 'postgres', 'smtp-sink'];
// the machine's kubectl (Debian's, 1.32 here) and the one built with the control plane (1.36)
export const SYSTEM_KUBECTL_DIR = '/usr/bin';
export const BUILT_KUBECTL_DIR = dirname(binaryPaths().kubectl);

export const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);

export interface StackFixture {
  cp: ControlPlane;
  world: FakeWorld;
  /** `npm run up -- --context <cp> --registry <REGISTRY> --timeout 60 ...args` with this kubectl */
  up(args?: string[], kubectlDir?: string): Promise<EntryResult>;
  /** another entry point (status, down) against the control plane */
  entry(name: string, args: string[]): Promise<EntryResult>;
  /** kubectl, failing the test on a non-zero exit */
  k(args: string[], input?: string): Promise<string>;
  /** kubectl kustomize of a folder of the repository */
  render(dir: string): Promise<string>;
  /** kind/name of every object of the stack's kinds in the namespace */
  objects(ns?: string): Promise<string[]>;
  /** metadata.generation of every Deployment and StatefulSet */
  generations(): Promise<Record<string, number>>;
  /** the e2e suite's Cluster client for a namespace of this control plane */
  e2eCluster(namespace: string): Cluster;
  /** the e2e preflight against this cluster, with a real sink and stand-in kumod listeners */
  checkPreflight(deployed: 'full' | 'minimal'): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(options: ControlPlaneOptions = {}): Promise<StackFixture> {
  const started = performance.now();
  const cp = await startControlPlane(options);
  console.log(`control plane ready in ${cp.timings.ready} ms (${JSON.stringify(cp.timings)})`);
  const world = await fakeWorld({}, { fake: ['docker', 'kind'], path: [BUILT_KUBECTL_DIR], env: { KUBECONFIG: cp.kubeconfig } });
  /** the world's environment with the given kubectl first on PATH */
  const envWith = (kubectlDir: string): Record<string, string> => ({ ...world.env, PATH: world.env.PATH!.replace(/^([^:]+):[^:]+/, `$1:${kubectlDir}`) });
  const k = async (args: string[], input?: string) => {
    const r = await cp.run(args, input === undefined ? {} : { input });
    if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const e2eCluster = (namespace: string) => new Cluster({ kubectl: cp.kubectl, context: cp.context, namespace, env: { ...process.env, KUBECONFIG: cp.kubeconfig } });
  const fixture: StackFixture = {
    cp,
    world,
    up: (args = [], kubectlDir = BUILT_KUBECTL_DIR) => runEntry('up', ['--context', cp.context, '--registry', REGISTRY, '--timeout', '60', ...args], envWith(kubectlDir)),
    entry: (name, args) => runEntry(name, args, envWith(BUILT_KUBECTL_DIR)),
    k,
    render: (dir) => k(['kustomize', join(ROOT, dir)]),
    objects: async (ns = NS) =>
      (await k(['--namespace', ns, 'get', 'deployments,statefulsets,services,configmaps,secrets,persistentvolumeclaims,serviceaccounts', '--output', 'name']))
        .split('\n')
        .filter(Boolean)
        .sort(),
    generations: async () => {
      const list = JSON.parse(await k(['--namespace', NS, 'get', 'deployments,statefulsets', '--output', 'json'])) as { items: { kind: string; metadata: { name: string; generation: number } }[] };
      return Object.fromEntries(list.items.map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.generation]));
    },
    e2eCluster,
    checkPreflight: (deployed) => checkPreflight(deployed, cp, world, k),
    stop: async () => {
      await cp.stop();
      console.log(`cluster tier file: ${Math.round(performance.now() - started)} ms in all`);
    },
  };
  return fixture;
}

async function checkPreflight(deployed: 'full' | 'minimal', cp: ControlPlane, world: FakeWorld, k: StackFixture['k']): Promise<void> {
  const password = Buffer.from(await k(['--namespace', NS, 'get', 'secret', 'kumomta-http', '--output', 'jsonpath={.data.password}']), 'base64').toString();
  const sink: RunningSink = await startTestSink();
  // stands in for kumod's HTTP listener behind a port-forward (not KumoMTA): liveness and auth
  const kumod: Server = createServer((req, res) => {
    if (req.url === '/api/check-liveness/v1') return void res.end('OK');
    const ok = req.headers.authorization === `Basic ${Buffer.from(`mailkind:${password}`).toString('base64')}`;
    res.writeHead(ok ? 422 : 401).end(ok ? 'missing field `envelope_sender`' : 'HttpBasicAuth Authentication Failed');
  });
  await new Promise<void>((r) => kumod.listen(0, '127.0.0.1', r));
  // stand-ins for kumod's two SMTP listeners: only the 220 greeting the preflight waits for
  const sockets = new Set<Socket>();
  const smtp = [0, 1].map(() =>
    createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.end('220 kumomta-0 ESMTP stand-in\r\n');
    }),
  );
  for (const server of smtp) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const [inbound, relay] = smtp.map((server) => (server.address() as AddressInfo).port);
  try {
    const config = (profile: string, extra: Record<string, string> = {}) =>
      resolveE2eConfig({
        MAILKIND_CONTEXT: cp.context,
        MAILKIND_PROFILE: profile,
        MAILKIND_STATE_DIR: join(world.dir, 'no-state'),
        MAILKIND_KUBECTL: cp.kubectl,
        MAILKIND_E2E_KUMO_URL: `http://127.0.0.1:${(kumod.address() as AddressInfo).port}`,
        MAILKIND_E2E_SINK_URL: sink.url,
        MAILKIND_E2E_MAILMAN_URL: 'http://127.0.0.1:9',
        MAILKIND_E2E_SMTP_HOST: '127.0.0.1',
        MAILKIND_PORT_KUMO_INBOUND: String(inbound),
        MAILKIND_PORT_KUMO_RELAY: String(relay),
        ...extra,
      });
    const cluster = (c: ReturnType<typeof config>) => new Cluster({ kubectl: c.kubectl, context: c.context, namespace: c.namespace, env: { ...process.env, KUBECONFIG: cp.kubeconfig } });
    const asMinimal = config('minimal');
    const runtime = await preflight(asMinimal, { cluster: cluster(asMinimal) });
    expect(runtime.kumoAuth).toEqual({ username: 'mailkind', password, source: 'Secret kumomta-http in the cluster' });
    const asFull = config('full');
    const e = await preflight(asFull, { cluster: cluster(asFull) }).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(PreflightError);
    const problems = (e as PreflightError).problems;
    if (deployed === 'minimal') {
      expect(problems.map((p) => p.component)).toEqual(['mailman-core', 'mailman-web', 'postgres']);
      expect(problems[0]!.message).toContain('the stack looks like --profile minimal');
      // credentials that are not the cluster's, and a sink that is down: both reported, no secret shown
      const stale = config('minimal', { MAILKIND_KUMO_HTTP_USER: 'mailkind', MAILKIND_KUMO_HTTP_PASSWORD: 'stale-password-from-an-old-up', MAILKIND_E2E_SINK_URL: 'http://127.0.0.1:9' });
      const e2 = (await preflight(stale, { cluster: cluster(stale) }).then(() => null, (x: unknown) => x)) as PreflightError;
      expect(e2.problems.map((p) => p.component).sort()).toEqual(['credentials', 'smtp-sink']);
      expect(e2.message).toMatch(/KumoMTA refused user "mailkind" \(from MAILKIND_KUMO_HTTP_USER\/MAILKIND_KUMO_HTTP_PASSWORD\)/);
      expect(e2.message).not.toContain('stale-password-from-an-old-up');
      // an SMTP listener that does not answer is named with its port
      const closed = await new Promise<number>((res) => {
        const gone = createTcpServer().listen(0, '127.0.0.1', () => {
          const port = (gone.address() as AddressInfo).port;
          gone.close(() => res(port));
        });
      });
      const noInbound = config('minimal', { MAILKIND_PORT_KUMO_INBOUND: String(closed) });
      const e3 = (await preflight(noInbound, { cluster: cluster(noInbound) }).then(() => null, (x: unknown) => x)) as PreflightError;
      expect(e3.problems).toEqual([{ component: 'kumomta', message: expect.stringMatching(new RegExp(`^SMTP inbound \\(host port ${closed}\\): cannot connect to 127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`)) as unknown }]);
    } else {
      // every workload and credential recognised; only Mailman's REST port has no stand-in here
      expect(problems).toEqual([{ component: 'mailman-core', message: expect.stringContaining('127.0.0.1:9') as unknown }]);
    }
  } finally {
    await sink.close();
    kumod.closeAllConnections();
    await new Promise((r) => kumod.close(r));
    for (const socket of sockets) socket.destroy();
    for (const server of smtp) await new Promise((r) => server.close(r));
  }
}

/** the secrets file's mailman-rest password (what status must not print unless asked) */
export function mailmanRestPassword(world: FakeWorld): string {
  return (JSON.parse(readFileSync(world.secretsPath, 'utf8')) as { secrets: { 'mailman-rest': { password: string } } }).secrets['mailman-rest'].password;
}
