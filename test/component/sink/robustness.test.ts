// Hostile and broken clients: every case gets an SMTP reply (or a clean close), the sink stays up,
// and `accepted` equals exactly the messages that got a 250 after DATA.
import net from 'node:net';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { api, startTestSink } from '../../helpers/sink.js';
import { RawSmtp, message } from '../../helpers/smtp-client.js';

let sink: RunningSink;
/** 250 replies to the end of DATA that this file's clients saw; the sink must count exactly these. */
let got250 = 0;

beforeAll(async () => {
  sink = await startTestSink({ maxSize: 100 * 1024, maxRecipients: 1000, maxMessages: 500, maxAttempts: 2000 });
});
afterAll(() => sink.close());

async function connect(): Promise<RawSmtp> {
  const c = await RawSmtp.connect(sink.smtpPort);
  expect((await c.reply())?.code).toBe(220);
  expect((await c.command('EHLO hostile.test'))?.code).toBe(250);
  return c;
}

async function sendOk(run: string): Promise<void> {
  const c = await connect();
  const r = await c.send('ok@x.test', ['ok@y.test'], message({ Subject: 'still alive', 'X-Mailkind-Run': run }));
  expect(r?.code).toBe(250);
  got250++;
  c.destroy();
}

const stats = async () => (await api<Record<string, number>>(sink, '/api/stats')).body;

describe('bad input gets an SMTP error, never a crash', () => {
  it('malformed and out-of-order commands', async () => {
    const c = await connect();
    expect((await c.command('RCPT TO:<a@x.test>'))?.code).toBe(503); // before MAIL
    expect((await c.command('DATA'))?.code).toBe(503);
    expect((await c.command('MAIL FROM:<<<>>>'))?.code).toBeGreaterThanOrEqual(500);
    expect((await c.command('MAIL FROM'))?.code).toBeGreaterThanOrEqual(500);
    expect((await c.command('FOO BAR'))?.code).toBe(500);
    expect((await c.command('\u0000\u0001\u0002'))?.code).toBeGreaterThanOrEqual(500);
    expect((await c.command('MAIL FROM:<a@x.test> SIZE=abc'))?.code).toBeGreaterThanOrEqual(500);
    c.destroy();
    await sendOk('after-malformed');
  });

  it('invalid addresses are refused at MAIL/RCPT', async () => {
    const c = await connect();
    expect((await c.command('MAIL FROM:<a@x.test>'))?.code).toBe(250);
    for (const bad of ['<not an address>', '<@>', '<a@>', '<a@b@c>', 'nobrackets@x.test trailing', '<a@[999.1.1.1]>']) {
      expect((await c.command(`RCPT TO:${bad}`))?.code, bad).toBeGreaterThanOrEqual(500);
    }
    c.destroy();
  });

  it('a 200 KB command line', async () => {
    const c = await connect();
    const r = await c.command('MAIL FROM:<' + 'a'.repeat(200 * 1024) + '@x.test>');
    expect(r).toMatchObject({ code: 421, text: expect.stringMatching(/Command line too long/) as unknown });
    await c.waitClosed();
    await sendOk('after-long-line');
  });

  it('thousands of recipients: the first maxRecipients accepted, the rest 452, the message recorded once', async () => {
    const c = await connect();
    await c.command('MAIL FROM:<bulk@x.test>');
    c.write(Array.from({ length: 3000 }, (_, i) => `RCPT TO:<r${i}@bulk.test>\r\n`).join(''));
    const codes: number[] = [];
    for (let i = 0; i < 3000; i++) codes.push((await c.reply())?.code ?? 0);
    expect(codes.filter((x) => x === 250)).toHaveLength(1000);
    expect(codes.filter((x) => x === 452)).toHaveLength(2000);
    expect((await c.command('DATA'))?.code).toBe(354);
    expect((await c.command(message({ Subject: 'bulk', 'X-Mailkind-Run': 'bulk' }) + '.'))?.code).toBe(250);
    got250++;
    c.destroy();
    const { body } = await api<{ messages: { rcptTo: string[] }[] }>(sink, '/api/messages?run=bulk');
    expect(body.messages).toHaveLength(1);
    expect(body.messages[0]?.rcptTo).toHaveLength(1000);
  });

  it('a message far over the size limit: 552, not recorded', async () => {
    const before = await stats();
    const c = await connect();
    const big = message({ Subject: 'huge', 'X-Mailkind-Run': 'huge' }, ('x'.repeat(998) + '\r\n').repeat(5 * 1024)); // ~5 MB
    const r = await c.send('big@x.test', ['a@y.test'], big);
    expect(r?.code).toBe(552);
    c.destroy();
    // declared up front with SIZE=: refused at MAIL, before any data moves
    const d = await connect();
    expect((await d.command('MAIL FROM:<big@x.test> SIZE=5000000'))?.code).toBe(552);
    d.destroy();
    const after = await stats();
    expect(after.accepted).toBe(before.accepted);
    expect(after.oversized).toBe((before.oversized ?? 0) + 1);
    expect((await api<{ total: number }>(sink, '/api/messages?run=huge')).body.total).toBe(0);
  });

  it('a client that disconnects mid-DATA: not recorded, counted as aborted', async () => {
    const before = await stats();
    const c = await connect();
    await c.command('MAIL FROM:<half@x.test>');
    await c.command('RCPT TO:<a@y.test>');
    expect((await c.command('DATA'))?.code).toBe(354);
    c.write('Subject: half\r\nX-Mailkind-Run: half\r\n\r\nthe first half of the bo');
    c.destroy();
    await expect.poll(async () => (await stats()).aborted).toBe((before.aborted ?? 0) + 1);
    expect((await stats()).accepted).toBe(before.accepted);
    expect((await api<{ total: number }>(sink, '/api/messages?run=half')).body.total).toBe(0);
  });

  it('hundreds of idle connections: new clients are still served', async () => {
    const idle = await Promise.all(Array.from({ length: 300 }, () => RawSmtp.connect(sink.smtpPort)));
    await Promise.all(idle.map((c) => c.reply()));
    expect((await stats()).activeConnections).toBeGreaterThanOrEqual(300);
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: sink.smtpPort, secure: false, tls: { rejectUnauthorized: false } });
    const info = await t.sendMail({ from: 'a@x.test', to: 'b@y.test', subject: 'crowded', text: 'x', headers: { 'X-Mailkind-Run': 'crowded' } });
    expect(info.response).toMatch(/^250/);
    got250++;
    for (const c of idle) c.destroy();
    await expect.poll(async () => (await stats()).activeConnections).toBe(0);
  });

  it('past maxClients a new connection gets 421 at once', async () => {
    const small = await startTestSink({ maxClients: 20 });
    try {
      const held = await Promise.all(Array.from({ length: 20 }, () => RawSmtp.connect(small.smtpPort)));
      await Promise.all(held.map((c) => c.reply()));
      const extra = await RawSmtp.connect(small.smtpPort);
      expect((await extra.reply())?.code).toBe(421);
      await extra.waitClosed();
      held.forEach((c) => c.destroy());
      // refused connections must not unbalance the count of open ones
      await expect.poll(async () => (await api<{ activeConnections: number }>(small, '/api/stats')).body.activeConnections).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('an idle client is disconnected after the idle timeout', async () => {
    const quick = await startTestSink({ idleTimeoutMs: 200 });
    try {
      const c = await RawSmtp.connect(quick.smtpPort);
      await c.reply();
      expect((await c.reply())?.code).toBe(421); // "Timeout - closing connection"
      await c.waitClosed();
    } finally {
      await quick.close();
    }
  });

  it('TLS garbage after STARTTLS and a reset socket do not disturb others', async () => {
    const c = await connect();
    expect((await c.command('STARTTLS'))?.code).toBe(220);
    c.write(Buffer.from('this is not a TLS ClientHello\r\n'));
    await c.waitClosed();
    const s = net.connect(sink.smtpPort, '127.0.0.1');
    await new Promise((resolve) => s.once('connect', resolve));
    s.resetAndDestroy();
    await sendOk('after-tls-garbage');
  });

  it('after all of it: alive, bounded, and accepted == every 250 after DATA', async () => {
    const s = await stats();
    expect(s.accepted).toBe(got250);
    const health = await api(sink, '/healthz');
    expect(health.status).toBe(200);
    const st = (await api<{ stored: { messages: number; attempts: number } }>(sink, '/api/stats')).body.stored;
    expect(st.messages).toBeLessThanOrEqual(500);
    expect(st.attempts).toBeLessThanOrEqual(2000);
  });
});
