// Failure modes of the real entry points (npm run up / down / status / bundle) against fake docker, kind and kubectl on PATH
// (test/fixtures/fake-tools: they record their arguments and answer like the real CLIs) and the
// real `kubectl kustomize`. What this proves: the command plans, idempotence, and the errors.
// What it cannot: that a real Docker, kind and cluster behave as the fakes do (see docs/testing.md).
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { fakeWorld, mutatingCalls, realKubectl, runEntry } from '../../helpers/fake-tools.js';
import { skipWithout } from '../../helpers/prerequisites.js';

const kubectl = realKubectl();
const skip = skipWithout(
  kubectl ? undefined : { what: `test/component/bootstrap/failures.test.ts (npm run up failure modes against fake docker and kind)`, reason: 'kubectl not found: the fake kubectl renders manifests with the real `kubectl kustomize`', fix: 'install kubectl (https://kubernetes.io/docs/tasks/tools/)' },
)
  ? 'kubectl not found'
  : undefined;

const line = (c: string[]) => c.join(' ');
const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);

describe.skipIf(skip !== undefined)('npm run up failing well (fake docker and kind, real kustomize)', () => {
  it('refuses to start when a host port is taken, naming it, before creating anything', async () => {
    const w = await fakeWorld();
    const blocker: Server = createServer();
    await new Promise<void>((res) => blocker.listen(w.ports.kumoHttp, '127.0.0.1', res));
    try {
      const r = await runEntry('up', [], w.env);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`error: port ${w.ports.kumoHttp}: in use by another program (needed for kumomta HTTP (inject API))`);
      expect(r.stderr).toContain('fix: stop what listens there');
      noStackTrace(r.stderr);
      expect(mutatingCalls(w.calls())).toEqual([]);
    } finally {
      blocker.close();
    }
  }, 60_000);

  it('says Docker is not running, fast, with no stack trace and nothing done', async () => {
    const w = await fakeWorld({ dockerDown: true });
    const r = await runEntry('up', [], w.env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('error: Docker daemon: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?');
    expect(r.stderr).toContain('fix: start Docker');
    noStackTrace(r.stderr);
    expect(mutatingCalls(w.calls())).toEqual([]);
    const verbose = await runEntry('up', ['--verbose'], w.env);
    expect(verbose.stderr, '--verbose shows each command run').toContain("  $ docker info --format '{{json .}}'");
    const down = await runEntry('down', [], w.env);
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toContain("error: Docker is not reachable");
  }, 60_000);

  it('recreates a half-made cluster (an interrupted up) and refuses a same-named cluster with another config', async () => {
    const w = await fakeWorld();
    expect((await runEntry('up', ['--for-tilt'], w.env)).exitCode).toBe(0);
    // interrupted: the node exists but its kubeconfig cannot be read
    w.setState({ halfMade: ['mailkind'] });
    const r = await runEntry('up', ['--for-tilt'], w.env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('recreated (the previous one was half-made)');
    expect(w.calls().map(line)).toContain('kind delete cluster --name mailkind');

    // someone made "mailkind" by hand with the default ports: different from ours
    const other = await fakeWorld();
    other.setState({
      clusters: ['mailkind'],
      containers: { 'mailkind-control-plane': { running: true, image: 'kindest/node:v1.30.0', ports: { '30800/tcp': [{ HostIp: '0.0.0.0', HostPort: '8000' }] }, networks: ['kind'] } },
    });
    const refused = await runEntry('up', [], other.env);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/error: a kind cluster named "mailkind" exists with a different configuration: node image is kindest\/node:v1\.30\.0/);
    expect(refused.stderr).toContain('fix: delete it with `npm run down -- --cluster mailkind`');
    expect(other.calls().map(line)).not.toContain('kind delete cluster --name mailkind');
  }, 90_000);

  it('waits until the URLs it prints answer from this machine; names those that never do, with a fix, exit 1', async () => {
    // kube-proxy has not written the NodePort rules yet: the host ports answer 503 for a while
    const w = await fakeWorld({ hostPortFailures: 6 });
    const r = await runEntry('up', ['--profile', 'minimal'], w.env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/URLs answer on this machine: 2 answered/);
    expect(w.state().hostPortFailures).toBe(0);

    // they never answer: up fails after --timeout instead of printing URLs that do not work
    w.setState({ hostPortFailures: 1e9 });
    const silent = await runEntry('up', ['--profile', 'minimal', '--timeout', '10'], w.env);
    expect(silent.exitCode).toBe(1);
    expect(silent.stderr).toContain(
      `error: the stack is ready in the cluster, but http://127.0.0.1:${w.ports.kumoHttp}/api/check-liveness/v1, http://127.0.0.1:${w.ports.sinkHttp}/healthz did not answer in 10s`,
    );
    expect(silent.stderr).toContain('fix: the host ports reach the pods through mailkind-control-plane');
    expect(silent.stderr).toContain('  smtp-sink HTTP API and dashboard: HTTP 503');
    expect(silent.stdout).not.toContain('mailkind is up');
    noStackTrace(silent.stderr);
  }, 90_000);

  it('a refused pull gets the rate-limit hint', async () => {
    const w = await fakeWorld({ deniedPulls: ['postgres:17.10-alpine3.23'] });
    const r = await runEntry('up', [], w.env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error: pulling postgres:17.10-alpine3.23 failed: Error response from daemon: toomanyrequests');
    expect(r.stderr).toContain('fix: Docker Hub rate limit: `docker login`');
  }, 60_000);

  it('bundle, then up --images with no network: nothing pulled, nothing built', async () => {
    const w = await fakeWorld();
    const bundle = await runEntry('bundle', ['--output', `${w.dir}/b.tar`], w.env);
    expect(bundle.exitCode, bundle.stderr).toBe(0);
    expect(bundle.stdout).toContain(`use it offline: npm run up -- --images ${w.dir}/b.tar`);
    // a fresh machine: no images on the host, no network
    w.setState({ hostImages: {}, offline: true });
    const up = await runEntry('up', ['--images', `${w.dir}/b.tar`], w.env);
    expect(up.exitCode, up.stderr).toBe(0);
    const calls = w.calls().map(line).slice(w.calls().findIndex((c) => c[0] === 'docker' && c[1] === 'image' && c[2] === 'load'));
    expect(calls.filter((c) => c.startsWith('docker pull') || c.startsWith('docker build'))).toEqual([]);

    const missing = await runEntry('up', ['--images', `${w.dir}/nope.tar`], w.env);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('no such file');
  }, 90_000);

  it('doctor: a table with a fix per problem, exit 1 on blockers, --json', async () => {
    const w = await fakeWorld();
    const ok = await runEntry('doctor', [], w.env);
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok\s+Docker daemon\s+28\.2\.2 \(Fake Engine, x86_64\), classic image store \(overlay2\), CLI 28\.2\.2$/m);
    expect(ok.stdout).toMatch(/^ok\s+Docker memory\s+8\.0 GiB/m);
    expect(ok.stdout).toMatch(/^ok\s+kind\s+kind v0\.32\.0/m);
    expect(ok.stdout).toMatch(/^--\s+tilt \(optional\)\s+not installed/m);
    expect(ok.stdout).toContain('ready for `npm run up`');
    const down = await fakeWorld({ dockerDown: true });
    const bad = await runEntry('doctor', ['--json'], down.env);
    expect(bad.exitCode).toBe(1);
    const report = JSON.parse(bad.stdout) as { ready: boolean; checks: { id: string; level: string; fix?: string }[] };
    expect(report.ready).toBe(false);
    expect(report.checks.find((c) => c.id === 'docker')).toMatchObject({ level: 'fail', fix: expect.stringContaining('start Docker') as string });
    noStackTrace(bad.stderr);
  }, 60_000);
});

describe.skipIf(skip !== undefined)('npm run status -- --json failing well', () => {
  it('prints JSON on stdout also when the cluster does not answer, cause and fix on stderr, exit 1', async () => {
    const w = await fakeWorld(); // no cluster yet
    const r = await runEntry('status', ['--json'], w.env);
    expect(r.exitCode).toBe(1);
    const json = JSON.parse(r.stdout) as { ready: boolean; components: unknown[]; error?: { cause: string; fix?: string } };
    expect(json).toMatchObject({ ready: false, components: [] });
    expect(json.error?.cause).toMatch(/does not answer/);
    expect(json.error?.fix).toContain('npm run up');
    expect(r.stderr).toMatch(/^error: the cluster of context \S+ does not answer/m);
    noStackTrace(r.stderr);
  }, 60_000);
});

describe('npm run up: options from their environment twins', () => {
  it('MAILKIND_CONTEXT, MAILKIND_REGISTRY and MAILKIND_IMAGES are read like the flags (here: a usage error, exit 2)', async () => {
    const w = await fakeWorld();
    const env = { ...w.env, MAILKIND_CONTEXT: 'staging', MAILKIND_IMAGES: 'bundle.tar' };
    const noRegistry = await runEntry('up', [], env);
    expect(noRegistry.stderr).toContain('error: --context needs --registry');
    const r = await runEntry('up', [], { ...env, MAILKIND_REGISTRY: 'registry.example.com/mailkind' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('error: --images works with kind only');
    expect(mutatingCalls(w.calls())).toEqual([]);
  }, 90_000);
});
