// The e2e suite's checks of KumoMTA's own account (test/e2e/lib/journey.ts), run on journeys built
// by the sink's own join (sinks/smtp-sink/src/journey/join.ts) from records written in KumoMTA's
// documented format (test/fixtures/kumod-records.ts): the scenarios cannot run here, their parsing can.
import { describe, expect, it } from 'vitest';
import { buildJourneys, type Journey } from '../../../sinks/smtp-sink/src/journey/join.js';
import { parseKumoRecord, type KumoEvent } from '../../../sinks/smtp-sink/src/journey/records.js';
import { bounceProblems, durabilityProblems, kumoKinds, listProblems, retryProblems, throttleDelays } from '../../e2e/lib/journey.js';
import { kumoRecord, retriedMessage, SINK_TEMPFAIL, spoolId, type RecordInput } from '../../fixtures/kumod-records.js';

const T0 = Date.parse('2026-12-02T10:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000);

function events(records: Record<string, unknown>[]): KumoEvent[] {
  return records.map((r, i) => {
    const p = parseKumoRecord(r);
    if (!p.ok) throw new Error(p.error);
    return { ...p.event, seq: i + 1, postedFrom: '10.244.0.5' };
  });
}
const journey = (records: Record<string, unknown>[], messageId: string): Journey => buildJourneys(events(records), [], { messageId })[0]!;
const rec = (o: Omit<RecordInput, 'at'> & { s: number }) => kumoRecord({ ...o, at: at(o.s) });

describe('retry: two TransientFailure and one Delivery', () => {
  const rcpt = 'tempfail-2+r@example.test';
  it('passes for kumod deferring twice then delivering', () => {
    const j = journey(retriedMessage({ messageId: 'r@t', recipient: rcpt, times: [at(0), at(0.2), at(5.2), at(15.2)] }), 'r@t');
    expect(kumoKinds(j, rcpt)).toEqual(['Reception', 'TransientFailure', 'TransientFailure', 'Delivery']);
    expect(retryProblems(j, rcpt)).toEqual([]);
  });
  it('names a missing deferral and a second delivery', () => {
    const records = retriedMessage({ messageId: 'r@t', recipient: rcpt, times: [at(0), at(0.2), at(5.2), at(15.2)] });
    const j = journey([records[0]!, records[1]!, records[3]!, rec({ type: 'Delivery', s: 20, messageId: 'r@t', recipient: rcpt })], 'r@t');
    expect(retryProblems(j, rcpt)).toEqual([
      'expected 2 TransientFailure records, kumod logged 1 (Reception, TransientFailure, Delivery, Delivery)',
      'expected exactly one Delivery, kumod logged 2 (Reception, TransientFailure, Delivery, Delivery)',
    ]);
  });
  it('says so when kumod logged nothing for the recipient', () => {
    const j = journey([rec({ type: 'Reception', s: 0, messageId: 'r@t', recipient: 'other@example.test' })], 'r@t');
    expect(retryProblems(j, rcpt)[0]).toMatch(/kumod logged 0 \(no kumod record\)/);
  });
});

describe('permfail: a Bounce', () => {
  it('passes for a Bounce, fails for a Delivery', () => {
    const rcpt = 'permfail+p@example.test';
    const bounced = journey([rec({ type: 'Reception', s: 0, messageId: 'p@t', recipient: rcpt }), rec({ type: 'Bounce', s: 1, messageId: 'p@t', recipient: rcpt, response: { code: 550, content: 'no' } })], 'p@t');
    expect(bounceProblems(bounced, rcpt)).toEqual([]);
    const delivered = journey([rec({ type: 'Reception', s: 0, messageId: 'p@t', recipient: rcpt }), rec({ type: 'Delivery', s: 1, messageId: 'p@t', recipient: rcpt })], 'p@t');
    expect(bounceProblems(delivered, rcpt)).toEqual(['expected a Bounce, kumod logged Reception, Delivery', 'a bounced message was also delivered (Reception, Delivery)']);
  });
});

describe('durability: Reception before the pod kill, exactly one Delivery after', () => {
  const rcpt = 'slow-5000+d@example.test';
  const killedAt = T0 + 2_000;
  it('passes for a message received, killed, then delivered once by the new pod', () => {
    const j = journey([rec({ type: 'Reception', s: 0, messageId: 'd@t', recipient: rcpt }), rec({ type: 'Delivery', s: 30, messageId: 'd@t', recipient: rcpt })], 'd@t');
    expect(durabilityProblems(j, rcpt, killedAt)).toEqual([]);
  });
  it('catches a delivery before the kill and a duplicate after it', () => {
    const j = journey(
      [
        rec({ type: 'Reception', s: 0, messageId: 'd@t', recipient: rcpt }),
        rec({ type: 'Delivery', s: 1, messageId: 'd@t', recipient: rcpt }),
        rec({ type: 'Delivery', s: 30, messageId: 'd@t', recipient: rcpt }),
      ],
      'd@t',
    );
    expect(durabilityProblems(j, rcpt, killedAt)).toEqual(['expected exactly one Delivery after the kill, kumod logged 1 before and 1 after']);
  });
});

describe('list: one LMTP delivery of the post, one delivery per member', () => {
  const list = 'announce@lists.mailkind.test';
  const bounces = 'announce-bounces@lists.mailkind.test';
  const members = ['alice@example.test', 'bob@example.test'];
  const LMTP_SITE = 'unspecified->mx_list:mailman-core.mailkind.svc.cluster.local:8024@smtp_client';
  const post = [rec({ type: 'Reception', s: 0, messageId: 'l@t', recipient: list }), rec({ type: 'Delivery', s: 1, messageId: 'l@t', recipient: list, site: LMTP_SITE })];
  const copy = (m: string, s: number) => [
    rec({ type: 'Reception', s, messageId: 'l@t', recipient: m, sender: bounces, spoolId: spoolId() }),
    rec({ type: 'Delivery', s: s + 1, messageId: 'l@t', recipient: m, sender: bounces }),
  ];
  it('passes for the fan-out', () => {
    const j = journey([...post, ...copy('alice@example.test', 3), ...copy('bob@example.test', 3)], 'l@t');
    expect(listProblems(j, list, members)).toEqual([]);
  });
  it('names a missing member, a copy delivered twice, and a post not sent to Mailman', () => {
    const wrongSite = [post[0]!, rec({ type: 'Delivery', s: 1, messageId: 'l@t', recipient: list, site: 'unspecified->mx_list:smtp-sink:2525@smtp_client' })];
    const twice = [...copy('alice@example.test', 3), rec({ type: 'Delivery', s: 9, messageId: 'l@t', recipient: 'alice@example.test', sender: bounces })];
    const j = journey([...wrongSite, ...twice], 'l@t');
    expect(listProblems(j, list, members)).toEqual([
      'the post was delivered to lists.mailkind.test → unspecified->mx_list:smtp-sink:2525@smtp_client, not to mailman-core',
      'member alice@example.test: expected one Reception and one Delivery, kumod logged Reception, Delivery, Delivery',
      'no copy for member bob@example.test',
    ]);
  });
});

describe('throttle: the delays', () => {
  it('measures each wait in kumod and the spread of the deliveries', () => {
    const records = Array.from({ length: 5 }, (_, i) => [
      rec({ type: 'Reception', s: 0, messageId: `t${i}@t`, recipient: `u${i}@throttled.mailkind.test`, run: 'th' }),
      rec({ type: 'TransientFailure', s: 0.01, messageId: `t${i}@t`, recipient: `u${i}@throttled.mailkind.test`, run: 'th', response: SINK_TEMPFAIL }),
      rec({ type: 'Delivery', s: i * 0.5, messageId: `t${i}@t`, recipient: `u${i}@throttled.mailkind.test`, run: 'th' }),
    ]).flat();
    const js = buildJourneys(events(records), [], { run: 'th' });
    expect(js).toHaveLength(5);
    const { delaysMs, deliverySpreadMs } = throttleDelays(js);
    expect(delaysMs).toEqual([0, 500, 1000, 1500, 2000]);
    expect(deliverySpreadMs).toBe(2000);
  });
});
