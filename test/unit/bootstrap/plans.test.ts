// Pure plans: images, registry, overlay text, rollout order and pod diagnosis, status rows, steps.
import { describe, expect, it } from 'vitest';
import { containerdName, imagesForProfile, imagesFromKustomization, nodeImageFromKindConfig, readImagePins, versionAtLeast } from '../../../scripts/lib/config/pins.js';
import { inParallel, planImages, pullFailureHint } from '../../../scripts/lib/lifecycle/images.js';
import { decideRegistry, hostsToml, localRegistryConfigMap, registryRunArgs } from '../../../scripts/lib/lifecycle/registry.js';
import { overlayKustomization, overlayName } from '../../../scripts/lib/lifecycle/overlay.js';
import { reasonFix, rolloutOrder, summarizePod } from '../../../scripts/lib/lifecycle/rollout.js';
import { statusRows, statusTable } from '../../../scripts/lib/lifecycle/status-model.js';
import { resolveSettings } from '../../../scripts/lib/config/settings.js';
import { leftoverRefs, upSteps } from '../../../scripts/lib/lifecycle/up-steps.js';
import { formatDuration, runSteps, Skip, timingTable, type Step } from '../../../scripts/lib/lifecycle/steps.js';
import { endpoints, externalAccess } from '../../../scripts/lib/lifecycle/summary.js';
import { formatFailure, UserError } from '../../../scripts/lib/cli/errors.js';
import { CommandError } from '../../../scripts/lib/tools/runner.js';

describe('pins', () => {
  it('reads every workload image from the kustomization and the node image from the kind config', () => {
    const pins = readImagePins(resolveSettings({}).paths.root);
    expect(pins.sink).toBe('mailkind/smtp-sink:dev');
    expect(pins.pulled).toHaveLength(5);
    for (const ref of pins.pulled) expect(ref).toMatch(/^[\w./-]+:[\w.-]+$/);
    expect(pins.node).toMatch(/^kindest\/node:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
    expect(() => imagesFromKustomization('images:\n  - name: postgres\n')).toThrow(/postgres has no newTag/);
    const minimal = imagesForProfile(pins.pulled, false);
    expect(minimal.map((r) => r.split(':')[0])).toEqual(['docker.dragonflydb.io/dragonflydb/dragonfly', 'ghcr.io/kumocorp/kumomta']);
    expect(imagesForProfile(pins.pulled, true)).toEqual(pins.pulled);
    expect(() => nodeImageFromKindConfig('nodes: []')).toThrow(/one pinned node image/);
  });

  it('names images as containerd does, and compares versions', () => {
    expect(containerdName('postgres:17')).toBe('docker.io/library/postgres:17');
    expect(containerdName('maxking/mailman-core:0.5.2')).toBe('docker.io/maxking/mailman-core:0.5.2');
    expect(containerdName('ghcr.io/kumocorp/kumomta:1')).toBe('ghcr.io/kumocorp/kumomta:1');
    expect(containerdName('localhost:5001/x:1')).toBe('localhost:5001/x:1');
    expect(versionAtLeast('kind v0.32.0 go1.26', 'v0.27.0')).toBe(true);
    expect(versionAtLeast('v1.29.9', 'v1.30.0')).toBe(false);
    expect(versionAtLeast('garbage', 'v1.0.0')).toBe(false);
  });
});

describe('image plan', () => {
  const wanted = ['postgres:17', 'maxking/mailman-core:0.5.2', 'ghcr.io/kumocorp/kumomta:1'];
  it('loads what the node lacks, pulls what the host lacks, and with --images refuses to pull', () => {
    const node = new Set(['docker.io/library/postgres:17']);
    const host = new Set(['maxking/mailman-core:0.5.2']);
    expect(planImages(wanted, node, host, true)).toEqual({
      present: ['postgres:17'],
      load: ['maxking/mailman-core:0.5.2', 'ghcr.io/kumocorp/kumomta:1'],
      pull: ['ghcr.io/kumocorp/kumomta:1'],
      unavailable: [],
    });
    expect(planImages(wanted, node, host, false).unavailable).toEqual(['ghcr.io/kumocorp/kumomta:1']);
  });

  it('explains pull failures', () => {
    expect(pullFailureHint('toomanyrequests: You have reached your pull rate limit')).toContain('docker login');
    expect(pullFailureHint('dial tcp: lookup registry-1.docker.io: no such host')).toContain('npm run up -- --images');
    expect(pullFailureHint('no matching manifest for linux/arm64/v8')).toContain('no variant for this platform');
  });

  it('inParallel runs at most `limit` at once and reports the first error after all settle', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    const p = inParallel([1, 2, 3, 4, 5], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setImmediate(r));
      seen.push(n);
      running--;
      if (n === 2) throw new Error('two');
    });
    await expect(p).rejects.toThrow('two');
    expect(peak).toBe(2);
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('registry recipe', () => {
  const spec = { name: 'kind-registry', port: 5001, image: 'registry:3.0.0' };
  it('maps localhost:<port> to the registry container and publishes it for Tilt (KEP-1755)', () => {
    expect(hostsToml(spec)).toBe('[host."http://kind-registry:5000"]\n');
    expect(localRegistryConfigMap(spec)).toContain('namespace: kube-public');
    expect(localRegistryConfigMap(spec)).toContain('host: "localhost:5001"');
    expect(registryRunArgs(spec)).toEqual(['--restart=always', '--publish', '127.0.0.1:5001:5000', '--network', 'bridge', '--name', 'kind-registry', 'registry:3.0.0']);
    const c = { exists: true, running: false, image: '', portBindings: {}, networks: [], labels: {} };
    expect([decideRegistry({ ...c, exists: false }), decideRegistry(c), decideRegistry({ ...c, running: true })]).toEqual(['run', 'start', 'keep']);
  });
});

describe('overlay', () => {
  it('references the profile relatively and adds only what is set', () => {
    const bare = overlayKustomization({ overlayDir: '/r/.mailkind/overlays/mailkind', manifestsDir: '/r/manifests' });
    expect(bare).toContain('- ../../../manifests');
    expect(bare).not.toMatch(/namespace:|images:|patches:/);
    const full = overlayKustomization({
      overlayDir: '/r/.mailkind/overlays/x',
      manifestsDir: '/r/manifests/profiles/minimal',
      namespace: 'team-a',
      sinkImage: { newName: 'reg.example/smtp-sink', newTag: 'abc' },
      sinkImageId: 'sha256:1234',
    });
    expect(full).toMatch(/namespace: team-a/);
    expect(full).toContain('newName: reg.example/smtp-sink');
    expect(full).toContain('mailkind.dev/sink-image-id');
    expect(overlayName('gke_proj/zone:name')).toBe('gke_proj_zone_name');
  });

  it('leftoverRefs lists what a smaller profile no longer has', () => {
    const full = 'kind: Namespace\nmetadata: {name: mailkind}\n---\nkind: Deployment\nmetadata: {name: a}\n---\nkind: Service\nmetadata: {name: b}\n';
    expect(leftoverRefs(full, 'kind: Deployment\nmetadata: {name: a}\n')).toEqual(['service/b']);
  });
});

describe('rollout and diagnosis', () => {
  it('waits in dependency order for each profile', () => {
    expect(rolloutOrder('minimal')).toEqual(['deployment/dragonfly', 'statefulset/kumomta-tsa', 'deployment/smtp-sink', 'statefulset/kumomta']);
    const full = rolloutOrder('full');
    expect(full.indexOf('deployment/mailman-core')).toBeLessThan(full.indexOf('deployment/mailman-web'));
    expect(full.indexOf('statefulset/postgres')).toBeLessThan(full.indexOf('deployment/mailman-core'));
    expect(full.at(-2)).toBe('statefulset/kumomta');
  });

  it('summarizes the telling reason of a pod and a fix for it', () => {
    const pod = summarizePod({
      metadata: { name: 'kumomta-0' },
      status: { phase: 'Pending', containerStatuses: [{ ready: false, restartCount: 2, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } }] },
    });
    expect(pod).toMatchObject({ ready: false, reason: 'ImagePullBackOff', restarts: 2 });
    expect(reasonFix(pod.reason)).toContain('loads the pinned images');
    const unscheduled = summarizePod({ metadata: { name: 'p' }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes: Insufficient memory' }] } });
    expect(unscheduled.reason).toBe('Unschedulable');
    expect(reasonFix('Unschedulable')).toContain('--profile minimal');
    expect(summarizePod({ metadata: { name: 'p' }, status: { phase: 'Running', containerStatuses: [{ ready: false, state: {} }] } }).reason).toMatch(/readiness probe/);
  });
});

describe('status rows', () => {
  const settings = resolveSettings({});
  it('counts readiness and restarts per workload and keeps only its recent warnings', () => {
    const now = Date.parse('2026-11-22T12:00:00Z');
    const rows = statusRows(
      [
        { kind: 'StatefulSet', metadata: { name: 'kumomta' }, spec: { replicas: 2 }, status: { readyReplicas: 1 } },
        { kind: 'StatefulSet', metadata: { name: 'kumomta-tsa' }, spec: { replicas: 1 }, status: { readyReplicas: 1 } },
      ],
      [
        { metadata: { name: 'kumomta-0', labels: { 'app.kubernetes.io/name': 'kumomta' } }, status: { containerStatuses: [{ restartCount: 3 }] } },
        { metadata: { name: 'kumomta-tsa-0', labels: { 'app.kubernetes.io/name': 'kumomta-tsa' } }, status: { containerStatuses: [{ restartCount: 1 }] } },
      ],
      [
        { type: 'Warning', reason: 'BackOff', message: 'restarting', count: 3, involvedObject: { kind: 'Pod', name: 'kumomta-0' }, lastTimestamp: '2026-11-22T11:59:00Z' },
        { type: 'Warning', reason: 'Old', message: 'an hour ago', involvedObject: { kind: 'Pod', name: 'kumomta-0' }, lastTimestamp: '2026-11-22T11:00:00Z' },
        { type: 'Warning', reason: 'Unhealthy', message: 'tsa probe', involvedObject: { kind: 'Pod', name: 'kumomta-tsa-0' }, lastTimestamp: '2026-11-22T11:59:30Z' },
      ],
      settings,
      now,
    );
    expect(rows[0]).toMatchObject({ component: 'kumomta', ready: 1, desired: 2, restarts: 3, warnings: ['BackOff: restarting (x3)'] });
    expect(rows[0]!.endpoints).toEqual(['http://127.0.0.1:8000/api/inject/v1', 'smtp://127.0.0.1:2525', 'smtp://127.0.0.1:2587']);
    expect(rows[1]).toMatchObject({ component: 'kumomta-tsa', restarts: 1, warnings: ['Unhealthy: tsa probe'] });
    expect(statusTable(rows).join('\n')).toMatch(/^kumomta\s+1\/2\s+3\s+http:\/\/127\.0\.0\.1:8000\/api\/inject\/v1$/m);
  });

  it('keeps only current warnings: not from before a pod became Ready, not of an earlier pod of that name', () => {
    const now = Date.parse('2026-11-22T12:00:00Z');
    const ready = (uid: string, at: string) => ({ uid, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at }] });
    const pod = (name: string, app: string, r: ReturnType<typeof ready>) => ({
      metadata: { name, uid: r.uid, labels: { 'app.kubernetes.io/name': app } },
      status: { conditions: r.conditions, containerStatuses: [{ restartCount: 0 }] },
    });
    const warn = (reason: string, kind: string, name: string, at: string, uid?: string) => ({ type: 'Warning', reason, message: reason, involvedObject: { kind, name, uid }, lastTimestamp: at });
    const rows = statusRows(
      [
        { kind: 'StatefulSet', metadata: { name: 'postgres' }, spec: { replicas: 1 }, status: { readyReplicas: 1 } },
        { kind: 'Deployment', metadata: { name: 'smtp-sink' }, spec: { replicas: 1 }, status: { readyReplicas: 1 } },
      ],
      [pod('postgres-0', 'postgres', ready('u-pg', '2026-11-22T11:50:00Z')), pod('smtp-sink-6d4cf-abcde', 'smtp-sink', ready('u-sink', '2026-11-22T11:50:00Z'))],
      [
        warn('FailedScheduling', 'Pod', 'postgres-0', '2026-11-22T11:49:58Z', 'u-pg'),
        // the scheduler's events are to the microsecond, conditions to the second: this one came
        // 400 ms before the pod was Ready, within the second its condition names
        { type: 'Warning', reason: 'FailedScheduling', message: 'unbound PVC', involvedObject: { kind: 'Pod', name: 'postgres-0', uid: 'u-pg' }, lastTimestamp: null, eventTime: '2026-11-22T11:50:00.600000Z' },
        warn('ClaimLost', 'PersistentVolumeClaim', 'data-postgres-0', '2026-11-22T11:49:00Z'),
        warn('BackOff', 'Pod', 'postgres-0', '2026-11-22T11:55:00Z', 'u-an-earlier-pod'),
        warn('Unhealthy', 'Pod', 'postgres-0', '2026-11-22T11:56:00Z', 'u-pg'),
        warn('FailedCreate', 'ReplicaSet', 'smtp-sink-6d4cf', '2026-11-22T11:58:00Z'),
        warn('Gone', 'Pod', 'smtp-sink-6d4cf-zzzzz', '2026-11-22T11:59:00Z'),
      ],
      settings,
      now,
    );
    expect(rows.map((r) => [r.component, r.warnings])).toEqual([
      ['postgres', ['Unhealthy: Unhealthy']],
      ['smtp-sink', ['FailedCreate: FailedCreate']],
    ]);
  });

  it('a cluster mailkind did not create: NodePorts and port-forward commands, no loopback URL before them', () => {
    const external = resolveSettings({}, { context: 'prod', namespace: 'mk' });
    const lines = externalAccess(external);
    const forward = lines.findIndex((l) => l.includes('forward the ports'));
    expect(lines.slice(0, forward).join('\n')).not.toContain('127.0.0.1');
    expect(lines).toContain('    kubectl --context prod --namespace mk port-forward service/kumomta-nodeport 8000:8000 2525:2525 2587:2587');
    expect(lines).toContain('    kubectl --context prod --namespace mk port-forward service/mailman-web-nodeport 8080:8000');
    expect(lines.some((l) => /mailman-core REST\s+<node address>:30801/.test(l))).toBe(true);
    const minimal = externalAccess({ ...external, profile: 'minimal' }).join('\n');
    expect(minimal).not.toContain('mailman');
    expect(statusRows([{ kind: 'Deployment', metadata: { name: 'smtp-sink' } }], [], [], { ...external, external: true })[0]!.endpoints).toEqual(['service/smtp-sink-nodeport:8025 (NodePort 30825)']);
  });

  it('the minimal profile has no Mailman endpoints', () => {
    expect(endpoints({ ...settings, profile: 'minimal' }).map((e) => e.key)).toEqual(['kumoHttp', 'kumoInbound', 'kumoRelay', 'sinkHttp']);
  });
});

describe('steps', () => {
  it('runs in order, logs timestamped plain lines, reports skips, and stops at the first failure with the reports so far', async () => {
    const lines: string[] = [];
    let t = 0;
    const steps: Step<{ ran: string[] }>[] = [
      { name: 'a', title: 'Step A', run: (c) => { c.ran.push('a'); t += 1500; return Promise.resolve('created'); } },
      { name: 'b', title: 'Step B', run: () => { t += 10; return Promise.resolve(new Skip('not needed')); } },
      { name: 'c', title: 'Step C', run: () => { t += 20_000; return Promise.reject(new UserError('broken', 'fix it')); } },
      { name: 'd', title: 'Step D', run: (c) => { c.ran.push('d'); return Promise.resolve(); } },
    ];
    const ctx = { ran: [] as string[] };
    const err = await runSteps(steps, ctx, { renderer: 'plain', write: (l) => lines.push(l), now: () => t, clock: () => new Date('2026-11-22T10:11:12Z') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(ctx.ran).toEqual(['a']);
    expect(lines).toEqual([
      '10:11:12 > Step A',
      '10:11:12 ok Step A: created (1.5s)',
      '10:11:12 > Step B',
      '10:11:12 - Step B: not needed (0.0s)',
      '10:11:12 > Step C',
      '10:11:12 FAILED Step C (20s)',
    ]);
    const reports = (err as { reports: { status: string }[] }).reports;
    expect(reports.map((r) => r.status)).toEqual(['done', 'skipped', 'failed']);
    expect(timingTable(reports as never).at(-1)).toMatch(/^total\s+22s$/);
    expect(formatDuration(185_000)).toBe('3m05s');
  });

  it('up has the kind steps in order; --for-tilt and --context have fewer', () => {
    const names = (s: { name: string }[]) => s.map((x) => x.name);
    expect(names(upSteps({ forTilt: false }, { external: false }))).toEqual(['preflight', 'bundle', 'cluster', 'nodes', 'registry', 'images', 'validate', 'sink-image', 'secrets', 'manifests', 'rollout', 'reach']);
    expect(names(upSteps({ forTilt: true }, { external: false }))).toEqual(['preflight', 'cluster', 'nodes', 'registry', 'secrets']);
    expect(names(upSteps({ forTilt: false }, { external: true }))).toEqual(['preflight', 'validate', 'sink-image', 'secrets', 'manifests', 'rollout']);
  });
});

describe('failure output', () => {
  it('prints cause, fix and details, never a stack unless asked; unknown errors say they are bugs', () => {
    expect(formatFailure(new UserError('port 8000 taken', 'free it', 1, ['detail']))).toEqual({ lines: ['error: port 8000 taken', '  fix: free it', '  detail'], code: 1 });
    const cmd = new CommandError({ command: 'kubectl', args: ['apply', '-k', 'x', 'y'], exitCode: 1, stdout: '', stderr: 'error: boom\n', notFound: false, timedOut: false });
    expect(formatFailure(cmd).lines[0]).toBe('error: kubectl apply -k x ...: exit 1: error: boom');
    const bug = formatFailure(new TypeError('x is undefined'));
    expect(bug.lines).toEqual(['error: x is undefined', expect.stringContaining('bug in mailkind')]);
    expect(formatFailure(new Error('e'), true).lines.some((l) => l.includes('    at '))).toBe(true);
  });
});
