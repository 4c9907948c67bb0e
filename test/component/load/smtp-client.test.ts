// The load generator's SMTP client against real servers: the project's sink (PIPELINING,
// STARTTLS, fault addresses) and postfix's smtp-sink made to refuse, drop and close on purpose.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostfixSink, type Peer } from '../../../bench/lib/peers.js';
import { findProgram } from '../../../bench/lib/setup.js';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { encodeMessage, SmtpClientError, SmtpConnection, type Outgoing, type TransactionResult } from '../../../scripts/lib/load/smtp-client.js';
import { api, startTestSink, type ApiMessage } from '../../helpers/sink.js';

const FROM = 'load@mailkind.test';
const message = (run: string, body = 'hello\r\n') => `Subject: t\r\nMessage-ID: <${run}.${Math.random()}@t.test>\r\nX-Mailkind-Run: ${run}\r\n\r\n${body}`;

async function failure(p: Promise<unknown>): Promise<SmtpClientError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SmtpClientError) return e;
    throw e;
  }
  throw new Error('did not fail');
}

describe('SMTP client against the sink', () => {
  let sink: RunningSink;
  const open = (starttls = false) => SmtpConnection.open({ host: '127.0.0.1', port: sink.smtpPort, starttls, timeoutMs: 5_000 });

  beforeAll(async () => {
    sink = await startTestSink({ keepBodies: true });
  });
  afterAll(() => sink.close());

  it('pipelines a transaction; dot-stuffing round-trips (the sink records the lines as written)', async () => {
    const conn = await open();
    expect(conn.capabilities).toMatchObject({ esmtp: true, pipelining: true, starttls: true });
    const body = '.leading dot\r\n..two dots\r\n.\r\nend without newline';
    const r = await conn.send(FROM, ['bob@example.test'], message('dots', body));
    expect(r).toMatchObject({ accepted: true, code: 250, phase: 'message', rcptCodes: [250] });
    await conn.close();
    const { body: list } = await api<{ messages: ApiMessage[] }>(sink, '/api/messages?run=dots');
    const raw = await (await fetch(`${sink.url}/api/messages/${list.messages[0]?.id}/raw`)).text();
    expect(raw.endsWith('.leading dot\r\n..two dots\r\n.\r\nend without newline\r\n')).toBe(true);
  });

  it('refusals at RCPT and after DATA; the connection goes on after each (RSET)', async () => {
    const conn = await open();
    const send = (to: string[]) => conn.send(FROM, to, message('refusals'));
    const results: TransactionResult[] = [];
    for (const to of [['rcpt-tempfail@x.test'], ['rcpt-permfail@x.test'], ['permfail@x.test'], ['tempfail@x.test'], ['bob@x.test', 'rcpt-permfail@x.test'], ['ok@x.test']]) {
      results.push(await send(to));
    }
    expect(results.map((r) => [r.phase, r.code, r.accepted, r.rcptCodes])).toEqual([
      ['rcpt', 451, false, [451]],
      ['rcpt', 550, false, [550]],
      ['message', 550, false, [250]],
      ['message', 451, false, [250]],
      ['message', 250, true, [250, 550]],
      ['message', 250, true, [250]],
    ]);
    expect(conn.usable).toBe(true);
    await conn.close();
    const stats = (await api<{ accepted: number }>(sink, '/api/stats')).body;
    const { body } = await api<{ total: number }>(sink, '/api/messages?run=refusals');
    expect(body.total).toBe(2);
    expect(stats.accepted).toBeGreaterThanOrEqual(2);
  });

  it('a 421 after DATA: the result says the connection is closed; a dropped connection is an error', async () => {
    const conn = await open();
    const r = await conn.send(FROM, ['code-421@x.test'], message('closing'));
    expect(r).toMatchObject({ accepted: false, code: 421, closed: true });
    expect(conn.usable).toBe(false);
    await conn.close();

    const again = await open();
    const e = await failure(again.send(FROM, ['disconnect@x.test'], message('closing')));
    expect(e.kind).toBe('closed');
    expect(again.usable).toBe(false);
    again.destroy();
  });

  it('a 421 at RCPT ends the transaction as a refusal, not an error', async () => {
    const conn = await open();
    const r = await conn.send(FROM, ['bob@x.test', 'rcpt-code-421@x.test'], message('closing-rcpt'));
    expect(r).toMatchObject({ accepted: false, code: 421, closed: true });
    conn.destroy();
  });

  it('STARTTLS: the session upgrades, EHLO again, the sink records TLS', async () => {
    const conn = await open(true);
    expect(conn.secure).toBe(true);
    expect(conn.capabilities.starttls).toBe(false); // not offered twice
    expect(await conn.send(FROM, ['bob@x.test'], message('tls'))).toMatchObject({ accepted: true });
    await conn.close();
    const { body } = await api<{ messages: ApiMessage[] }>(sink, '/api/messages?run=tls');
    expect(body.messages[0]?.tls).toBe(true);
  });

  it('stream(): 300 messages back to back on one connection, content and next envelope in one write', async () => {
    const conn = await open();
    const data = encodeMessage(message('stream'));
    const queue: Outgoing[] = Array.from({ length: 300 }, (_, i) => ({ from: FROM, recipients: [`r${i}@x.test`], wire: [data], size: data.length }));
    const results: [string, number][] = [];
    const end = await conn.stream({ poll: () => queue.shift(), next: () => Promise.resolve(queue.shift()) }, (m, r) =>
      results.push([m.recipients[0] ?? '', r instanceof SmtpClientError ? -1 : r.code]),
    );
    expect(end).toEqual({ ok: true });
    expect(results).toHaveLength(300);
    expect(results.every(([, code]) => code === 250)).toBe(true);
    expect(results.map(([r]) => r)).toEqual(Array.from({ length: 300 }, (_, i) => `r${i}@x.test`));
    await conn.close();
    const { body } = await api<{ total: number }>(sink, '/api/messages?run=stream');
    expect(body.total).toBe(300);
  });

  it('a refusal in the middle of a stream: the next message still goes out (RSET pipelined with it)', async () => {
    const conn = await open();
    const data = encodeMessage(message('stream-mixed'));
    const to = ['a@x.test', 'rcpt-permfail@x.test', 'b@x.test', 'permfail@x.test', 'c@x.test'];
    const queue: Outgoing[] = to.map((r) => ({ from: FROM, recipients: [r], wire: [data], size: data.length }));
    const codes: number[] = [];
    const end = await conn.stream({ poll: () => queue.shift(), next: () => Promise.resolve(queue.shift()) }, (_, r) => codes.push(r instanceof SmtpClientError ? -1 : r.code));
    expect(end.ok).toBe(true);
    expect(codes).toEqual([250, 550, 250, 550, 250]);
    await conn.close();
  });

  it('nothing listening: a connect error', async () => {
    const e = await failure(SmtpConnection.open({ host: '127.0.0.1', port: 1, timeoutMs: 2_000 }));
    expect(e.kind).toBe('connect');
    expect(e.message).toMatch(/cannot connect to 127\.0\.0\.1:1: ECONNREFUSED/);
  });
});

const postfixSink = findProgram('smtp-sink');
if (!postfixSink) console.warn("skipping the SMTP client's postfix smtp-sink tests: smtp-sink is missing (apt-get install postfix; .ci/run does)");

describe.skipIf(!postfixSink)("SMTP client against postfix's smtp-sink", () => {
  const variants = {
    plain: [],
    noPipelining: ['-p'],
    heloOnly: ['-e'],
    refuseMail: ['-f', 'mail'],
    softRcpt: ['-r', 'rcpt'],
    refuseData: ['-f', 'data'],
    refuseDot: ['-f', '.'],
    dropAtRcpt: ['-q', 'rcpt'],
    closeAtMail: ['-Q', 'mail'],
  } as const;
  const peers: Partial<Record<keyof typeof variants, Peer>> = {};
  beforeAll(async () => {
    await Promise.all(Object.entries(variants).map(async ([k, flags]) => (peers[k as keyof typeof variants] = await startPostfixSink({ bin: postfixSink ?? '', flags }))));
  });
  afterAll(async () => {
    await Promise.all(Object.values(peers).map((p) => p.stop()));
  });
  const open = (k: keyof typeof variants) => SmtpConnection.open({ host: '127.0.0.1', port: peers[k]?.smtpPort ?? 0, timeoutMs: 5_000 });
  const one = async (k: keyof typeof variants, to = ['bob@x.test']) => {
    const conn = await open(k);
    try {
      return { conn, result: await conn.send(FROM, to, message(k)) };
    } finally {
      conn.destroy();
    }
  };

  it('pipelined stream of 500 messages, 3 recipients each', async () => {
    const conn = await open('plain');
    expect(conn.capabilities.pipelining).toBe(true);
    const data = encodeMessage(message('plain'));
    let left = 500;
    const next = (): Outgoing | undefined => (left-- > 0 ? { from: FROM, recipients: ['a@x.test', 'b@x.test', 'c@x.test'], wire: [data], size: data.length } : undefined);
    const results: (TransactionResult | SmtpClientError)[] = [];
    expect(await conn.stream({ poll: next, next: () => Promise.resolve(next()) }, (_, r) => results.push(r))).toEqual({ ok: true });
    expect(results).toHaveLength(500);
    expect(results.every((r) => !(r instanceof SmtpClientError) && r.accepted && r.rcptCodes.join() === '250,250,250')).toBe(true);
    await conn.close();
  });

  it('without PIPELINING, and with plain SMTP (HELO): one command at a time, still delivered', async () => {
    for (const k of ['noPipelining', 'heloOnly'] as const) {
      const { conn, result } = await one(k, ['a@x.test', 'b@x.test']);
      expect(conn.capabilities.pipelining).toBe(false);
      expect(result).toMatchObject({ accepted: true, code: 250, rcptCodes: [250, 250] });
    }
  });

  it('refusals at MAIL (5xx), RCPT (4xx), DATA (5xx) and after the content (5xx)', async () => {
    expect((await one('refuseMail')).result).toMatchObject({ accepted: false, phase: 'mail', code: 500 });
    expect((await one('softRcpt')).result).toMatchObject({ accepted: false, phase: 'rcpt', code: 450, rcptCodes: [450] });
    expect((await one('refuseData')).result).toMatchObject({ accepted: false, phase: 'data', code: 500 });
    expect((await one('refuseDot')).result).toMatchObject({ accepted: false, phase: 'message', code: 500 });
  });

  it('after a refusal the same connection sends the next message (RSET)', async () => {
    const conn = await open('softRcpt');
    for (let i = 0; i < 3; i++) expect((await conn.send(FROM, ['a@x.test'], message('again'))).code).toBe(450);
    expect(conn.usable).toBe(true);
    await conn.close();
  });

  it('a server that drops the connection at RCPT: an error, the connection unusable', async () => {
    const conn = await open('dropAtRcpt');
    const e = await failure(conn.send(FROM, ['a@x.test'], message('drop')));
    expect(e.kind).toBe('closed');
    expect(conn.usable).toBe(false);
  });

  it('a server that answers MAIL with 421 and closes: a 4xx refusal that closes the connection', async () => {
    const { conn, result } = await one('closeAtMail');
    expect(result).toMatchObject({ accepted: false, code: 421, closed: true });
    expect(conn.usable).toBe(false);
  });
});
