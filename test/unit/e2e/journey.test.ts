// The e2e suite's checks of KumoMTA's own account (test/e2e/lib/journey.ts), run on journeys built
// by the sink's own join (sinks/smtp-sink/src/journey/join.ts) from records written in KumoMTA's
// documented format (test/fixtures/kumod-records.ts): the scenarios cannot run here, their parsing can.
import { describe, expect, it } from 'vitest';
import { buildJourneys, type Journey } from '../../../sinks/smtp-sink/src/journey/join.js';
import { parseKumoRecord, type KumoEvent } from '../../../sinks/smtp-sink/src/journey/records.js';
import { bounceProblems, durabilityProblems, kumoKinds, lacking, listProblems, retryProblems, runDurabilityProblems, throttleAccount, throttleDelays } from '../../e2e/lib/journey.js';
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

describe('durability over a run: the wait before the kill and the check after it', () => {
  const rcpts = ['durable0-0+d@example.test', 'durable0-1+d@example.test', 'durable0-2+d@example.test'];
  const killedAt = T0 + 10_000;
  const received = rcpts.map((r, i) => rec({ type: 'Reception', s: i, messageId: `d${i}@t`, recipient: r, run: 'd' }));
  const delivered = (i: number, s: number) => rec({ type: 'Delivery', s, messageId: `d${i}@t`, recipient: rcpts[i]!, run: 'd' });
  const run = (records: Record<string, unknown>[]) => buildJourneys(events(records), [], { run: 'd' });

  it('waits until every message has a Reception, and names those without', () => {
    expect(lacking(run(received.slice(0, 2)), rcpts, 'Reception')).toEqual([rcpts[2]]);
    expect(lacking(run(received), rcpts, 'Reception')).toEqual([]);
    expect(lacking(run([...received, delivered(0, 30)]), rcpts, 'Delivery')).toEqual([rcpts[1], rcpts[2]]);
  });

  it('passes when each message is delivered once after the kill', () => {
    expect(runDurabilityProblems(run([...received, delivered(0, 30), delivered(1, 31), delivered(2, 40)]), rcpts, killedAt)).toEqual([]);
  });

  it('names each message delivered before the kill, twice, or never, and one kumod never logged', () => {
    const records = [received[0]!, received[1]!, delivered(0, 5), delivered(1, 30), delivered(1, 50)];
    expect(runDurabilityProblems(run(records), rcpts, killedAt)).toEqual([
      `${rcpts[0]}: expected exactly one Delivery after the kill, kumod logged 1 before and 0 after`,
      `${rcpts[1]}: expected exactly one Delivery after the kill, kumod logged 0 before and 2 after`,
      `${rcpts[2]}: no journey (kumod posted no record of it)`,
    ]);
  });
});

describe("throttle in kumod's account", () => {
  const tolerance = { rateFactor: 1.2, extraMessages: 2 };
  const rcpts = Array.from({ length: 30 }, (_, i) => `throttled${i}+t@throttled.mailkind.test`);
  /** every message received at 0 s, delivered at the given second */
  const run = (deliveredAt: (i: number) => number | null) =>
    buildJourneys(
      events(
        rcpts.flatMap((r, i) => {
          const d = deliveredAt(i);
          const base = { messageId: `t${i}@t`, recipient: r, run: 'th' };
          return [rec({ ...base, type: 'Reception', s: 0 }), ...(d === null ? [] : [rec({ ...base, type: 'Delivery', s: d })])];
        }),
      ),
      [],
      { run: 'th' },
    );

  it('passes for 10 at once, then 10 a second, and reports the waits', () => {
    const a = throttleAccount(run((i) => (i < 10 ? 0.1 : 0.1 + (i - 9) * 0.1)), rcpts, 10, 10, tolerance);
    expect(a.problems).toEqual([]);
    expect(a.delaysMs).toHaveLength(30);
    expect(a.medianDelayMs).toBe(600);
    expect(a.maxDelayMs).toBe(2100);
    expect(a.deliverySpreadMs).toBe(2000);
  });

  it('fails when kumod delivered everything at once, and names a message it never delivered', () => {
    const a = throttleAccount(run((i) => (i === 29 ? null : 0.1 + i * 0.001)), rcpts, 10, 10, tolerance);
    expect(a.problems[0]).toBe(`${rcpts[29]}: expected one Reception and one Delivery, kumod logged Reception`);
    expect(a.problems[1]).toMatch(/^kumod's Delivery records: 29 deliveries in 28 ms, allowed 12/);
    expect(a.verdict.ok).toBe(false);
  });
});
