// scripts/lib/clients/sink-client.ts against a real sink (in-process, free ports), fed over real
// SMTP by nodemailer: stats, messages, long-poll waits, attempts, faults, reset, and the errors.
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { ClientError } from '../../../scripts/lib/clients/http.js';
import { SinkClient } from '../../../scripts/lib/clients/sink-client.js';
import { startTestSink } from '../../helpers/sink.js';

let sink: RunningSink;
let client: SinkClient;

beforeAll(async () => {
  sink = await startTestSink();
  client = new SinkClient(sink.url);
});
afterAll(() => sink.close());

/** One message; resolves with the SMTP outcome instead of throwing on a refusal. */
async function send(run: string, to: string[], messageId = `${run}.${Math.random().toString(36).slice(2)}@client.test`): Promise<{ ok: boolean; code?: number; messageId: string }> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: sink.smtpPort, secure: false, tls: { rejectUnauthorized: false } });
  try {
    await t.sendMail({ from: 'sender@client.test', to, subject: run, text: 'x', messageId: `<${messageId}>`, headers: { 'X-Mailkind-Run': run } });
    return { ok: true, messageId };
  } catch (e) {
    return { ok: false, code: (e as { responseCode?: number }).responseCode, messageId };
  } finally {
    t.close();
  }
}

describe('SinkClient against the real sink', () => {
  it('ready, stats and messages of a run', async () => {
    expect(await client.ready()).toBe(true);
    const before = (await client.stats()).accepted;
    const sent = await send('c-messages', ['a@x.test', 'b@x.test']);
    const stats = await client.stats();
    expect(stats.accepted).toBe(before + 1);
    const m = await client.messages({ run: 'c-messages' });
    expect(m.total).toBe(1);
    expect(m.messages[0]).toMatchObject({ messageId: sent.messageId, rcptTo: ['a@x.test', 'b@x.test'], run: 'c-messages', tls: true });
    expect(typeof m.messages[0]?.receivedAt).toBe('string');
    expect((await client.messages({ run: 'c-messages', rcpt: 'B@x.test' })).total).toBe(1);
    expect((await client.messages({ run: 'c-messages', rcpt: 'nobody@x.test' })).total).toBe(0);
    expect((await client.allMessages({ run: 'c-messages' })).messages.map((x) => x.messageId)).toEqual([sent.messageId]);
  });

  it('waitForCount long-polls: resolves when the mail arrives, or reports the count at the deadline', async () => {
    const waiting = client.waitForCount('c-wait', 2, 10_000);
    await send('c-wait', ['a@x.test']);
    await send('c-wait', ['a@x.test']);
    expect(await waiting).toEqual({ reached: true, count: 2 });
    const t = Date.now();
    expect(await client.waitForCount('c-wait', 3, 200)).toEqual({ reached: false, count: 2 });
    expect(Date.now() - t).toBeGreaterThanOrEqual(150);
    await expect(client.waitForCount('', 1, 10)).rejects.toThrow(/run is empty/);
  });

  it('waitForRecipients: done when every recipient has a copy, else the missing ones', async () => {
    const waiting = client.waitForRecipients('c-rcpts', ['one@x.test', 'Two@x.test', 'three@x.test'], 10_000);
    await send('c-rcpts', ['one@x.test', 'two@x.test']);
    await send('c-rcpts', ['three@x.test']);
    const done = await waiting;
    expect(done.complete).toBe(true);
    expect(done.missing).toEqual([]);
    expect(done.messages).toHaveLength(2);
    const partial = await client.waitForRecipients('c-rcpts', ['one@x.test', 'four@x.test'], 200);
    expect(partial).toMatchObject({ complete: false, missing: ['four@x.test'] });
  });

  it('attempts: refused and accepted attempts of a tempfail-1 message, oldest first', async () => {
    const first = await send('c-attempts', ['tempfail-1+c@x.test']);
    expect(first).toMatchObject({ ok: false, code: 451 });
    const second = await send('c-attempts', ['tempfail-1+c@x.test'], first.messageId);
    expect(second.ok).toBe(true);
    const attempts = await client.attempts({ run: 'c-attempts' });
    expect(attempts.map((a) => [a.phase, a.code, a.attempt])).toEqual([
      ['data', 451, 1],
      ['data', 250, 2],
    ]);
    expect(attempts.every((a) => a.messageId === first.messageId)).toBe(true);
    expect(await client.attempts({ rcpt: 'tempfail-1+c@x.test', limit: 1 })).toHaveLength(1);
  });

  it('faults: set, read with hits, add and remove rules by id, clear', async () => {
    const set = await client.setFaults({ seed: 7, rules: [{ id: 'hold', match: { run: 'c-faults' }, action: 'tempfail' }] });
    expect(set.rules.map((r) => r.id)).toEqual(['hold']);
    expect((await send('c-faults', ['x@x.test'])).code).toBe(451);
    expect((await client.faults()).hits).toEqual({ hold: 1 });

    await client.addFaultRules([{ id: 'other', match: { domain: 'never.test' }, action: 'permfail' }]);
    expect((await client.faults()).rules.map((r) => r.id)).toEqual(['hold', 'other']);
    const after = await client.removeFaultRules(['hold']);
    expect(after.rules.map((r) => r.id)).toEqual(['other']);
    expect(after.seed).toBe(7);
    expect((await send('c-faults', ['x@x.test'])).ok).toBe(true);

    expect((await client.clearFaults()).rules).toEqual([]);
  });

  it('an invalid rule set is an input error listing the problems, and the old rules stay', async () => {
    await client.setFaults({ rules: [{ id: 'keep', action: 'tempfail', match: { domain: 'keep.test' } }] });
    const e = await client.setFaults({ rules: [{ action: 'explode' }] }).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(ClientError);
    expect((e as ClientError).kind).toBe('input');
    expect((e as ClientError).message).toMatch(/400: invalid fault rules: rules\.0\.action/);
    expect((await client.faults()).rules.map((r) => r.id)).toEqual(['keep']);
    await client.clearFaults();
  });

  it('reset: one run, then everything', async () => {
    await send('c-reset-a', ['a@x.test']);
    await send('c-reset-b', ['a@x.test']);
    await client.reset('c-reset-a');
    expect((await client.messages({ run: 'c-reset-a' })).total).toBe(0);
    expect((await client.messages({ run: 'c-reset-b' })).total).toBe(1);
    await client.reset();
    expect((await client.stats()).accepted).toBe(0);
    expect((await client.messages()).total).toBe(0);
  });

  it('errors: bad base URL at construction, unreachable sink, bad query', async () => {
    expect(() => new SinkClient('not a url')).toThrow(/not a URL/);
    const gone = new SinkClient('http://127.0.0.1:9', { timeoutMs: 2_000 });
    await expect(gone.stats()).rejects.toMatchObject({ kind: 'connection' });
    await expect(client.messages({ limit: 10_000_000 })).rejects.toMatchObject({ kind: 'input', status: 400 });
  });
});
