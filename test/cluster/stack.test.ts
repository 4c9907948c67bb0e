// The lifecycle commands against a real API server (test/helpers/control-plane.ts: etcd,
// kube-apiserver, controller-manager, scheduler; kwok plays the kubelet). The real kubectl runs;
// only docker (and kind) are fakes, since no container runtime runs here. One control plane for
// the file, and the tests build on each other in order (one stack namespace at a time: the
// NodePort numbers are cluster-wide). test/cluster/repeat-and-profiles.test.ts covers repeated
// runs, status and profile switches on a control plane of its own, beside this file.
//
// What this proves: admission (PodSecurity included), defaulting, validation, apply semantics,
// controllers, scheduling, volume binding and rollouts as a real cluster does them. What it
// cannot: images, containers, probes, networking (kwok marks pods Ready; nothing runs).
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveE2eConfig } from '../e2e/lib/config.js';
import { preflight, type PreflightError } from '../e2e/lib/preflight.js';
import { controlPlaneMissing, type ControlPlane } from '../helpers/control-plane.js';
import { skipWithout } from '../helpers/prerequisites.js';
import { noStackTrace, NS, startStack, WORKLOADS_FULL, type StackFixture } from './lib/stack.js';

// the namespace of the "cannot become ready" test: kwok keeps kumomta-tsa crash-looping there
const CRASH_NS = 'mailkind-crash';

describe.skipIf(skipWithout(controlPlaneMissing()))('the stack on a real API server (kwok nodes, docker faked)', () => {
  let s: StackFixture;
  let cp: ControlPlane;

  beforeAll(async () => {
    s = await startStack({ crash: [{ namespace: CRASH_NS, app: 'kumomta-tsa' }] });
    cp = s.cp;
  }, 300_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('both profiles render to objects the API server accepts (server-side dry run, then a real apply), PodSecurity enforced', async () => {
    const full = await s.render('manifests');
    const minimal = await s.render('manifests/profiles/minimal');
    // the Namespace first, as `up` makes it: with its pod-security labels
    const namespace = parseAllDocuments(full)
      .map((d) => d.toJS() as { kind: string })
      .filter((o) => o.kind === 'Namespace');
    expect(namespace).toHaveLength(1);
    await s.k(['apply', '--filename', '-'], JSON.stringify(namespace[0]));
    const labels = JSON.parse(await s.k(['get', 'namespace', NS, '--output', 'jsonpath={.metadata.labels}'])) as Record<string, string>;
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
    const noRegistry = await s.entry('up', ['--context', cp.context]);
    expect(noRegistry.exitCode).toBe(2);
    expect(noRegistry.stderr).toContain('error: --context needs --registry');
    const r = await s.up();
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Wait for the stack: 7 workloads ready/);
    expect(r.stdout).toContain(`mailkind is up: profile full, context ${cp.context}, namespace ${NS}`);
    // the API server's account: every workload has its replicas ready
    const list = JSON.parse(await s.k(['--namespace', NS, 'get', 'deployments,statefulsets', '--output', 'json'])) as { items: { metadata: { name: string }; spec: { replicas: number }; status: { readyReplicas?: number } }[] };
    expect(list.items.map((o) => o.metadata.name).sort()).toEqual(WORKLOADS_FULL);
    for (const o of list.items) expect(o.status.readyReplicas, o.metadata.name).toBe(o.spec.replicas);
    // the sink image pushed to --registry is what the Deployment runs
    const sinkImage = await s.k(['--namespace', NS, 'get', 'deployment/smtp-sink', '--output', 'jsonpath={.spec.template.spec.containers[0].image}']);
    expect(sinkImage).toMatch(/^registry\.invalid\/mailkind\/smtp-sink:[0-9a-f]{16}$/);
    const calls = s.world.calls().map((c) => c.join(' '));
    expect(calls).toContain(`docker image push --quiet ${sinkImage}`);
    expect(calls.filter((c) => c.startsWith('kind '))).toEqual([]);

    // nothing of the stack listens on this machine: NodePorts and port-forward commands, and the
    // loopback URLs only as what works after forwarding
    const summary = r.stdout.slice(r.stdout.indexOf('mailkind is up'));
    const forwardAt = summary.indexOf('from this machine, forward the ports');
    expect(forwardAt).toBeGreaterThan(0);
    expect(summary.slice(0, forwardAt)).not.toContain('127.0.0.1');
    expect(summary).toMatch(/kumomta HTTP \(inject API\)\s+<node address>:30800 {2}\(service\/kumomta-nodeport\)/);
    const p = s.world.ports;
    expect(summary).toContain(
      `kubectl --context ${cp.context} --namespace ${NS} port-forward service/kumomta-nodeport ${p.kumoHttp}:8000 ${p.kumoInbound}:2525 ${p.kumoRelay}:2587`,
    );
    expect(summary).toContain(`port-forward service/smtp-sink-nodeport ${p.sinkHttp}:8025`);
    expect(summary.slice(forwardAt)).toContain(`http://127.0.0.1:${p.sinkHttp}/`);
    // and the services named there exist with those NodePorts
    const nodePorts = await s.k(['--namespace', NS, 'get', 'service/kumomta-nodeport', '--output', 'jsonpath={.spec.ports[*].nodePort}']);
    expect(nodePorts).toBe('30800 30525 30587');
  });

  it('`npm run down -- --context` deletes the namespace and its PVCs, twice without error', async () => {
    expect((await s.k(['--namespace', NS, 'get', 'pvc', '--output', 'name'])).split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(3);
    const first = await s.entry('down', ['--context', cp.context]);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain(`deleted namespace ${NS} in ${cp.context} (its PVCs with it)`);
    const ns = await cp.run(['get', 'namespace', NS]);
    expect(ns.stderr).toMatch(/namespaces "mailkind" not found/);
    expect(await s.k(['get', 'pvc', '--all-namespaces', '--output', 'name'])).toBe('');
    const second = await s.entry('down', ['--context', cp.context]);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain(`namespace ${NS} was not there`);
    const e2e = resolveE2eConfig({ MAILKIND_CONTEXT: cp.context, MAILKIND_STATE_DIR: join(s.world.dir, 'no-state'), MAILKIND_KUBECTL: cp.kubectl });
    const gone = (await preflight(e2e, { cluster: s.e2eCluster(NS) }).then(() => null, (x: unknown) => x)) as PreflightError;
    expect(gone.problems).toEqual([{ component: 'cluster', message: `namespace "${NS}" does not exist in context ${cp.context}: the stack is not deployed` }]);
  });

  it('a workload that cannot become ready fails `up` within the rollout timeout, with the pod\'s reason, events and a fix', async () => {
    const t = performance.now();
    const r = await s.up(['--namespace', CRASH_NS, '--profile', 'minimal', '--timeout', '10']);
    const ms = performance.now() - t;
    expect(r.exitCode, r.stdout).toBe(1);
    expect(r.stderr).toContain('error: statefulset/kumomta-tsa not ready after 10s (CrashLoopBackOff)');
    expect(r.stderr).toContain('fix: the container keeps exiting');
    expect(r.stderr).toMatch(/pod kumomta-tsa-0: Running, CrashLoopBackOff: back-off 2m40s restarting failed container=tsa, 5 restart\(s\)/);
    expect(r.stderr).toContain('Warning BackOff: Back-off restarting failed container');
    noStackTrace(r.stderr);
    // dragonfly comes first and is ready; how long the failing up took is a figure, not a gate
    // (the 10 s is asserted above from what up reports)
    expect(r.stdout).toContain('deployment/dragonfly ready');
    console.log(`failing up (10 s rollout timeout): ${Math.round(ms)} ms`);
    // status: not ready, exit 1, the crash-looping pod's restarts and its current warning
    const status = await s.entry('status', ['--context', cp.context, '--namespace', CRASH_NS]);
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toMatch(/^kumomta-tsa\s+0\/1\s+5\s*$/m);
    expect(status.stdout).toContain('! BackOff: Back-off restarting failed container');
    // the e2e preflight names the one workload that is not Ready
    const e2e = resolveE2eConfig({ MAILKIND_CONTEXT: cp.context, MAILKIND_NAMESPACE: CRASH_NS, MAILKIND_PROFILE: 'minimal', MAILKIND_STATE_DIR: join(s.world.dir, 'no-state'), MAILKIND_KUBECTL: cp.kubectl });
    const notReady = (await preflight(e2e, { cluster: s.e2eCluster(CRASH_NS) }).then(() => null, (x: unknown) => x)) as PreflightError;
    expect(notReady.problems).toEqual([{ component: 'kumomta-tsa', message: `0/1 pods Ready (kubectl -n ${CRASH_NS} describe pods -l app.kubernetes.io/name=kumomta-tsa)` }]);
    // no down here: the control plane goes with the file (down is proven above)
  });
});
