// The sink's HTTP API at its edges (issue 16), over real HTTP: list limits of 0, an empty PUT body,
// an oversized body while the client is still sending, the headers timeout, the dashboard cap.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultEngine } from '../../../sinks/smtp-sink/src/faults/engine.js';
import { EventHub, MAX_EVENT_CLIENTS } from '../../../sinks/smtp-sink/src/http/events.js';
import { createHttpServer, MAX_BODY } from '../../../sinks/smtp-sink/src/http/server.js';
import { createMetrics } from '../../../sinks/smtp-sink/src/metrics.js';
import { SinkStore } from '../../../sinks/smtp-sink/src/record/store.js';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { api, startTestSink } from '../../helpers/sink.js';
import { RawSmtp, message } from '../../helpers/smtp-client.js';

let sink: RunningSink;
beforeAll(async () => {
  sink = await startTestSink();
});
afterAll(() => sink.close());

async function send(rcpt: string, subject: string): Promise<number | undefined> {
  const c = await RawSmtp.connect(sink.smtpPort);
  await c.reply();
  await c.command('EHLO edges.test');
  const r = await c.send('sender@edges.test', [rcpt], message({ Subject: subject, 'X-Mailkind-Run': 'edges' }));
  c.destroy();
  return r?.code;
}

interface RawAnswer {
  head: string;
  body: string;
  /** how the connection ended: 'end' (FIN from the server) or the socket error code */
  ended: string;
}

/**
 * Sends a request by hand over a socket, the body in 64 KiB writes as fast as the socket takes
 * them, and reads the answer until the server closes. `chunked` leaves Content-Length out.
 */
function rawRequest(port: number, method: string, path: string, bodyBytes: number, chunked = false): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let received = '';
    let writeError: string | null = null;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    const finish = (ended: string) => {
      const [head = '', body = ''] = received.split('\r\n\r\n');
      resolve({ head, body, ended: writeError && ended === 'end' ? `end after ${writeError}` : ended });
    };
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!received) finish(e.code ?? e.message);
      else writeError = e.code ?? e.message;
    });
    socket.on('close', () => finish(writeError ?? 'end'));
    const writeAll = async () => {
      const framing = chunked ? 'transfer-encoding: chunked' : `content-length: ${bodyBytes}`;
      socket.write(`${method} ${path} HTTP/1.1\r\nhost: sink\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`);
      const piece = Buffer.alloc(64 * 1024, 0x20);
      for (let sent = 0; sent < bodyBytes && !socket.destroyed; sent += piece.length) {
        const n = Math.min(piece.length, bodyBytes - sent);
        const data = chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece.subarray(0, n), Buffer.from('\r\n')]) : piece.subarray(0, n);
        if (!socket.write(data)) await new Promise((r) => socket.once('drain', r));
      }
      if (chunked && !socket.destroyed) socket.write('0\r\n\r\n');
    };
    socket.on('connect', () => void writeAll());
  });
}

describe('list routes return at most limit items', () => {
  it('limit=0 returns none on /api/messages and /api/attempts; limit=1 the newest one', async () => {
    expect(await send('tempfail@edges.test', 'refused')).toBe(451);
    expect(await send('ok@edges.test', 'accepted')).toBe(250);
    const attempts0 = await api<{ count: number; attempts: unknown[] }>(sink, '/api/attempts?limit=0');
    expect(attempts0.body).toEqual({ count: 0, attempts: [] });
    const messages0 = await api<{ count: number; total: number }>(sink, '/api/messages?limit=0');
    expect(messages0.body).toMatchObject({ count: 0, total: 1 });
    const attempts1 = await api<{ attempts: { code: number }[] }>(sink, '/api/attempts?limit=1');
    expect(attempts1.body.attempts.map((a) => a.code)).toEqual([250]);
    const all = await api<{ count: number }>(sink, '/api/attempts');
    expect(all.body.count).toBe(2);
  });
});

describe('PUT /api/faults with an empty body', () => {
  it('is refused with 400 and the rules stay (clearing is DELETE)', async () => {
    const rules = { rules: [{ id: 'keep-me', action: 'tempfail', match: { domain: 'keep.test' } }] };
    expect((await api(sink, '/api/faults', { method: 'PUT', body: JSON.stringify(rules) })).status).toBe(200);
    for (const body of ['', '  \r\n']) {
      const r = await api<{ error: string }>(sink, '/api/faults', { method: 'PUT', body });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/body is empty.*DELETE/);
    }
    const after = await api<{ rules: { id: string }[] }>(sink, '/api/faults');
    expect(after.body.rules.map((r) => r.id)).toEqual(['keep-me']);
    expect((await api<{ rules: unknown[] }>(sink, '/api/faults', { method: 'DELETE' })).body.rules).toEqual([]);
  });
});

describe('a body over the 1 MiB limit', () => {
  it('gets 413 and a closed connection while the client is still sending (declared length)', async () => {
    // 12 MiB: more than loopback's socket buffers hold, so the client is still writing at the answer
    const r = await rawRequest(sink.httpPort, 'PUT', '/api/faults', 12 * MAX_BODY);
    expect(r.head).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.head.toLowerCase()).toContain('connection: close');
    expect(JSON.parse(r.body)).toMatchObject({ limit: MAX_BODY });
    expect(r.ended).toBe('end');
  });

  it('gets 413 and a closed connection with a chunked body of unknown length', async () => {
    const r = await rawRequest(sink.httpPort, 'PUT', '/api/faults', 12 * MAX_BODY, true);
    expect(r.head).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.head.toLowerCase()).toContain('connection: close');
    expect(r.ended).toBe('end');
  });

  it('fetch sees the 413 too, and a body of exactly the limit is read', async () => {
    const over = await api<{ error: string }>(sink, '/api/faults', { method: 'PUT', body: ' '.repeat(MAX_BODY + 1) });
    expect(over.status).toBe(413);
    expect(over.body.error).toMatch(/over the limit of 1048576 bytes/);
    const doc = JSON.stringify({ rules: [] });
    const atLimit = await api(sink, '/api/faults', { method: 'PUT', body: doc + ' '.repeat(MAX_BODY - doc.length) });
    expect(atLimit.status).toBe(200);
  });
});

describe('more than 1000 fault rules', () => {
  it('are refused with 400, naming the limit', async () => {
    const rules = Array.from({ length: 1001 }, (_, i) => ({ id: `r${i}`, action: 'tempfail' }));
    const r = await api<{ details: string[] }>(sink, '/api/faults', { method: 'PUT', body: JSON.stringify({ rules }) });
    expect(r.status).toBe(400);
    expect(r.body.details.join(' ')).toMatch(/rules.*1000/);
    const ok = await api(sink, '/api/faults', { method: 'PUT', body: JSON.stringify({ rules: rules.slice(0, 1000) }) });
    expect(ok.status).toBe(200);
    await api(sink, '/api/faults', { method: 'DELETE' });
  });
});

describe('live dashboards beyond the cap', () => {
  it(`get 503 with retry-after once ${MAX_EVENT_CLIENTS} event streams are open`, async () => {
    const ctrl = new AbortController();
    try {
      const open = await Promise.all(Array.from({ length: MAX_EVENT_CLIENTS }, () => fetch(sink.url + '/api/events', { signal: ctrl.signal })));
      expect(open.every((r) => r.status === 200)).toBe(true);
      const refused = await fetch(sink.url + '/api/events');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('10');
      expect(((await refused.json()) as { error: string }).error).toMatch(/too many live dashboards/);
    } finally {
      ctrl.abort();
    }
  });
});

describe('the headers timeout', () => {
  it('answers 408 and closes a client that never finishes its headers', async () => {
    // the same server the sink runs, with the timeout shortened so the test takes a second
    const store = new SinkStore({ maxMessages: 10, maxAttempts: 10, bodyBudget: 0 });
    const faults = new FaultEngine(100);
    const events = new EventHub(store, faults);
    const server = createHttpServer({ store, faults, metrics: createMetrics(store), events, isReady: () => true, timeouts: { headersMs: 300, requestMs: 600, checkMs: 100 } });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const answer = await new Promise<string>((resolve) => {
        const s = net.connect({ port, host: '127.0.0.1' }, () => s.write('GET /api/stats HTTP/1.1\r\nhost: sink\r\n'));
        let got = '';
        s.setEncoding('utf8');
        s.on('data', (d: string) => (got += d));
        s.on('error', () => {});
        s.on('close', () => resolve(got));
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      events.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
