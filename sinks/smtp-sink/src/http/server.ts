// The HTTP API of docs/contract.md ("The sink's API") and the dashboard. node:http and a route table:
// a dozen routes do not need a framework, and the sink stays one small dependency-light process.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { FaultEngine } from '../faults/engine.js';
import { describeFaultSet, parseFaultSet, EMPTY_FAULT_SET } from '../faults/rules.js';
import { attemptView, messageView, type SinkStore } from '../record/store.js';
import { statsView, type EventHub } from './events.js';
import { serveStatic } from './static.js';

export interface HttpDeps {
  store: SinkStore;
  faults: FaultEngine;
  metrics: Registry;
  events: EventHub;
  /** False until SMTP listens and again while shutting down. */
  isReady: () => boolean;
}

type Query = URLSearchParams;
type Handler = (req: IncomingMessage, res: ServerResponse, q: Query, params: string[]) => Promise<void> | void;

export class BadRequest extends Error {}

const MAX_BODY = 1024 * 1024;
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

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new BadRequest(`request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text.trim() === '' ? {} : (JSON.parse(text) as unknown);
  } catch (e) {
    throw new BadRequest(`body is not valid JSON: ${(e as Error).message}`);
  }
}

export function createHttpServer(deps: HttpDeps): Server {
  const { store, faults, metrics, events } = deps;

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
    ['GET', /^\/api\/stats$/, (_req, res) => json(res, 200, statsView(store, events.rate))],
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
  ];

  return createServer((req, res) => {
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
      (async () => handler(req, res, url.searchParams, match.slice(1)))().catch((e: unknown) => fail(res, e));
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

function fail(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e instanceof BadRequest) return json(res, 400, { error: e.message });
  json(res, 500, { error: e instanceof Error ? e.message : String(e) });
}
