// Faults over real SMTP: recipient local parts and runtime rules, as a retrying MTA would see them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { api, startTestSink } from '../../helpers/sink.js';
import { RawSmtp, message } from '../../helpers/smtp-client.js';

interface Attempt {
  phase: string;
  code: number;
  attempt: number;
  fault: string | null;
  rcptTo: string[];
  note: string | null;
}

let sink: RunningSink;
beforeAll(async () => {
  sink = await startTestSink();
});
afterAll(() => sink.close());
beforeEach(async () => {
  await api(sink, '/api/messages', { method: 'DELETE' });
  await api(sink, '/api/faults', { method: 'DELETE' });
});

async function connect(): Promise<RawSmtp> {
  const c = await RawSmtp.connect(sink.smtpPort);
  await c.reply();
  await c.command('EHLO faults.test');
  return c;
}

const msg = (id: string, run: string) => message({ 'Message-ID': `<${id}@faults.test>`, Subject: id, 'X-Mailkind-Run': run });

const attempts = async (query: string) => (await api<{ attempts: Attempt[] }>(sink, `/api/attempts?${query}`)).body.attempts;
const stats = async () => (await api<Record<string, number>>(sink, '/api/stats')).body;

describe('local-part faults', () => {
  it('tempfail-2: refused twice across reconnections, accepted the third time, every attempt recorded', async () => {
    const codes: (number | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(); // a new connection per attempt, as a retrying MTA does
      codes.push((await c.send('mta@x.test', ['tempfail-2+r1@sink.test'], msg('retry-1', 'retry')))?.code);
      c.destroy();
    }
    expect(codes).toEqual([451, 451, 250]);
    const seen = await attempts('run=retry');
    expect(seen.map((a) => [a.phase, a.code, a.attempt])).toEqual([
      ['data', 451, 1],
      ['data', 451, 2],
      ['data', 250, 3],
    ]);
    const { body } = await api<{ messages: { attempt: number }[] }>(sink, '/api/messages?run=retry');
    expect(body.messages).toEqual([expect.objectContaining({ attempt: 3 })]);
    expect(await stats()).toMatchObject({ accepted: 1, tempfailed: 2 });
  });

  it('permfail: 550, not recorded as a message', async () => {
    const c = await connect();
    const r = await c.send('mta@x.test', ['permfail@sink.test'], msg('perm', 'perm'));
    expect(r?.code).toBe(550);
    expect(r?.text).toMatch(/^5\.\d\.\d /);
    c.destroy();
    expect(await stats()).toMatchObject({ accepted: 0, rejected: 1 });
  });

  it('rcpt- variants refuse at RCPT, leaving the other recipients deliverable', async () => {
    const c = await connect();
    await c.command('MAIL FROM:<mta@x.test>');
    expect((await c.command('RCPT TO:<rcpt-tempfail@sink.test>'))?.code).toBe(451);
    expect((await c.command('RCPT TO:<rcpt-code-553@sink.test>'))?.code).toBe(553);
    expect((await c.command('RCPT TO:<ok@sink.test>'))?.code).toBe(250);
    expect((await c.command('DATA'))?.code).toBe(354);
    expect((await c.command(msg('mixed', 'rcpt') + '.'))?.code).toBe(250);
    c.destroy();
    const refused = await attempts('rcpt=rcpt-tempfail@sink.test');
    expect(refused).toEqual([expect.objectContaining({ phase: 'rcpt', code: 451, fault: 'local:rcpt-tempfail' })]);
  });

  it('slow-<ms> delays the reply to DATA, then accepts', async () => {
    const c = await connect();
    const started = performance.now();
    expect((await c.send('mta@x.test', ['slow-300@sink.test'], msg('slow', 'slow')))?.code).toBe(250);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    c.destroy();
  });

  it('a client that leaves during slow- is not counted as accepted', async () => {
    const c = await connect();
    await c.command('MAIL FROM:<mta@x.test>');
    await c.command('RCPT TO:<slow-3000@sink.test>');
    await c.command('DATA');
    c.write(msg('left', 'left') + '.\r\n');
    // the sink has the whole message once its DATA attempt is pending; then the client goes away
    await expect.poll(async () => (await stats()).delayedReplies).toBe(1);
    c.destroy();
    await expect.poll(async () => (await attempts('run=left')).map((a) => a.note), { timeout: 10_000 }).toEqual(['client left before the reply']);
    expect(await stats()).toMatchObject({ accepted: 0, aborted: 1 });
  });

  it('disconnect drops the connection without a reply; the message is not recorded', async () => {
    const c = await connect();
    const r = await c.send('mta@x.test', ['disconnect@sink.test'], msg('drop', 'drop'));
    expect(r).toBeNull();
    expect(c.closed).toBe(true);
    expect(await stats()).toMatchObject({ accepted: 0, disconnected: 1 });
  });

  it('code-421 replies 421 and closes the connection', async () => {
    const c = await connect();
    expect((await c.send('mta@x.test', ['code-421@sink.test'], msg('c421', 'c421')))?.code).toBe(421);
    await c.waitClosed();
  });

  it('nodemailer sees the refusal as an error carrying the SMTP code', async () => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: sink.smtpPort, secure: false, tls: { rejectUnauthorized: false } });
    await expect(t.sendMail({ from: 'a@x.test', to: 'code-554@sink.test', subject: 's', text: 't' })).rejects.toMatchObject({ responseCode: 554 });
  });
});

describe('runtime fault rules (PUT /api/faults)', () => {
  const put = (body: unknown) => api<{ rules: unknown[]; error?: string; details?: string[] }>(sink, '/api/faults', { method: 'PUT', body: JSON.stringify(body) });

  it('matches by domain at RCPT, by run after DATA, first rule wins', async () => {
    expect(
      (
        await put({
          rules: [
            { id: 'mx-down', match: { domain: '*.down.test' }, action: 'tempfail', phase: 'rcpt', message: 'mx is down' },
            { id: 'run-perm', match: { run: 'doomed' }, action: 'permfail' },
          ],
        })
      ).status,
    ).toBe(200);
    const c = await connect();
    await c.command('MAIL FROM:<mta@x.test>');
    const refused = await c.command('RCPT TO:<a@mx.down.test>');
    expect(refused?.code).toBe(451);
    expect(refused?.text).toMatch(/mx is down/);
    await c.command('RSET');
    expect((await c.send('mta@x.test', ['a@up.test'], msg('d1', 'doomed')))?.code).toBe(550);
    expect((await c.send('mta@x.test', ['a@up.test'], msg('d2', 'fine')))?.code).toBe(250);
    c.destroy();
    const { body } = await api<{ hits: Record<string, number> }>(sink, '/api/faults');
    expect(body.hits).toEqual({ 'mx-down': 1, 'run-perm': 1 });
  });

  it('a seeded probability gives the same outcomes in a second sink', async () => {
    const rules = { seed: 1234, rules: [{ action: 'tempfail', probability: 0.5 }] };
    const outcomes = async (target: RunningSink) => {
      await api(target, '/api/faults', { method: 'PUT', body: JSON.stringify(rules) });
      const c = await RawSmtp.connect(target.smtpPort);
      await c.reply();
      await c.command('EHLO seed.test');
      const codes = [];
      for (let i = 0; i < 40; i++) codes.push((await c.send('mta@x.test', [`u${i}@seed.test`], msg(`seed-${i}`, 'seed')))?.code);
      c.destroy();
      return codes;
    };
    const other = await startTestSink();
    try {
      const first = await outcomes(sink);
      expect(await outcomes(other)).toEqual(first);
      expect(first).toContain(250);
      expect(first).toContain(451);
    } finally {
      await other.close();
    }
  });

  it('refuses invalid rules with every problem listed, keeping the old rules', async () => {
    await put({ rules: [{ id: 'keep', action: 'slow-1' }] });
    const bad = await put({ rules: [{ action: 'explode', phase: 'rcpt', match: { run: 'x' } }] });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual(expect.arrayContaining([expect.stringMatching(/^rules\.0\.action/), expect.stringMatching(/^rules\.0\.match\.run/)]));
    const notJson = await api<{ error: string }>(sink, '/api/faults', { method: 'PUT', body: '{rules:' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatch(/not valid JSON/);
    const { body } = await api<{ rules: { id: string }[] }>(sink, '/api/faults');
    expect(body.rules.map((r) => r.id)).toEqual(['keep']);
  });

  it('loads initial rules from --faults', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'faults-')), 'faults.json');
    writeFileSync(file, JSON.stringify({ rules: [{ id: 'from-file', action: 'permfail', match: { domain: 'file.test' } }] }));
    const s = await startTestSink({ faultsFile: file });
    try {
      const { body } = await api<{ rules: { id: string }[] }>(s, '/api/faults');
      expect(body.rules.map((r) => r.id)).toEqual(['from-file']);
    } finally {
      await s.close();
    }
    writeFileSync(file, JSON.stringify({ rules: [{ action: 'nope' }] }));
    await expect(startTestSink({ faultsFile: file })).rejects.toThrow(/invalid fault rules in .*rules\.0\.action/s);
  });
});
