// scripts/lib/clients/kumo-inject.ts over real HTTP, against a STAND-IN for kumod: a node:http
// server on loopback that answers the way KumoMTA's docs and sources say /api/inject/v1 answers
// (test/unit/clients/kumo-inject-v1.schema.ts). It is not KumoMTA; it checks what the client
// sends and lets the tests choose the answer: success, auth refusals, error bodies, silence.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClientError } from '../../../scripts/lib/clients/http.js';
import { inject, injectBatched, type InjectMessage } from '../../../scripts/lib/clients/kumo-inject.js';
import { DOCUMENTED_ERRORS, injectV1RequestSchema } from '../../unit/clients/kumo-inject-v1.schema.js';

const ajv = new Ajv({ allErrors: true, strictRequired: false });
ajv.addFormat('email', /^[^\s@<>]+@[^\s@<>]+$/);
const validRequest = ajv.compile(injectV1RequestSchema);

const USER = 'mailkind';
const PASSWORD = 'Stand-in-Pass-0123456789';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: { recipients: { email: string }[] } & Record<string, unknown>;
  socket: Socket;
}

type Answer = (req: Seen, res: ServerResponse) => void;

/** kumod's behaviour in brief: basic auth first, then the JSON body, then one message per recipient. */
const kumodLike: Answer = (req, res) => {
  const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  if (req.headers.authorization !== expected) {
    const { status, body } = req.headers.authorization ? DOCUMENTED_ERRORS.wrongPassword : DOCUMENTED_ERRORS.noCredentials;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    return;
  }
  const n = req.body.recipients.length;
  if (req.headers['content-type'] !== 'application/json' || !validRequest(req.body)) {
    res.writeHead(422, { 'content-type': 'text/plain' }).end(`Failed to deserialize the JSON body: ${JSON.stringify(validRequest.errors)}`);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success_count: n, fail_count: 0, failed_recipients: [], errors: [] }));
};

let server: Server;
let baseUrl: string;
let answer: Answer = kumodLike;
const seen: Seen[] = [];
let inFlight = 0;
let maxInFlight = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Seen['body'];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Seen['body'];
      } catch {
        body = { recipients: [] };
      }
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, socket: req.socket };
      seen.push(s);
      // a little latency, so concurrent requests overlap
      setTimeout(() => answer(s, res), 20);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  answer = kumodLike;
  seen.length = 0;
  maxInFlight = 0;
});

const msg: InjectMessage = { from: 'sender@e2e.mailkind.test', recipients: ['a@e2e.mailkind.test', 'b@e2e.mailkind.test'], subject: 's', text: 't', run: 'standin' };
const endpoint = (): { baseUrl: string; username: string; password: string } => ({ baseUrl, username: USER, password: PASSWORD });

async function failure(p: Promise<unknown>): Promise<ClientError> {
  const e = await p.then(() => null, (err: unknown) => err);
  if (!(e instanceof ClientError)) throw new Error(`expected a ClientError, got ${e === null ? 'success' : (e as Error).message}`);
  return e;
}

describe('kumo-inject against a stand-in kumod (node:http, not KumoMTA)', () => {
  it('sends a schema-valid, authenticated request and reads the counts', async () => {
    const out = await inject(endpoint(), msg);
    expect(out).toMatchObject({ successCount: 2, failCount: 0, failedRecipients: [], errors: [], recipients: msg.recipients });
    expect(out.messageIds).toHaveLength(2);
    expect(out.answeredAt).toBeGreaterThanOrEqual(out.sentAt);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/inject/v1' });
    expect(validRequest(seen[0]?.body)).toBe(true);
  });

  it('wrong password and no credentials: auth errors that never contain the password', async () => {
    const wrong = await failure(inject({ ...endpoint(), password: 'not-the-password' }, msg));
    expect(wrong).toMatchObject({ kind: 'auth', status: 401 });
    expect(wrong.message).toContain('HttpBasicAuth Authentication Failed for mailkind');
    expect(wrong.message).not.toContain('not-the-password');
    const anonymous = await failure(inject({ baseUrl }, msg));
    expect(anonymous).toMatchObject({ kind: 'auth', status: 401 });
    expect(anonymous.message).toMatch(/not permitted POST/);
    expect(seen[1]?.headers.authorization).toBeUndefined();
  });

  it('4xx and 5xx bodies come back in the error, 503 marked retryable', async () => {
    for (const name of ['templateError', 'shuttingDown', 'tooLarge', 'internal'] as const) {
      const { status, body } = DOCUMENTED_ERRORS[name];
      answer = (_req, res) => res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
      const e = await failure(inject(endpoint(), msg));
      expect(e.kind, name).toBe('http');
      expect(e.status, name).toBe(status);
      expect(e.message, name).toContain(body);
      expect(e.retryable, name).toBe(status >= 500);
    }
  });

  it('a 200 that is not the documented body is a protocol error', async () => {
    answer = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy login</html>');
    expect(await failure(inject(endpoint(), msg))).toMatchObject({ kind: 'protocol' });
  });

  it('a server that never answers: a timeout error at the deadline', async () => {
    answer = () => {}; // holds the request open
    const t = Date.now();
    const e = await failure(inject(endpoint(), msg, { timeoutMs: 300 }));
    expect(e.kind).toBe('timeout');
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/no answer to POST http:\/\/127\.0\.0\.1:\d+\/api\/inject\/v1 within 300 ms/);
    expect(Date.now() - t).toBeLessThan(3_000);
  });

  it('nothing listening: a connection error naming the address', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const e = await failure(inject({ ...endpoint(), baseUrl: `http://127.0.0.1:${port}` }, msg, { timeoutMs: 5_000 }));
    expect(e.kind).toBe('connection');
    expect(e.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
  });

  it('injectBatched: batches in order, at most `concurrency` in flight, one Message-ID per recipient', async () => {
    const recipients = Array.from({ length: 11 }, (_, i) => `r${i}@e2e.mailkind.test`);
    const outcomes = await injectBatched(endpoint(), { ...msg, recipients }, { batchSize: 3, concurrency: 2 });
    expect(outcomes.map((o) => o.recipients)).toEqual([recipients.slice(0, 3), recipients.slice(3, 6), recipients.slice(6, 9), recipients.slice(9)]);
    expect(outcomes.reduce((n, o) => n + o.successCount, 0)).toBe(11);
    expect(new Set(outcomes.flatMap((o) => o.messageIds)).size).toBe(11);
    expect(seen).toHaveLength(4);
    expect(maxInFlight).toBe(2);
  });

  it('newConnection: every request on its own connection (how the suite spreads over replicas)', async () => {
    const recipients = Array.from({ length: 6 }, (_, i) => `c${i}@e2e.mailkind.test`);
    await injectBatched(endpoint(), { ...msg, recipients }, { batchSize: 1, concurrency: 1, newConnection: true });
    expect(new Set(seen.map((s) => s.socket)).size).toBe(6);
    seen.length = 0;
    await injectBatched(endpoint(), { ...msg, recipients }, { batchSize: 1, concurrency: 1 });
    expect(new Set(seen.map((s) => s.socket)).size, 'keep-alive reuses connections').toBeLessThan(recipients.length);
  });

  it('the first failing batch rejects the whole call and no further request is sent', async () => {
    let n = 0;
    answer = (req, res) => (++n === 2 ? res.writeHead(503).end('Error: load shedding') : kumodLike(req, res));
    const recipients = Array.from({ length: 10 }, (_, i) => `f${i}@x.test`);
    const e = await failure(injectBatched(endpoint(), { ...msg, recipients }, { batchSize: 1 }));
    expect(e.message).toMatch(/load shedding/);
    expect(seen).toHaveLength(2);
  });
});
