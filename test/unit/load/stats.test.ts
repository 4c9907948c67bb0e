// Counting outcomes and latency percentiles (node's HdrHistogram, 3 significant digits).
import { describe, expect, it } from 'vitest';
import { LoadStats, latencySummary, newHistogram, refusalClass, type Outcome } from '../../../scripts/lib/load/stats.js';

const reply = (accepted: boolean, code: number, r: Partial<{ accepted: number; refused4xx: number; refused5xx: number }> = {}, extra: Partial<Outcome> = {}): Outcome =>
  ({ kind: 'reply', accepted, code, recipients: { accepted: 0, refused4xx: 0, refused5xx: 0, ...r }, ...extra }) as Outcome;

describe('percentiles', () => {
  it('1..1000 ms uniform: p50 500, p95 950, p99 990 within the histogram precision', () => {
    const h = newHistogram();
    // shuffled order: percentiles must not depend on it
    const values = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000 + 1);
    for (const ms of values) h.record(ms * 1000);
    const s = latencySummary(h);
    expect(s.count).toBe(1000);
    expect(s.min).toBeCloseTo(1, 2);
    expect(s.max).toBeCloseTo(1000, -1);
    expect(s.mean).toBeCloseTo(500.5, 0);
    for (const [p, want] of [[s.p50, 500], [s.p95, 950], [s.p99, 990]] as const) {
      expect(Math.abs((p ?? 0) - want) / want).toBeLessThan(0.002);
    }
  });

  it('a skewed distribution: the tail shows in p99, not in p50', () => {
    const h = newHistogram();
    for (let i = 0; i < 980; i++) h.record(2_000); // 2 ms
    for (let i = 0; i < 20; i++) h.record(500_000); // 500 ms
    const s = latencySummary(h);
    expect(s.p50).toBeCloseTo(2, 1);
    expect(s.p95).toBeCloseTo(2, 1);
    expect(Math.abs((s.p99 ?? 0) - 500) / 500).toBeLessThan(0.002);
  });

  it('an empty histogram has no percentiles (null, not 0)', () => {
    expect(latencySummary(newHistogram())).toEqual({ count: 0, min: null, mean: null, p50: null, p95: null, p99: null, max: null });
  });
});

describe('LoadStats', () => {
  it('counts messages and recipients by outcome; refusals by class and code; errors by kind', () => {
    const s = new LoadStats(3, 0);
    const outcomes: Outcome[] = [
      reply(true, 250, { accepted: 2, refused5xx: 1 }),
      reply(false, 451, { refused4xx: 3 }, { text: '4.3.0 try later' }),
      reply(false, 550, { refused5xx: 1 }, { text: '5.1.1 no' }),
      reply(false, 550, { refused5xx: 1 }, { text: 'other text' }),
      { kind: 'error', error: 'closed', message: 'closed the connection' },
      { kind: 'error', error: 'closed', message: 'second' },
      { kind: 'error', error: 'timeout', message: 'no reply' },
      reply(false, 200, { refused5xx: 2 }, { refusal: '5xx' }),
      reply(false, 354, {}, { text: 'go ahead?' }),
    ];
    for (const o of outcomes) {
      s.sent(3, [0, 1, 2]);
      s.record(o, 5);
    }
    const snap = s.snapshot(1_000, 0);
    expect(snap.messages).toEqual({ sent: 9, accepted: 1, refused: { '4xx': 1, '5xx': 3 }, errors: { connect: 0, timeout: 1, closed: 2, protocol: 1 } });
    expect(snap.recipients).toEqual({ sent: 27, accepted: 2, refused: { '4xx': 3, '5xx': 5 } });
    expect(snap.codes).toEqual({ 200: 1, 451: 1, 550: 2 });
    expect(snap.samples.errors).toEqual({ closed: 'closed the connection', timeout: 'no reply', protocol: 'unexpected reply 354 go ahead?' });
    expect(snap.samples.refusals['550']).toBe('5.1.1 no');
    expect(snap.latencyMs.count).toBe(9);
    expect(s.perEntry).toEqual([9, 9, 9]);
    // every message ends in exactly one bucket
    const m = snap.messages;
    expect(m.accepted + m.refused['4xx'] + m.refused['5xx'] + Object.values(m.errors).reduce((a, b) => a + b, 0)).toBe(m.sent);
  });

  it('window() gives the latency since the last call', () => {
    const s = new LoadStats(1, 0);
    s.record(reply(true, 250), 100);
    expect(s.window().p50).toBeCloseTo(100, 0);
    expect(s.window().count).toBe(0);
    s.record(reply(true, 250), 3);
    expect(s.window().p50).toBeCloseTo(3, 1);
    expect(s.snapshot(0, 0).latencyMs.count).toBe(2);
  });

  it('refusalClass', () => {
    expect([199, 250, 400, 451, 499, 500, 554, 599, 600].map(refusalClass)).toEqual([undefined, undefined, '4xx', '4xx', '4xx', '5xx', '5xx', '5xx', undefined]);
  });
});
