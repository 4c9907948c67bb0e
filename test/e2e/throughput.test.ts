// Scenario 10: throughput. M messages over HTTP, C requests in flight (B recipients per request):
// injection rate, delivery rate (first request to last arrival at the sink) and end-to-end latency
// percentiles, printed and written to reports/e2e-throughput.json. It asserts completeness (all M
// delivered, each once), not a speed: a laptop and a CI runner differ too much for a fixed bar.
import { describe, expect } from 'vitest';
import { injectBatched, totalOf } from '../../scripts/lib/clients/kumo-inject.js';
import { POLICY } from './lib/config.js';
import { addresses } from './lib/mail.js';
import { summarize, writeReport } from './lib/measure.js';
import { expectNoMore, scenario, step } from './lib/suite.js';

describe('10. Throughput', () => {
  scenario('M messages over HTTP with concurrency C: rate and latency percentiles', { slug: 'throughput', components: ['kumomta', 'smtp-sink'] }, async ({ cfg, kumo, sink, run }) => {
    const m = cfg.sizes.throughputMessages;
    const c = cfg.sizes.throughputConcurrency;
    const b = cfg.sizes.throughputBatchSize;
    const recipients = addresses('load', run, POLICY.sinkDomain, m);

    const t0 = Date.now();
    const outcomes = await step(cfg, 'throughput', (ms) =>
      injectBatched(kumo, { from: `sender+${run}@${POLICY.sinkDomain}`, recipients, subject: `e2e throughput ${run}`, text: 'scenario 10\n', run }, {
        batchSize: b,
        concurrency: c,
        timeoutMs: Math.min(ms, cfg.timeouts.inject),
      }),
    );
    const injected = Date.now();
    const total = totalOf(outcomes);
    expect(total, `inject errors: ${total.errors.slice(0, 5).join('; ')}`).toMatchObject({ successCount: m, failCount: 0 });

    const waited = await step(cfg, 'throughput', (ms) => sink.waitForCount(run, m, Math.max(1, ms - (injected - t0))));
    expect(waited, `sink has ${waited.count} of ${m}`).toEqual({ reached: true, count: m });
    await expectNoMore(cfg, sink, run, m);

    const sentAt = new Map(outcomes.flatMap((o) => o.messageIds.map((id) => [id, o.sentAt] as const)));
    // the sink's ring (--max-messages, 10,000 by default) may hold only the newest of a big run:
    // then the count above is the completeness check, and latency is of the messages it holds
    const { total: recorded, messages } = await sink.allMessages({ run });
    const ring = (await sink.stats()).limits.maxMessages;
    if (m <= ring) {
      expect(recorded, 'each message once').toBe(m);
      expect(new Set(messages.map((x) => x.messageId)).size).toBe(m);
    } else {
      console.log(`throughput: ${m} messages > the sink's ring of ${ring}: latency from the newest ${messages.length}`);
    }
    const arrivals = messages.map((x) => Date.parse(x.receivedAt));
    const last = Math.max(...arrivals);
    const latency = summarize(messages.map((x) => Date.parse(x.receivedAt) - (sentAt.get(x.messageId as string) ?? t0)));
    const requestMs = summarize(outcomes.map((o) => o.answeredAt - o.sentAt));
    const report = {
      run,
      at: new Date(t0).toISOString(),
      messages: m,
      concurrency: c,
      recipientsPerRequest: b,
      requests: outcomes.length,
      injectSeconds: (injected - t0) / 1000,
      injectRate: Math.round((m / ((injected - t0) / 1000)) * 10) / 10,
      deliverSeconds: (last - t0) / 1000,
      deliveredRate: Math.round((m / ((last - t0) / 1000)) * 10) / 10,
      latencyMs: latency,
      latencySample: messages.length,
      requestMs,
      target: cfg.urls.kumo,
    };
    const file = writeReport(cfg.reportsDir, 'e2e-throughput', report);
    console.log(
      `throughput: ${m} messages, C=${c}, B=${b}: injected ${report.injectRate} msg/s, delivered ${report.deliveredRate} msg/s; ` +
        `latency p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms (${file})`,
    );
  });
});
