// Scenario 7: permanent failure. A `permfail` recipient: the sink answers 550 after DATA; KumoMTA
// must not retry and must record a Bounce. The record is read from kumod's log: the policy prints
// every log record as one JSON line on stdout (init.lua, disposition hook "stdout"; the admin API
// and /metrics are loopback-only and the image has no curl). Once the Bounce is logged the message
// is finished, so "never retried" is checked then, without waiting out a retry interval.
import { describe, expect } from 'vitest';
import { inject } from '../../scripts/lib/clients/kumo-inject.js';
import { POLICY } from './lib/config.js';
import { parseLogRecords, recordsOf, type KumoLogRecord } from './lib/kumo-log.js';
import { bounceProblems, emptyJourney, journeyWhen, kumoKinds } from './lib/journey.js';
import { address } from './lib/mail.js';
import { scenario, step, until } from './lib/suite.js';

describe('7. Permanent failure', () => {
  scenario('a permfail recipient: one attempt, never retried, a Bounce in the KumoMTA log', { slug: 'permfail', components: ['kumomta', 'smtp-sink'] }, async ({ cfg, kumo, sink, cluster, run }) => {
    const rcpt = address('permfail', run, POLICY.sinkDomain);
    const started = Date.now();
    const sent = await step(cfg, 'inject', (ms) => inject(kumo, { from: `sender+${run}@${POLICY.sinkDomain}`, recipients: [rcpt], subject: `e2e permfail ${run}`, text: 'scenario 7\n', run }, { timeoutMs: ms }));
    expect(sent.successCount).toBe(1);

    // the HTTP request went to either kumod replica: read every pod's log since the injection
    const bounce = await step(cfg, 'bounce', (ms) =>
      until<{ pod: string; record: KumoLogRecord; all: KumoLogRecord[] }>(`a Bounce record for ${rcpt} in the kumomta logs`, ms, async () => {
        const since = `${Math.ceil((Date.now() - started) / 1000) + 60}s`;
        for (const pod of await cluster.podsOf('kumomta')) {
          const all = recordsOf(parseLogRecords(await cluster.logs(pod.name, { since })), rcpt);
          const record = all.find((r) => r.type === 'Bounce');
          if (record) return { pod: pod.name, record, all };
        }
        return undefined;
      }),
    );
    const outcomes = bounce.all.map((r) => r.type).filter((t) => t !== 'Reception');
    expect(outcomes, `delivery records for ${rcpt} in ${bounce.pod}: one Bounce, no TransientFailure`).toEqual(['Bounce']);
    expect(bounce.record.response?.code).toBe(550);

    const attempts = await sink.attempts({ rcpt });
    expect(attempts.map((a) => [a.phase, a.code, a.attempt]), 'exactly one attempt').toEqual([['data', 550, 1]]);
    expect(attempts[0]?.messageId).toBe(sent.messageIds[0]);
    expect((await sink.messages({ run })).total, 'nothing accepted').toBe(0);

    // the same Bounce through the journey log hook, joined with the sink's 550
    const id = sent.messageIds[0]!;
    const journey = await step(cfg, 'journey', (ms) => journeyWhen(sink, id, (j) => kumoKinds(j, rcpt).includes('Bounce'), ms));
    expect(bounceProblems(journey ?? emptyJourney(id), rcpt), 'kumod: a Bounce in the journey').toEqual([]);
  });
});
