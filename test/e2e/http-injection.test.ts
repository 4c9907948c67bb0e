// Scenario 1: HTTP injection. 100 messages through POST /api/inject/v1 -> exactly those 100
// Message-IDs at the sink, each once; p50/p95 end-to-end latency printed and written to
// reports/e2e-http-latency.json. Latency = sink receive time - the moment the message's request
// was sent: both clocks are the host's on kind (a remote cluster adds its clock skew).
import { describe, expect } from 'vitest';
import { injectBatched, totalOf } from '../../scripts/lib/clients/kumo-inject.js';
import { POLICY } from './lib/config.js';
import { addresses } from './lib/mail.js';
import { summarize, writeReport } from './lib/measure.js';
import { expectNoMore, scenario, step } from './lib/suite.js';

describe('1. HTTP injection', () => {
  scenario('100 messages over /api/inject/v1 arrive at the sink, exactly those Message-IDs', { slug: 'http', components: ['kumomta', 'smtp-sink'] }, async ({ cfg, kumo, sink, run }) => {
    const n = cfg.sizes.httpMessages;
    const recipients = addresses('http', run, POLICY.sinkDomain, n);
    const outcomes = await step(cfg, 'inject', (timeoutMs) =>
      injectBatched(kumo, { from: `sender+${run}@${POLICY.sinkDomain}`, recipients, subject: `e2e http ${run}`, text: 'scenario 1\n', run }, {
        batchSize: cfg.sizes.httpBatchSize,
        concurrency: 4,
        timeoutMs,
      }),
    );
    const total = totalOf(outcomes);
    expect(total, `inject errors: ${total.errors.join('; ')}`).toMatchObject({ successCount: n, failCount: 0 });
    const sentAt = new Map(outcomes.flatMap((o) => o.messageIds.map((id) => [id, o.sentAt] as const)));

    const waited = await step(cfg, 'deliver', (ms) => sink.waitForCount(run, n, ms));
    expect(waited, `sink has ${waited.count} of ${n} messages of the run`).toEqual({ reached: true, count: n });

    await expectNoMore(cfg, sink, run, n);
    const { total: recorded, messages } = await sink.allMessages({ run });
    expect(recorded, 'messages of the run at the sink (a duplicate would make this more)').toBe(n);
    const ids = messages.map((m) => m.messageId);
    expect(new Set(ids).size, 'distinct Message-IDs').toBe(n);
    expect([...ids].sort()).toEqual([...sentAt.keys()].sort());
    for (const m of messages) expect(m.rcptTo).toHaveLength(1);

    const latencies = messages.map((m) => Date.parse(m.receivedAt) - (sentAt.get(m.messageId as string) as number));
    const summary = summarize(latencies);
    const file = writeReport(cfg.reportsDir, 'e2e-http-latency', { run, messages: n, batchSize: cfg.sizes.httpBatchSize, latencyMs: summary, at: new Date().toISOString() });
    console.log(`HTTP injection: ${n} messages, end-to-end latency p50 ${summary.p50} ms, p95 ${summary.p95} ms, max ${summary.max} ms (${file})`);
  });
});
