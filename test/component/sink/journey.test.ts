// The journey API over real HTTP: kumod's log records (fixtures written from KumoMTA's documented
// record format, test/fixtures/kumod-records.ts) posted as its hook posts them, joined with the
// sink's own attempts made over real SMTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Journey } from '../../../sinks/smtp-sink/src/journey/join.js';
import { MAX_BODY } from '../../../sinks/smtp-sink/src/http/server.js';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { kumoRecord, retriedMessage, SINK_TEMPFAIL, spoolId } from '../../fixtures/kumod-records.js';
import { api, startTestSink } from '../../helpers/sink.js';
import { RawSmtp, message } from '../../helpers/smtp-client.js';

let sink: RunningSink;
beforeAll(async () => {
  sink = await startTestSink();
});
afterAll(() => sink.close());

const post = (records: unknown) => api<{ accepted: number; invalid: number; errors: string[]; error?: string }>(sink, '/api/journey/records', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(records) });
const journeyOf = async (q: string) => (await api<{ total: number; journeys: Journey[] }>(sink, `/api/journey?${q}`)).body;

/** One real SMTP transaction to the sink; returns the reply code after DATA. */
async function smtp(o: { from?: string; to: string; messageId: string; run?: string; extra?: Record<string, string> }): Promise<number | undefined> {
  const c = await RawSmtp.connect(sink.smtpPort);
  await c.reply();
  await c.command('EHLO kumod.test');
  const headers: Record<string, string> = { Subject: 'journey test', 'Message-ID': `<${o.messageId}>`, ...(o.run ? { 'X-Mailkind-Run': o.run } : {}), ...o.extra };
  const r = await c.send(o.from ?? 'sender@example.test', [o.to], message(headers));
  c.destroy();
  return r?.code;
}

const steps = (j: Journey, rcpt: string) => j.timelines.find((t) => t.recipient === rcpt)!.steps.map((s) => `${s.source}:${s.kind}${s.code ? ` ${s.code}` : ''}`);

describe('POST /api/journey/records', () => {
  it('takes an array, one record, or JSON lines, and counts what it refuses', async () => {
    const at = new Date();
    const one = kumoRecord({ type: 'Reception', at, messageId: 'ingest-1@t', recipient: 'a@example.test', run: 'ingest' });
    expect((await post([one, one])).body).toMatchObject({ accepted: 2, invalid: 0 });
    expect((await post(one)).body).toMatchObject({ accepted: 1 });
    const lines = await api<{ accepted: number }>(sink, '/api/journey/records', { method: 'POST', body: `${JSON.stringify(one)}\n${JSON.stringify(one)}\n` });
    expect(lines.body.accepted).toBe(2);
    const mixed = await post([one, { type: 'Delivery' }, { no: 'type' }, 42]);
    expect(mixed.status).toBe(200);
    expect(mixed.body).toMatchObject({ accepted: 1, invalid: 3 });
    expect(mixed.body.errors).toEqual(['record 1: Delivery record has neither "event_time" nor "timestamp"', 'record 2: record has no "type"', 'record 3: a record must be a JSON object']);
    // nothing usable: 400, so kumod's hook fails the batch rather than retrying it for ever
    expect((await post([{ type: 'Delivery' }])).status).toBe(400);
    expect((await api(sink, '/api/journey/records', { method: 'POST', body: 'not json' })).status).toBe(400);
    expect((await api(sink, '/api/journey/records', { method: 'POST', body: '' })).status).toBe(400);
    expect((await api(sink, '/api/journey/records', { method: 'POST', body: ' '.repeat(MAX_BODY + 1) })).status).toBe(413);
  });
});

describe('GET /api/journey', () => {
  it('a retried message: kumod deferred it twice, the sink refused it twice, then delivered, in time order', async () => {
    const run = 'journey-retry';
    const messageId = 'retry-1@journey.test';
    const rcpt = 'tempfail-2+retry@example.test';
    const t0 = new Date();
    const [reception, tf1, tf2, delivery] = retriedMessage({ messageId, recipient: rcpt, run, subject: 'journey test', times: [t0, t0, t0, t0] });
    // each record is posted right after the attempt it reports, with that moment as its time
    await post([{ ...reception, event_time: new Date().toISOString() }]);
    expect(await smtp({ to: rcpt, messageId, run })).toBe(451);
    await post([{ ...tf1, event_time: new Date().toISOString() }]);
    expect(await smtp({ to: rcpt, messageId, run })).toBe(451);
    await post([{ ...tf2, event_time: new Date().toISOString() }]);
    expect(await smtp({ to: rcpt, messageId, run })).toBe(250);
    await post([{ ...delivery, event_time: new Date().toISOString() }]);

    const byId = await journeyOf(`messageId=${encodeURIComponent(`<${messageId}>`)}`);
    expect(byId.total).toBe(1);
    const j = byId.journeys[0]!;
    expect(j).toMatchObject({ messageId, run, status: 'delivered', subject: 'journey test' });
    expect(steps(j, rcpt)).toEqual([
      'kumod:Reception 250',
      'sink:Refused 451',
      'kumod:TransientFailure 451',
      'sink:Refused 451',
      'kumod:TransientFailure 451',
      'sink:Accepted 250',
      'kumod:Delivery 250',
    ]);
    const timeline = j.timelines[0]!;
    expect(timeline).toMatchObject({ deferrals: 2, refusals: 2, status: 'delivered', parent: null });
    expect(timeline.steps[2]!.text).toBe('mailkind sink fault tempfail-2: attempt 1 of 2 refused, try again later');
    expect(timeline.steps.map((s) => s.time)).toEqual([...timeline.steps.map((s) => s.time)].sort());
    // the same journey by run, and without the angle brackets
    expect((await journeyOf(`run=${run}`)).journeys.map((x) => x.messageId)).toEqual([messageId]);
    expect((await journeyOf(`messageId=${messageId}`)).total).toBe(1);
  });

  it('undelivered messages are there as such: bounced, expired, still queued, rejected', async () => {
    const run = 'journey-undelivered';
    const t = (s: number) => new Date(Date.now() + s * 1000);
    const records = [
      kumoRecord({ type: 'Reception', at: t(0), messageId: 'bounced@j', recipient: 'permfail@example.test', run }),
      kumoRecord({ type: 'Bounce', at: t(1), messageId: 'bounced@j', recipient: 'permfail@example.test', run, response: { code: 550, enhanced: [5, 0, 0], content: 'permanent failure requested' } }),
      kumoRecord({ type: 'Reception', at: t(0), messageId: 'expired@j', recipient: 'tempfail@example.test', run }),
      kumoRecord({ type: 'TransientFailure', at: t(5), messageId: 'expired@j', recipient: 'tempfail@example.test', run, response: SINK_TEMPFAIL, numAttempts: 1 }),
      kumoRecord({ type: 'Expiration', at: t(300), messageId: 'expired@j', recipient: 'tempfail@example.test', run, response: { code: 551, content: 'Next delivery time would be at ... which exceeds the expiry time' } }),
      kumoRecord({ type: 'Reception', at: t(0), messageId: 'queued@j', recipient: 'slow@example.test', run }),
      kumoRecord({ type: 'Rejection', at: t(0), messageId: 'rejected@j', recipient: 'nobody@elsewhere.test', run, receptionProtocol: 'ESMTP', response: { code: 550, enhanced: [5, 7, 1], content: 'relaying not permitted', command: 'RCPT TO' } }),
    ];
    expect((await post(records)).body.accepted).toBe(records.length);
    expect(await smtp({ to: 'permfail@example.test', messageId: 'bounced@j', run })).toBe(550);
    const { journeys } = await journeyOf(`run=${run}`);
    const status = Object.fromEntries(journeys.map((j): [string, string] => [j.messageId ?? '', j.status]));
    expect(status).toEqual({ 'bounced@j': 'bounced', 'expired@j': 'expired', 'queued@j': 'queued', 'rejected@j': 'rejected' });
    const bounced = journeys.find((j) => j.messageId === 'bounced@j')!;
    expect(steps(bounced, 'permfail@example.test')).toEqual(['kumod:Reception 250', 'sink:Refused 550', 'kumod:Bounce 550']);
  });

  it('a list post is one tree: the post, its LMTP delivery to Mailman, each member copy received back and delivered', async () => {
    const run = 'journey-list';
    const messageId = 'post-1@journey.test';
    const list = 'announce@lists.mailkind.test';
    const bounces = 'announce-bounces@lists.mailkind.test';
    const members = ['alice@example.test', 'bob@example.test'];
    const t = (ms: number) => new Date(Date.now() - 10_000 + ms);
    const post1 = spoolId();
    const records = [
      kumoRecord({ type: 'Reception', at: t(0), messageId, recipient: list, run, spoolId: post1, receptionProtocol: 'ESMTP' }),
      kumoRecord({ type: 'Delivery', at: t(100), messageId, recipient: list, run, spoolId: post1, site: 'unspecified->mx_list:mailman-core.mailkind.svc.cluster.local:8024@smtp_client', response: { code: 250, content: 'Ok', command: '.' } }),
      ...members.flatMap((m, i) => {
        const id = spoolId();
        const copy = { messageId, recipient: m, run, spoolId: id, sender: bounces, listId: '<announce.lists.mailkind.test>' };
        return [kumoRecord({ ...copy, type: 'Reception', at: t(500 + i), receptionProtocol: 'ESMTP', peer: { name: 'mailman-core', addr: '10.244.0.7' } }), kumoRecord({ ...copy, type: 'Delivery', at: t(9000 + i) })];
      }),
    ];
    await post(records);
    for (const m of members) expect(await smtp({ from: bounces, to: m, messageId, run, extra: { 'List-Id': '<announce.lists.mailkind.test>' } })).toBe(250);
    const { journeys } = await journeyOf(`messageId=${messageId}`);
    expect(journeys).toHaveLength(1);
    const tree = journeys[0]!.timelines.map((tl) => [tl.recipient, tl.parent, tl.status]);
    expect(tree).toEqual([
      [list, null, 'delivered'],
      ['alice@example.test', list, 'delivered'],
      ['bob@example.test', list, 'delivered'],
    ]);
    expect(steps(journeys[0]!, 'alice@example.test')).toEqual(['kumod:Reception 250', 'kumod:Delivery 250', 'sink:Accepted 250']);
    expect(journeys[0]!.timelines[0]!.steps[1]!.where).toMatch(/mailman-core.*:8024/);
  });

  it('asks for exactly one of messageId or run, and honours limit', async () => {
    expect((await api(sink, '/api/journey')).status).toBe(400);
    expect((await api(sink, '/api/journey?messageId=a&run=b')).status).toBe(400);
    expect((await api(sink, '/api/journey?run=')).status).toBe(400);
    expect((await api<{ journeys: unknown[] }>(sink, '/api/journey?run=nothing-here')).body.journeys).toEqual([]);
    const limited = await api<{ total: number; count: number; journeys: unknown[] }>(sink, '/api/journey?run=journey-undelivered&limit=0');
    expect(limited.body).toMatchObject({ total: 4, count: 0, journeys: [] });
  });

  it('recent journeys list the newest messages with their outcome; limit=0 gives none', async () => {
    const recent = await api<{ journeys: { messageId: string; status: string }[] }>(sink, '/api/journey/recent?limit=50');
    const status = Object.fromEntries(recent.body.journeys.map((j): [string, string] => [j.messageId, j.status]));
    expect(status).toMatchObject({ 'retry-1@journey.test': 'delivered', 'bounced@j': 'bounced', 'queued@j': 'queued' });
    expect((await api<{ journeys: unknown[] }>(sink, '/api/journey/recent?limit=0')).body.journeys).toEqual([]);
  });

  it("kumod's counts sit beside the sink's in /api/stats, and /metrics has them by type", async () => {
    const { body } = await api<{ journey: Record<string, number> }>(sink, '/api/stats');
    for (const k of ['received', 'delivered', 'deferred']) expect(body.journey[k], k).toBeGreaterThan(0);
    expect(body.journey.bounced).toBe(1);
    expect(body.journey.deferred).toBeGreaterThanOrEqual(3);
    const text = await (await fetch(sink.url + '/metrics')).text();
    expect(text).toMatch(/^mailkind_sink_journey_records_total\{type="TransientFailure"\} [3-9]/m);
  });
});

describe('bounds and resets', () => {
  it('the ring keeps the newest records; the counters keep every one', async () => {
    const small = await startTestSink({ maxJourneyRecords: 10 });
    try {
      const at = new Date();
      const records = Array.from({ length: 25 }, (_, i) => kumoRecord({ type: i % 2 ? 'Delivery' : 'Reception', at, messageId: `m${i}@ring`, recipient: 'a@example.test', run: 'ring' }));
      const r = await api<{ accepted: number }>(small, '/api/journey/records', { method: 'POST', body: JSON.stringify(records) });
      expect(r.body.accepted).toBe(25);
      const { body } = await api<{ journey: { records: number; received: number; delivered: number; stored: number } }>(small, '/api/stats');
      expect(body.journey).toMatchObject({ records: 25, received: 13, delivered: 12, stored: 10 });
      const { journeys } = (await api<{ journeys: Journey[] }>(small, '/api/journey?run=ring')).body;
      expect(journeys.map((j) => j.messageId)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i + 15}@ring`));
      // one run's records go with DELETE ?run=, everything (and the counters) with DELETE
      await api(small, '/api/messages?run=ring', { method: 'DELETE' });
      expect((await api<{ journeys: unknown[] }>(small, '/api/journey?run=ring')).body.journeys).toEqual([]);
      expect((await api<{ journey: { records: number } }>(small, '/api/stats')).body.journey.records).toBe(25);
      await api(small, '/api/messages', { method: 'DELETE' });
      expect((await api<{ journey: { records: number; stored: number } }>(small, '/api/stats')).body.journey).toMatchObject({ records: 0, stored: 0 });
    } finally {
      await small.close();
    }
  });
});
