// Repeated runs on a real API server, beside test/cluster/stack.test.ts on a control plane of its
// own (same fixture, test/cluster/lib/stack.ts): a second `up` changes nothing under two kubectl
// versions, `status` reads real rows and only current events, and profile switches remove and
// restore exactly the Mailman and Postgres objects. Tests build on each other in order.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftoverRefs } from '../../scripts/lib/lifecycle/up-steps.js';
import { SinkClient } from '../../scripts/lib/clients/sink-client.js';
import { Cluster } from '../e2e/lib/cluster.js';
import { collectDiagnostics } from '../e2e/lib/diagnostics.js';
import { controlPlaneMissing, type ControlPlane } from '../helpers/control-plane.js';
import { skipWithout } from '../helpers/prerequisites.js';
import { BUILT_KUBECTL_DIR, mailmanRestPassword, NS, startStack, SYSTEM_KUBECTL_DIR, WORKLOADS_FULL, type StackFixture } from './lib/stack.js';

describe.skipIf(skipWithout(controlPlaneMissing()))('repeated runs and profiles on a real API server (kwok nodes, docker faked)', () => {
  let s: StackFixture;
  let cp: ControlPlane;

  beforeAll(async () => {
    s = await startStack();
    cp = s.cp;
    // the full stack, as the first `up` of stack.test.ts proves it comes up
    const r = await s.up();
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
  }, 300_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('a second up changes nothing by the API server\'s account, under the machine\'s kubectl and the built one', async () => {
    const before = await s.generations();
    for (const dir of [SYSTEM_KUBECTL_DIR, BUILT_KUBECTL_DIR]) {
      const r = await s.up([], dir);
      expect(r.exitCode, r.stderr).toBe(0);
      // the manifests step counts kubectl apply's lines that are not "unchanged"
      expect(r.stdout, `kubectl in ${dir}`).toMatch(/Apply manifests: \d+ objects, 0 changed/);
      expect(r.stdout).toMatch(/Namespace and Secrets: file unchanged; unchanged in cluster/);
    }
    expect(await s.generations()).toEqual(before);
    // and directly: kubectl apply of the same overlay says unchanged for every object
    const overlay = join(s.world.env.MAILKIND_STATE_DIR!, 'overlays');
    const dirs = readdirSync(overlay);
    expect(dirs).toHaveLength(1);
    const again = await cp.run(['apply', '--kustomize', join(overlay, dirs[0]!)]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout.split('\n').filter((l) => l && !l.endsWith(' unchanged'))).toEqual([]);
  });

  it('`npm run status` shows real rows and only current warnings; the e2e diagnostics read the real cluster', async () => {
    // history the API server really keeps: a warning from before a pod became Ready, and one of an
    // earlier pod of the same name; and a warning that is current
    const pods = JSON.parse(await s.k(['--namespace', NS, 'get', 'pods', '--output', 'json'])) as {
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
    await s.k(['create', '--filename', '-'], events.map((e) => JSON.stringify(e)).join('\n'));

    const r = await s.entry('status', ['--context', cp.context]);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    for (const name of WORKLOADS_FULL) {
      const replicas = name === 'kumomta' ? 2 : 1;
      expect(r.stdout).toMatch(new RegExp(`^${name}\\s+${replicas}/${replicas}\\s+0\\b`, 'm'));
    }
    expect(r.stdout).toMatch(/^kumomta\s+2\/2\s+0\s+service\/kumomta-nodeport:8000 \(NodePort 30800\)$/m);
    expect(r.stdout).toContain('! Unhealthy: Readiness probe failed: connection refused');
    expect(r.stdout).not.toContain('FailedScheduling');
    expect(r.stdout).not.toContain('BackOff');
    const password = mailmanRestPassword(s.world);
    expect(r.stdout).not.toContain(password);
    const shown = await s.entry('status', ['--context', cp.context, '--show-secrets']);
    expect(shown.stdout).toContain(`mailman-rest.password = ${password}`);
    const json = JSON.parse((await s.entry('status', ['--context', cp.context, '--json'])).stdout) as { ready: boolean; components: { component: string; warnings: string[] }[] };
    expect(json.ready).toBe(true);
    expect(json.components.map((c) => c.component)).toEqual(WORKLOADS_FULL);
    expect(json.components.flatMap((c) => c.warnings)).toEqual(['Unhealthy: Readiness probe failed: connection refused']);

    // the e2e suite's diagnostics: events, pods and descriptions from the API server; the logs
    // section fails (no kubelet answers here) without stopping the others
    const cluster = new Cluster({ kubectl: cp.kubectl, context: cp.context, namespace: NS, env: { ...process.env, KUBECONFIG: cp.kubeconfig } });
    const text = await collectDiagnostics(cluster, { components: ['kumomta'], sink: new SinkClient('http://127.0.0.1:9', { timeoutMs: 1_000 }), run: 'r', tail: 5 });
    expect(text).toMatch(/----- events in mailkind \(most recent last\)\n[^]*Successfully assigned mailkind\/kumomta-0 to kwok-node-0/);
    // most recent last, scheduler events (eventTime only) included: the newest is the one made above
    const eventLines = text.slice(0, text.indexOf('----- pods')).trimEnd().split('\n');
    expect(eventLines.at(-1)).toMatch(/Warning\s+Unhealthy\s+Pod\/smtp-sink-\S+\s+Readiness probe failed: connection refused$/);
    expect(text).toMatch(/----- pods\nNAME[^]*\nkumomta-0\s+2\/2\s+Running\s+0/);
    expect(text).toMatch(/----- describe pods -l app.kubernetes.io\/name=kumomta\nName:\s+kumomta-0\n[^]*Node:\s+kwok-node-0\/127\.0\.0\.1/);
    expect(text).toMatch(/----- logs -l app.kubernetes.io\/name=kumomta \(last 5 lines per container\)\n\(could not collect: /);
  });

  it('full -> minimal removes the Mailman and Postgres objects and nothing else; back to full restores them; the e2e preflight tells the profiles apart', async () => {
    const full = await s.objects();
    const [fullText, minimalText] = [await s.render('manifests'), await s.render('manifests/profiles/minimal')];
    const expectedGone = leftoverRefs(fullText, minimalText);
    expect(expectedGone.length).toBeGreaterThan(5);
    for (const ref of expectedGone) expect(ref).toMatch(/mailman|postgres/);
    // what both profiles have but render differently: only kumomta's replica count (2 -> 1)
    const byRef = (text: string) =>
      new Map(parseAllDocuments(text).map((d) => d.toJS() as { kind: string; metadata: { name: string } } | null).filter((o) => o !== null).map((o) => [`${o.kind}/${o.metadata.name}`, JSON.stringify(o)]));
    const [fullObjects, minimalObjects] = [byRef(fullText), byRef(minimalText)];
    const differ = [...minimalObjects].filter(([ref, o]) => fullObjects.get(ref) !== o).map(([ref]) => ref);
    expect(differ).toEqual(['StatefulSet/kumomta']);

    const min = await s.up(['--profile', 'minimal']);
    expect(min.exitCode, min.stderr).toBe(0);
    expect(min.stdout).toMatch(new RegExp(`Apply manifests: \\d+ objects, ${differ.length} changed, ${expectedGone.length} removed \\(profile minimal\\)`));
    expect(await s.k(['--namespace', NS, 'get', 'statefulset/kumomta', '--output', 'jsonpath={.spec.replicas}'])).toBe('1');
    expect(min.stdout).toMatch(/Wait for the stack: 4 workloads ready/);
    const minimal = await s.objects();
    const removed = full.filter((o) => !minimal.includes(o));
    // kubectl names kinds by resource (deployment.apps/x); leftoverRefs by kind (deployment/x)
    const short = (o: string) => o.replace(/^([a-z]+)(\.[a-z.]+)?\//, '$1/');
    expect(removed.map(short).sort()).toEqual([...expectedGone].sort());
    expect(minimal.filter((o) => !full.includes(o))).toEqual([]);

    // the e2e preflight on this cluster: the minimal stack is recognised as such
    await s.checkPreflight('minimal');

    const back = await s.up();
    expect(back.exitCode, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/Wait for the stack: 7 workloads ready/);
    expect(await s.objects()).toEqual(full);
    await s.checkPreflight('full');
  });
});
