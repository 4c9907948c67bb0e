// The e2e suite's preflight, without a cluster: against the real kubectl with an empty kubeconfig
// (what a developer without `npm run up` gets), through `npm run e2e` itself, and with a fake
// kubectl plus a real sink and a stand-in kumod for the paths that need a cluster to answer.
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../scripts/lib/config/settings.js';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { Cluster } from '../../e2e/lib/cluster.js';
import { resolveE2eConfig, type E2eConfig } from '../../e2e/lib/config.js';
import { expectedWorkloads, preflight, PreflightError } from '../../e2e/lib/preflight.js';
import { startTestSink } from '../../helpers/sink.js';
import { fakeKubectl, workloadList, type FakeKubectl } from './fake-kubectl.js';

const tmp = mkdtempSync(join(tmpdir(), 'mailkind-preflight-'));
const emptyKubeconfig = join(tmp, 'kubeconfig');
writeFileSync(emptyKubeconfig, '');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ANSI = new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g');

/** The environment of a user with no cluster: only what the tools need, kubeconfig empty. */
function noClusterEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: tmp, KUBECONFIG: emptyKubeconfig, MAILKIND_STATE_DIR: join(tmp, 'state'), ...extra };
}

// Without kubectl on the machine the preflight must say that instead, just as fast: the same
// tests check that message, so they run (and mean something) either way.
const haveKubectl = (await execa('kubectl', ['version', '--client'], { reject: false })).exitCode === 0;
if (!haveKubectl) console.warn('test/component/e2e: kubectl is not installed; checking the "kubectl not found" preflight message instead');
const expected = haveKubectl
  ? { component: 'cluster', text: 'kube context "kind-mailkind" does not exist', xml: 'cluster: kube context &quot;kind-mailkind&quot; does not exist' }
  : { component: 'kubectl', text: 'kubectl not found ("kubectl")', xml: 'kubectl: kubectl not found (&quot;kubectl&quot;)' };
const escape = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function preflightError(p: Promise<unknown>): Promise<PreflightError> {
  const e = await p.then(() => null, (x: unknown) => x);
  if (!(e instanceof PreflightError)) throw new Error(`expected a PreflightError, got ${e === null ? 'success' : (e as Error).message}`);
  return e;
}

describe('preflight without a cluster (the real kubectl, an empty kubeconfig)', () => {
  it('fails within 10 s, naming the cluster and saying that npm run up creates the stack', async () => {
    const config = resolveE2eConfig(noClusterEnv());
    const t = Date.now();
    const e = await preflightError(preflight(config, { cluster: new Cluster({ kubectl: 'kubectl', context: config.context, namespace: config.namespace, env: noClusterEnv() }) }));
    expect(Date.now() - t).toBeLessThan(10_000);
    expect(e.problems).toEqual([{ component: expected.component, message: expect.stringContaining(expected.text) as unknown }]);
    expect(e.message).toContain('`npm run up` creates the stack');
    expect(e.message).toContain('context kind-mailkind, namespace mailkind');
  });

  it('`npm run e2e` exits 1 within 10 s with that message, no stack trace, and a JUnit report of the failure', async () => {
    const junit = join(tmp, 'junit-e2e.xml');
    const t = Date.now();
    const r = await execa('npm', ['run', '--silent', 'e2e'], { cwd: REPO_ROOT, env: noClusterEnv({ MAILKIND_E2E_JUNIT: junit, npm_config_update_notifier: 'false' }), extendEnv: false, reject: false, all: true, timeout: 60_000 });
    const elapsed = Date.now() - t;
    const out = r.all.replace(ANSI, '');
    expect(r.exitCode, out).toBe(1);
    expect(elapsed, 'including vitest start-up').toBeLessThan(10_000);
    expect(out).toMatch(new RegExp(`mailkind e2e preflight failed \\(context kind-mailkind, namespace mailkind\\):\\n {2}- ${expected.component}: ${escape(expected.text)}`));
    expect(out).toContain('`npm run up` creates the stack');
    expect(out).not.toMatch(/^\s+at /m);
    expect(out).not.toMatch(/No test files found/);
    const report = readFileSync(junit, 'utf8');
    expect(report).toMatch(/<testsuites name="mailkind e2e" tests="1" failures="1"/);
    expect(report).toMatch(new RegExp(`<failure message="mailkind e2e preflight failed[^"]*${escape(expected.xml)}`));
  });
});

describe('preflight with a fake kubectl', () => {
  let kubectl: FakeKubectl;
  let sink: RunningSink;
  let kumod: Server;
  let kumoUrl: string;
  // stand-ins for kumod's SMTP listeners: only the 220 greeting the preflight waits for
  const smtp: TcpServer[] = [];
  const smtpPorts: number[] = [];
  const sockets = new Set<Socket>();
  const PASSWORD = 'Preflight-Pass-0123456789';

  beforeAll(async () => {
    kubectl = fakeKubectl();
    sink = await startTestSink();
    // a stand-in for kumod's auth and liveness (not KumoMTA): 401 for wrong credentials, 422 for `{}`
    kumod = createServer((req, res) => {
      if (req.url === '/api/check-liveness/v1') return void res.end('OK');
      const ok = req.headers.authorization === `Basic ${Buffer.from(`mailkind:${PASSWORD}`).toString('base64')}`;
      res.writeHead(ok ? 422 : 401).end(ok ? 'Failed to deserialize the JSON body into the target type: missing field `envelope_sender`' : 'HttpBasicAuth Authentication Failed for mailkind');
    });
    await new Promise<void>((r) => kumod.listen(0, '127.0.0.1', r));
    kumoUrl = `http://127.0.0.1:${(kumod.address() as AddressInfo).port}`;
    for (let i = 0; i < 2; i++) {
      const server = createTcpServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
        socket.end('220 kumomta-0 ESMTP stand-in\r\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      smtp.push(server);
      smtpPorts.push((server.address() as AddressInfo).port);
    }
  });
  afterAll(async () => {
    kubectl.remove();
    await sink.close();
    kumod.closeAllConnections();
    await new Promise((r) => kumod.close(r));
    for (const socket of sockets) socket.destroy();
    for (const server of smtp) await new Promise((r) => server.close(r));
  });

  const config = (env: Record<string, string> = {}): E2eConfig =>
    resolveE2eConfig({
      MAILKIND_PROFILE: 'minimal',
      MAILKIND_STATE_DIR: join(tmp, 'none'),
      MAILKIND_KUBECTL: kubectl.path,
      MAILKIND_E2E_KUMO_URL: kumoUrl,
      MAILKIND_E2E_SINK_URL: sink.url,
      MAILKIND_E2E_SMTP_HOST: '127.0.0.1',
      MAILKIND_PORT_KUMO_INBOUND: String(smtpPorts[0]),
      MAILKIND_PORT_KUMO_RELAY: String(smtpPorts[1]),
      ...env,
    });
  const cluster = (c: E2eConfig): Cluster => new Cluster({ kubectl: c.kubectl, context: c.context, namespace: c.namespace });
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const allReady = expectedWorkloads(false).map((name) => ({ kind: 'StatefulSet' as const, name, replicas: name === 'kumomta' ? 2 : 1, ready: name === 'kumomta' ? 2 : 1 }));

  it('lists every component that is missing or not Ready, in one message', async () => {
    kubectl.setRules([
      { when: ['get', 'namespace'], stdout: 'namespace/mailkind\n' },
      { when: ['get', 'deployments,statefulsets'], stdout: workloadList([{ kind: 'StatefulSet', name: 'kumomta', replicas: 2, ready: 1 }, { kind: 'Deployment', name: 'smtp-sink', replicas: 1, ready: 1 }, { kind: 'Deployment', name: 'dragonfly', replicas: 0, ready: 0 }]) },
    ]);
    const c = config();
    const e = await preflightError(preflight(c, { cluster: cluster(c) }));
    expect(e.problems.map((p) => p.component)).toEqual(['dragonfly', 'kumomta', 'kumomta-tsa']);
    expect(e.message).toMatch(/kumomta: 1\/2 pods Ready/);
    expect(e.message).toMatch(/kumomta-tsa: not deployed/);
    expect(e.message).toMatch(/dragonfly: Deployment is scaled to 0/);
    expect(e.message).toContain('`npm run up` creates the stack');
    // every call carries the context, the namespace and an API deadline
    for (const call of kubectl.calls()) {
      expect(call.slice(0, 2)).toEqual(['--context', 'kind-mailkind']);
      expect(call.some((a) => a.startsWith('--request-timeout='))).toBe(true);
    }
  });

  it('a missing namespace and an unreachable API server are told apart', async () => {
    kubectl.setRules([{ when: ['get', 'namespace'], stderr: 'Error from server (NotFound): namespaces "mailkind" not found\n', exit: 1 }]);
    const c = config();
    expect((await preflightError(preflight(c, { cluster: cluster(c) }))).problems[0]?.message).toMatch(/namespace "mailkind" does not exist in context kind-mailkind/);
    kubectl.setRules([{ when: ['get', 'namespace'], stderr: 'E1122 06:02:37.686660 memcache.go:265 noise\nThe connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?\n', exit: 1 }]);
    const msg = (await preflightError(preflight(c, { cluster: cluster(c) }))).problems[0]?.message;
    expect(msg).toMatch(/API server of context kind-mailkind does not answer \(The connection to the server 127\.0\.0\.1:6443 was refused/);
    expect(msg).not.toContain('memcache');
  });

  it('a missing kubectl says so', async () => {
    const c = config({ MAILKIND_KUBECTL: join(tmp, 'no-such-kubectl') });
    const e = await preflightError(preflight(c));
    expect(e.problems[0]).toMatchObject({ component: 'kubectl', message: expect.stringMatching(/kubectl not found .*MAILKIND_KUBECTL/) as unknown });
  });

  it('passes when all is Ready, taking credentials from the cluster Secret when none are given', async () => {
    kubectl.setRules([
      { when: ['get', 'namespace'], stdout: 'namespace/mailkind\n' },
      { when: ['get', 'deployments,statefulsets'], stdout: workloadList(allReady) },
      { when: ['get', 'secret', 'kumomta-http'], stdout: JSON.stringify({ data: { username: b64('mailkind'), password: b64(PASSWORD) } }) },
    ]);
    const c = config();
    expect(c.kumoAuth).toBeNull();
    const runtime = await preflight(c, { cluster: cluster(c) });
    expect(runtime.kumoAuth).toEqual({ username: 'mailkind', password: PASSWORD, source: 'Secret kumomta-http in the cluster' });
    expect(runtime.mailmanAuth).toBeNull();
    // the Secret is read within the preflight's own budget, not kubectl's 20 s default
    const secretCalls = kubectl.calls().filter((call) => call.includes('secret'));
    expect(secretCalls.length).toBeGreaterThan(0);
    for (const call of secretCalls) {
      const timeout = Number(/^--request-timeout=(\d+)s$/.exec(call.find((a) => a.startsWith('--request-timeout=')) ?? '')?.[1]);
      expect(timeout).toBeLessThan(c.timeouts.preflight / 1000);
    }
  });

  it('probes both SMTP listeners (2525 inbound, 2587 relay) and names each that does not greet', async () => {
    kubectl.setRules([
      { when: ['get', 'namespace'], stdout: 'namespace/mailkind\n' },
      { when: ['get', 'deployments,statefulsets'], stdout: workloadList(allReady) },
    ]);
    // a port with nothing listening: bind one, then free it
    const gone = createTcpServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const closed = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const c = config({ MAILKIND_KUMO_HTTP_USER: 'mailkind', MAILKIND_KUMO_HTTP_PASSWORD: PASSWORD, MAILKIND_PORT_KUMO_INBOUND: String(closed) });
    const e = await preflightError(preflight(c, { cluster: cluster(c) }));
    expect(e.problems).toEqual([{ component: 'kumomta', message: expect.stringMatching(new RegExp(`^SMTP inbound \\(host port ${closed}\\): cannot connect to 127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`)) as unknown }]);
    const ok = config({ MAILKIND_KUMO_HTTP_USER: 'mailkind', MAILKIND_KUMO_HTTP_PASSWORD: PASSWORD });
    await expect(preflight(ok, { cluster: cluster(ok) })).resolves.toMatchObject({ kumoAuth: { username: 'mailkind' } });
  });

  it('credentials that do not match the cluster, and a sink that is down, are both reported', async () => {
    kubectl.setRules([
      { when: ['get', 'namespace'], stdout: 'namespace/mailkind\n' },
      { when: ['get', 'deployments,statefulsets'], stdout: workloadList(allReady) },
    ]);
    const c = config({ MAILKIND_KUMO_HTTP_USER: 'mailkind', MAILKIND_KUMO_HTTP_PASSWORD: 'stale-password-from-an-old-up', MAILKIND_E2E_SINK_URL: 'http://127.0.0.1:9' });
    const e = await preflightError(preflight(c, { cluster: cluster(c) }));
    expect(e.problems.map((p) => p.component).sort()).toEqual(['credentials', 'smtp-sink']);
    expect(e.message).toMatch(/KumoMTA refused user "mailkind" \(from MAILKIND_KUMO_HTTP_USER\/MAILKIND_KUMO_HTTP_PASSWORD\)/);
    expect(e.message).not.toContain('stale-password-from-an-old-up');
  });
});
