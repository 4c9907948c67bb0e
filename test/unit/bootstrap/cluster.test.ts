import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { clusterDifferences, decideCluster, desiredCluster, portsPublishedBy } from '../../../scripts/lib/lifecycle/cluster.js';
import type { ContainerState } from '../../../scripts/lib/tools/docker.js';
import { resolveSettings } from '../../../scripts/lib/config/settings.js';

const settings = resolveSettings({});
const kindConfig = readFileSync(join(settings.paths.root, 'manifests/kind/cluster.yaml'), 'utf8');
const desired = desiredCluster('mailkind', kindConfig, settings.ports);

function nodeLike(d: typeof desired, patch: Partial<ContainerState> = {}): ContainerState {
  const portBindings: ContainerState['portBindings'] = { '6443/tcp': [{ HostIp: '127.0.0.1', HostPort: '39999' }] };
  for (const m of d.mappings) portBindings[`${m.containerPort}/tcp`] = [{ HostIp: m.listenAddress, HostPort: String(m.hostPort) }];
  return { exists: true, running: true, image: d.nodeImage, portBindings, networks: ['kind'], labels: {}, ...patch };
}

describe('the desired kind cluster', () => {
  it('is manifests/kind/cluster.yaml with the configured host ports and the cluster name', () => {
    const ports = { ...settings.ports, kumoHttp: 18000, sinkHttp: 18025 };
    const d = desiredCluster('other', kindConfig, ports);
    const doc = parse(d.config) as { name: string; nodes: { extraPortMappings: { containerPort: number; hostPort: number; listenAddress: string }[] }[] };
    expect(doc.name).toBe('other');
    const m = Object.fromEntries(doc.nodes[0]!.extraPortMappings.map((x) => [x.containerPort, x.hostPort]));
    expect(m).toEqual({ 30800: 18000, 30525: 2525, 30587: 2587, 30825: 18025, 30801: 8001, 30880: 8080 });
    expect(doc.nodes[0]!.extraPortMappings.every((x) => x.listenAddress === '127.0.0.1')).toBe(true);
    expect(d.config).toContain('# kumomta HTTP (inject API)'); // comments survive: people read the config kind got
  });
});

describe('decideCluster (reconcile what exists toward the desired cluster)', () => {
  const none: ContainerState = { exists: false, running: false, image: '', portBindings: {}, networks: [], labels: {} };

  it('creates when there is none, reuses a match, starts a stopped match', () => {
    expect(decideCluster({ listed: false, node: none, desired }).action).toBe('create');
    expect(decideCluster({ listed: true, node: nodeLike(desired), desired }).action).toBe('reuse');
    expect(decideCluster({ listed: true, node: nodeLike(desired, { running: false }), desired }).action).toBe('start');
  });

  it('refuses a same-named cluster with another node image or other port bindings, saying what differs and how to fix it', () => {
    const otherImage = decideCluster({ listed: true, node: nodeLike(desired, { image: 'kindest/node:v1.29.0' }), desired });
    expect(otherImage).toMatchObject({ action: 'refuse' });
    expect(otherImage.reason).toContain(`node image is kindest/node:v1.29.0, wanted ${desired.nodeImage}`);
    const lan = nodeLike(desired);
    lan.portBindings['30800/tcp'] = [{ HostIp: '0.0.0.0', HostPort: '8000' }];
    const r = decideCluster({ listed: true, node: lan, desired });
    expect(r.reason).toContain('node port 30800 is published on 0.0.0.0:8000, wanted 127.0.0.1:8000');
    expect(r.action === 'refuse' && r.fix).toContain('npm run down -- --cluster mailkind');
    expect(decideCluster({ listed: true, node: none, desired }).reason).toContain('control-plane container is missing');
  });

  it('ports a running cluster publishes count as ours; a stopped one publishes none', () => {
    const n = nodeLike(desired);
    expect([...portsPublishedBy(n)].sort((a, b) => a - b)).toEqual([2525, 2587, 8000, 8001, 8025, 8080, 39999]);
    expect(portsPublishedBy({ ...n, running: false }).size).toBe(0);
    expect(clusterDifferences(n, desired)).toEqual([]);
  });
});
