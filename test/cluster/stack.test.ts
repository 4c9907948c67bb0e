// The lifecycle commands against a real API server (test/helpers/control-plane.ts: etcd,
// kube-apiserver, controller-manager, scheduler; kwok plays the kubelet). The real kubectl runs;
// only docker (and kind) are fakes, since no container runtime runs here. One control plane for
// the whole file, and the tests build on each other in order (one stack namespace at a time: the
// NodePort numbers are cluster-wide).
//
// What this proves: admission (PodSecurity included), defaulting, validation, apply semantics,
// controllers, scheduling, volume binding and rollouts as a real cluster does them. What it
// cannot: images, containers, probes, networking (kwok marks pods Ready; nothing runs).
import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftoverRefs } from '../../scripts/lib/lifecycle/up-steps.js';
import type { RunningSink } from '../../sinks/smtp-sink/src/sink.js';
import { Cluster } from '../e2e/lib/cluster.js';
import { resolveE2eConfig } from '../e2e/lib/config.js';
import { preflight, PreflightError } from '../e2e/lib/preflight.js';
import { binaryPaths, controlPlaneMissing, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { fakeWorld, ROOT, runEntry, type FakeWorld } from '../helpers/fake-tools.js';
import { skipWithout } from '../helpers/prerequisites.js';
import { startTestSink } from '../helpers/sink.js';

const NS = 'mailkind';
// the namespace of the "cannot become ready" test: kwok keeps kumomta-tsa crash-looping there
const CRASH_NS = 'mailkind-crash';
const REGISTRY = 'registry.invalid/mailkind';
const WORKLOADS_FULL = ['dragonfly', 'kumomta', 'kumomta-tsa', 'mailman-core', 'mailman-web', 'postgres', 'smtp-sink'];
// the machine's kubectl (Debian's, 1.32 here) and the one built with the control plane (1.36)
const SYSTEM_KUBECTL_DIR = '/usr/bin';
const BUILT_KUBECTL_DIR = dirname(binaryPaths().kubectl);

const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);

describe.skipIf(skipWithout(controlPlaneMissing()))('the stack on a real API server (kwok nodes, docker faked)', () => {
  let cp: ControlPlane;
  let world: FakeWorld;
  const tierStart = performance.now();

  /** the world's environment with the given kubectl first on PATH */
  const envWith = (kubectlDir: string): Record<string, string> => ({ ...world.env, PATH: world.env.PATH!.replace(/^([^:]+):[^:]+/, `$1:${kubectlDir}`) });
  const up = (args: string[] = [], kubectlDir = BUILT_KUBECTL_DIR) =>
    runEntry('up', ['--context', cp.context, '--registry', REGISTRY, '--timeout', '60', ...args], envWith(kubectlDir));
  const k = async (args: string[], input?: string) => {
    const r = await cp.run(args, input === undefined ? {} : { input });
    if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const render = (dir: string) => k(['kustomize', join(ROOT, dir)]);
  /** kind/name of every object of these kinds in the namespace */
  const objects = async (ns = NS): Promise<string[]> =>
    (await k(['--namespace', ns, 'get', 'deployments,statefulsets,services,configmaps,secrets,persistentvolumeclaims,serviceaccounts', '--output', 'name']))
      .split('\n')
      .filter(Boolean)
      .sort();
  const generations = async (): Promise<Record<string, number>> => {
    const list = JSON.parse(await k(['--namespace', NS, 'get', 'deployments,statefulsets', '--output', 'json'])) as { items: { kind: string; metadata: { name: string; generation: number } }[] };
    return Object.fromEntries(list.items.map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.generation]));
  };

  beforeAll(async () => {
    cp = await startControlPlane({ crash: [{ namespace: CRASH_NS, app: 'kumomta-tsa' }] });
    console.log(`control plane ready in ${cp.timings.ready} ms (${JSON.stringify(cp.timings)})`);
    world = await fakeWorld({}, { fake: ['docker', 'kind'], path: [BUILT_KUBECTL_DIR], env: { KUBECONFIG: cp.kubeconfig } });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    console.log(`cluster tier: ${Math.round(performance.now() - tierStart)} ms in all`);
  });

  it('both profiles render to objects the API server accepts (server-side dry run, then a real apply), PodSecurity enforced', async () => {
    const full = await render('manifests');
    const minimal = await render('manifests/profiles/minimal');
    // the Namespace first, as `up` makes it: with its pod-security labels
    const namespace = parseAllDocuments(full)
      .map((d) => d.toJS() as { kind: string })
      .filter((o) => o.kind === 'Namespace');
    expect(namespace).toHaveLength(1);
    await k(['apply', '--filename', '-'], JSON.stringify(namespace[0]));
    const labels = JSON.parse(await k(['get', 'namespace', NS, '--output', 'jsonpath={.metadata.labels}'])) as Record<string, string>;
    expect(labels['pod-security.kubernetes.io/enforce']).toBe('baseline');

    for (const [name, text] of [['full', full], ['minimal', minimal]] as const) {
      const r = await cp.run(['apply', '--dry-run=server', '--filename', '-'], { input: text });
      expect(r.exitCode, `${name}: ${r.stderr}`).toBe(0);
      // PodSecurity and deprecation warnings come back as "Warning: ..." on stderr
      expect(r.stderr, `${name} profile`).toBe('');
      const count = parseAllDocuments(text).filter((d) => d.toJS()).length;
      expect(r.stdout.split('\n').filter((l) => l.endsWith('(server dry run)'))).toHaveLength(count);
    }

    // admission is really on: a privileged pod is refused in that namespace
    const privileged = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'privileged', namespace: NS }, spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] } };
    const refused = await cp.run(['apply', '--dry-run=server', '--filename', '-'], { input: JSON.stringify(privileged) });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/violates PodSecurity "baseline:latest": privileged/);

    const applied = await cp.run(['apply', '--filename', '-'], { input: full });
    expect(applied.exitCode, applied.stderr).toBe(0);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).not.toMatch(/configured$/m);
  });

  it('`npm run up -- --context` reaches every workload ready and says how to reach a cluster it did not create', async () => {
    const r = await up();
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Wait for the stack: 7 workloads ready/);
    expect(r.stdout).toContain(`mailkind is up: profile full, context ${cp.context}, namespace ${NS}`);
    // the API server's account: every workload has its replicas ready
    const list = JSON.parse(await k(['--namespace', NS, 'get', 'deployments,statefulsets', '--output', 'json'])) as { items: { metadata: { name: string }; spec: { replicas: number }; status: { readyReplicas?: number } }[] };
    expect(list.items.map((o) => o.metadata.name).sort()).toEqual(WORKLOADS_FULL);
    for (const o of list.items) expect(o.status.readyReplicas, o.metadata.name).toBe(o.spec.replicas);
    // the sink image pushed to --registry is what the Deployment runs
    const sinkImage = await k(['--namespace', NS, 'get', 'deployment/smtp-sink', '--output', 'jsonpath={.spec.template.spec.containers[0].image}']);
    expect(sinkImage).toMatch(/^registry\.invalid\/mailkind\/smtp-sink:[0-9a-f]{16}$/);

    // nothing of the stack listens on this machine: NodePorts and port-forward commands, and the
    // loopback URLs only as what works after forwarding
    const summary = r.stdout.slice(r.stdout.indexOf('mailkind is up'));
    const forwardAt = summary.indexOf('from this machine, forward the ports');
    expect(forwardAt).toBeGreaterThan(0);
    expect(summary.slice(0, forwardAt)).not.toContain('127.0.0.1');
    expect(summary).toMatch(/kumomta HTTP \(inject API\)\s+<node address>:30800 {2}\(service\/kumomta-nodeport\)/);
    const p = world.ports;
    expect(summary).toContain(
      `kubectl --context ${cp.context} --namespace ${NS} port-forward service/kumomta-nodeport ${p.kumoHttp}:8000 ${p.kumoInbound}:2525 ${p.kumoRelay}:2587`,
    );
    expect(summary).toContain(`port-forward service/smtp-sink-nodeport ${p.sinkHttp}:8025`);
    expect(summary.slice(forwardAt)).toContain(`http://127.0.0.1:${p.sinkHttp}/`);
    // and the services named there exist with those NodePorts
    const nodePorts = await k(['--namespace', NS, 'get', 'service/kumomta-nodeport', '--output', 'jsonpath={.spec.ports[*].nodePort}']);
    expect(nodePorts).toBe('30800 30525 30587');
  });

  it('a second up changes nothing by the API server\'s account, under the machine\'s kubectl and the built one', async () => {
    const before = await generations();
    for (const dir of [SYSTEM_KUBECTL_DIR, BUILT_KUBECTL_DIR]) {
      const r = await up([], dir);
      expect(r.exitCode, r.stderr).toBe(0);
      // the manifests step counts kubectl apply's lines that are not "unchanged"
      expect(r.stdout, `kubectl in ${dir}`).toMatch(/Apply manifests: \d+ objects, 0 changed/);
      expect(r.stdout).toMatch(/Namespace and Secrets: file unchanged; unchanged in cluster/);
    }
    expect(await generations()).toEqual(before);
    // and directly: kubectl apply of the same overlay says unchanged for every object
    const overlay = join(world.env.MAILKIND_STATE_DIR!, 'overlays');
    const dirs = readdirSync(overlay);
    expect(dirs).toHaveLength(1);
    const again = await cp.run(['apply', '--kustomize', join(overlay, dirs[0]!)]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout.split('\n').filter((l) => l && !l.endsWith(' unchanged'))).toEqual([]);
  });

  it('`npm run status` shows real rows and only current warnings', async () => {
    // history the API server really keeps: a warning from before a pod became Ready, and one of an
    // earlier pod of the same name; and a warning that is current
    const pods = JSON.parse(await k(['--namespace', NS, 'get', 'pods', '--output', 'json'])) as {
      items: { metadata: { name: string; uid: string; labels: Record<string, string> }; status: { conditions: { type: string; lastTransitionTime: string }[] } }[];
    };
    const pod = (app: string) => pods.items.find((p) => p.metadata.labels['app.kubernetes.io/name'] === app)!;
    const readyAt = (p: ReturnType<typeof pod>) => Date.parse(p.status.conditions.find((c) => c.type === 'Ready')!.lastTransitionTime);
    const event = (name: string, p: ReturnType<typeof pod>, uid: string, reason: string, message: string, at: number) => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: NS },
      involvedObject: { kind: 'Pod', name: p.metadata.name, namespace: NS, uid, apiVersion: 'v1' },
      type: 'Warning',
      reason,
      message,
      count: 1,
      firstTimestamp: new Date(at).toISOString(),
      lastTimestamp: new Date(at).toISOString(),
      source: { component: 'default-scheduler' },
    });
    const kumo = pod('kumomta');
    const tsa = pod('kumomta-tsa');
    const sink = pod('smtp-sink');
    const events = [
      event('old-scheduling', kumo, kumo.metadata.uid, 'FailedScheduling', 'pod has unbound immediate PersistentVolumeClaims', readyAt(kumo) - 5_000),
      event('earlier-pod', tsa, '00000000-0000-0000-0000-000000000000', 'BackOff', 'Back-off restarting failed container', Date.now()),
      event('current', sink, sink.metadata.uid, 'Unhealthy', 'Readiness probe failed: connection refused', Date.now() + 1_000),
    ];
    await k(['create', '--filename', '-'], events.map((e) => JSON.stringify(e)).join('\n'));

    const r = await runEntry('status', ['--context', cp.context], envWith(BUILT_KUBECTL_DIR));
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    for (const name of WORKLOADS_FULL) {
      const replicas = name === 'kumomta' ? 2 : 1;
      expect(r.stdout).toMatch(new RegExp(`^${name}\\s+${replicas}/${replicas}\\s+0\\b`, 'm'));
    }
    expect(r.stdout).toMatch(/^kumomta\s+2\/2\s+0\s+service\/kumomta-nodeport:8000 \(NodePort 30800\)$/m);
    expect(r.stdout).toContain('! Unhealthy: Readiness probe failed: connection refused');
    expect(r.stdout).not.toContain('FailedScheduling');
    expect(r.stdout).not.toContain('BackOff');
    const json = JSON.parse((await runEntry('status', ['--context', cp.context, '--json'], envWith(BUILT_KUBECTL_DIR))).stdout) as { ready: boolean; components: { component: string; warnings: string[] }[] };
    expect(json.ready).toBe(true);
    expect(json.components.map((c) => c.component)).toEqual(WORKLOADS_FULL);
    expect(json.components.flatMap((c) => c.warnings)).toEqual(['Unhealthy: Readiness probe failed: connection refused']);
  });

  it('full -> minimal removes the Mailman and Postgres objects and nothing else; back to full restores them; the e2e preflight tells the profiles apart', async () => {
    const full = await objects();
    const expectedGone = leftoverRefs(await render('manifests'), await render('manifests/profiles/minimal'));
    expect(expectedGone.length).toBeGreaterThan(5);
    for (const ref of expectedGone) expect(ref).toMatch(/mailman|postgres/);

    const min = await up(['--profile', 'minimal']);
    expect(min.exitCode, min.stderr).toBe(0);
    expect(min.stdout).toMatch(new RegExp(`Apply manifests: \\d+ objects, 0 changed, ${expectedGone.length} removed \\(profile minimal\\)`));
    expect(min.stdout).toMatch(/Wait for the stack: 4 workloads ready/);
    const minimal = await objects();
    const removed = full.filter((o) => !minimal.includes(o));
    // kubectl names kinds by resource (deployment.apps/x); leftoverRefs by kind (deployment/x)
    const short = (o: string) => o.replace(/^([a-z]+)(\.[a-z.]+)?\//, '$1/');
    expect(removed.map(short).sort()).toEqual([...expectedGone].sort());
    expect(minimal.filter((o) => !full.includes(o))).toEqual([]);

    // the e2e preflight on this cluster: the minimal stack is recognised as such
    await checkPreflight('minimal');

    const back = await up();
    expect(back.exitCode, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/Wait for the stack: 7 workloads ready/);
    expect(await objects()).toEqual(full);
    await checkPreflight('full');
  });

  it('`npm run down -- --context` deletes the namespace and its PVCs, twice without error', async () => {
    expect((await k(['--namespace', NS, 'get', 'pvc', '--output', 'name'])).split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(3);
    const first = await runEntry('down', ['--context', cp.context], envWith(BUILT_KUBECTL_DIR));
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain(`deleted namespace ${NS} in ${cp.context} (its PVCs with it)`);
    const ns = await cp.run(['get', 'namespace', NS]);
    expect(ns.stderr).toMatch(/namespaces "mailkind" not found/);
    expect(await k(['get', 'pvc', '--all-namespaces', '--output', 'name'])).toBe('');
    const second = await runEntry('down', ['--context', cp.context], envWith(BUILT_KUBECTL_DIR));
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain(`namespace ${NS} was not there`);
  });

  it('a workload that cannot become ready fails `up` within the rollout timeout, with the pod\'s reason, events and a fix', async () => {
    const t = performance.now();
    const r = await up(['--namespace', CRASH_NS, '--profile', 'minimal', '--timeout', '10']);
    const ms = performance.now() - t;
    expect(r.exitCode, r.stdout).toBe(1);
    expect(r.stderr).toContain('error: statefulset/kumomta-tsa not ready after 10s (CrashLoopBackOff)');
    expect(r.stderr).toContain('fix: the container keeps exiting');
    expect(r.stderr).toMatch(/pod kumomta-tsa-0: Running, CrashLoopBackOff: back-off 2m40s restarting failed container=kumomta-tsa, 5 restart\(s\)/);
    expect(r.stderr).toContain('Warning BackOff: Back-off restarting failed container');
    noStackTrace(r.stderr);
    // dragonfly comes first and is ready; the failing workload took the 10 s timeout, not more
    expect(r.stdout).toContain('deployment/dragonfly ready');
    expect(ms).toBeLessThan(60_000);
    console.log(`failing up (10 s rollout timeout): ${Math.round(ms)} ms`);
    const down = await runEntry('down', ['--context', cp.context, '--namespace', CRASH_NS], envWith(BUILT_KUBECTL_DIR));
    expect(down.exitCode, down.stderr).toBe(0);
  });

  /** The e2e suite's preflight against this cluster, with a real sink and a stand-in kumod HTTP. */
  async function checkPreflight(deployed: 'full' | 'minimal'): Promise<void> {
    const password = Buffer.from(await k(['--namespace', NS, 'get', 'secret', 'kumomta-http', '--output', 'jsonpath={.data.password}']), 'base64').toString();
    const sink: RunningSink = await startTestSink();
    // stands in for kumod's HTTP listener behind a port-forward (not KumoMTA): liveness and auth
    const kumod: Server = createServer((req, res) => {
      if (req.url === '/api/check-liveness/v1') return void res.end('OK');
      const ok = req.headers.authorization === `Basic ${Buffer.from(`mailkind:${password}`).toString('base64')}`;
      res.writeHead(ok ? 422 : 401).end(ok ? 'missing field `envelope_sender`' : 'HttpBasicAuth Authentication Failed');
    });
    await new Promise<void>((r) => kumod.listen(0, '127.0.0.1', r));
    try {
      const config = (profile: string) =>
        resolveE2eConfig({
          MAILKIND_CONTEXT: cp.context,
          MAILKIND_PROFILE: profile,
          MAILKIND_STATE_DIR: join(world.dir, 'no-state'),
          MAILKIND_KUBECTL: cp.kubectl,
          MAILKIND_E2E_KUMO_URL: `http://127.0.0.1:${(kumod.address() as AddressInfo).port}`,
          MAILKIND_E2E_SINK_URL: sink.url,
          MAILKIND_E2E_MAILMAN_URL: 'http://127.0.0.1:9',
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
      } else {
        // every workload and credential recognised; only Mailman's REST port has no stand-in here
        expect(problems).toEqual([{ component: 'mailman-core', message: expect.stringContaining('127.0.0.1:9') as unknown }]);
      }
    } finally {
      await sink.close();
      kumod.closeAllConnections();
      await new Promise((r) => kumod.close(r));
    }
  }
});
