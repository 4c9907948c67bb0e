// Pure pieces of the e2e suite: percentiles, the throttle check, kumod log records, run ids,
// kubectl's stderr gist and pod state.
import { describe, expect, it } from 'vitest';
import { podInfo, stderrGist } from '../../e2e/lib/cluster.js';
import { parseLogRecords, recordsOf } from '../../e2e/lib/kumo-log.js';
import { address, addresses } from '../../e2e/lib/mail.js';
import { checkThrottle, percentile, plainIp, summarize } from '../../e2e/lib/measure.js';
import { runId } from '../../e2e/lib/suite.js';

const TOL = { rateFactor: 1.2, extraMessages: 2 };

describe('percentiles', () => {
  it('nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(v, 0.5)).toBe(50);
    expect(percentile(v, 0.95)).toBe(95);
    expect(percentile(v, 1)).toBe(100);
    expect(percentile([7], 0.5)).toBe(7);
    expect(percentile([], 0.5)).toBeNaN();
    expect(summarize([3, 1, 2])).toEqual({ count: 3, p50: 2, p95: 3, p99: 3, max: 3 });
  });
});

describe('checkThrottle', () => {
  const at = (times: number[]): number[] => times.map((s) => 1_700_000_000_000 + Math.round(s * 1000));

  it('a burst of 10, then 10/s: within the limit', () => {
    const times = [...Array.from({ length: 10 }, () => 0), ...Array.from({ length: 50 }, (_, i) => 0.1 * (i + 1))];
    const v = checkThrottle(at(times), 10, 10, TOL);
    expect(v.ok).toBe(true);
    expect(v.sustainedRate).toBe(10);
  });

  it('two replicas each doing 10/s (20/s overall): over the limit', () => {
    const times = [...Array.from({ length: 10 }, () => 0), ...Array.from({ length: 50 }, (_, i) => 0.05 * (i + 1))];
    const v = checkThrottle(at(times), 10, 10, TOL);
    expect(v.ok).toBe(false);
    expect(v.sustainedRate).toBe(20);
    expect(v.worst.count).toBeGreaterThan(v.worst.allowed);
  });

  it('no throttle at all (everything at once): over the limit', () => {
    expect(checkThrottle(at(Array.from({ length: 60 }, (_, i) => i * 0.001)), 10, 10, TOL).ok).toBe(false);
  });

  it('jitter within the tolerance passes; the tolerance is what the verdict reports', () => {
    // 10/s with arrivals pulled together in pairs by 40 ms of jitter
    const times = Array.from({ length: 60 }, (_, i) => 0.1 * i + (i % 2 ? -0.04 : 0));
    const v = checkThrottle(at(times), 10, 10, TOL);
    expect(v.ok).toBe(true);
    expect(v.worst.allowed).toBeGreaterThanOrEqual(12);
  });
});

describe('kumod log records', () => {
  const log = [
    '[pod/kumomta-0/kumod] 2026-08-01T10:00:00Z INFO kumod: started',
    '[pod/kumomta-0/kumod] {"type":"Reception","id":"a1","sender":"s@x.test","recipient":"permfail+r1@e2e.mailkind.test","response":{"code":250}}',
    '{"type":"Bounce","id":"a1","sender":"s@x.test","recipient":"PermFail+r1@e2e.mailkind.test","response":{"code":550,"content":"5.0.0 permfail"},"num_attempts":1}',
    '{"type":"Delivery","recipient":["a@x.test","b@x.test"],"response":{"code":250}}',
    '{"not":"a record"}',
    '{"type":"Delivery","recipient":42}',
    '{ broken json',
  ].join('\n');

  it('parses JSON lines, with or without a pod prefix, and skips everything else', () => {
    const records = parseLogRecords(log);
    expect(records.map((r) => r.type)).toEqual(['Reception', 'Bounce', 'Delivery']);
  });

  it('finds a recipient case-insensitively, also inside a batch', () => {
    const records = parseLogRecords(log);
    expect(recordsOf(records, 'permfail+r1@e2e.mailkind.test').map((r) => [r.type, r.response?.code])).toEqual([
      ['Reception', 250],
      ['Bounce', 550],
    ]);
    expect(recordsOf(records, 'b@x.test')).toHaveLength(1);
    expect(recordsOf(records, 'nobody@x.test')).toEqual([]);
  });
});

describe('small helpers', () => {
  it('run ids are unique, and safe in local parts and list names', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => runId('Mailman Fan-Out!', 1_700_000_000_000)));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^e2e-mailman-fan-out-loyw3v28-[0-9a-f]{8}$/);
  });

  it('addresses carry the run after "+", so sink faults still read the local part', () => {
    expect(address('tempfail-2', 'e2e-x-1', 'e2e.mailkind.test')).toBe('tempfail-2+e2e-x-1@e2e.mailkind.test');
    expect(addresses('m', 'r', 'd.test', 3)).toEqual(['m0+r@d.test', 'm1+r@d.test', 'm2+r@d.test']);
  });

  it('kubectl stderr: the last line that is not klog noise', () => {
    expect(stderrGist('E1122 06:02:37.686 memcache.go:265] x\nW0101 00:00:00.0 warn\nThe connection to the server localhost:8080 was refused\n')).toBe('The connection to the server localhost:8080 was refused');
    expect(stderrGist('')).toBe('');
  });

  it('pod state from kubectl JSON', () => {
    const p = podInfo({
      metadata: { name: 'kumomta-0', uid: 'u1' },
      spec: { volumes: [{ persistentVolumeClaim: { claimName: 'spool-kumomta-0' } }, {}] },
      status: { phase: 'Running', podIP: '10.244.0.7', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ restartCount: 2 }] },
    });
    expect(p).toEqual({ name: 'kumomta-0', uid: 'u1', ip: '10.244.0.7', phase: 'Running', ready: true, restarts: 2, claims: ['spool-kumomta-0'] });
    expect(podInfo({ metadata: { name: 'x', uid: 'u' } })).toMatchObject({ ip: null, phase: 'Unknown', ready: false, claims: [] });
  });

  it('plainIp unwraps IPv4-mapped IPv6', () => {
    expect(plainIp('::ffff:10.244.0.5')).toBe('10.244.0.5');
    expect(plainIp('10.244.0.5')).toBe('10.244.0.5');
    expect(plainIp('fd00::1')).toBe('fd00::1');
  });
});
