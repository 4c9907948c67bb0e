// Real SMTP clients against a real sink: nodemailer, raw sockets and postfix's smtp-source.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { api, startTestSink, type ApiMessage } from '../../helpers/sink.js';
import { skipWithout } from '../../helpers/prerequisites.js';
import { RawSmtp, message } from '../../helpers/smtp-client.js';


let sink: RunningSink;
beforeAll(async () => {
  sink = await startTestSink();
});
afterAll(() => sink.close());

const transport = () =>
  nodemailer.createTransport({ host: '127.0.0.1', port: sink.smtpPort, secure: false, tls: { rejectUnauthorized: false }, name: 'client.mailkind.test' });

describe('delivery over real SMTP', () => {
  it('records what nodemailer sent, with STARTTLS', async () => {
    const info = await transport().sendMail({
      from: 'Alice <alice@mailkind.test>',
      to: 'bob@example.test',
      subject: 'Grüße from the test',
      text: 'hello',
      headers: { 'X-Mailkind-Run': 'delivery-1', 'List-Id': 'Team <team.lists.mailkind.test>' },
    });
    expect(info.response).toMatch(/^250 .*queued as sink-\d+/);
    const { body } = await api<{ messages: ApiMessage[] }>(sink, '/api/messages?run=delivery-1');
    expect(body.messages).toHaveLength(1);
    const m = body.messages[0]!;
    expect(m).toMatchObject({
      mailFrom: 'alice@mailkind.test',
      rcptTo: ['bob@example.test'],
      messageId: info.messageId.replace(/[<>]/g, ''),
      subject: 'Grüße from the test',
      from: 'Alice <alice@mailkind.test>',
      listId: 'Team <team.lists.mailkind.test>',
      run: 'delivery-1',
      tls: true,
      clientAddress: '127.0.0.1',
      helo: 'client.mailkind.test',
      attempt: 1,
    });
    expect(m.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    expect(m.size).toBeGreaterThan(100);
    expect(Date.parse(m.receivedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(m.headers.find(([k]) => k.toLowerCase() === 'subject')?.[1]).toMatch(/=\?UTF-8\?/i);
  });

  it('advertises the ESMTP extensions docs/contract.md promises', async () => {
    const c = await RawSmtp.connect(sink.smtpPort);
    expect((await c.reply())?.code).toBe(220);
    const ehlo = await c.command('EHLO raw.test');
    const features = ehlo?.lines.map((l) => l.slice(4)) ?? [];
    expect(features).toEqual(expect.arrayContaining(['PIPELINING', '8BITMIME', 'SMTPUTF8', 'STARTTLS', 'ENHANCEDSTATUSCODES', `SIZE ${sink.config.maxSize}`]));
    c.destroy();
  });

  it('answers a pipelined transaction in order', async () => {
    const c = await RawSmtp.connect(sink.smtpPort);
    await c.reply();
    await c.command('EHLO pipe.test');
    c.write('MAIL FROM:<p@x.test>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n');
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await c.reply())?.code);
    expect(codes).toEqual([250, 250, 250, 354]);
    const done = await c.command(message({ Subject: 'piped', 'X-Mailkind-Run': 'pipe' }) + '.');
    expect(done?.code).toBe(250);
    const { body } = await api<{ messages: ApiMessage[] }>(sink, '/api/messages?run=pipe');
    expect(body.messages[0]?.rcptTo).toEqual(['a@x.test', 'b@x.test']);
    c.destroy();
  });

  it('accepts SMTPUTF8 addresses (nodemailer)', async () => {
    const info = await transport().sendMail({
      from: 'jürgen@bücher.test',
      to: 'zoë@例え.test',
      subject: 'utf8',
      text: 'Ünïcödé body',
      headers: { 'X-Mailkind-Run': 'utf8' },
    });
    expect(info.accepted).toHaveLength(1);
    const { body } = await api<{ messages: ApiMessage[] }>(sink, '/api/messages?run=utf8');
    expect(body.messages[0]?.mailFrom).toBe('jürgen@bücher.test');
    expect(body.messages[0]?.rcptTo).toEqual(['zoë@例え.test']);
  });

  it('keeps an 8-bit body byte for byte (BODY=8BITMIME, Content-Transfer-Encoding: 8bit)', async () => {
    // a raw session, not nodemailer: nodemailer encodes non-ASCII text as quoted-printable, so
    // the body on the wire would be 7-bit and this would prove nothing
    const own = await startTestSink({ keepBodies: true });
    try {
      const c = await RawSmtp.connect(own.smtpPort);
      await c.reply();
      expect((await c.command('EHLO eight.test'))?.lines.map((l) => l.slice(4))).toContain('8BITMIME');
      expect((await c.command('MAIL FROM:<jürgen@bücher.test> BODY=8BITMIME SMTPUTF8'))?.code).toBe(250);
      expect((await c.command('RCPT TO:<zoë@例え.test>'))?.code).toBe(250);
      expect((await c.command('DATA'))?.code).toBe(354);
      const text =
        'Subject: 8bit\r\nX-Mailkind-Run: eight-bit\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        'Content-Transfer-Encoding: 8bit\r\n\r\nÜnïcödé body: Grüße, 例え, ✓ \u00ff\u0080\r\n';
      expect((await c.command(text + '.'))?.code).toBe(250);
      c.destroy();
      const { body } = await api<{ messages: ApiMessage[] }>(own, '/api/messages?run=eight-bit');
      const id = body.messages[0]?.id;
      expect(id).toBeDefined();
      const raw = Buffer.from(await (await fetch(`${own.url}/api/messages/${id}/raw`)).arrayBuffer());
      expect(raw.equals(Buffer.from(text, 'utf8'))).toBe(true);
      expect(body.messages[0]?.size).toBe(Buffer.byteLength(text, 'utf8'));
    } finally {
      await own.close();
    }
  });

  it('serves a certificate given by path instead of generating one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sink-tls-'));
    const pems = await generate([{ name: 'commonName', value: 'given.mailkind.test' }], { keyType: 'ec', curve: 'P-256' });
    writeFileSync(join(dir, 'cert.pem'), pems.cert);
    writeFileSync(join(dir, 'key.pem'), pems.private);
    const own = await startTestSink({ tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') });
    try {
      expect(own.tls?.selfSigned).toBe(false);
      const c = await RawSmtp.connect(own.smtpPort);
      await c.reply();
      await c.command('EHLO tls.test');
      const cert = await c.starttls();
      expect(cert.subject.CN).toBe('given.mailkind.test');
      expect((await c.command('EHLO tls.test'))?.code).toBe(250);
      expect((await c.send('a@x.test', ['b@x.test'], message({ Subject: 'over tls', 'X-Mailkind-Run': 'own-cert' })))?.code).toBe(250);
      c.destroy();
      const { body } = await api<{ messages: ApiMessage[] }>(own, '/api/messages?run=own-cert');
      expect(body.messages[0]?.tls).toBe(true);
    } finally {
      await own.close();
    }
  });

  it('50 concurrent senders: every message sent is accepted, exactly once', async () => {
    const run = 'concurrent-50';
    const perSender = 10;
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, s) => {
        const t = nodemailer.createTransport({ host: '127.0.0.1', port: sink.smtpPort, secure: false, ignoreTLS: s % 2 === 0, tls: { rejectUnauthorized: false }, pool: true, maxConnections: 1 });
        let ok = 0;
        for (let i = 0; i < perSender; i++) {
          const info = await t.sendMail({ from: `s${s}@x.test`, to: `r${i}@y.test`, subject: `m ${s}/${i}`, text: 'x', headers: { 'X-Mailkind-Run': run } });
          if (info.response.startsWith('250')) ok++;
        }
        t.close();
        return ok;
      }),
    );
    const sent = results.reduce((a, b) => a + b, 0);
    expect(sent).toBe(500);
    const wait = await api<{ count: number }>(sink, `/api/messages/wait?run=${run}&count=500&timeoutMs=5000`);
    expect(wait).toEqual({ status: 200, body: expect.objectContaining({ count: 500 }) as unknown });
    const { body } = await api<{ total: number; messages: ApiMessage[] }>(sink, `/api/messages?run=${run}&limit=1000`);
    expect(body.total).toBe(500);
    expect(new Set(body.messages.map((m) => m.messageId)).size).toBe(500);
  });
});

const SMTP_SOURCE = '/usr/sbin/smtp-source';
const haveSmtpSource = existsSync(SMTP_SOURCE);
const noSmtpSource = skipWithout(
  haveSmtpSource ? undefined : { what: "test/component/sink/delivery.test.ts: postfix's smtp-source as a peer client", reason: `${SMTP_SOURCE} not found`, fix: 'apt-get install --no-install-recommends postfix (.ci/run does)' },
);

describe.skipIf(noSmtpSource)("postfix's smtp-source as a peer client", () => {
  it('delivers 2,000 messages over 20 sessions, counted exactly', async () => {
    await api(sink, '/api/messages', { method: 'DELETE' });
    await promisify(execFile)(SMTP_SOURCE, ['-s', '20', '-m', '2000', '-l', '1024', '-d', '-f', 'src@x.test', '-t', 'dst@y.test', `127.0.0.1:${sink.smtpPort}`], { timeout: 60_000 });
    const { body } = await api<{ accepted: number; rejected: number; tempfailed: number; aborted: number }>(sink, '/api/stats');
    expect(body).toMatchObject({ accepted: 2000, rejected: 0, tempfailed: 0, aborted: 0 });
  });
});
