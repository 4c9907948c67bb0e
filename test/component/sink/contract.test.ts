// Every route of docs/contract.md ("The sink's API") is served by a real sink: asked with its
// method, the sink answers from that route, never with its "no route" 404. Routes the contract
// does not list may exist (the contract is what others rely on, docs/sink-api.md has them all).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../scripts/lib/config/settings.js';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { contractRoutes, readContract } from '../../manifests/lib/contract.js';
import { startTestSink } from '../../helpers/sink.js';

const routes = contractRoutes(readContract(REPO_ROOT));

describe("docs/contract.md: the sink's API", () => {
  let sink: RunningSink;
  beforeAll(async () => {
    sink = await startTestSink();
  });
  afterAll(() => sink.close());

  it('lists the routes the e2e suite and the load generator use', () => {
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(['GET /api/messages/wait', 'GET /api/attempts', 'PUT /api/faults', 'DELETE /api/messages']));
  });

  it.each(routes)('$method $path is served', async ({ method, path }) => {
    // :id -> a record that does not exist (the route still answers, with its own 404); the
    // long-poll with a timeout of 1 ms; an empty rule set for PUT
    const url = sink.url + path.replace(':id', '999999') + (path === '/api/messages/wait' ? '?run=contract&timeoutMs=1' : '');
    const abort = new AbortController();
    const res = await fetch(url, { method, signal: abort.signal, ...(method === 'PUT' ? { body: '{"rules":[]}', headers: { 'content-type': 'application/json' } } : {}) });
    // the event stream never ends: its headers are the answer
    const body = path === '/api/events' ? '' : await res.text();
    abort.abort();
    expect(body, `${method} ${path}`).not.toMatch(/no route/);
    expect(res.status, `${method} ${path}: ${body}`).not.toBe(405);
    if (!path.includes(':id')) expect(res.status, `${method} ${path}: ${body}`).toBeLessThan(500);
  });
});
