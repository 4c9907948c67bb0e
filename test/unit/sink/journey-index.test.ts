// The journey lookup reads the rings through their indexes (by Message-ID, by run) instead of
// scanning them. It must give exactly what the scan gives, also after the rings evicted records
// and after a run was reset: a random sequence of records, attempts, messages and resets on small
// rings, compared after every step with buildJourneys over both whole rings.
import { describe, expect, it } from 'vitest';
import { buildJourneys, type JourneyQuery } from '../../../sinks/smtp-sink/src/journey/join.js';
import { lookupJourneys } from '../../../sinks/smtp-sink/src/journey/lookup.js';
import { JourneyStore } from '../../../sinks/smtp-sink/src/journey/store.js';
import { Ring } from '../../../sinks/smtp-sink/src/record/ring.js';
import { RingIndex } from '../../../sinks/smtp-sink/src/record/ring-index.js';
import { SinkStore, type MessageRecord } from '../../../sinks/smtp-sink/src/record/store.js';
import { kumoRecord, type RecordType } from '../../fixtures/kumod-records.js';

/** mulberry32: a seeded generator, so a failure can be replayed */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const IDS = ['m1@t', 'm2@t', 'm3@t', 'm4@t', 'm5@t', 'm6@t'];
const RUNS = ['run-a', 'run-b', 'run-c'];
const TYPES: RecordType[] = ['Reception', 'TransientFailure', 'Delivery', 'Bounce'];
const T0 = Date.parse('2026-12-02T10:00:00Z');

function scenario(seed: number, steps: number) {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const journey = new JourneyStore(17);
  const store = new SinkStore({ maxMessages: 5, maxAttempts: 13, bodyBudget: 0 });
  let clock = T0;
  const queries: JourneyQuery[] = [...IDS.map((messageId) => ({ messageId })), { messageId: '<m1@t>' }, ...RUNS.map((run) => ({ run })), { messageIds: IDS.slice(0, 3) }];
  const check = (i: number) => {
    for (const q of queries) {
      const scanned = buildJourneys(journey.events(), store.attemptRecords(), q);
      expect(lookupJourneys(journey, store, q), `seed ${seed}, step ${i}, query ${JSON.stringify(q)}`).toEqual(scanned);
    }
  };
  for (let i = 0; i < steps; i++) {
    clock += Math.floor(rnd() * 3) * 1000; // equal times too: the order within an instant must match
    const r = rnd();
    const messageId = pick(IDS);
    const run = rnd() < 0.8 ? pick(RUNS) : undefined;
    const rcpt = `${pick(['a', 'b'])}@example.test`;
    if (r < 0.45) {
      const n = 1 + Math.floor(rnd() * 4);
      const records = Array.from({ length: n }, () => {
        const rec = kumoRecord({ type: pick(TYPES), at: new Date(clock), messageId, recipient: rcpt, run, spoolId: `spool${Math.floor(rnd() * 3)}` });
        // now and then a record without a Message-ID: joined to its run by spool id only
        if (rnd() < 0.1) delete (rec.headers as Record<string, string>)['Message-ID'];
        return rec;
      });
      journey.ingest(records, '10.244.0.5');
    } else if (r < 0.7) {
      store.addAttempt({ time: clock, phase: 'data', code: pick([451, 550, 0]), mailFrom: 's@t', rcptTo: [rcpt], messageId: rnd() < 0.9 ? messageId : null, run: run ?? null, attempt: 1, fault: 'tempfail', clientAddress: '10.244.0.5', note: null });
    } else if (r < 0.95) {
      const m: MessageRecord = { id: 0, receivedAt: clock, mailFrom: 's@t', rcptTo: [rcpt], messageId, subject: null, from: null, listId: null, run: run ?? null, size: 10, tls: false, tlsProtocol: null, clientAddress: '10.244.0.5', helo: null, attempt: 2, fault: null, headerBlock: '', body: null };
      store.addMessage(m);
    } else if (r < 0.99) {
      const gone = pick(RUNS);
      journey.reset(gone);
      store.reset(gone);
    } else {
      journey.reset(null);
      store.reset(null);
    }
    check(i);
  }
  return { journey, store };
}

describe('journey lookup through the indexes', () => {
  it.each([1, 2, 3])('gives what a scan of both rings gives, through evictions and resets (seed %i)', (seed) => {
    const { journey } = scenario(seed, 200);
    // the rings really were full and evicting
    expect(journey.totals.records).toBeGreaterThan(3 * journey.capacity);
    // a deadline for a machine under load (a few thousand joins), not a speed requirement
  }, 60_000);

  it('forgets a message once its last record left the ring', () => {
    const journey = new JourneyStore(3);
    const store = new SinkStore({ maxMessages: 2, maxAttempts: 2, bodyBudget: 0 });
    const rec = (id: string) => kumoRecord({ type: 'Reception', at: new Date(T0), messageId: id, recipient: 'a@example.test', run: 'r' });
    journey.ingest([rec('old@t'), rec('new@t'), rec('new@t')], '127.0.0.1');
    expect(lookupJourneys(journey, store, { messageId: 'old@t' })).toHaveLength(1);
    journey.ingest([rec('new@t')], '127.0.0.1');
    expect(lookupJourneys(journey, store, { messageId: 'old@t' })).toEqual([]);
    expect(lookupJourneys(journey, store, { run: 'r' }).map((j) => j.messageId)).toEqual(['new@t']);
    expect(journey.eventsFor(['old@t', 'new@t'])).toHaveLength(3);
  });
});

describe('RingIndex', () => {
  it('stays equal to the ring for one long-lived key (its evicted slots are compacted away)', () => {
    const ring = new Ring<{ k: string; n: number }>(50);
    const index = new RingIndex<{ k: string; n: number }>((x) => x.k);
    for (let n = 0; n < 1000; n++) {
      const item = { k: n % 10 === 0 ? 'rare' : 'busy', n };
      const evicted = ring.push(item);
      if (evicted) index.evict(evicted);
      index.add(item);
      if (n % 97 === 0 || n === 999) {
        for (const k of ['busy', 'rare']) expect(index.get(k)).toEqual([...ring.oldestFirst()].filter((x) => x.k === k));
      }
    }
    expect(index.size).toBe(2);
  });

  it('removes an item that is not the oldest of its key, and drops empty keys', () => {
    const index = new RingIndex<{ k: string | null; n: number }>((x) => x.k);
    const a = { k: 'x', n: 1 };
    const b = { k: 'x', n: 2 };
    index.add(a);
    index.add(b);
    index.add({ k: null, n: 3 });
    index.evict(b);
    expect(index.get('x')).toEqual([a]);
    index.evict(a);
    expect(index.size).toBe(0);
  });
});
