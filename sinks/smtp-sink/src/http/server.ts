// The HTTP API of docs/contract.md ("The sink's API") and the dashboard. node:http and a route table:
// a dozen routes do not need a framework, and the sink stays one small dependency-light process.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { FaultEngine } from '../faults/engine.js';
import { describeFaultSet, parseFaultSet, EMPTY_FAULT_SET } from '../faults/rules.js';
import { attemptView, messageView, type SinkStore } from '../record/store.js';
import { statsView, recentJourneys, type EventHub } from './events.js';
import { lookupJourneys } from '../journey/lookup.js';
import { splitBody } from '../journey/records.js';
import { IngestBusy, type JourneyStore } from '../journey/store.js';
import { mayPostRecords } from './peers.js';
import { serveStatic } from './static.js';

export interface HttpDeps {
  store: SinkStore;
  /** kumod's log records; optional so tests of other routes can leave it out */
  journey?: JourneyStore;
  faults: FaultEngine;
  metrics: Registry;
  events: EventHub;
  /** False until SMTP listens and again while shutting down. */
  isReady: () => boolean;
  /** Tests shorten the timeouts; everyone else gets the documented ones. */
  timeouts?: { headersMs: number; requestMs: number; checkMs: number };
}

type Query = URLSearchParams;
type Handler = (req: IncomingMessage, res: ServerResponse, q: Query, params: string[]) => Promise<void> | void;

export class BadRequest extends Error {}

/** Largest request body read (PUT /api/faults, POST /api/journey/records); more gets 413. */
export const MAX_BODY = 1024 * 1024;
/**
 * A client must finish its request headers within this, and its whole request (body included)
 * within REQUEST_TIMEOUT_MS, or node answers 408 and closes. Set here rather than left to node's
 * defaults so the API reference can name them; node checks them every CHECK_INTERVAL_MS.
 */
export const HEADERS_TIMEOUT_MS = 30_000;
export const REQUEST_TIMEOUT_MS = 120_000;
const CHECK_INTERVAL_MS = 5_000;
const MAX_WAIT_MS = 600_000;

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** Optional positive integer query parameter, with a clear 400 when it is not one. */
export function intParam(q: Query, name: string, fallback: number | undefined, max: number): number | undefined {
  const raw = q.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new BadRequest(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n > max) throw new BadRequest(`${name} must be at most ${max}, got ${n}`);
  return n;
}

/** An optional filter; present but empty is a mistake (a script with an unset run id), not "match ''". */
function optional(q: Query, name: string): string | undefined {
  const v = q.get(name);
  if (v === '') throw new BadRequest(`${name} is empty; leave it out to mean every ${name}`);
  return v ?? undefined;
}

/** A body over MAX_BODY: answered 413 with the connection closed (see answerTooLarge). */
export class PayloadTooLarge extends Error {}

/** The whole request body, or PayloadTooLarge as soon as it (or its declared length) passes MAX_BODY. */
export function readBody(req: IncomingMessage, max = MAX_BODY): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) return reject(new PayloadTooLarge(`request body of ${declared} bytes is over the limit of ${max} bytes`));
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.off('data', onData);
        req.off('end', onEnd);
        return reject(new PayloadTooLarge(`request body over the limit of ${max} bytes`));
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

/**
 * Reads a JSON body. An empty body is refused rather than read as {}: on PUT /api/faults it would
 * silently clear every rule (clearing is DELETE), and no route means "nothing" by an empty body.
 */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = (await readBody(req)).toString('utf8');
  if (text.trim() === '') throw new BadRequest('the request body is empty; send a JSON document (to clear, use DELETE)');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new BadRequest(`body is not valid JSON: ${(e as Error).message}`);
  }
}

/** Bytes of an oversized body read and thrown away before the 413, and for how long at most. */
const MAX_DRAIN = 16 * 1024 * 1024;
const DRAIN_MS = 5_000;

/**
 * 413 and close. A client still sending must see the answer, not a reset: closing a socket with
 * unread data makes the kernel send RST, which can destroy the answer before the client reads it.
 * So the rest of the body is read and discarded (up to MAX_DRAIN bytes or DRAIN_MS), then the
 * answer goes out with `Connection: close` and node closes the socket after it.
 */
function answerTooLarge(req: IncomingMessage, res: ServerResponse, message: string): void {
  let drained = 0;
  let answered = false;
  const answer = () => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    req.removeAllListeners('data');
    if (res.headersSent || res.destroyed) return void res.destroy();
    const text = JSON.stringify({ error: message, limit: MAX_BODY });
    res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', connection: 'close' });
    res.end(text);
  };
  const timer = setTimeout(answer, DRAIN_MS);
  if (req.complete) return answer();
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > MAX_DRAIN) answer();
  });
  req.once('end', answer);
  req.once('error', answer);
  req.resume();
}

export function createHttpServer(deps: HttpDeps): Server {
  const { store, faults, metrics, events } = deps;
  const journey = deps.journey;

  const faultView = () => ({ ...describeFaultSet(faults.faultSet), hits: faults.hits() });

  const routes: [method: string, pattern: RegExp, handler: Handler][] = [
    ['GET', /^\/healthz$/, (_req, res) => json(res, 200, { status: 'ok' })],
    ['GET', /^\/readyz$/, (_req, res) => (deps.isReady() ? json(res, 200, { status: 'ready' }) : json(res, 503, { status: 'not ready' }))],
    [
      'GET',
      /^\/metrics$/,
      async (_req, res) => {
        const text = await metrics.metrics();
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(text);
      },
    ],
    ['GET', /^\/api\/stats$/, (_req, res) => json(res, 200, statsView(store, events.rate, Date.now(), journey))],
    [
      'GET',
      /^\/api\/messages$/,
      (_req, res, q) => {
        const limit = intParam(q, 'limit', 100, store.limits.maxMessages);
        const { total, messages } = store.messages({ run: optional(q, 'run'), rcpt: optional(q, 'rcpt'), limit });
        json(res, 200, { total, count: messages.length, messages: messages.map(messageView) });
      },
    ],
    [
      'GET',
      /^\/api\/messages\/wait$/,
      async (req, res, q) => {
        const count = intParam(q, 'count', 1, Number.MAX_SAFE_INTEGER) ?? 1;
        const timeoutMs = intParam(q, 'timeoutMs', 30_000, MAX_WAIT_MS) ?? 30_000;
        const run = optional(q, 'run') ?? null;
        const abort = new AbortController();
        res.on('close', () => abort.abort());
        const r = await store.waitFor(run, count, timeoutMs, abort.signal);
        if (res.destroyed) return;
        if (r.reached) return json(res, 200, { run, wanted: count, count: r.count });
        json(res, 408, { run, wanted: count, count: r.count, error: `timed out after ${timeoutMs} ms with ${r.count} of ${count} messages` });
      },
    ],
    [
      'GET',
      /^\/api\/messages\/(\d+)$/,
      (_req, res, _q, [id]) => {
        const m = store.message(Number(id));
        if (!m) return json(res, 404, { error: `no message ${id} (never received, reset, or dropped from the ring buffer)` });
        json(res, 200, messageView(m));
      },
    ],
    [
      'GET',
      /^\/api\/messages\/(\d+)\/raw$/,
      (_req, res, _q, [id]) => {
        const m = store.message(Number(id));
        if (!m?.body) {
          const why = m ? 'its body was not kept (start the sink with --keep-bodies) or was dropped to stay within --body-budget' : 'no such message';
          return json(res, 404, { error: `no raw message ${id}: ${why}` });
        }
        res.writeHead(200, { 'content-type': 'message/rfc822', 'content-length': m.body.length });
        res.end(m.body);
      },
    ],
    [
      'DELETE',
      /^\/api\/messages$/,
      (_req, res, q) => {
        const run = optional(q, 'run') ?? null;
        store.reset(run);
        journey?.reset(run);
        if (run === null) faults.forgetAttempts();
        json(res, 200, { reset: run === null ? 'all' : { run } });
      },
    ],
    [
      'GET',
      /^\/api\/attempts$/,
      (_req, res, q) => {
        const attempts = store.attempts({ run: optional(q, 'run'), rcpt: optional(q, 'rcpt'), limit: intParam(q, 'limit', undefined, store.limits.maxAttempts) });
        json(res, 200, { count: attempts.length, attempts: attempts.map(attemptView) });
      },
    ],
    ['GET', /^\/api\/faults$/, (_req, res) => json(res, 200, faultView())],
    [
      'PUT',
      /^\/api\/faults$/,
      async (req, res) => {
        const parsed = parseFaultSet(await readJson(req));
        if (!parsed.ok) return json(res, 400, { error: 'invalid fault rules', details: parsed.errors });
        faults.faultSet = parsed.value;
        events.broadcast('faults', faultView());
        json(res, 200, faultView());
      },
    ],
    [
      'DELETE',
      /^\/api\/faults$/,
      (_req, res) => {
        faults.faultSet = EMPTY_FAULT_SET;
        events.broadcast('faults', faultView());
        json(res, 200, faultView());
      },
    ],
    ['GET', /^\/api\/events$/, (req, res) => events.attach(res, req.method === 'HEAD')],
    [
      'POST',
      /^\/api\/journey\/records$/,
      async (req, res) => {
        if (!journey) return json(res, 404, { error: 'this sink keeps no journey records' });
        const peer = req.socket.remoteAddress ?? '';
        if (!mayPostRecords(peer)) {
          return json(res, 403, { error: `log records are taken from loopback and private (cluster) addresses only, not from ${peer}` });
        }
        const body = await readBody(req);
        const result = await journey.ingestSliced(() => {
          const records = splitBody(body.toString('utf8'));
          if (records === null) throw new BadRequest('the body must be a log record, a JSON array of them, or JSON lines');
          return records;
        }, peer);
        // nothing usable: 400, so kumod's hook fails the batch instead of retrying it for ever
        if (result.accepted === 0 && result.invalid > 0) return json(res, 400, { error: 'no valid log record in the body', ...result });
        json(res, 200, result);
      },
    ],
    [
      'GET',
      /^\/api\/journey$/,
      (_req, res, q) => {
        const messageId = optional(q, 'messageId');
        const run = optional(q, 'run');
        if ((messageId === undefined) === (run === undefined)) throw new BadRequest('give exactly one of messageId or run');
        const limit = intParam(q, 'limit', 100, 1000) ?? 100;
        const all = lookupJourneys(journey, store, messageId !== undefined ? { messageId } : { run: run as string });
        json(res, 200, { query: messageId !== undefined ? { messageId } : { run }, total: all.length, count: Math.min(limit, all.length), journeys: all.slice(0, limit) });
      },
    ],
    [
      'GET',
      /^\/api\/journey\/recent$/,
      (_req, res, q) => {
        const limit = intParam(q, 'limit', 25, 200) ?? 25;
        const journeys = limit === 0 ? [] : recentJourneys(store, journey, limit);
        json(res, 200, { count: journeys.length, journeys });
      },
    ],
  ];

  const t = deps.timeouts ?? { headersMs: HEADERS_TIMEOUT_MS, requestMs: REQUEST_TIMEOUT_MS, checkMs: CHECK_INTERVAL_MS };
  return createServer({ headersTimeout: t.headersMs, requestTimeout: t.requestMs, connectionsCheckingInterval: t.checkMs }, (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://sink');
    } catch {
      return json(res, 400, { error: 'malformed request target' });
    }
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const allowed: string[] = [];
    for (const [m, pattern, handler] of routes) {
      const match = pattern.exec(url.pathname);
      if (!match) continue;
      if (m !== method) {
        allowed.push(m);
        continue;
      }
      // async wrapper: a handler that throws synchronously must become a 400/500, never an uncaught error
      (async () => handler(req, res, url.searchParams, match.slice(1)))().catch((e: unknown) => fail(req, res, e));
      return;
    }
    if (allowed.length) {
      res.setHeader('allow', allowed.join(', '));
      return json(res, 405, { error: `${req.method} is not allowed on ${url.pathname}; use ${allowed.join(' or ')}` });
    }
    if (method === 'GET' && serveStatic(url.pathname, res)) return;
    json(res, 404, { error: `no route ${req.method} ${url.pathname}; see GET / for the dashboard and docs/sink-api.md for the API` });
  });
}

function fail(req: IncomingMessage, res: ServerResponse, e: unknown): void {
  if (e instanceof PayloadTooLarge) return answerTooLarge(req, res, e.message);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e instanceof BadRequest) return json(res, 400, { error: e.message });
  if (e instanceof IngestBusy) {
    res.setHeader('retry-after', '1');
    return json(res, 503, { error: e.message });
  }
  json(res, 500, { error: e instanceof Error ? e.message : String(e) });
}
