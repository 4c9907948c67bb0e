// Scenario 6: retries. A `tempfail-2` recipient: the sink answers 451 to the first two attempts of
// the message and accepts the third. KumoMTA must retry after retry_interval (5 s) and then the
// doubled interval capped at max_retry_interval (10 s) (init.lua; docs/reference/kumo/
// make_queue_config/retry_interval.md). The jitter is at most 1/20 of retry_interval, centred on
// zero and cut to whole seconds: none at 5 s or 10 s (crates/kumod/src/queue/queue.rs,
// increment_attempts_and_update_delay; delay_for_attempt in crates/kumod/src/queue/config.rs).
//
// When the retry really happens depends on the queue strategy. The policy chooses SkipList for
// every scheduled queue (init.lua QUEUE_STRATEGY): the queue's maintainer sleeps until the first
// due time, which is kept in whole seconds (crates/kumod/src/queue/strategy.rs get_bucketed_due,
// maintainer.rs), so a retry comes between interval - 1 s and interval + 1 s after the failure.
// (kumod's default SingletonTimerWheel ticks every 3 s and would put the first retry 3-6 s after.)
import { describe, expect } from 'vitest';
import { inject } from '../../scripts/lib/clients/kumo-inject.js';
import { POLICY } from './lib/config.js';
import { emptyJourney, journeyWhen, kumoKinds, retryProblems } from './lib/journey.js';
import { address } from './lib/mail.js';
import { scenario, step } from './lib/suite.js';

describe('6. Retry', () => {
  scenario('a tempfail-2 recipient: three attempts at the sink, then delivered', { slug: 'retry', components: ['kumomta', 'smtp-sink'] }, async ({ cfg, kumo, sink, run }) => {
    const rcpt = address('tempfail-2', run, POLICY.sinkDomain);
    const sent = await step(cfg, 'inject', (ms) => inject(kumo, { from: `sender+${run}@${POLICY.sinkDomain}`, recipients: [rcpt], subject: `e2e retry ${run}`, text: 'scenario 6\n', run }, { timeoutMs: ms }));
    expect(sent.successCount).toBe(1);

    const waited = await step(cfg, 'retry', (ms) => sink.waitForCount(run, 1, ms));
    expect(waited.reached, 'delivered after the retries').toBe(true);

    const attempts = await sink.attempts({ run, rcpt });
    expect(attempts.map((a) => [a.phase, a.code, a.attempt]), 'attempts in order').toEqual([
      ['data', 451, 1],
      ['data', 451, 2],
      ['data', 250, 3],
    ]);
    for (const a of attempts) expect(a.messageId).toBe(sent.messageIds[0]);
    const [t1, t2, t3] = attempts.map((a) => Date.parse(a.time)) as [number, number, number];
    // the policy's intervals, give or take the whole-second due times of a SkipList queue, plus one
    // two more seconds above for the delivery itself (ready queue, connection, STARTTLS, DATA)
    const second = Math.min(2 * POLICY.retryIntervalMs, POLICY.maxRetryIntervalMs);
    console.log(`retry: attempts ${t2 - t1} ms and ${t3 - t2} ms apart (policy ${POLICY.retryIntervalMs} and ${second} ms)`);
    expect(t2 - t1, 'first retry after retry_interval').toBeGreaterThanOrEqual(POLICY.retryIntervalMs - 1_000);
    expect(t2 - t1, 'first retry not held back by a coarse timer').toBeLessThanOrEqual(POLICY.retryIntervalMs + 3_000);
    expect(t3 - t2, 'second retry after the doubled interval (capped)').toBeGreaterThanOrEqual(second - 1_000);
    expect(t3 - t2, 'second retry not held back by a coarse timer').toBeLessThanOrEqual(second + 3_000);
    expect((await sink.messages({ run })).total, 'delivered once').toBe(1);

    // KumoMTA's own account (its log hook posts every record to the sink's journey API)
    const id = sent.messageIds[0]!;
    const journey = await step(cfg, 'journey', (ms) => journeyWhen(sink, id, (j) => kumoKinds(j, rcpt).includes('Delivery'), ms));
    expect(retryProblems(journey ?? emptyJourney(id), rcpt), 'kumod: two TransientFailure records, then one Delivery').toEqual([]);
  });
});
