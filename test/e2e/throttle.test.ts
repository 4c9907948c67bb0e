// Scenario 8: the shared throttle. throttled.mailkind.test may leave at 10 messages/s with a burst
// of 10 across all kumod replicas (init.lua max_message_rate '10/s' on the scheduled queue, shared
// through Dragonfly by configure_redis_throttles). N messages are injected over fresh connections,
// so the Service spreads them over the replicas; the sink's arrival times must then respect the
// limit with the stated tolerance (THROTTLE_TOLERANCE: 20 % over the rate plus 2 messages), and
// both replicas must have delivered some (else a per-replica limit could pass unnoticed).
// KumoMTA's own account (journey API) says the same from the other side: each message received and
// delivered once, its Delivery times within the limit, and how long each waited in kumod.
import { describe, expect } from 'vitest';
import { injectBatched, totalOf } from '../../scripts/lib/clients/kumo-inject.js';
import { POLICY, THROTTLE_TOLERANCE } from './lib/config.js';
import { lacking, runJourneysWhen, throttleAccount } from './lib/journey.js';
import { addresses, kumodByIp } from './lib/mail.js';
import { checkThrottle, plainIp, writeReport } from './lib/measure.js';
import { scenario, step } from './lib/suite.js';

describe('8. Shared throttle', () => {
  scenario('messages to the throttled domain arrive within the configured rate across both replicas', { slug: 'throttle', components: ['kumomta', 'dragonfly', 'smtp-sink'] }, async ({ cfg, kumo, sink, cluster, run, unproven }) => {
    const n = cfg.sizes.throttleMessages;
    const { throttleRatePerSecond: rate, throttleBurst: burst } = POLICY;
    expect(n, 'enough messages to see the rate past the burst').toBeGreaterThanOrEqual(3 * burst);
    const kumod = await kumodByIp(cluster);
    const recipients = addresses('throttled', run, POLICY.throttledDomain, n);

    // one request per 5 recipients, each on a new connection: about n/5 independent picks of a replica
    const outcomes = await step(cfg, 'inject', (ms) =>
      injectBatched(kumo, { from: `sender+${run}@${POLICY.sinkDomain}`, recipients, subject: `e2e throttle ${run}`, text: 'scenario 8\n', run }, {
        batchSize: 5,
        concurrency: 6,
        newConnection: true,
        timeoutMs: ms,
      }),
    );
    expect(totalOf(outcomes)).toMatchObject({ successCount: n, failCount: 0 });

    const waited = await step(cfg, 'throttle', (ms) => sink.waitForCount(run, n, ms));
    expect(waited, `sink has ${waited.count} of ${n}`).toEqual({ reached: true, count: n });
    const { messages } = await sink.allMessages({ run });
    const arrivals = messages.map((m) => Date.parse(m.receivedAt));
    const verdict = checkThrottle(arrivals, rate, burst, THROTTLE_TOLERANCE);
    const byPod = new Map<string, number>();
    for (const m of messages) {
      const pod = kumod.get(plainIp(m.clientAddress)) ?? `unknown ${m.clientAddress}`;
      byPod.set(pod, (byPod.get(pod) ?? 0) + 1);
    }
    // What the sink sees is the limit AND kumod's scheduling: a message the throttle delays goes back
    // to its scheduled queue and is looked at again when its (whole-second) due time comes
    // (SkipList, init.lua QUEUE_STRATEGY), then crosses the ready queue and an SMTP transaction.
    // So the arrival rate is a measurement of the whole path, at most the limit, not the limit.
    const journeys = await step(cfg, 'journey', (ms) => runJourneysWhen(sink, run, (js) => lacking(js, recipients, 'Delivery').length === 0, ms));
    const account = throttleAccount(journeys, recipients, rate, burst, THROTTLE_TOLERANCE);
    const report = {
      run,
      messages: n,
      limitPerSecond: rate,
      burst,
      tolerance: THROTTLE_TOLERANCE,
      arrivalRateAfterBurst: verdict.sustainedRate,
      arrivalRateMeaning: 'sink arrivals after the first `burst`, divided by the first-to-last arrival span (s): the throttle plus kumod scheduling and delivery time, not the configured limit',
      worstWindow: verdict.worst,
      byPod: Object.fromEntries(byPod),
      kumod: {
        delaysMs: account.delaysMs,
        medianDelayMs: account.medianDelayMs,
        maxDelayMs: account.maxDelayMs,
        deliverySpreadMs: account.deliverySpreadMs,
        meaning: "from kumod's log records (journey API): each message's wait from Reception to Delivery, and the first-to-last Delivery span",
      },
    };
    writeReport(cfg.reportsDir, 'e2e-throttle', report);
    console.log(`throttle: ${n} messages arrived at ${verdict.sustainedRate}/s after the burst (throttle + scheduling + delivery; limit ${rate}/s), worst window ${verdict.worst.count} in ${verdict.worst.toMs - verdict.worst.fromMs} ms, by pod ${JSON.stringify(report.byPod)}`);

    expect([...byPod.keys()].sort(), 'every kumod replica delivered part of the batch').toEqual([...kumod.values()].sort());
    expect(verdict.ok, `the worst window had ${verdict.worst.count} messages in ${verdict.worst.toMs - verdict.worst.fromMs} ms, allowed ${verdict.worst.allowed}`).toBe(true);
    expect(new Set(messages.map((m) => m.messageId)).size, 'each message once').toBe(n);
    console.log(`throttle, kumod's account: waits median ${account.medianDelayMs} ms, max ${account.maxDelayMs} ms; deliveries spread over ${account.deliverySpreadMs} ms`);
    expect(account.problems, 'kumod: each message received and delivered once, Delivery times within the limit').toEqual([]);
    // with one replica the limit held, but that it is shared across replicas was not shown:
    // the scenario ends skipped with that reason (a failure under MAILKIND_REQUIRE_ALL)
    if (kumod.size < 2) unproven(`one kumod replica (${[...kumod.values()].join(', ')}): the rate held, sharing it across replicas was not exercised`, 'run against the full profile (two kumomta replicas)');
  });
});
