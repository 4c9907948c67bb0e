import { describe, expect, it } from 'vitest';
import { BoundedMap, Ring } from '../../../sinks/smtp-sink/src/record/ring.js';
import { RateWindow } from '../../../sinks/smtp-sink/src/record/rate.js';
import { SinkStore, type MessageRecord } from '../../../sinks/smtp-sink/src/record/store.js';

const msg = (run: string | null, rcpt = 'a@x.test', body: Buffer | null = null): MessageRecord => ({
  id: 0,
  receivedAt: Date.now(),
  mailFrom: 'f@x.test',
  rcptTo: [rcpt],
  messageId: null,
  subject: null,
  from: null,
  listId: null,
  run,
  size: body?.length ?? 100,
  tls: false,
  tlsProtocol: null,
  clientAddress: '127.0.0.1',
  helo: null,
  attempt: 1,
  fault: null,
  headerBlock: '',
  body,
});

describe('Ring', () => {
  it('keeps the newest items in order', () => {
    const r = new Ring<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    expect([...r.oldestFirst()]).toEqual([3, 4, 5]);
    expect([...r.newestFirst()]).toEqual([5, 4, 3]);
    r.retain((n) => n !== 4);
    expect([...r.oldestFirst()]).toEqual([3, 5]);
  });
  it('refuses a zero capacity', () => {
    expect(() => new Ring(0)).toThrow(RangeError);
  });
});

describe('BoundedMap', () => {
  it('forgets the oldest key past its limit', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('a', 3).set('c', 4);
    // updating 'a' does not make it newer: insertion order decides
    expect([...m.keys()]).toEqual(['b', 'c']);
  });
});

describe('SinkStore', () => {
  it('drops old records but never counts', () => {
    const s = new SinkStore({ maxMessages: 3, maxAttempts: 3, bodyBudget: 0 });
    for (let i = 0; i < 10; i++) s.addMessage(msg('r1'));
    expect(s.counters.accepted).toBe(10);
    expect(s.messageCount).toBe(3);
    expect(s.messages({ run: 'r1' }).total).toBe(3);
    expect(s.acceptedFor('r1')).toBe(10);
  });

  it('filters by run and recipient, newest first, with a limit', () => {
    const s = new SinkStore({ maxMessages: 10, maxAttempts: 10, bodyBudget: 0 });
    s.addMessage(msg('a', 'Bob@X.test'));
    s.addMessage(msg('b'));
    s.addMessage(msg('a'));
    expect(s.messages({ run: 'a' }).messages.map((m) => m.id)).toEqual([3, 1]);
    expect(s.messages({ rcpt: 'bob@x.test' }).messages.map((m) => m.id)).toEqual([1]);
    expect(s.messages({ limit: 1 })).toMatchObject({ total: 3, messages: [{ id: 3 }] });
  });

  it('keeps raw bodies within the budget, oldest dropped first', () => {
    const s = new SinkStore({ maxMessages: 10, maxAttempts: 10, bodyBudget: 250 });
    const ids = [1, 2, 3].map(() => s.addMessage(msg(null, 'a@x.test', Buffer.alloc(100))).id);
    expect(s.bodyBytes).toBe(200);
    expect(ids.map((id) => s.message(id)?.body !== null)).toEqual([false, true, true]);
  });

  it('long-polls until enough messages of the run arrived', async () => {
    const s = new SinkStore({ maxMessages: 2, maxAttempts: 2, bodyBudget: 0 });
    const waiting = s.waitFor('r', 3, 5_000);
    s.addMessage(msg('r'));
    s.addMessage(msg('other'));
    s.addMessage(msg('r'));
    s.addMessage(msg('r'));
    await expect(waiting).resolves.toEqual({ reached: true, count: 3 });
  });

  it('a long-poll gives up at its deadline with the count so far', async () => {
    const s = new SinkStore({ maxMessages: 2, maxAttempts: 2, bodyBudget: 0 });
    s.addMessage(msg('r'));
    await expect(s.waitFor('r', 2, 10)).resolves.toEqual({ reached: false, count: 1 });
  });

  it('resets one run or everything', () => {
    const s = new SinkStore({ maxMessages: 10, maxAttempts: 10, bodyBudget: 0 });
    s.addMessage(msg('a'));
    s.addMessage(msg('b'));
    s.addAttempt({ time: 0, phase: 'rcpt', code: 451, mailFrom: null, rcptTo: [], messageId: null, run: 'a', attempt: 1, fault: null, clientAddress: '', note: null });
    s.reset('a');
    expect(s.messages().messages.map((m) => m.run)).toEqual(['b']);
    // an accepted message is also its attempt (phase data, code 250)
    expect(s.attempts().map((a) => [a.run, a.phase, a.code])).toEqual([['b', 'data', 250]]);
    expect(s.counters.accepted).toBe(2);
    s.reset();
    expect(s.counters.accepted).toBe(0);
    expect(s.totals.accepted).toBe(2);
  });

  it('counts refusals by class and keeps reply totals', () => {
    const s = new SinkStore({ maxMessages: 1, maxAttempts: 1, bodyBudget: 0 });
    const a = { time: 0, mailFrom: null, rcptTo: [], messageId: null, run: null, attempt: 1, fault: null, clientAddress: '', note: null };
    s.addAttempt({ ...a, phase: 'rcpt', code: 451 });
    s.addAttempt({ ...a, phase: 'data', code: 550 });
    s.addAttempt({ ...a, phase: 'data', code: 550 });
    expect(s.counters).toMatchObject({ tempfailed: 1, rejected: 2 });
    expect(s.replies()).toEqual(expect.arrayContaining([['rcpt', 451, 1], ['data', 550, 2]]));
  });
});

describe('RateWindow', () => {
  it('buckets per second and forgets what slid out', () => {
    const t0 = 1_000_000_000_000;
    const w = new RateWindow(5, t0);
    w.add(t0, 3);
    w.add(t0 + 1000, 2);
    expect(w.series(t0 + 1000)).toEqual([0, 0, 0, 3, 2]);
    expect(w.series(t0 + 4000)).toEqual([3, 2, 0, 0, 0]);
    expect(w.series(t0 + 60_000)).toEqual([0, 0, 0, 0, 0]);
  });
  it('averages complete seconds', () => {
    const t0 = 2_000_000_000_000;
    const w = new RateWindow(10, t0);
    for (let s = 0; s < 4; s++) w.add(t0 + s * 1000, 10);
    expect(w.perSecond(2, t0 + 4000)).toBe(10);
  });
});
