// Posting kumod's log records must not starve SMTP: the sink stores a POSTed batch in slices with
// the event loop free between them (sinks/smtp-sink/src/journey/store.ts). Shown on a condition,
// not a time: a whole SMTP transaction, started once the batch is being stored, is answered before
// the batch is complete (the ring holds part of it when the 250 comes). When a batch is stored in
// one go (journeySliceRecords: Infinity, the sink's former behaviour) the 250 can only come before
// the first record or after the last, never in between: that mutation fails this test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { IngestBusy, JourneyStore } from '../../../sinks/smtp-sink/src/journey/store.js';
import { MAX_BODY } from '../../../sinks/smtp-sink/src/http/server.js';
import { kumoRecord } from '../../fixtures/kumod-records.js';
import { startTestSink } from '../../helpers/sink.js';
import { RawSmtp, message } from '../../helpers/smtp-client.js';

const RECORDS = 900;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('journey ingest and SMTP on one event loop', () => {
  let sink: RunningSink;
  beforeAll(async () => {
    sink = await startTestSink();
  });
  afterAll(() => sink?.close());

  it('an SMTP transaction is answered while a large batch of records is still being stored', async () => {
    const at = new Date();
    const body = JSON.stringify(Array.from({ length: RECORDS }, (_, i) => kumoRecord({ type: 'Delivery', at, messageId: `flood-${i}@t`, recipient: `u${i}@example.test`, run: 'flood' })));
    expect(body.length, 'the batch fits in one POST').toBeLessThan(MAX_BODY);

    const smtp = await RawSmtp.connect(sink.smtpPort);
    await smtp.reply();
    await smtp.command('EHLO client.test');

    const posted = fetch(`${sink.url}/api/journey/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    // the sink has started storing the batch (it was read and parsed)
    while (sink.journey.size === 0) await turn();
    const reply = await smtp.send('a@example.test', ['b@example.test'], message({ Subject: 'during ingest', 'Message-ID': '<during@t>' }));
    const storedAtReply = sink.journey.size;
    smtp.destroy();

    expect(reply?.code).toBe(250);
    expect(storedAtReply, 'records stored when SMTP answered the end of DATA').toBeLessThan(RECORDS);
    const res = await posted;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: RECORDS, invalid: 0, errors: [] });
    expect(sink.journey.size).toBe(RECORDS);
    console.log(`SMTP answered after ${storedAtReply} of ${RECORDS} records were stored`);
  });
});

describe('JourneyStore sliced ingest', () => {
  const rec = (i: number) => kumoRecord({ type: 'Reception', at: new Date(), messageId: `q${i}@t`, recipient: 'a@example.test' });

  it('stores one POST after the other, in order, and refuses beyond maxQueued with IngestBusy', async () => {
    const store = new JourneyStore(100, { sliceRecords: 2, maxQueued: 2 });
    const first = store.ingestSliced([rec(1), rec(2), rec(3)], '127.0.0.1');
    const second = store.ingestSliced([rec(4), { type: 'Reception' }], '127.0.0.1');
    expect(store.queued).toBe(2);
    await expect(store.ingestSliced([rec(5)], '127.0.0.1')).rejects.toBeInstanceOf(IngestBusy);
    expect(await first).toEqual({ accepted: 3, invalid: 0, errors: [] });
    expect(await second).toEqual({ accepted: 1, invalid: 1, errors: ['record 1: Reception record has neither "event_time" nor "timestamp"'] });
    expect([...store.events()].map((e) => e.messageId)).toEqual(['q1@t', 'q2@t', 'q3@t', 'q4@t']);
    expect(store.queued).toBe(0);
    // the queue frees up: the next POST is taken, and the counters never lost a record
    expect(await store.ingestSliced([rec(6)], '127.0.0.1')).toMatchObject({ accepted: 1 });
    expect(store.counters).toMatchObject({ records: 5, invalid: 1, batches: 3 });
  });
});
