// The live view, the plain progress line, the summary text and its JSON twin, from fixed numbers.
import { describe, expect, it } from 'vitest';
import { parseLoadArgs } from '../../../scripts/lib/load/options.js';
import { hints, liveView, plainLine, summarize, summaryText, SUMMARY_VERSION } from '../../../scripts/lib/load/report.js';
import type { RunResult, Tick } from '../../../scripts/lib/load/runner.js';
import type { Snapshot } from '../../../scripts/lib/load/stats.js';

const config = parseLoadArgs(['--target', '127.0.0.1:2525', '--rate', '200', '--count', '2000', '--run', 'r-42', '--seed', '9', '--mix', 'example.test=9,permfail@example.test=1'], {});

const snapshot: Snapshot = {
  elapsedMs: 10_000,
  messages: { sent: 2000, accepted: 1790, refused: { '4xx': 10, '5xx': 198 }, errors: { connect: 0, timeout: 1, closed: 1, protocol: 0 } },
  recipients: { sent: 2000, accepted: 1790, refused: { '4xx': 10, '5xx': 198 } },
  codes: { 451: 10, 550: 198 },
  inFlight: 3,
  connections: 11,
  latencyMs: { count: 2000, min: 0.41, mean: 2.2, p50: 1.5, p95: 7.25, p99: 31.4, max: 1200 },
  samples: { errors: { timeout: 'no reply from 127.0.0.1:2525 within 30000 ms', closed: '127.0.0.1:2525 closed the connection' }, refusals: { 550: '5.1.1 mailkind sink fault permfail: permanent failure', 451: 'later' } },
};
const result: RunResult = { snapshot, perEntry: [1801, 199], interrupted: false };
const tick: Tick = { snapshot: { ...snapshot, elapsedMs: 4_000, messages: { ...snapshot.messages, sent: 800 } }, sentPerSecond: 199.6, acceptedPerSecond: 180, window: { ...snapshot.latencyMs, p50: 1.2, p95: 6, p99: 12.5 } };

describe('load report', () => {
  it('the JSON summary: every count, throughput, latency, mix, samples', () => {
    const s = summarize(config, result, new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:10Z'));
    expect(s).toEqual({
      version: SUMMARY_VERSION,
      run: 'r-42',
      mode: 'smtp',
      unit: 'message',
      target: '127.0.0.1:2525',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:10.000Z',
      elapsedMs: 10_000,
      interrupted: false,
      settings: { rate: 200, concurrency: 10, count: 2000, durationMs: null, recipientsPerMessage: 1, size: 1024, starttls: false, seed: 9 },
      messages: snapshot.messages,
      recipients: snapshot.recipients,
      codes: snapshot.codes,
      throughput: { sentPerSecond: 200, acceptedPerSecond: 179 },
      latencyMs: snapshot.latencyMs,
      connections: 11,
      mix: [
        { entry: 'example.test', weight: 9, recipients: 1801 },
        { entry: 'permfail@example.test', weight: 1, recipients: 199 },
      ],
      samples: snapshot.samples,
      hints: [],
    });
  });

  it('the summary text a person reads', () => {
    const text = summaryText(summarize(config, result, new Date(0), new Date(10_000)));
    expect(text.split('\n')).toEqual([
      'load run r-42: smtp -> 127.0.0.1:2525',
      '  time        10.0s, 11 connection(s) opened, concurrency 10, rate 200/s',
      '  messages    sent 2,000 (200.0/s)   accepted 1,790 (89.5%)   refused 4xx 10  5xx 198   errors 2',
      '  recipients  sent 2,000   accepted 1,790   refused 4xx 10  5xx 198',
      '  errors      connect 0, timeout 1, closed 1, protocol 0',
      '  latency     min 0.41 ms  p50 1.50 ms  p95 7.25 ms  p99 31.4 ms  max 1.20 s',
      '  codes       451 x10, 550 x198',
      '  mix (seed 9)',
      '    example.test              1,801   90.0%',
      '    permfail@example.test       199   10.0%',
      '  first timeout error: no reply from 127.0.0.1:2525 within 30000 ms',
      '  first closed error: 127.0.0.1:2525 closed the connection',
      '  451 said: later',
      '  550 said: 5.1.1 mailkind sink fault permfail: permanent failure',
      '  the sink groups these messages under run r-42 (X-Mailkind-Run)',
    ]);
  });

  it('the live view and the plain line: rate, counts, errors by kind, windowed percentiles', () => {
    expect(liveView(config, tick).split('\n')).toEqual([
      'load r-42  smtp -> 127.0.0.1:2525  800/2,000  4.0s',
      '  sent/s        200  (target 200/s)   in flight 3   connections 11',
      '  sent          800   accepted 1,790   refused 4xx 10  5xx 198',
      '  errors    connect 0, timeout 1, closed 1, protocol 0',
      '  latency   p50 1.20 ms  p95 6.00 ms  p99 12.5 ms  (last second; whole run p99 31.4 ms)',
    ]);
    expect(plainLine(config, tick, new Date('2026-01-01T12:34:56Z'))).toBe(
      '12:34:56 load 800/2,000 sent 800 (200/s) accepted 1,790 4xx 10 5xx 198 errors 2 (connect 0, timeout 1, closed 1, protocol 0) p50 1.20 ms p95 6.00 ms p99 12.5 ms',
    );
  });

  it('hints: a relay that refuses everything, a target that never answered, a rate not reached', () => {
    const relay: Snapshot = { ...snapshot, messages: { ...snapshot.messages, accepted: 0 }, samples: { errors: {}, refusals: { 550: '5.7.1 relaying not permitted' } } };
    expect(hints(config, relay)[0]).toMatch(/relay port accepts mail only from the cluster's networks/);
    const silent: Snapshot = { ...snapshot, messages: { sent: 5, accepted: 0, refused: { '4xx': 0, '5xx': 0 }, errors: { connect: 5, timeout: 0, closed: 0, protocol: 0 } } };
    expect(hints(config, silent)).toContain('the target never answered a message: see the errors above');
    const slow = parseLoadArgs(['--rate', '1000', '--duration', '10s', '--concurrency', '2'], {});
    expect(hints(slow, snapshot).join()).toMatch(/target rate of 1,000\/s was not reached.*--concurrency \(now 2\)/);
  });
});
