// The e2e suite's preflight, without a cluster: against the real kubectl with an empty kubeconfig
// (what a developer without `npm run up` gets), through `npm run e2e` itself, and with the real
// kubectl against a port nothing listens on. The paths that need a cluster to answer run against a
// real API server in test/cluster/stack.test.ts.
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../scripts/lib/config/settings.js';
import { Cluster } from '../../e2e/lib/cluster.js';
import { resolveE2eConfig } from '../../e2e/lib/config.js';
import { preflight, PreflightError } from '../../e2e/lib/preflight.js';
import { skipWithout } from '../../helpers/prerequisites.js';

const tmp = mkdtempSync(join(tmpdir(), 'mailkind-preflight-'));
const emptyKubeconfig = join(tmp, 'kubeconfig');
writeFileSync(emptyKubeconfig, '');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ANSI = new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g');

/** The environment of a user with no cluster: only what the tools need, kubeconfig empty. */
function noClusterEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // MAILKIND_MISSES_FILE: the nested `npm run e2e` has the skip reporter too, which must not
  // empty this run's list of missing prerequisites
  return { PATH: process.env.PATH, HOME: tmp, KUBECONFIG: emptyKubeconfig, MAILKIND_STATE_DIR: join(tmp, 'state'), MAILKIND_MISSES_FILE: join(tmp, 'e2e-misses.jsonl'), ...extra };
}

// Without kubectl on the machine the preflight must say that instead, just as fast: the same
// tests check that message, so they run (and mean something) either way.
const haveKubectl = (await execa('kubectl', ['version', '--client'], { reject: false })).exitCode === 0;
// the fallback checks a different message, so the real-kubectl path is a prerequisite like any
// other: reported at the end, and a failure under MAILKIND_REQUIRE_ALL
skipWithout(
  haveKubectl
    ? undefined
    : {
        what: 'test/component/e2e preflight against the real kubectl',
        reason: 'kubectl not found on PATH (the tests check the "kubectl not found" message instead)',
        fix: 'install kubectl (https://kubernetes.io/docs/tasks/tools/)',
      },
);
/** The real kubectl behind a script that records each call's arguments, one line per call. */
const callsLog = join(tmp, 'kubectl-calls.log');
const recordingKubectl = join(tmp, 'kubectl-recording');
writeFileSync(recordingKubectl, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${callsLog}'\nexec kubectl "$@"\n`, { mode: 0o755 });
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
  it('fails at the first check, with one kubectl call bounded by the preflight budget, naming the cluster and saying that npm run up creates the stack', async () => {
    const config = resolveE2eConfig(noClusterEnv());
    rmSync(callsLog, { force: true });
    const t = performance.now();
    const kubectl = haveKubectl ? recordingKubectl : 'kubectl';
    const e = await preflightError(preflight(config, { cluster: new Cluster({ kubectl, context: config.context, namespace: config.namespace, env: noClusterEnv() }) }));
    console.log(`preflight without a cluster failed after ${Math.round(performance.now() - t)} ms`);
    expect(e.problems).toEqual([{ component: expected.component, message: expect.stringContaining(expected.text) as unknown }]);
    if (haveKubectl) {
      // what keeps it fast: it stops at the first failing check, and that call carries an API
      // deadline inside the preflight's own budget (config.timeouts.preflight, 10 s by default)
      const calls = readFileSync(callsLog, 'utf8').trim().split('\n');
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatch(/^--context kind-mailkind .*get namespace mailkind -o name/);
      const deadline = /--request-timeout=(\d+)s/.exec(calls[0] ?? '')?.[1];
      expect(Number(deadline)).toBeGreaterThan(0);
      expect(Number(deadline) * 1000).toBeLessThan(config.timeouts.preflight);
    }
    expect(e.message).toContain('`npm run up` creates the stack');
    expect(e.message).toContain('context kind-mailkind, namespace mailkind');
  });

  it('`npm run e2e` exits 1 with that message, no stack trace, and a JUnit report of the failure', async () => {
    const junit = join(tmp, 'junit-e2e.xml');
    const t = performance.now();
    const r = await execa('npm', ['run', '--silent', 'e2e'], { cwd: REPO_ROOT, env: noClusterEnv({ MAILKIND_E2E_JUNIT: junit, npm_config_update_notifier: 'false' }), extendEnv: false, reject: false, all: true, timeout: 60_000 });
    console.log(`npm run e2e without a cluster exited ${r.exitCode} after ${Math.round(performance.now() - t)} ms (npm and vitest start-up included)`);
    const out = r.all.replace(ANSI, '');
    expect(r.exitCode, out).toBe(1);
    expect(out).toMatch(new RegExp(`mailkind e2e preflight failed \\(context kind-mailkind, namespace mailkind\\):\\n {2}- ${expected.component}: ${escape(expected.text)}`));
    expect(out).toContain('`npm run up` creates the stack');
    expect(out).not.toMatch(/^\s+at /m);
    expect(out).not.toMatch(/No test files found/);
    const report = readFileSync(junit, 'utf8');
    expect(report).toMatch(/<testsuites name="mailkind e2e" tests="1" failures="1"/);
    expect(report).toMatch(new RegExp(`<failure message="mailkind e2e preflight failed[^"]*${escape(expected.xml)}`));
  });
});

// Against a running API server (components missing or not Ready, credentials from the cluster's
// Secret, stale credentials, a missing namespace, the minimal profile): test/cluster/stack.test.ts.
describe('preflight with the real kubectl and no API server listening', () => {
  it('an API server that does not answer is told apart from a missing context', async () => {
    // a kubeconfig whose cluster is a loopback port nothing listens on
    const port = await new Promise<number>((res) => {
      const s = createNetServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => res(p));
      });
    });
    const kubeconfig = join(tmp, 'kubeconfig-closed');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{ name: c, cluster: { server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true } }]\nusers: [{ name: u, user: { token: t } }]\ncontexts: [{ name: kind-mailkind, context: { cluster: c, user: u } }]\ncurrent-context: kind-mailkind\n`,
    );
    const env = noClusterEnv({ KUBECONFIG: kubeconfig });
    const config = resolveE2eConfig(env);
    const e = await preflightError(preflight(config, { cluster: new Cluster({ kubectl: 'kubectl', context: config.context, namespace: config.namespace, env }) }));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]!.message).toMatch(new RegExp(`API server of context kind-mailkind does not answer \\(.*127\\.0\\.0\\.1:${port}.*refused`));
    expect(e.problems[0]!.message).not.toMatch(/memcache|E\d{4} /);
  });

  it('a missing kubectl says so', async () => {
    const config = resolveE2eConfig({ MAILKIND_STATE_DIR: join(tmp, 'none'), MAILKIND_KUBECTL: join(tmp, 'no-such-kubectl') });
    const e = await preflightError(preflight(config));
    expect(e.problems[0]).toMatchObject({ component: 'kubectl', message: expect.stringMatching(/kubectl not found .*MAILKIND_KUBECTL/) as unknown });
  });
});
