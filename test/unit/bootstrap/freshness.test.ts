// After a node restart, `up` waits until no pod reports Ready from before the node started
// (lifecycle/freshness.ts); the real restart runs in the kind tier (test/kind/stack.test.ts).
import { describe, expect, it } from 'vitest';
import { stalePods, type PodStatusJson } from '../../../scripts/lib/lifecycle/freshness.js';

const NODE = 'mailkind-control-plane';
const BOOT = '2026-12-02T12:00:05.734912345Z';

function pod(name: string, ready: boolean, startedAt: (string | undefined)[], node = NODE): PodStatusJson {
  return {
    metadata: { name, namespace: 'kube-system' },
    spec: { nodeName: node },
    status: {
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: startedAt.map((s, i) => ({ name: `c${i}`, state: s ? { running: { startedAt: s } } : {} })),
    },
  };
}

describe('stalePods: Ready statuses the kubelet wrote before the node restarted', () => {
  it('a Ready pod with a container started before the node is stale; one started since is not', () => {
    const pods = [pod('coredns-old', true, ['2026-12-02T11:40:00Z']), pod('coredns-new', true, ['2026-12-02T12:00:09Z'])];
    expect(stalePods(pods, NODE, BOOT)).toEqual(['kube-system/coredns-old']);
  });

  it('one old container among new ones makes the pod stale', () => {
    expect(stalePods([pod('two', true, ['2026-12-02T12:00:07Z', '2026-12-02T11:59:59Z'])], NODE, BOOT)).toEqual(['kube-system/two']);
  });

  it('a container started in the node’s first second counts as new (the API server keeps whole seconds)', () => {
    expect(stalePods([pod('same-second', true, ['2026-12-02T12:00:05Z'])], NODE, BOOT)).toEqual([]);
  });

  it('not-ready pods, waiting containers and pods on other nodes are left to the rollout wait', () => {
    const pods = [pod('not-ready', false, ['2026-12-02T11:00:00Z']), pod('waiting', true, [undefined]), pod('elsewhere', true, ['2026-12-02T11:00:00Z'], 'worker')];
    expect(stalePods(pods, NODE, BOOT)).toEqual([]);
  });

  it('a start time it cannot read finds nothing stale (never blocks up)', () => {
    expect(stalePods([pod('x', true, ['2026-12-02T11:00:00Z'])], NODE, 'not a time')).toEqual([]);
  });
});
