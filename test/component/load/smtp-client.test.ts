// The load generator's SMTP client against real servers: the project's sink (PIPELINING,
// STARTTLS, fault addresses) and postfix's smtp-sink made to refuse, drop and close on purpose.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostfixSink, type Peer } from '../../../bench/lib/peers.js';
import { findProgram } from '../../../bench/lib/setup.js';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { encodeMessage, SmtpClientError, SmtpConnection, type Outgoing, type TransactionResult } from '../../../scripts/lib/load/smtp-client.js';
import { api, startTestSink, type ApiMessage } from '../../helpers/sink.js';
import { skipWithout } from '../../helpers/prerequisites.js';

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

  it('a transaction through the sink: dot-stuffing round-trips (the sink records the lines as written)', async () => {
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

  it('stream(): 300 messages back to back on one connection, each recorded once and in order', async () => {
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

/**
 * A scripted SMTP server on a raw socket that makes pipelining observable: the replies to MAIL and
 * RCPT are held back until DATA has arrived, and the reply to a message's end-of-data is held back
 * until the next message's DATA has arrived (except for the last of `messages`). A client that
 * waits for a reply before sending the next command never gets one and times out.
 */
async function withholdingServer(messages: number): Promise<{ port: number; received: string[]; close: () => Promise<void> }> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setEncoding('latin1');
    let buffer = '';
    let inData = false;
    let delivered = 0;
    let held: string[] = [];
    const reply = (...lines: string[]) => socket.write(lines.map((l) => `${l}\r\n`).join(''));
    socket.write('220 withholding.test ESMTP\r\n');
    socket.on('data', (chunk: string) => {
      received.push(chunk);
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (inData) {
          if (line !== '.') continue;
          inData = false;
          delivered++;
          held.push(`250 2.0.0 message ${delivered} queued`);
          if (delivered >= messages) reply(...held.splice(0));
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') reply('250-withholding.test', '250 PIPELINING');
        else if (verb === 'MAIL' || verb === 'RCPT') held.push('250 2.1.0 ok');
        else if (verb === 'DATA') {
          reply(...held.splice(0), '354 go ahead');
          inData = true;
        } else if (verb === 'QUIT') {
          reply(...held.splice(0), '221 bye');
          socket.end();
        } else reply(...held.splice(0), '250 ok');
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      held = [];
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Counts the writes a client socket hands to the OS (net.Socket's _write for one buffer, _writev
 * for a corked batch: node lib/net.js, both end in _writeGeneric, one libuv write each) for
 * sockets connected to `port`, while `fn` runs.
 */
async function countWrites<T>(port: number, fn: () => Promise<T>): Promise<{ result: T; writes: string[] }> {
  const proto = net.Socket.prototype as unknown as Record<'_write' | '_writev', (this: net.Socket, ...args: unknown[]) => void>;
  const original = { _write: proto._write, _writev: proto._writev };
  const writes: string[] = [];
  const text = (chunk: unknown) => (Buffer.isBuffer(chunk) ? chunk.toString('latin1') : String(chunk));
  proto._write = function (this: net.Socket, ...args: unknown[]) {
    if (this.remotePort === port) writes.push(text(args[0]));
    original._write.apply(this, args);
  };
  proto._writev = function (this: net.Socket, ...args: unknown[]) {
    if (this.remotePort === port) writes.push((args[0] as { chunk: unknown }[]).map((c) => text(c.chunk)).join(''));
    original._writev.apply(this, args);
  };
  try {
    return { result: await fn(), writes };
  } finally {
    Object.assign(proto, original);
  }
}

describe('SMTP client pipelining, observed by a server that withholds replies', () => {
  it('pipelines MAIL, every RCPT and DATA: no reply is given until DATA is in, and the transaction completes', async () => {
    const server = await withholdingServer(1);
    try {
      const conn = await SmtpConnection.open({ host: '127.0.0.1', port: server.port, timeoutMs: 2_000 });
      expect(conn.capabilities.pipelining).toBe(true);
      const r = await conn.send(FROM, ['a@x.test', 'b@x.test'], message('withheld'));
      expect(r).toMatchObject({ accepted: true, code: 250, rcptCodes: [250, 250] });
      await conn.close();
      expect(server.received.join('')).toContain('MAIL FROM:<load@mailkind.test>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n');
    } finally {
      await server.close();
    }
  });

  it('stream(): a message and the next envelope go out in one write, before the reply to the message', async () => {
    const n = 20;
    const server = await withholdingServer(n);
    try {
      const conn = await SmtpConnection.open({ host: '127.0.0.1', port: server.port, timeoutMs: 2_000 });
      const data = encodeMessage(message('one-write'));
      const queue: Outgoing[] = Array.from({ length: n }, (_, i) => ({ from: FROM, recipients: [`r${i}@x.test`], wire: [data], size: data.length }));
      const codes: number[] = [];
      const { result: end, writes } = await countWrites(server.port, () =>
        conn.stream({ poll: () => queue.shift(), next: () => Promise.resolve(queue.shift()) }, (_, r) => codes.push(r instanceof SmtpClientError ? -1 : r.code)),
      );
      expect(end).toEqual({ ok: true });
      expect(codes).toEqual(Array.from({ length: n }, () => 250));
      // the first envelope alone, then per message: its content and the next envelope together,
      // the last content alone; n + 1 writes in all
      expect(writes).toHaveLength(n + 1);
      expect(writes[0]).toBe('MAIL FROM:<load@mailkind.test>\r\nRCPT TO:<r0@x.test>\r\nDATA\r\n');
      for (let i = 1; i < n; i++) expect(writes[i]).toBe(`${data.toString('latin1')}MAIL FROM:<load@mailkind.test>\r\nRCPT TO:<r${i}@x.test>\r\nDATA\r\n`);
      expect(writes[n]).toBe(data.toString('latin1'));
      await conn.close();
    } finally {
      await server.close();
    }
  });
});

const postfixSink = findProgram('smtp-sink');
const noPostfixSink = skipWithout(
  postfixSink ? undefined : { what: "test/component/load/smtp-client.test.ts: the SMTP client against postfix's smtp-sink", reason: 'smtp-sink not found (PATH, /usr/sbin)', fix: 'apt-get install --no-install-recommends postfix (.ci/run does)' },
);

describe.skipIf(noPostfixSink)("SMTP client against postfix's smtp-sink", () => {
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

  it('a stream of 500 messages, 3 recipients each, to a server that offers PIPELINING', async () => {
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
