// The kind tier: `npm run up` and friends for real, on a kind v0.32.0 cluster on a Docker engine
// of the tier's own (test/kind/lib/tier.ts). The cluster is made once, by the first test, and the
// tests build on each other in order; afterAll deletes the cluster, the registry, the engine and
// its data, also when a test failed.
//
// What this proves: kind creates the cluster from manifests/kind/cluster.yaml (port mappings,
// the node image override aside), the local-registry recipe, images reaching the node, the
// manifests being accepted and rolled out by a real kubelet, probes, Services, NodePorts, the
// host port mapping, DNS, the sink for real, and the lifecycle commands' idempotence, status,
// recovery and teardown. What it cannot: KumoMTA, Dragonfly and Postgres behaviour (stand-ins
// answer their probes only: docs/testing-kind.md), kind's published node image (ours is built here).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../../bench/lib/net.js';
import { readImagePins } from '../../scripts/lib/config/pins.js';
import { digestAlias } from '../../scripts/lib/lifecycle/images.js';
import { skipWithout } from '../helpers/prerequisites.js';
import { kindTierMissing, ROOT, setupKindTier, type KindTier } from './lib/tier.js';

const WORKLOADS_MINIMAL = ['deployment/dragonfly', 'deployment/smtp-sink', 'statefulset/kumomta', 'statefulset/kumomta-tsa'];

describe.skipIf(skipWithout(kindTierMissing()))('mailkind on a real kind cluster', () => {
  let t: KindTier;
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    t = await setupKindTier();
    Object.assign(figures, t.timings);
  }, 45 * 60_000);

  afterAll(async () => {
    if (!t) return;
    const t0 = performance.now();
    await t.teardown();
    figures.teardown = Math.round(performance.now() - t0);
    console.log(`kind tier figures (ms): ${JSON.stringify(figures)}`);
  }, 5 * 60_000);

  const sinkUrl = (path: string) => `http://127.0.0.1:${t.ports.sinkHttp}${path}`;
  /** awaits a condition, polling; throws with `why()` once `seconds` have passed */
  const until = async <T>(seconds: number, probe: () => Promise<T>, ok: (v: T) => boolean, why: (v: T) => string): Promise<T> => {
    const deadline = Date.now() + seconds * 1000;
    for (let v = await probe(); ; v = await probe()) {
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(why(v));
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const healthz = () => fetch(sinkUrl('/healthz')).then(async (r) => `${r.status} ${await r.text()}`, (e: Error) => `no answer: ${e.message}`);
  const generations = async () => {
    const list = JSON.parse(await t.kubectl(['--namespace', 'mailkind', 'get', 'deployments,statefulsets,services,configmaps,secrets', '--output', 'json'])) as {
      items: { kind: string; metadata: { name: string; resourceVersion: string; generation?: number } }[];
    };
    return Object.fromEntries(list.items.map((o) => [`${o.kind}/${o.metadata.name}`, `${o.metadata.generation ?? '-'}@${o.metadata.resourceVersion}`]));
  };

  it('up (minimal profile) creates the cluster, runs the local-registry recipe, loads the images, applies and waits for every rollout', async () => {
    const r = await t.lifecycle('up', ['--profile', 'minimal', '--timeout', '240']);
    figures.upFirst = r.ms;
    expect(r.exitCode, r.all).toBe(0);
    // up's own step timings, for the figures in docs/testing-kind.md
    console.log(`first up:\n${r.all.slice(r.all.lastIndexOf('  step '))}`);

    const clusters = await t.run('kind', ['get', 'clusters']);
    expect(clusters.stdout.split('\n')).toContain(t.cluster);
    // the node runs the image the override names, from the kind config's port mappings
    const node = JSON.parse((await t.run('docker', ['inspect', `${t.cluster}-control-plane`])).stdout) as {
      Config: { Image: string };
      HostConfig: { PortBindings: Record<string, { HostIp: string; HostPort: string }[]> };
    }[];
    expect(node[0]!.Config.Image).toBe(t.nodeImage);
    expect(node[0]!.HostConfig.PortBindings['30825/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(t.ports.sinkHttp) }]);

    // the registry recipe: the container on the kind network, the node's hosts.toml, the KEP-1755 ConfigMap
    const reg = await t.run('docker', ['inspect', '--format', '{{.State.Running}} {{json .NetworkSettings.Networks}}', 'kind-registry']);
    expect(reg.stdout).toMatch(/^true .*"kind"/);
    const hosts = await t.run('docker', ['exec', `${t.cluster}-control-plane`, 'cat', `/etc/containerd/certs.d/localhost:${t.ports.registry}/hosts.toml`]);
    expect(hosts.stdout).toContain('http://kind-registry:5000');
    expect(await t.kubectl(['--namespace', 'kube-public', 'get', 'configmap', 'local-registry-hosting', '--output', 'jsonpath={.data.localRegistryHosting\\.v1}'])).toContain(`localhost:${t.ports.registry}`);

    // every workload of the profile rolled out, by the cluster's account
    for (const w of WORKLOADS_MINIMAL) {
      const s = JSON.parse(await t.kubectl(['--namespace', 'mailkind', 'get', w, '--output', 'json'])) as { spec: { replicas: number }; status: { readyReplicas?: number } };
      expect(s.status.readyReplicas ?? 0, w).toBe(s.spec.replicas);
    }
    // the sink image on the node is the one built on the host
    const images = await t.run('docker', ['exec', `${t.cluster}-control-plane`, 'crictl', 'images', '--output', 'json']);
    expect(images.stdout).toContain('mailkind/smtp-sink:dev');
  }, 20 * 60_000);

  it("the sink's API and dashboard answer from the host through kind's port mapping and the NodePort", async () => {
    const health = await fetch(sinkUrl('/healthz'));
    expect(health.status).toBe(200);
    const dash = await fetch(sinkUrl('/'));
    expect(dash.status).toBe(200);
    expect(dash.headers.get('content-type')).toMatch(/text\/html/);
    const stats = await fetch(sinkUrl('/api/stats'));
    expect(stats.status).toBe(200);
  });

  it('mail sent to the sink inside the cluster (by Service name, through CoreDNS) shows up in its API on the host', async () => {
    const rcpt = `kind-tier-${Date.now()}@example.test`;
    // an SMTP conversation from a pod: the sink's own image has node; the peer is the Service DNS name
    const script = `
      const net = require('node:net');
      const lines = ['EHLO kind-tier', 'MAIL FROM:<tier@example.test>', 'RCPT TO:<${rcpt}>', 'DATA', 'Subject: kind tier\\r\\n\\r\\nhello from a pod\\r\\n.', 'QUIT'];
      const s = net.connect(2525, 'smtp-sink.mailkind.svc.cluster.local');
      let buf = '', i = 0;
      s.on('data', (d) => { buf += d; while (buf.includes('\\r\\n')) { const line = buf.slice(0, buf.indexOf('\\r\\n')); buf = buf.slice(buf.indexOf('\\r\\n') + 2);
        process.stdout.write(line + '\\n'); if (/^\\d{3} /.test(line)) { if (/^[45]/.test(line)) process.exit(1); if (i < lines.length) s.write(lines[i++] + '\\r\\n'); } } });
      s.on('close', () => process.exit(0));`;
    const sent = await t.run('kubectl', ['--context', t.context, '--namespace', 'mailkind', 'exec', 'deploy/smtp-sink', '--', 'node', '-e', script]);
    expect(sent.exitCode, sent.all).toBe(0);
    expect(sent.stdout).toMatch(/^250 /m);
    const r = await fetch(sinkUrl(`/api/messages?rcpt=${encodeURIComponent(rcpt)}`));
    const body = (await r.json()) as { total: number; messages: { subject?: string }[] };
    expect(body.total).toBe(1);
    expect(JSON.stringify(body.messages[0])).toContain('kind tier');
  });

  it('a second up changes nothing, by the cluster’s account', async () => {
    const before = await generations();
    const r = await t.lifecycle('up', ['--profile', 'minimal', '--timeout', '240']);
    figures.upSecond = r.ms;
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/reused/);
    expect(r.all).toMatch(/0 changed/);
    expect(await generations()).toEqual(before);
  }, 10 * 60_000);

  it('status shows every component of the profile ready', async () => {
    const r = await t.lifecycle('status', ['--profile', 'minimal', '--json']);
    expect(r.exitCode, r.all).toBe(0);
    for (const w of ['dragonfly', 'smtp-sink', 'kumomta', 'kumomta-tsa']) expect(r.all).toContain(w);
  }, 120_000);

  it('after a Docker engine restart the node comes back; up waits for the API server and returns only once its URLs answer', async () => {
    const nodeId = async () => (await t.run('docker', ['inspect', '--format', '{{.Id}}', `${t.cluster}-control-plane`])).stdout.trim();
    const before = await nodeId();
    await t.engine.stopDaemon();
    await t.engine.startDaemon();
    // kind's restart policy (on-failure:1) does not restart a node after a daemon restart by
    // itself on every engine: `up` starts a stopped node and waits for the API server
    const r = await t.lifecycle('up', ['--profile', 'minimal', '--timeout', '240']);
    figures.upAfterEngineRestart = r.ms;
    expect(r.exitCode, r.all).toBe(0);
    console.log(`up after the engine restart:\n${r.all.split('\n').filter((l) => /^\S+ (>|ok|-)? ?(Nodes and CoreDNS|URLs answer)|kubelet to report/.test(l)).join('\n')}\n${r.all.slice(r.all.lastIndexOf('  step '))}`);
    // the same node, brought back: not a new cluster made in its place
    expect(await nodeId()).toBe(before);
    expect(r.all).toMatch(/Kind cluster: \S+ (reused|started \(was stopped\))/);
    // kube-proxy restores the NodePort rules some seconds after the pods say they are ready: `up`
    // returns only once its URLs answer from this machine (its reach step), so the sink answers now
    expect(r.all).toMatch(/URLs answer on this machine: 2 answered/);
    expect(await healthz()).toMatch(/^200 /);
    // how long the reach step waited for them (absent: under a second)
    const waited = /URLs answer on this machine: 2 answered \(the last after ([\d.]+)s\)/.exec(r.all);
    figures.reachWaitAfterRestartMs = waited ? Math.round(Number(waited[1]) * 1000) : 0;
    // and how long the nodes step waited for the kubelet to replace the statuses from before the restart
    const fresh = /\(pod statuses from before the node restarted: (\d+)s until the kubelet reported\)/.exec(r.all);
    figures.freshStatusWaitAfterRestartMs = fresh ? Number(fresh[1]) * 1000 : 0;
  }, 15 * 60_000);

  it('Tilt: `tilt ci` on the cluster exits 0 with every workload healthy, the sink built by Tilt and pushed through the local registry', async () => {
    // The Tiltfile deploys the manifests as pinned (MAILKIND_PINS_OVERRIDE is the npm path's seam
    // only): the stand-ins reach the node under the pinned names
    const pins = readImagePins(ROOT);
    const pinned: string[] = [];
    for (const ref of pins.pulled) {
      const local = t.standins[pins.names[ref]!];
      if (!local || !/kumomta|dragonfly/.test(ref)) continue;
      await t.run('docker', ['tag', local, ref]);
      pinned.push(ref);
    }
    const load = await t.run('kind', ['load', 'docker-image', '--name', t.cluster, ...pinned]);
    expect(load.exitCode, load.all).toBe(0);

    const [port] = (await freePorts(1)) as [number];
    const ci = await t.tilt(['ci', '--port', String(port), '--timeout', '10m', '--', '--profile', 'minimal']);
    figures.tiltCi = ci.ms;
    expect(ci.exitCode, ci.all.slice(-4000)).toBe(0);
    expect(ci.all).toContain('SUCCESS. All workloads are healthy.');
    // the sink runs the image Tilt built (the Dockerfile's dev stage), pushed to the registry the
    // KEP-1755 ConfigMap names and pulled by the node through hosts.toml
    const image = await t.kubectl(['--namespace', 'mailkind', 'get', 'deployment/smtp-sink', '--output', 'jsonpath={.spec.template.spec.containers[0].image}']);
    expect(image).toMatch(new RegExp(`^localhost:${t.ports.registry}/mailkind_smtp-sink:tilt-[0-9a-f]+$`));
    // tilt ci can say SUCCESS while the sink's new pod is still starting (seen here: it counts the
    // old one, and the Deployment's Recreate strategy has just removed it): wait for the rollout
    await t.kubectl(['--namespace', 'mailkind', 'rollout', 'status', 'deployment/smtp-sink', '--timeout', '300s']);
    await until(60, healthz, (b) => b.startsWith('200 '), (b) => `/healthz: ${b}`);
  }, 15 * 60_000);

  it('Tilt: under `tilt up`, an edit of a sink source file reaches the running container by live update (no image rebuild), seen through the sink API', async () => {
    const [port] = (await freePorts(1)) as [number];
    const tilt = t.startTilt(['up', '--port', String(port), '--stream', '--', '--profile', 'minimal']);
    const file = join(ROOT, 'sinks/smtp-sink/src/http/server.ts');
    const original = readFileSync(file, 'utf8');
    const healthzCode = "json(res, 200, { status: 'ok' })";
    expect(original).toContain(healthzCode);
    const t0 = performance.now();
    try {
      // `tilt wait` needs tilt up's API server, and the resource, which exists once the Tiltfile
      // (and its bootstrap, `up --for-tilt`) has run
      const ready = await until(
        600,
        () => t.tilt(['wait', '--port', String(port), '--for=condition=Ready', 'uiresource/smtp-sink', '--timeout', '600s']),
        (r) => r.exitCode === 0 || !/No tilt apiserver found|not found/.test(r.all),
        (r) => r.all,
      );
      expect(ready.exitCode, `${ready.all}\n${tilt.output().slice(-4000)}`).toBe(0);
      await t.kubectl(['--namespace', 'mailkind', 'rollout', 'status', 'deployment/smtp-sink', '--timeout', '300s']);
      figures.tiltUpReady = Math.round(performance.now() - t0);
      const pod = async () => {
        const list = JSON.parse(await t.kubectl(['--namespace', 'mailkind', 'get', 'pods', '--selector', 'app.kubernetes.io/name=smtp-sink', '--output', 'json'])) as {
          items: { metadata: { uid: string; deletionTimestamp?: string }; status: { containerStatuses?: { imageID: string; restartCount: number }[] } }[];
        };
        return list.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => ({ uid: p.metadata.uid, containers: p.status.containerStatuses?.map((c) => `${c.imageID} restarts=${c.restartCount}`) }));
      };
      const before = await pod();
      expect(before).toHaveLength(1);

      const marker = `live-update-${Date.now()}`;
      const t1 = performance.now();
      writeFileSync(file, original.replace(healthzCode, `json(res, 200, { status: 'ok', liveUpdate: '${marker}' })`));
      const seen = await until(180, healthz, (b) => b.includes(marker), (b) => `/healthz: ${b}\n${tilt.output().slice(-3000)}`);
      expect(seen).toMatch(/^200 /);
      figures.liveUpdate = Math.round(performance.now() - t1);
      // the same pod and container, never restarted: the files were synced into it, no image was built
      expect(await pod()).toEqual(before);
      expect(tilt.output()).toMatch(/Will copy 1 file\(s\) to container/);
    } finally {
      writeFileSync(file, original);
      await tilt.stop();
    }
  }, 20 * 60_000);

  it('down deletes the cluster and keeps the registry; down --purge removes the registry too', async () => {
    const names = async () => (await t.run('docker', ['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n');
    const r = await t.lifecycle('down');
    figures.down = r.ms;
    expect(r.exitCode, r.all).toBe(0);
    expect((await t.run('kind', ['get', 'clusters'])).stdout.split('\n')).not.toContain(t.cluster);
    expect(await names()).not.toContain(`${t.cluster}-control-plane`);
    expect(await names()).toContain('kind-registry');
    const purge = await t.lifecycle('down', ['--purge']);
    expect(purge.exitCode, purge.all).toBe(0);
    expect(await names()).not.toContain('kind-registry');
  }, 5 * 60_000);

  it('offline: bundle, then on a fresh engine with no registry an up --images interrupted while kind creates the cluster, run again, ends with a working stack', async () => {
    const archive = join(t.dir, 'bundle.tar');
    const bundle = await t.lifecycle('bundle', ['--output', archive]);
    figures.bundle = bundle.ms;
    expect(bundle.exitCode, bundle.all).toBe(0);

    // the network is off from here: the registry every pin came from is gone, and the new engine
    // has nothing but what it loads from the bundle (no sink base, no node image, no stand-in)
    await t.stopUpstream();
    const t0 = performance.now();
    await t.freshEngine();
    figures.freshEngine = Math.round(performance.now() - t0);
    expect((await t.run('docker', ['images', '--quiet'])).stdout.trim()).toBe('');

    // Ctrl-C once kind has made the node container, before the cluster is usable
    const nodeExists = async () => (await t.run('docker', ['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n').includes(`${t.cluster}-control-plane`);
    const interrupted = await t.lifecycle('up', ['--profile', 'minimal', '--timeout', '240', '--images', archive], { interrupt: { afterLine: /> Kind cluster/, when: nodeExists } });
    figures.upInterrupted = interrupted.ms;
    expect(interrupted.exitCode, interrupted.all).not.toBe(0);
    expect(interrupted.all).toMatch(/loaded .*bundle\.tar \(\d+ images\)/);

    const r = await t.lifecycle('up', ['--profile', 'minimal', '--timeout', '240', '--images', archive]);
    figures.upOfflineAfterInterrupt = r.ms;
    expect(r.exitCode, r.all).toBe(0);
    console.log(`up --images after the interrupted one:\n${r.all.slice(r.all.lastIndexOf('  step '))}`);
    expect(r.all).not.toMatch(/pulling/);
    // finding 1 on a real engine: the digest-pinned node image lost its digest name in the archive
    // and came back under its alias tag, which kind was given and found without a pull
    const node = JSON.parse((await t.run('docker', ['inspect', `${t.cluster}-control-plane`])).stdout) as { Config: { Image: string } }[];
    expect(node[0]!.Config.Image).toBe(digestAlias(t.nodeImage));
    for (const w of WORKLOADS_MINIMAL) {
      const s = JSON.parse(await t.kubectl(['--namespace', 'mailkind', 'get', w, '--output', 'json'])) as { spec: { replicas: number }; status: { readyReplicas?: number } };
      expect(s.status.readyReplicas ?? 0, w).toBe(s.spec.replicas);
    }
    expect((await fetch(sinkUrl('/healthz'))).status).toBe(200);
  }, 20 * 60_000);
});
