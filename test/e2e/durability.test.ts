// Scenario 9: durability. The sink tempfails everything of this run (a runtime fault rule, so other
// runs are untouched); N messages are injected and spread over the replicas; once kumomta-0 holds
// some of them (the sink saw its 451s), kumomta-0 is deleted. The StatefulSet brings it back with
// the same spool PVC; the fault is lifted; every message is then delivered exactly once per
// recipient, those kumomta-0 held by the new kumomta-0. The restart must fit in the policy's
// max_age (5 min): kumod expires older messages, and the final wait would then come up short.
//
// KumoMTA's own account (its log hook posts every record to the sink's journey API): before the
// kill the sink must hold a Reception record of every message, and afterwards each message has
// exactly one Delivery, logged after the kill. The Reception is awaited before the pod is deleted
// because the hook keeps its queued records in memory (deferred_spool): what kumomta-0 had not yet
// posted dies with it, which is the hook's documented bound, not a loss of mail.
import { describe, expect } from 'vitest';
import { injectBatched, totalOf, type InjectOutcome } from '../../scripts/lib/clients/kumo-inject.js';
import { POLICY } from './lib/config.js';
import { lacking, runDurabilityProblems, runJourneysWhen } from './lib/journey.js';
import { addresses, kumodByIp } from './lib/mail.js';
import { plainIp } from './lib/measure.js';
import { scenario, step, until } from './lib/suite.js';

const POD = 'kumomta-0';
const CLAIM = `spool-${POD}`;

describe('9. Durability', () => {
  scenario(`messages spooled in ${POD} survive its deletion and are delivered exactly once`, { slug: 'durability', components: ['kumomta', 'smtp-sink'] }, async ({ cfg, kumo, sink, cluster, run, cleanup }) => {
    const started = Date.now();
    const before = await cluster.pod(POD);
    if (!before?.ready || !before.ip) throw new Error(`${POD} is not Ready before the test`);
    const pvcBefore = await cluster.pvcUid(CLAIM);

    const ruleId = `durability-${run}`;
    cleanup(`fault rule ${ruleId}`, () => sink.removeFaultRules([ruleId]));
    await sink.addFaultRules([{ id: ruleId, match: { run }, action: 'tempfail', message: 'mailkind e2e: held back until the pod restarted' }]);

    // inject, in rounds, until kumomta-0 holds part of the run (each round: new connections)
    const recipients: string[] = [];
    const outcomes: InjectOutcome[] = [];
    const onPod0 = async (): Promise<Set<string>> =>
      new Set((await sink.attempts({ run })).filter((a) => plainIp(a.clientAddress) === plainIp(before.ip as string)).flatMap((a) => a.rcptTo.map((r) => r.toLowerCase())));
    let held = new Set<string>();
    for (let round = 0; round < 3 && held.size === 0; round++) {
      const batch = addresses(`durable${round}-`, run, POLICY.sinkDomain, cfg.sizes.durabilityMessages);
      recipients.push(...batch);
      outcomes.push(
        ...(await step(cfg, 'inject', (ms) =>
          injectBatched(kumo, { from: `sender+${run}@${POLICY.sinkDomain}`, recipients: batch, subject: `e2e durability ${run}`, text: 'scenario 9\n', run }, { batchSize: 2, concurrency: 5, newConnection: true, timeoutMs: ms }),
        )),
      );
      // every message has met the fault once: all of them are spooled and waiting for a retry
      await step(cfg, 'deliver', (ms) =>
        until(`a 451 at the sink for each of the ${recipients.length} messages`, ms, async () => {
          const tried = new Set((await sink.attempts({ run })).flatMap((a) => a.rcptTo.map((r) => r.toLowerCase())));
          return recipients.every((r) => tried.has(r.toLowerCase())) ? true : undefined;
        }),
      );
      held = await onPod0();
    }
    expect(totalOf(outcomes)).toMatchObject({ successCount: recipients.length, failCount: 0 });
    expect(held.size, `${POD} received part of the run (3 rounds of new connections)`).toBeGreaterThan(0);
    expect((await sink.messages({ run })).total, 'nothing delivered while the fault holds').toBe(0);

    // kumod's Reception of every message is at the sink before the pod goes
    const received = await step(cfg, 'journey', (ms) => runJourneysWhen(sink, run, (js) => lacking(js, recipients, 'Reception').length === 0, ms));
    expect(lacking(received, recipients, 'Reception'), 'messages without a Reception record before the kill').toEqual([]);

    const killedAt = Date.now();
    await cluster.deletePod(POD);
    const after = await step(cfg, 'podRestart', (ms) => cluster.waitForReplacement(POD, before.uid, ms));
    expect(after.claims, `${POD} mounts its spool PVC again`).toContain(CLAIM);
    expect(await cluster.pvcUid(CLAIM), 'the same PVC (not a new, empty one)').toBe(pvcBefore);
    const kumod = await kumodByIp(cluster);

    await sink.removeFaultRules([ruleId]);
    const waited = await step(cfg, 'redeliver', (ms) => sink.waitForCount(run, recipients.length, ms));
    // past the policy's max_age kumod expires what it still holds: say so rather than "missing"
    const age = Date.now() - started;
    const expiry = age > POLICY.maxAgeMs ? `; the run is ${Math.round(age / 1000)} s old, past max_age (${POLICY.maxAgeMs / 1000} s): kumod may have expired the rest (look for Expiration records)` : '';
    expect(waited, `delivered ${waited.count} of ${recipients.length} after the restart${expiry}`).toEqual({ reached: true, count: recipients.length });

    const { messages, total } = await sink.allMessages({ run });
    expect(total, 'no duplicates').toBe(recipients.length);
    const perRecipient = new Map<string, number>();
    for (const m of messages) for (const r of m.rcptTo) perRecipient.set(r.toLowerCase(), (perRecipient.get(r.toLowerCase()) ?? 0) + 1);
    expect([...perRecipient.entries()].filter(([, c]) => c !== 1), 'recipients without exactly one copy').toEqual([]);
    expect([...perRecipient.keys()].sort()).toEqual(recipients.map((r) => r.toLowerCase()).sort());
    // what the old kumomta-0 held came out of the new kumomta-0: its spool survived
    for (const m of messages.filter((x) => x.rcptTo.some((r) => held.has(r.toLowerCase())))) {
      expect(kumod.get(plainIp(m.clientAddress)), `${m.rcptTo.join(',')} delivered by`).toBe(POD);
    }

    // kumod's account: one Delivery per message, all after the kill (the new kumomta-0 posts its own)
    const journeys = await step(cfg, 'journey', (ms) => runJourneysWhen(sink, run, (js) => lacking(js, recipients, 'Delivery').length === 0, ms));
    expect(runDurabilityProblems(journeys, recipients, killedAt), 'kumod: a Reception before the kill, exactly one Delivery after').toEqual([]);
    console.log(`durability: ${recipients.length} messages, ${held.size} spooled in ${POD}, restart and redelivery in ${Math.round((Date.now() - started) / 1000)} s`);
  });
});
