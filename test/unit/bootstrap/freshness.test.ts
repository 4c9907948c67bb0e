// After a node restart, `up` waits until no pod reports Ready from before the node started
// (lifecycle/freshness.ts); the real restart runs in the kind tier (test/kind/stack.test.ts).
import { describe, expect, it } from 'vitest';
import { stalePods, waitForFreshStatuses, type PodStatusJson } from '../../../scripts/lib/lifecycle/freshness.js';
import { UserError } from '../../../scripts/lib/cli/errors.js';

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

describe('waitForFreshStatuses: up waits for the kubelet of this boot', () => {
  const old = pod('coredns', true, ['2026-12-02T11:40:00Z']);
  const fresh = pod('coredns', true, ['2026-12-02T12:00:20Z']);

  it('lists again until nothing is stale, telling once how many pods it waits for', async () => {
    const lists = [[old], [old], [fresh]];
    let asked = 0;
    const told: number[] = [];
    const waited = await waitForFreshStatuses(
      { node: NODE, startedAt: BOOT, pods: () => Promise.resolve(lists[Math.min(asked++, lists.length - 1)]!) },
      { timeoutSeconds: 10, intervalMs: 1, onWait: (n) => told.push(n) },
    );
    expect(asked).toBe(3);
    expect(told).toEqual([1]);
    expect(waited).toBeGreaterThanOrEqual(0);
  });

  it('asks again while the API server drops the request', async () => {
    let asked = 0;
    const waited = await waitForFreshStatuses(
      {
        node: NODE,
        startedAt: BOOT,
        pods: () => (asked++ < 2 ? Promise.reject(new Error('The connection to the server 127.0.0.1:41234 was refused')) : Promise.resolve([fresh])),
      },
      { timeoutSeconds: 10, intervalMs: 1 },
    );
    expect(asked).toBe(3);
    expect(waited).toBe(0);
  });

  it('without the node’s start time it lists nothing and waits for nothing (the fakes report none)', async () => {
    let asked = 0;
    await expect(waitForFreshStatuses({ node: NODE, startedAt: undefined, pods: () => Promise.resolve((asked++, [old])) }, { timeoutSeconds: 1 })).resolves.toBe(0);
    expect(asked).toBe(0);
  });

  it('at the deadline: the stale pods named, or the API server said to be silent, with a fix', async () => {
    let t = 0;
    const now = () => (t += 400);
    const stale = waitForFreshStatuses({ node: NODE, startedAt: BOOT, pods: () => Promise.resolve([old]) }, { timeoutSeconds: 2, intervalMs: 1, now });
    await expect(stale).rejects.toThrow(UserError);
    await expect(stale).rejects.toThrow(`the kubelet of ${NODE} has not reported on kube-system/coredns in 2s since the node started`);
    t = 0;
    const silent = waitForFreshStatuses(
      { node: NODE, startedAt: BOOT, pods: () => Promise.reject(new Error('some output\nThe connection to the server was refused')) },
      { timeoutSeconds: 2, intervalMs: 1, now },
    );
    await expect(silent).rejects.toThrow(`the API server of ${NODE} did not list the pods for 2s after the node started: The connection to the server was refused`);
    const err = (await silent.catch((e: unknown) => e)) as UserError;
    expect(err.fix).toContain(`docker logs ${NODE}`);
  });
});
